"""Per-angle three-panel heatmaps (data, fit, residual) and the all-angle overview page."""

from pathlib import Path

import numpy as np

from ._common import (
    block_mean,
    c2_limits,
    display_grid,
    extent,
    figure,
    off_diagonal,
    robust_limits,
    save,
)

__all__ = ["plot_fit_heatmaps", "plot_fit_heatmaps_all", "plot_overview"]


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
    step, td, note = display_grid(t, max_display)
    fig = figure(figsize=(15.0, 4.9))
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
    cax1, cax2 = fig.add_subplot(grid[2]), fig.add_subplot(grid[5])
    ext = extent(td)
    kw = {"origin": "lower", "extent": ext, "interpolation": "nearest", "aspect": "equal"}
    blank = np.zeros((len(td), len(td)))
    im0 = axes[0].imshow(blank, cmap="viridis", **kw)
    im1 = axes[1].imshow(blank, cmap="viridis", **kw)
    im2 = axes[2].imshow(blank, cmap="RdBu_r", **kw)
    for ax, title in zip(axes, ("data", "fit", "residual (data - fit)"), strict=True):
        ax.set_title(title)
        ax.set_xlabel("t2 (s)")
        ax.set_facecolor("0.85")
    axes[0].set_ylabel("t1 (s)")
    axes[1].tick_params(labelleft=False)
    axes[2].tick_params(labelleft=False)
    fig.colorbar(im1, cax=cax1, label="c2 (data and fit: same scale)")
    fig.colorbar(im2, cax=cax2, label="c2 residual")
    suptitle = fig.suptitle("", fontsize=10)
    sub = "diagonal (not fitted) in grey" + (f"; {note}" if note else "")
    out = []
    for k, path in enumerate(paths):
        data = off_diagonal(block_mean(off_diagonal(c2_data[k]), step))
        fit = off_diagonal(block_mean(off_diagonal(c2_fit[k]), step))
        resid = data - fit
        vmin, vmax = c2_limits(data, fit)
        rlim = max(abs(x) for x in robust_limits(resid, lo=1, hi=99))
        im0.set_data(data)
        im1.set_data(fit)
        im2.set_data(resid)
        im0.set_clim(vmin, vmax)
        im1.set_clim(vmin, vmax)
        im2.set_clim(-rlim, rlim)
        qk = q[k] if np.ndim(q) else q  # joint rings: the q of this angle
        qtxt = f", q = {float(qk):.4g} 1/A" if qk else ""
        head = f"{label + ': ' if label else ''}phi = {float(phi[k]):.1f} deg{qtxt}"
        suptitle.set_text(f"{head}\n{sub}")
        out.append(save(fig, path))
    return out


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
    n_phi = len(phi)
    ncol = int(np.ceil(np.sqrt(n_phi * 1.4)))
    nrow = int(np.ceil(n_phi / ncol))
    step, td, note = display_grid(t, max_display)
    data = off_diagonal(block_mean(off_diagonal(c2_data), step))
    if c2_fit is not None:
        fit = off_diagonal(block_mean(off_diagonal(c2_fit), step))
        upper = np.triu(np.ones(data.shape[-2:], dtype=bool), 1)
        shown = np.where(upper, data, fit)  # row i = t1 (y axis), column j = t2 (x axis)
    else:
        shown = data
    vmin, vmax = c2_limits(shown)
    fig = figure(figsize=(2.6 * ncol + 1.2, 2.5 * nrow + 0.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False)).ravel()
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
            interpolation="nearest",
        )
        ax.set_facecolor("0.85")
        ax.set_title(f"phi = {phi[k]:.1f} deg", fontsize=9)
        if k % ncol == 0:
            ax.set_ylabel("t1 (s)")
        if k >= n_phi - ncol:  # last panel of its column: label it (sharex hides labels)
            ax.set_xlabel("t2 (s)")
            ax.tick_params(labelbottom=True)
    if im is not None:
        fig.colorbar(im, ax=axes.tolist(), label="c2 (shared scale)", shrink=0.8)
    what = "below the diagonal (t1 < t2): data, above it: fit" if c2_fit is not None else "data"
    qtxt = f"q = {q:.4g} 1/A; " if q else ""
    fig.suptitle(
        f"{title + ' - ' if title else ''}{qtxt}{n_phi} angles; {what}"
        + (f"\n{note}" if note else ""),
        fontsize=10,
    )
    return save(fig, path, dpi=90)
