"""Binned mean residual over age x lag, and its age and lag profiles with standard errors."""

from pathlib import Path
from typing import Any

import numpy as np

from ._common import figure, grid_margins, log_scale, save

__all__ = ["plot_residual_structure"]


def plot_residual_structure(path: str | Path, structure: Any, *, label: str = "") -> Path:
    """Write ``residual_structure.png`` from a :class:`homodyne_nlsq.ResidualStructure`.

    Left: mean residual / standard error per (age, lag) bin (|z| > 3 is structure). Middle and
    right: mean residual by age and by lag with 2 standard-error bars.
    """
    s = structure
    size = (14.0, 4.6)
    fig = figure(figsize=size)
    place = grid_margins(
        size, 1, 3, left=0.75, right=0.15, top=0.8, bottom=0.5, wspace=1.55, hspace=0.0
    )  # the title may wrap onto two lines; the gaps hold the colour bar and y labels
    ax_map, ax_age, ax_lag = fig.subplots(1, 3, gridspec_kw=place)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = s.mean_map / s.se_map
    lim = max(3.0, float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 3.0)
    mesh = ax_map.pcolormesh(
        s.lag_edges, s.age_edges, z, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="flat"
    )
    log_scale(ax_map)
    ax_map.set_xlabel("lag t2 - t1 (s)")
    ax_map.set_ylabel("age (t1 + t2)/2 (s)")
    ax_map.set_title("mean residual / standard error per bin", fontsize=9)
    fig.colorbar(mesh, ax=ax_map, label="z")
    for ax, edges, mean, se, xlabel, logx in (
        (ax_age, s.age_edges, s.age_mean, s.age_se, "age (t1 + t2)/2 (s)", False),
        (ax_lag, s.lag_edges, s.lag_mean, s.lag_se, "lag t2 - t1 (s)", True),
    ):
        centres = np.sqrt(edges[:-1] * edges[1:]) if logx else 0.5 * (edges[:-1] + edges[1:])
        ax.errorbar(centres, mean, yerr=2 * se, fmt="o-", ms=4, capsize=2, label="mean +- 2 se")
        ax.axhline(0.0, color="0.4", lw=0.8)
        if logx:
            log_scale(ax)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("mean residual (data - fit)")
        key = "age" if not logx else "lag"
        ax.set_title(
            f"chi2 = {s.chi2[key]:.1f} for {s.dof[key]} bins (p = {s.p_value[key]:.2g})",
            fontsize=9,
        )
        ax.legend(fontsize=8)
    verdict = "; ".join(s.patterns) if s.patterns else "no structure found"
    fig.suptitle(
        f"{label + ': ' if label else ''}residual structure - {verdict}",
        fontsize=10,
        wrap=True,
        y=1 - 0.08 / size[1],
        va="top",
    )
    return save(fig, path)
