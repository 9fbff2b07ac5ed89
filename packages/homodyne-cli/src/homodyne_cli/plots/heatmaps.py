"""Per-angle three-panel heatmaps (data, fit, residual) and the all-angle overview page."""

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ._common import (
    NEAREST,
    block_mean,
    c2_limits,
    display_grid,
    extent,
    figure,
    grid_margins,
    robust_limits,
    save,
    save_canvas,
)

__all__ = [
    "draw_heatmap_pages",
    "draw_overview",
    "heatmap_display",
    "plot_fit_heatmaps",
    "plot_fit_heatmaps_all",
    "overview_display",
    "plot_overview",
    "prepare_heatmap_pages",
]

#: page figures rendered ahead (:func:`prepare_heatmap_pages`), by display times and dpi; the
#: next :func:`draw_heatmap_pages` with the same takes it out
_PREPARED: dict[tuple[bytes, int], tuple] = {}


def plot_fit_heatmaps(
    path: str | Path,
    *,
    t: np.ndarray,
    c2_data: np.ndarray,
    c2_fit: np.ndarray,
    phi: float,
    q: float | None = None,
    max_display: int = 300,
    label: str = "",
) -> Path:
    """Write one PNG with data, fit and residual of one angle.

    Parameters
    ----------
    path
        PNG to write.
    t
        Frame times, s, shape ``(n_t,)``.
    c2_data, c2_fit
        Data and model matrices, shape ``(n_t, n_t)``.
    phi
        Angle, degrees (for the title).
    q
        Wavevector, 1/Angstrom (for the title).
    max_display
        Largest number of pixels per axis; larger matrices are block-averaged for display.
    """
    return plot_fit_heatmaps_all(
        [path],
        t=t,
        c2_data=c2_data[None],
        c2_fit=c2_fit[None],
        phi=np.array([phi]),
        q=q,
        max_display=max_display,
        label=label,
    )[0]


def plot_fit_heatmaps_all(
    paths: list[str | Path],
    *,
    t: np.ndarray,
    c2_data: np.ndarray,
    c2_fit: np.ndarray,
    phi: np.ndarray,
    q: float | np.ndarray | None = None,
    max_display: int = 300,
    label: str = "",
) -> list[Path]:
    """One three-panel PNG per angle (data, fit, residual), drawing one reused figure.

    Data and fit share colour limits (robust, see ``c2_limits``); the residual panel is
    symmetric about zero at its 99th percentile. ``c2_data``, ``c2_fit``: ``(n_phi, n_t, n_t)``;
    ``paths``: one per angle; ``q`` one value or one per angle (joint rings). Reusing the
    figure makes 23 angles cost little more than one.
    """
    td, data, fit, note = heatmap_display(t, c2_data, c2_fit, max_display)
    return draw_heatmap_pages(
        paths, td=td, data=data, fit=fit, phi=phi, q=q, note=note, label=label
    )


def heatmap_display(
    t: np.ndarray, c2_data: np.ndarray, c2_fit: np.ndarray, max_display: int = 300
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The matrices of the heatmap pages at display size: ``(t_display, data, fit, note)``.

    ``data`` and ``fit`` are ``(n_phi, m, m)`` block means with the diagonal (not fitted) NaN;
    ``note`` says how they were reduced ('' when shown as they are). Small enough to hand to
    another process.
    """
    step, td, note = display_grid(t, max_display)
    m = len(td)
    data = np.empty((len(c2_data), m, m))
    fit = np.empty((len(c2_data), m, m))
    for k in range(len(c2_data)):  # one angle at a time: no float64 copy of all matrices
        data[k] = block_mean(c2_data[k], step, skip_diagonal=True)
        fit[k] = block_mean(c2_fit[k], step, skip_diagonal=True)
    return td, data, fit, note


def _page_figure(td: np.ndarray, dpi: int):
    """The reused three-panel figure: ``(fig, axes, images, colour-bar axes, suptitle)``."""
    fig = figure(figsize=(15.0, 4.9), dpi=dpi)
    grid = fig.add_gridspec(
        1,
        6,
        width_ratios=[1, 1, 0.05, 0.28, 1, 0.05],
        left=0.05,
        right=0.93,
        bottom=0.11,
        top=0.83,
        wspace=0.12,
    )
    ax0 = fig.add_subplot(grid[0])
    axes = [
        ax0,
        fig.add_subplot(grid[1], sharex=ax0, sharey=ax0),
        fig.add_subplot(grid[4], sharex=ax0, sharey=ax0),
    ]
    caxes = [fig.add_subplot(grid[2]), fig.add_subplot(grid[5])]
    kw = {"origin": "lower", "extent": extent(td), "aspect": "equal", **NEAREST}
    blank = np.zeros((len(td), len(td)))
    images = [
        axes[0].imshow(blank, cmap="viridis", **kw),
        axes[1].imshow(blank, cmap="viridis", **kw),
        axes[2].imshow(blank, cmap="RdBu_r", **kw),
    ]
    for ax, title in zip(axes, ("data", "fit", "residual (data - fit)"), strict=True):
        ax.set_title(title)
        ax.set_xlabel("t2 (s)")
        ax.set_facecolor("0.85")
    axes[0].set_ylabel("t1 (s)")
    axes[1].tick_params(labelleft=False)
    axes[2].tick_params(labelleft=False)
    fig.colorbar(images[1], cax=caxes[0], label="c2 (data and fit: same scale)")
    fig.colorbar(images[2], cax=caxes[1], label="c2 residual")
    return fig, axes, images, caxes, fig.suptitle("", fontsize=10)


def draw_heatmap_pages(
    paths: list[str | Path],
    *,
    td: np.ndarray,
    data: np.ndarray,
    fit: np.ndarray,
    phi: np.ndarray,
    q: float | np.ndarray | None = None,
    note: str = "",
    label: str = "",
    dpi: int = 110,
    order: Iterable[int] | None = None,
) -> list[Path]:
    """Draw the pages of :func:`plot_fit_heatmaps_all` from display matrices
    (:func:`heatmap_display`); ``paths``, ``data``, ``fit`` and ``phi``: one per page; ``q`` one
    value or one per page (joint rings). ``order``: the page indices to draw, taken one at a
    time (default all; a shared counter lets two processes split the pages as they go).

    What every page shares (axes, ticks, labels, titles) is rendered once; each page then
    redraws only its images, their frames, the colour bars and the title on a copy of that
    background (pixel for pixel what a full redraw gives, for about two thirds of the cost).
    """
    sub = "diagonal (not fitted) in grey" + (f"; {note}" if note else "")
    page = None
    out = []
    for k in range(len(paths)) if order is None else order:
        if page is None:  # the shared background, once (not at all when no page is drawn)
            page = _PREPARED.pop(_page_key(td, dpi), None) or _page_background(td, dpi)
        canvas, renderer, background, images, frames, caxes, suptitle = page
        resid = data[k] - fit[k]
        vmin, vmax = c2_limits(data[k], fit[k])
        rlim = max(abs(x) for x in robust_limits(resid, lo=1, hi=99))
        for im, values, lim in zip(
            images,
            (data[k], fit[k], resid),
            ((vmin, vmax), (vmin, vmax), (-rlim, rlim)),
            strict=True,
        ):
            im.set_data(values)
            im.set_clim(*lim)
        qk = q[k] if np.ndim(q) else q  # joint rings: the q of this page
        qtxt = f", q = {float(qk):.4g} 1/A" if qk else ""
        head = f"{label + ': ' if label else ''}phi = {float(phi[k]):.1f} deg{qtxt}"
        suptitle.set_text(f"{head}\n{sub}")
        canvas.restore_region(background)
        for artist in (*images, *frames, *caxes, suptitle):
            artist.draw(renderer)
        out.append(save_canvas(canvas, paths[k], dpi))
    return out


def prepare_heatmap_pages(td: np.ndarray, dpi: int = 110) -> None:
    """Render the background the heatmap pages share (figure, axes, ticks, labels: 0.1-0.2 s)
    now, for the next :func:`draw_heatmap_pages` with these display times ``td`` and ``dpi``;
    the plot worker does it while the fit runs. One prepared page figure at a time."""
    key = _page_key(td, dpi)
    if key not in _PREPARED:
        _PREPARED.clear()
        _PREPARED[key] = _page_background(td, dpi)


def _page_key(td: np.ndarray, dpi: int) -> tuple[bytes, int]:
    return np.asarray(td, dtype=np.float64).tobytes(), int(dpi)


def _page_background(td: np.ndarray, dpi: int) -> tuple:
    """The page figure with what every page shares rendered once: ``(canvas, renderer,
    background, images, frames, colour-bar axes, suptitle)``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig, axes, images, caxes, suptitle = _page_figure(td, dpi)
    frames = [sp for ax in axes for sp in ax.spines.values()]
    for artist in (*images, *caxes, suptitle, *frames):
        artist.set_animated(True)  # left out of the background
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    return canvas, canvas.get_renderer(), background, images, frames, caxes, suptitle


def plot_overview(
    path: str | Path,
    *,
    t: np.ndarray,
    phi: np.ndarray,
    c2_data: np.ndarray,
    c2_fit: np.ndarray | None = None,
    q: float | None = None,
    max_display: int = 120,
    title: str = "",
) -> Path:
    """Write one page with every angle: data in the upper triangle, fit in the lower one.

    Parameters
    ----------
    t
        Frame times, s, ``(n_t,)``.
    phi
        Angles, degrees, ``(n_phi,)``.
    c2_data, c2_fit
        ``(n_phi, n_t, n_t)``; without ``c2_fit`` the full data matrices are shown.
    max_display
        Pixels per axis of each small panel.
    """
    td, shown, note = overview_display(t, c2_data, c2_fit, max_display)
    return draw_overview(
        path, td=td, shown=shown, phi=phi, q=q, note=note, title=title, fit=c2_fit is not None
    )


def overview_display(
    t: np.ndarray, c2_data: np.ndarray, c2_fit: np.ndarray | None, max_display: int = 120
) -> tuple[np.ndarray, np.ndarray, str]:
    """The panels of :func:`plot_overview` at display size: ``(t_display, shown, note)``, with
    ``shown`` ``(n_phi, m, m)``: data below the diagonal, fit above it (data only without a
    fit). Small enough to hand to another process."""
    step, td, note = display_grid(t, max_display)
    data = block_mean(c2_data, step, skip_diagonal=True)
    if c2_fit is None:
        return td, data, note
    fit = block_mean(c2_fit, step, skip_diagonal=True)
    upper = np.triu(np.ones(data.shape[-2:], dtype=bool), 1)
    return td, np.where(upper, data, fit), note  # row i = t1 (y axis), column j = t2 (x axis)


def draw_overview(
    path: str | Path,
    *,
    td: np.ndarray,
    shown: np.ndarray,
    phi: np.ndarray,
    q: float | None = None,
    note: str = "",
    title: str = "",
    fit: bool = True,
) -> Path:
    """Draw the page of :func:`plot_overview` from :func:`overview_display`'s matrices."""
    n_phi = len(phi)
    ncol = int(np.ceil(np.sqrt(n_phi * 1.4)))
    nrow = int(np.ceil(n_phi / ncol))
    vmin, vmax = c2_limits(shown)
    size = (2.6 * ncol + 1.4, 2.5 * nrow + 0.9 + (0.2 if note else 0.0))
    fig = figure(figsize=size)
    top = 0.55 + (0.2 if note else 0.0)  # one or two title lines
    place = grid_margins(
        size, nrow, ncol, left=0.6, right=1.25, top=top, bottom=0.5, wspace=0.1, hspace=0.3
    )
    axes = fig.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False, gridspec_kw=place)
    axes = np.atleast_1d(axes).ravel()
    ext = extent(td)
    im = None
    for k, ax in enumerate(axes):
        if k >= n_phi:
            ax.set_visible(False)
            continue
        im = ax.imshow(
            shown[k],
            origin="lower",
            extent=ext,
            cmap="viridis",
            vmin=vmin,
            vmax=vmax,
            **NEAREST,
        )
        ax.set_facecolor("0.85")
        ax.set_title(f"phi = {phi[k]:.1f} deg", fontsize=9)
        if k % ncol == 0:
            ax.set_ylabel("t1 (s)")
        if k >= n_phi - ncol:  # last panel of its column: label it (sharex hides labels)
            ax.set_xlabel("t2 (s)")
            ax.tick_params(labelbottom=True)
    if im is not None:  # a bar right of the panels, 0.8 of their height
        w, h = size
        y0, y1 = place["bottom"], place["top"]
        cax = fig.add_axes((1 - 1.05 / w, y0 + 0.1 * (y1 - y0), 0.15 / w, 0.8 * (y1 - y0)))
        fig.colorbar(im, cax=cax, label="c2 (shared scale)")
    what = "below the diagonal (t1 < t2): data, above it: fit" if fit else "data"
    qtxt = f"q = {q:.4g} 1/A; " if q else ""
    fig.suptitle(
        f"{title + ' - ' if title else ''}{qtxt}{n_phi} angles; {what}"
        + (f"\n{note}" if note else ""),
        fontsize=10,
        y=1 - 0.08 / size[1],
        va="top",
    )
    return save(fig, path, dpi=90)
