"""Histogram of the fit residuals against the Gaussian of the fitted noise level."""

from pathlib import Path

import numpy as np

from ._common import figure, grid_margins, log_scale, save

__all__ = ["plot_residual_histogram"]


def plot_residual_histogram(
    path: str | Path,
    *,
    residuals: np.ndarray,
    sigma: float | None,
    phi: np.ndarray | None = None,
    label: str = "",
) -> Path:
    """Write the residual histogram (density) with the normal pdf of the fitted noise ``sigma``.

    Parameters
    ----------
    residuals
        Residuals data - fit at the fitted points, shape ``(n_phi, n_pairs)`` or flat.
    sigma
        Noise of one c2 value used by the fit (estimated or given); None draws no curve.
    phi
        Angles (deg) of the rows of ``residuals``; with several angles a second panel shows
        the residual RMS per angle.
    """
    r = np.asarray(residuals, dtype=np.float64)
    per_angle = r.ndim == 2 and r.shape[0] > 1 and phi is not None
    flat = r[np.isfinite(r)].ravel()
    if flat.size > 2_000_000:  # the histogram shape needs no more; keeps the plot fast
        flat = flat[:: flat.size // 2_000_000 + 1]
    size = (11.0 if per_angle else 6.5, 4.4)
    ncol = 2 if per_angle else 1
    place = grid_margins(
        size, 1, ncol, left=0.8, right=0.15, top=0.6, bottom=0.5, wspace=0.85, hspace=0.0
    )
    fig = figure(figsize=size)
    axes = fig.subplots(1, ncol, squeeze=False, gridspec_kw=place).ravel()
    ax = axes[0]
    if flat.size:
        spread = max(np.std(flat), sigma or 0.0, 1e-12)
        lim = 5 * spread
        bins = np.linspace(-lim, lim, 121)
        inside = np.mean(np.abs(flat) <= lim)
        counts, _ = np.histogram(flat, bins=bins, density=True)
        ax.stairs(  # one artist (ax.hist makes a patch per bin)
            counts, bins, fill=True, color="0.55", label=f"residuals ({flat.size:,} points)"
        )
        if sigma:
            x = np.linspace(-lim, lim, 400)
            ax.plot(
                x,
                np.exp(-0.5 * (x / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi)),
                "C3",
                lw=2,
                label=f"normal, fitted sigma = {sigma:.3g}",
            )
        log_scale(ax, "y")
        ax.set_ylim(bottom=max(1e-3 / lim, 0.5 / (flat.size * (bins[1] - bins[0]))))
        stats = f"mean = {np.mean(flat):.2e}, std = {np.std(flat):.3g}"
        if inside < 1:
            stats += f", {100 * (1 - inside):.2f} % outside +-5 std"
        ax.set_title(stats, fontsize=9)
        ax.legend(fontsize=8)
    ax.set_xlabel("residual c2 (data - fit)")
    ax.set_ylabel("probability density")
    if per_angle:
        rms = np.sqrt(np.nanmean(r**2, axis=1))
        ax2 = axes[1]
        ax2.plot(phi, rms, "o-", ms=4, label="residual RMS")
        if sigma:
            ax2.axhline(sigma, color="C3", ls="--", label="fitted sigma")
        ax2.set_xlabel("phi (deg)")
        ax2.set_ylabel("RMS residual")
        top = max(np.nanmax(rms) if np.isfinite(rms).any() else 0.0, sigma or 0.0)
        ax2.set_ylim(0, 1.25 * top if top > 0 else 1.0)
        ax2.legend(fontsize=8)
        ax2.set_title("residual RMS per angle", fontsize=9)
    fig.suptitle(
        f"{label + ': ' if label else ''}residuals at the fitted points (t1 < t2)",
        fontsize=10,
        y=1 - 0.08 / size[1],
        va="top",
    )
    return save(fig, path)
