"""Figures of point-set data ((age, lag) grids, multi-tau two-time): no matrices to draw, so
each point is drawn where it lies, at its age (t1 + t2)/2 and lag t2 - t1.

* ``plot_point_maps``: per angle, data, fit and normalised residual as age x lag scatter plots
  (log lag axis) in place of the heatmaps of full matrices;
* ``plot_point_lag_cuts``: c2 against lag along the cuts the point set holds (points sharing one
  t1, or one age), data against fit.
"""

from pathlib import Path

import numpy as np

from ._common import figure, robust_limits, save
from .cuts import draw_cut_panels

__all__ = ["cut_groups", "display_subset", "plot_point_lag_cuts", "plot_point_maps"]

#: points drawn per panel at most (an even, seeded subset beyond: the title says so)
MAX_SCATTER = 60_000


def display_subset(n: int, limit: int = MAX_SCATTER) -> tuple[np.ndarray, str]:
    """Indices of the points drawn (all, or a fixed random subset) and a title note."""
    if n <= limit:
        return np.arange(n), ""
    keep = np.sort(np.random.default_rng(0).choice(n, limit, replace=False))
    return keep, f"; display only: {limit:,} of {n:,} points"


def _scatter(ax, fig, age, lag, colour, *, cmap, lims, title, cbar):
    sc = ax.scatter(
        age, lag, c=colour, s=6, cmap=cmap, vmin=lims[0], vmax=lims[1], lw=0, rasterized=True
    )
    ax.set_yscale("log")
    ax.set_xlabel("age (t1 + t2)/2 (s)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(sc, ax=ax, label=cbar, shrink=0.9)


def plot_point_maps(
    paths: list[Path],
    *,
    points,
    c2_fit: np.ndarray,
    phi: np.ndarray,
    sigma: float | None,
    q: float | None = None,
    label: str = "",
) -> list[Path]:
    """Write one PNG per angle: data, fit and residual of a point set on age x lag axes.

    Parameters
    ----------
    paths
        One PNG per angle.
    points
        The data's ``homodyne_data.PointSet`` (values, weights, times).
    c2_fit
        Model at the points, ``(n_phi, n_points)``.
    sigma
        Noise of a unit-weight point; residuals are shown as
        ``(data - fit) sqrt(weight) / sigma`` (standard deviations), raw when None.
    """
    age, lag = points.age, points.lag
    keep, note = display_subset(age.size)
    order = keep[np.argsort(points.weights.mean(axis=0)[keep], kind="stable")]
    scale = np.sqrt(points.weights) / (sigma if sigma else 1.0)
    rlab = "(data - fit) sqrt(w) / sigma" if sigma else "(data - fit) sqrt(w)"
    out = []
    for k, path in enumerate(paths):
        data, fit = points.values[k, order], np.asarray(c2_fit)[k, order]
        resid = (data - fit) * scale[k, order]
        lims = robust_limits(data, fit)
        rmax = max(abs(v) for v in robust_limits(resid, lo=0.5, hi=99.5)) or 1.0
        fig = figure(figsize=(15, 4.4), layout="constrained")
        axes = fig.subplots(1, 3, sharex=True, sharey=True)
        a, tau = age[order], lag[order]
        _scatter(axes[0], fig, a, tau, data, cmap="viridis", lims=lims, title="data", cbar="c2")
        _scatter(axes[1], fig, a, tau, fit, cmap="viridis", lims=lims, title="fit", cbar="c2")
        _scatter(
            axes[2],
            fig,
            a,
            tau,
            resid,
            cmap="RdBu_r",
            lims=(-rmax, rmax),
            title="residual",
            cbar=rlab,
        )
        axes[2].set_facecolor("0.85")  # near-zero residuals are white: keep them visible
        axes[0].set_ylabel("lag t2 - t1 (s)")
        qtxt = f"q = {q:.4g} 1/A, " if q else ""
        fig.suptitle(
            f"{label + ': ' if label else ''}{qtxt}phi = {phi[k]:.2f} deg, "
            f"{points.kind} points on age x lag{note}",
            fontsize=10,
        )
        out.append(save(fig, path))
    return out


def cut_groups(points, n_cuts: int = 3, min_points: int = 4) -> tuple[str, list[np.ndarray]]:
    """Up to ``n_cuts`` groups of point indices that form lag cuts, sorted by lag.

    A cut is a set of points sharing one t1 (as c2(t1, t1 + tau) of a matrix) or, when no t1
    holds ``min_points`` lags, one age; the fuller of the two is used. Returns the key
    (``'t1'`` or ``'age'``) and the groups (early, middle, late); no groups when none exists.
    """
    best: tuple[str, list[np.ndarray]] = ("t1", [])
    best_n = 0
    for key, x in (("t1", points.t1), ("age", points.age)):
        vals, inv, counts = np.unique(np.round(x, 12), return_inverse=True, return_counts=True)
        full = np.flatnonzero(counts >= max(min_points, 0.5 * counts.max()))
        if full.size == 0 or counts.max() < min_points or counts.max() <= best_n:
            continue
        span = vals[full[-1]] - vals[full[0]]
        targets = vals[full[0]] + np.linspace(0.05, 0.6, n_cuts) * span
        picked = np.unique([full[np.argmin(np.abs(vals[full] - tg))] for tg in targets])
        groups = []
        for g in picked:
            idx = np.flatnonzero(inv == g)
            groups.append(idx[np.argsort(points.lag[idx])])
        best, best_n = (key, groups), int(counts.max())
    return best


def plot_point_lag_cuts(
    path: str | Path,
    *,
    points,
    c2_fit: np.ndarray,
    phi: np.ndarray,
    q: float | None = None,
    max_angles: int = 24,
) -> Path | None:
    """Write c2 against lag along the point set's cuts (see :func:`cut_groups`): data points,
    fit lines, one panel per angle. Returns None (nothing written) when no cut exists."""
    key, groups = cut_groups(points)
    if not groups:
        return None
    where = points.t1 if key == "t1" else points.age
    fit = np.asarray(c2_fit)

    def curves(k):
        for idx in groups:
            lag = points.lag[idx]
            yield lag, points.values[k, idx], fit[k, idx], f"{key} = {where[idx[0]]:.3g} s"

    qtxt = f"q = {q:.4g} 1/A; " if q else ""
    return draw_cut_panels(
        path,
        phi=phi,
        curves=curves,
        ylabel="c2",
        xlabel="lag t2 - t1 (s)",
        title=f"{qtxt}c2 against lag at {len(groups)} fixed {key} values of the point set: "
        "points = data, lines = fit",
        max_angles=max_angles,
        ms=3,
    )
