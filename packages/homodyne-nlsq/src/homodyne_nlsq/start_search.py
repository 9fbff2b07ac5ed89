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
2. the bounded Levenberg-Marquardt solver on the subset from the best point;
3. a fine sweep of the flow angle ``phi0`` from that solution (then the solver again when it
   found a lower chi^2). ``phi0`` sets the shear phase ``q h/2 cos(phi0 - phi) Gamma(t1, t2)``,
   which at long lags reaches hundreds of radians (q h/2 ~ 5000, Gamma ~ 0.06 over a 100 s
   run): there chi^2 oscillates in ``phi0`` with a period of a few degrees, finer than the
   coarse grid resolves, and while the other parameters are still far off the coarse sweep
   can pick a mirrored lobe (e.g. phi0 = -2.8 instead of 3 on a 100 s multi-tau run). Once
   the shear rate is about right, the fine grid (4x the coarse resolution) sees the true lobe;
4. on a large data set (at least :data:`_MID_RATIO` times the subset), the solver again on a
   middle subset, the geometric mean of the two sizes. Along a degenerate ridge (e.g.
   ``gamma_dot_t0``/``beta``/``gamma_dot_t_offset``) the subset's optimum lies many
   full-data standard errors away, and the full-data solver crawled there at a full pass per
   step: 8 x 500 laminar (1 M points), 12 full-data iterations from the 20,000-point start,
   2-4 after a middle stage of ~125,000 points (which costs about two full passes).

The result is only a start: the full-data solve that follows decides the answer, and the
result reports both the registry/user start and this refined one.
"""

import numpy as np

from .lm import levenberg_marquardt
from .problem import FitProblem

__all__ = ["search_start"]

_NOT_SWEPT = ("D_offset", "gamma_dot_t_offset")
#: swept again on a fine grid after the subset solve (see the module docstring)
_PHASE = ("phi0",)
_FINE = 4
#: a middle stage runs when the data have at least this many times the subset's points
_MID_RATIO = 25


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
    ((best_x, best),) = sub.profile_many(theta[None])  # the grids' compiled program
    before = best
    evaluations = 1
    swept = [p for p, n in enumerate(problem.free_names) if n not in _NOT_SWEPT]
    for _ in range(sweeps):
        for p in swept:
            values = _grid(problem.lower[p], problem.upper[p], grid)
            for x, cost in sub.profile_many(_trials(best_x[:k], p, values)):
                evaluations += 1
                if np.isfinite(cost) and cost < best:
                    best_x, best = x, cost
    x, cost, lam = _solve(sub, best_x, best)
    fine = {}
    for p in (p for p, n in enumerate(problem.free_names) if n in _PHASE):
        grid_x, grid_cost, n_eval = _sweep(sub, x, p, _FINE * (grid - 1) + 1)
        evaluations += n_eval
        fine[problem.free_names[p]] = bool(grid_cost < cost)
        if grid_cost < cost:  # a better lobe: solve again from it
            x, cost, lam = _solve(sub, grid_x, grid_cost)
    mid_points = None
    if problem.n_valid >= _MID_RATIO * sub.n_valid:
        mid = problem.subsample(int(np.sqrt(float(problem.n_valid) * sub.n_valid)))
        x, _, mid_lam = _solve(mid, x, mid.cost(x))
        lam = lam if mid_lam is None else mid_lam
        mid_points = mid.n_valid
    info = {
        "subset_points": sub.n_valid,
        "middle_points": mid_points,
        "evaluations": evaluations,
        "cost_before": float(before),
        "cost_after": float(cost),
        "lambda": lam,
        "fine_sweep_moved": fine,
    }
    return x, info


def _sweep(sub: FitProblem, x, p: int, n: int) -> tuple[np.ndarray, float, int]:
    """Best point (and its cost) of a linear grid of ``n`` values of parameter ``p`` from
    ``x``, the others held."""
    k = sub.n_theta
    best_x, best = x, np.inf
    values = np.linspace(sub.lower[p], sub.upper[p], n)
    for tx, cost in sub.profile_many(_trials(x[:k], p, values)):
        if np.isfinite(cost) and cost < best:
            best_x, best = tx, cost
    return best_x, float(best), n


def _trials(theta, p: int, values) -> np.ndarray:
    """Copies of ``theta`` with entry ``p`` set to each of ``values``, ``(len(values), k)``:
    one grid, evaluated in one batched pass (only entry ``p`` changes along a grid, so this
    is the same as trying the values one after the other)."""
    trials = np.tile(np.asarray(theta, np.float64), (len(values), 1))
    trials[:, p] = values
    return trials


def _solve(sub: FitProblem, x0, cost0: float) -> tuple[np.ndarray, float, float | None]:
    """The bounded LM solver on the subset from ``x0``: its point, cost and final damping
    (``x0``, ``cost0`` and None when it did not improve)."""
    out = levenberg_marquardt(
        sub.fused,
        sub.cost,
        x0,
        sub.lower,
        sub.upper,
        max_iterations=100,
        ftol=1e-6,
        xtol=1e-6,
        gtol=1e-6,
    )
    if out.cost <= cost0:
        return out.x, float(out.cost), float(out.history[-1].lambda_)
    return np.asarray(x0), float(cost0), None
