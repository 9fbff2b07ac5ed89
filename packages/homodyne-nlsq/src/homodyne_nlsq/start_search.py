"""A cheap search for a good start before the full-data solve.

From the registry defaults the laminar-flow problem is often far outside the basin of the
optimum: the shear phase ``q h/2 cos(phi0 - phi) I_g`` runs through many sinc lobes, so chi^2
has a local minimum per lobe. Before the local solver runs on all points, this stage works on
an evenly strided subset of the frame pairs (all angles, at most ``max_points`` points):

1. coordinate sweeps: for each physical parameter except the additive constants of D(t) and
   gamma_dot(t) (``D_offset``, ``gamma_dot_t_offset``: a grid over their wide, zero-straddling
   bounds trades them against the power law and leads into spurious valleys) in turn, chi^2
   (with the per-angle scaling solved exactly, :meth:`FitProblem.profile`) on a grid over its
   bounds (log-spaced for a positive parameter spanning two decades or more), keeping the
   best value;
2. the bounded Levenberg-Marquardt solver on the subset from the best point.

The result is only a start: the full-data solve that follows decides the answer, and the
result reports both the registry/user start and this refined one.
"""

import numpy as np

from .lm import levenberg_marquardt
from .problem import FitProblem

__all__ = ["search_start"]

_NOT_SWEPT = ("D_offset", "gamma_dot_t_offset")


def _grid(lo: float, hi: float, n: int) -> np.ndarray:
    if lo > 0 and hi / lo >= 100.0:
        return np.geomspace(lo, hi, n)
    return np.linspace(lo, hi, n)


def search_start(
    problem: FitProblem, x0, *, max_points: int = 20000, grid: int = 17, sweeps: int = 2
) -> tuple[np.ndarray, dict]:
    """Refined starting vector ``x`` and a summary (``cost_before``, ``cost_after`` on the
    subset, ``evaluations``)."""
    sub = problem.subsample(max_points)
    k = problem.n_theta
    theta = np.clip(np.asarray(x0, np.float64)[:k], problem.lower[:k], problem.upper[:k])
    best_x, best = sub.profile(theta)
    before = best
    evaluations = 1
    swept = [p for p, n in enumerate(problem.free_names) if n not in _NOT_SWEPT]
    for _ in range(sweeps):
        for p in swept:
            for value in _grid(problem.lower[p], problem.upper[p], grid):
                trial = best_x[:k].copy()
                trial[p] = value
                x, cost = sub.profile(trial)
                evaluations += 1
                if np.isfinite(cost) and cost < best:
                    best_x, best = x, cost
    out = levenberg_marquardt(
        sub.fused,
        sub.cost,
        best_x,
        sub.lower,
        sub.upper,
        max_iterations=100,
        ftol=1e-6,
        xtol=1e-6,
        gtol=1e-6,
    )
    x = out.x if out.cost <= best else best_x
    info = {
        "subset_points": sub.n_valid,
        "evaluations": evaluations,
        "cost_before": float(before),
        "cost_after": float(min(out.cost, best)),
        "lambda": float(out.history[-1].lambda_) if out.cost <= best else None,
    }
    return x, info
