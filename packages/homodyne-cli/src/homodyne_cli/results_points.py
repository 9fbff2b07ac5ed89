"""What a run writes for point-set data ((age, lag) grids, multi-tau two-time): per-angle point
tables instead of matrices, and age x lag figures instead of heatmaps.

``nlsq/fitted_data.npz`` of a point set holds one row per angle and one column per point:
``c2_exp``, ``c2_fit``, ``residuals`` (data - fit) and ``weights`` ``(n_phi, n_points)``; the
columns' ``t1``, ``t2``, ``age``, ``lag`` (s) and, for multi-tau, ``level``; ``layout`` names
the point kind. ``homodyne_cli.point_table`` turns it into one table per angle.
"""

from pathlib import Path
from typing import Any

import numpy as np

from .outputs import atomic_write_json, atomic_write_npz
from .qrings import plot_q

__all__ = ["point_table", "write_nlsq_points", "write_point_plots"]

#: the columns of one angle's table, in order (see :func:`point_table`)
POINT_COLUMNS = ("t1", "t2", "age", "lag", "c2_exp", "c2_fit", "residuals", "weights")


def write_nlsq_points(
    folder: Path, res: Any, data: Any, c2_fit: np.ndarray, extra: dict[str, Any] | None = None
) -> list[Path]:
    """``nlsq/parameters.json`` and ``nlsq/fitted_data.npz`` (point tables) of point-set data."""
    from .results import nlsq_parameters

    ps = data.points
    out = folder / "nlsq"
    fit = np.asarray(c2_fit, np.float64)
    level = {} if ps.level is None else {"level": ps.level}
    return [
        atomic_write_json(out / "parameters.json", nlsq_parameters(res, extra)),
        atomic_write_npz(
            out / "fitted_data.npz",
            layout=np.str_(ps.kind),
            columns=np.array(POINT_COLUMNS),
            phi=data.phi,
            q=np.asarray(data.q, dtype=np.float64),
            dt=np.float64(data.dt),
            t1=ps.t1,
            t2=ps.t2,
            age=ps.age,
            lag=ps.lag,
            **level,
            c2_exp=ps.values.astype(np.float32),
            c2_fit=fit.astype(np.float32),
            residuals=(ps.values - fit).astype(np.float32),
            weights=ps.weights.astype(np.float32),
            contrast=np.asarray(res.contrast),
            offset=np.asarray(res.offset),
            contrast_err=np.asarray(res.contrast_err),
            offset_err=np.asarray(res.offset_err),
            sigma=np.float64(res.sigma),
        ),
    ]


def point_table(fitted: Any, angle: int) -> dict[str, np.ndarray]:
    """One angle's rows of a point-set ``fitted_data.npz`` (an ``np.load`` result or dict):
    ``{column: values}`` for the columns ``t1, t2, age, lag, c2_exp, c2_fit, residuals,
    weights`` (and ``level`` for multi-tau), all of length n_points."""
    if "t1" not in fitted:
        raise KeyError("fitted_data.npz holds full matrices, not a point set (no 't1' array)")
    per_angle = ("c2_exp", "c2_fit", "residuals", "weights")
    table = {
        c: np.asarray(fitted[c])[angle] if c in per_angle else fitted[c] for c in POINT_COLUMNS
    }
    if "level" in fitted:
        table["level"] = np.asarray(fitted["level"])
    return table


def write_point_plots(
    folder: Path, data: Any, c2_fit: np.ndarray, sigma: float | None, *, label: str = ""
) -> list[Path]:
    """Every fit plot of point-set data into ``folder``: per-angle age x lag maps (data, fit,
    normalised residual), lag cuts where the point set holds them, residual histogram."""
    from .plots import plot_point_lag_cuts, plot_point_maps, plot_residual_histogram

    folder.mkdir(parents=True, exist_ok=True)
    ps, phi = data.points, data.phi
    fit = np.asarray(c2_fit, np.float64)
    paths = plot_point_maps(
        [folder / f"c2_points_phi_{p:+07.2f}deg.png" for p in phi],
        points=ps,
        c2_fit=fit,
        phi=phi,
        sigma=sigma,
        q=plot_q(data),
        label=label,
    )
    cuts = plot_point_lag_cuts(
        folder / "lag_cuts.png", points=ps, c2_fit=fit, phi=phi, q=plot_q(data)
    )
    if cuts is not None:
        paths.append(cuts)
    resid = (ps.values - fit) * np.sqrt(ps.weights)  # one unit-weight point's residual
    paths.append(
        plot_residual_histogram(
            folder / "residuals.png",
            residuals=np.where(ps.weights > 0, resid, np.nan),
            sigma=sigma,
            phi=phi,
            label=(label + ": " if label else "") + "residual x sqrt(weight)",
        )
    )
    return paths
