"""Shared plotting helpers: headless matplotlib, display downsampling, robust colour limits."""

import io
from pathlib import Path

import numpy as np

from ..outputs import atomic_write_bytes

__all__ = [
    "block_mean",
    "c2_limits",
    "extent",
    "display_grid",
    "figure",
    "grid_margins",
    "log_scale",
    "NEAREST",
    "robust_limits",
    "save",
    "save_canvas",
    "off_diagonal",
]


#: imshow options of every matrix plot: nearest pixels, resampled as data and colour-mapped
#: after. The same pixels as colour-mapping first (matplotlib's choice below a 3x upsampling,
#: checked by a test), at a third of the cost for a heatmap page's panels.
NEAREST = {"interpolation": "nearest", "interpolation_stage": "data"}


def figure(*args, **kwargs):
    """A new matplotlib figure on the Agg backend (no display needed, no pyplot state)."""
    from matplotlib.figure import Figure

    return Figure(*args, **kwargs)


def grid_margins(
    size: tuple[float, float],
    nrow: int,
    ncol: int,
    *,
    left: float,
    right: float,
    top: float,
    bottom: float,
    wspace: float,
    hspace: float,
) -> dict[str, float]:
    """``gridspec_kw`` for a fixed layout: margins and gaps in inches on a figure of ``size``.

    A fixed layout is placed once; matplotlib's constrained layout measures every tick label
    of every panel on each of its passes, which made it the largest cost of the multi-panel
    figures. The margins are chosen per figure for the text it holds (the layout test checks
    that no text leaves the canvas).
    """
    w, h = size
    aw = max((w - left - right - (ncol - 1) * wspace) / ncol, 0.1)
    ah = max((h - top - bottom - (nrow - 1) * hspace) / nrow, 0.1)
    return {
        "left": left / w,
        "right": 1 - right / w,
        "top": 1 - top / h,
        "bottom": bottom / h,
        "wspace": wspace / aw,
        "hspace": hspace / ah,
    }


def log_scale(ax, which: str = "x") -> None:
    """Log scale on ``ax``'s x (or y) axis with plain-text tick labels (``1000``, ``1e+05``).

    matplotlib's default log labels are mathtext (``$10^{3}$``), whose parser and layout
    dominated the time of the plots with log axes; plain labels say the same for a fraction.
    Minor ticks sit at 2 and 5 times each decade (every tick is a set of matplotlib artists:
    creating 8 per decade on every panel was the next largest cost).
    Call it after any other ``set_xscale`` of axes that share this one (that resets them).
    """
    from matplotlib.ticker import LogFormatter, LogLocator

    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    axis.set_major_formatter(LogFormatter())
    axis.set_minor_formatter(LogFormatter())


def save(fig, path: str | Path, dpi: int = 110) -> Path:
    """Render ``fig`` at ``dpi`` and write it as PNG, atomically (see :func:`save_canvas`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)  # what savefig(dpi=...) does for the time of the draw
    canvas.draw()
    return save_canvas(canvas, path, dpi)


def save_canvas(canvas, path: str | Path, dpi: int) -> Path:
    """Write what an Agg ``canvas`` holds now as PNG, atomically; also for figures redrawn in
    part (see ``heatmaps.draw_heatmap_pages``).

    Encoded by Pillow straight from the canvas buffer, zlib level 1: plots are flat colours and
    noise, where the default level 6 makes files only a little smaller and takes several
    times longer. RGB when the canvas is opaque (it is for every figure here): 11 % smaller
    than RGBA and about 5 ms less per heatmap page.
    """
    from PIL import Image

    rgba = np.asarray(canvas.buffer_rgba())
    size = (rgba.shape[1], rgba.shape[0])
    image = Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1)
    if rgba[..., 3].min() == 255:  # opaque: the alpha channel carries nothing
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=1, dpi=(dpi, dpi))
    return atomic_write_bytes(path, buf.getvalue())


def block_mean(c2: np.ndarray, step: int, *, skip_diagonal: bool = False) -> np.ndarray:
    """Mean over ``step x step`` blocks of the last two axes (NaN-aware; edges trimmed).

    ``skip_diagonal``: the result's diagonal is NaN (the matrix diagonal is not fitted). Only
    the diagonal blocks hold diagonal values, so this is the same as leaving them out of the
    means, without a masked copy of the input.

    Sums run along the contiguous last axis first, and a matrix without NaN takes a path
    with no mask at all (the heatmaps of a 23 x 1000 x 1000 run reduce in a fraction of the
    time of a masked multi-axis sum).
    """
    if step <= 1:
        out = np.asarray(c2, dtype=np.float64)
        return off_diagonal(out) if skip_diagonal else out
    n = (c2.shape[-1] // step) * step
    a = np.asarray(c2[..., :n, :n], dtype=np.float64)
    shape = a.shape[:-2] + (n // step, step, n // step, step)
    if np.isfinite(np.sum(a)):  # no NaN (or inf): plain block sums
        out = a.reshape(shape).sum(axis=-1).sum(axis=-2) / (step * step)
    else:
        finite = np.isfinite(a)
        total = np.where(finite, a, 0.0).reshape(shape).sum(axis=-1).sum(axis=-2)
        count = finite.reshape(shape).sum(axis=-1, dtype=np.int64).sum(axis=-2)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return off_diagonal(out, copy=False) if skip_diagonal else out


def display_grid(t: np.ndarray, max_display: int) -> tuple[int, np.ndarray, str]:
    """Step, display times and a title note for showing ``len(t)`` frames in ``max_display``.

    Returns ``(step, t_display, note)``; ``note`` is empty when no downsampling happens.
    """
    n = len(t)
    step = max(1, int(np.ceil(n / max(1, max_display))))
    if step == 1:
        return 1, np.asarray(t, dtype=np.float64), ""
    m = n // step
    t_disp = np.asarray(t[: m * step], dtype=np.float64).reshape(m, step).mean(axis=1)
    return step, t_disp, f"display only: {step}x{step} block means ({n} -> {m} frames)"


def off_diagonal(c2: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """``c2`` (..., n, n) with the diagonal set to NaN (it is not fitted): a float64 copy, or
    ``c2`` itself changed in place with ``copy=False``."""
    out = np.array(c2, dtype=np.float64, copy=True) if copy else c2
    idx = np.arange(out.shape[-1])
    out[..., idx, idx] = np.nan
    return out


def robust_limits(*arrays: np.ndarray, lo: float = 1.0, hi: float = 99.0) -> tuple[float, float]:
    """Colour limits at the ``lo``/``hi`` percentiles of the finite values of all ``arrays``."""
    vals = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return 0.0, 1.0
    if vals.size > 2_000_000:
        vals = vals[:: vals.size // 2_000_000 + 1]
    a, b = np.percentile(vals, [lo, hi])
    if not b > a:
        a, b = a - 0.5 * abs(a) - 1e-6, b + 0.5 * abs(b) + 1e-6
    return float(a), float(b)


def c2_limits(*matrices: np.ndarray) -> tuple[float, float]:
    """Colour limits for c2 heatmaps ``(..., n, n)`` that show the whole decay.

    The lower limit is the 1st percentile of all off-diagonal values (the baseline); the upper
    one is the larger of the 99th percentile and the 95th percentile of the values next to the
    diagonal (``offset + contrast``), which a plain percentile would clip when the correlation
    decays within a small part of the matrix.
    """
    lo, hi = robust_limits(*matrices)
    near = [np.diagonal(np.asarray(m), offset=1, axis1=-2, axis2=-1) for m in matrices]
    near_vals = np.concatenate([v.ravel() for v in near])
    near_vals = near_vals[np.isfinite(near_vals)]
    if near_vals.size:
        hi = max(hi, float(np.percentile(near_vals, 95)))
    return lo, hi


def extent(t: np.ndarray) -> list[float]:
    """imshow extent so that pixel centres sit at the times ``t`` (s)."""
    half = 0.5 * (t[1] - t[0]) if len(t) > 1 else 0.5
    return [t[0] - half, t[-1] + half, t[0] - half, t[-1] + half]
