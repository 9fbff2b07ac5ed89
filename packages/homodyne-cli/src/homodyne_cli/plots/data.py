"""Data-only plots (``homodyne plot-data``): heatmaps, the overview page and lag profiles."""

from pathlib import Path

import numpy as np

from ._common import NEAREST, block_mean, c2_limits, display_grid, extent, figure, save
from .heatmaps import plot_overview

__all__ = ["plot_data_all", "plot_data_heatmap", "plot_lag_profiles"]


def plot_data_heatmap(
    path: str | Path,
    *,
    t: np.ndarray,
    c2: np.ndarray,
    phi: float,
    q: float | None = None,
    max_display: int = 400,
) -> Path:
    """One angle's two-time matrix (diagonal-corrected for display), axes in seconds."""
    step, td, note = display_grid(t, max_display)
    shown = block_mean(c2, step)
    vmin, vmax = c2_limits(shown)
    fig = figure(figsize=(6.4, 5.4), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(
        shown,
        origin="lower",
        extent=extent(td),
        cmap="viridis",
        vmin=vmin,
        vmax=vmax,
        **NEAREST,
    )
    fig.colorbar(im, ax=ax, label="c2")
    ax.set_xlabel("t2 (s)")
    ax.set_ylabel("t1 (s)")
    qtxt = f", q = {q:.4g} 1/A" if q else ""
    ax.set_title(
        f"phi = {phi:.1f} deg{qtxt}; diagonal corrected" + (f"\n{note}" if note else ""), fontsize=9
    )
    return save(fig, path)


def plot_lag_profiles(
    path: str | Path,
    *,
    t: np.ndarray,
    c2: np.ndarray,
    phi: np.ndarray,
    q: float | None = None,
) -> Path:
    """Two panels: c2 averaged over t1 against lag (one curve per angle) and c2 next to the
    diagonal, c2(t, t + dt), against the age t (shows drifts in contrast over the run)."""
    n_phi, n_t = c2.shape[0], c2.shape[1]
    fig = figure(figsize=(12, 4.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    lags = np.arange(1, n_t)
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n_phi <= 10 else "viridis"]
    window = max(1, n_t // 50)
    kernel = np.ones(window) / window
    for k in range(n_phi):
        prof = np.array([np.nanmean(np.diagonal(c2[k], offset=m)) for m in lags])
        col = cmap(k) if n_phi <= 10 else cmap(k / max(n_phi - 1, 1))
        ax1.plot(
            lags * (t[1] - t[0]) if n_t > 1 else lags,
            prof,
            color=col,
            lw=1.2,
            label=f"{phi[k]:.1f} deg",
        )
        near = np.diagonal(c2[k], offset=1)
        if window > 1 and near.size >= window:
            near = np.convolve(near, kernel, mode="valid")
            ages = np.convolve(t[:-1], kernel, mode="valid")
        else:
            ages = t[:-1]
        ax2.plot(ages, near, color=col, lw=1.0)
    ax1.set_xscale("log")
    ax1.set_xlabel("lag tau (s)")
    ax1.set_ylabel("mean over t1 of c2(t1, t1 + tau)")
    ax2.set_xlabel("age t (s)")
    ax2.set_ylabel("c2(t, t + dt)")
    smooth = f" (running mean over {window} frames)" if window > 1 else ""
    ax2.set_title(f"next to the diagonal: contrast along the run{smooth}", fontsize=9)
    ax1.set_title("time-averaged c2 against lag", fontsize=9)
    if n_phi <= 12:
        ax1.legend(fontsize=7, ncol=2, title="phi")
    qtxt = f"q = {q:.4g} 1/A; " if q else ""
    fig.suptitle(f"{qtxt}{n_phi} angles", fontsize=10)
    return save(fig, path)


def plot_data_all(
    folder: str | Path,
    *,
    t: np.ndarray,
    c2: np.ndarray,
    phi: np.ndarray,
    q: float | None = None,
    max_display: int = 400,
) -> list[Path]:
    """Every data-only plot into ``folder``: per-angle heatmaps, overview, lag profiles.

    ``c2`` should already be diagonal-corrected (``homodyne_data.diagonal_corrected``).
    """
    folder = Path(folder)
    out = [
        plot_data_heatmap(
            folder / f"data_phi_{p:+07.2f}deg.png",
            t=t,
            c2=c2[k],
            phi=p,
            q=q,
            max_display=max_display,
        )
        for k, p in enumerate(phi)
    ]
    out.append(
        plot_overview(folder / "data_overview.png", t=t, phi=phi, c2_data=c2, q=q, title="data")
    )
    out.append(plot_lag_profiles(folder / "data_lag_profiles.png", t=t, c2=c2, phi=phi, q=q))
    return out
