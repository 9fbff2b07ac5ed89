"""Bounded Levenberg-Marquardt on streamed normal equations.

The solver sees the problem only through two callables:

* ``fused(x) -> (cost, JtJ, Jtr)``: one pass over the data giving chi^2 and the normal
  equations (``J = d model / d x``, ``r = data - model``, so the Gauss-Newton step solves
  ``JtJ dx = Jtr``);
* ``cost(x) -> float``: a cheap pass without derivatives, used to accept or reject trial steps.

Each iteration therefore costs one fused pass plus one cost-only pass per trial step.

Scaling of parameters: Marquardt's diagonal ``D = sqrt(diag JtJ)`` (the running maximum over
iterations, as in MINPACK), so the damped system ``(JtJ + lambda D^2) dx = Jtr`` is solved in
the variables ``D x``: D0 ~ 1e4 and phi0 ~ 1 are treated alike, whatever their units.

Bounds: projection with an active set. A parameter sitting on a bound whose gradient points
outward is held there for the iteration; the step of the others is solved and the trial point
is clipped to the box. The gain ratio uses the step actually taken, so clipping never accepts
an increase of chi^2.

Damping: Nielsen's update (``lambda *= max(1/3, 1 - (2 rho - 1)^3)`` on success, ``lambda *= nu,
nu *= 2`` on failure).

Stopping (reason reported in :class:`LMOutcome`):
``ftol`` relative chi^2 decrease of an accepted, well-predicted step below ftol, or (checked
after each fused pass, which saves the pass a last tiny step would cost) the decrease the
undamped Gauss-Newton step predicts (the Newton decrement ``g^T A^-1 g``) below ftol; ``xtol`` every
parameter moved by less than xtol times its size; ``gtol`` the largest cosine between the
residual vector and a free Jacobian column below gtol; ``max_iterations``; ``stalled``: no
trial step decreased chi^2 within the allowed rejections.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .errors import NLSQFitError

__all__ = ["IterationInfo", "LMOutcome", "levenberg_marquardt"]


@dataclass(frozen=True)
class IterationInfo:
    """What a progress callback receives after every accepted step (or the initial pass).

    Attributes
    ----------
    iteration
        Accepted steps so far (0 for the starting point).
    cost
        chi^2 (sum of squared residuals, or of the robust loss) at the current point.
    step
        Largest relative parameter change of the step, ``max |dx| / (|x| + typical)``.
    lambda_
        Marquardt damping after the step.
    rejected
        Trial steps rejected before this one was accepted.
    elapsed
        Seconds since the solver started.
    start
        Which local run this is (0: the initial start; then CMA-ES / multi-start runs).
    """

    iteration: int
    cost: float
    step: float
    lambda_: float
    rejected: int
    elapsed: float
    start: int = 0


@dataclass
class LMOutcome:
    """Result of :func:`levenberg_marquardt` (``jtj``/``jtr`` are at the final ``x``)."""

    x: np.ndarray
    cost: float
    jtj: np.ndarray
    jtr: np.ndarray
    iterations: int
    converged: bool
    reason: str
    message: str
    n_fused: int
    n_cost: int
    active: np.ndarray
    timing: dict[str, float] = field(default_factory=dict)
    history: list[IterationInfo] = field(default_factory=list)


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]


def _active_set(x, g, lower, upper, width):
    tol = 1e-12 * width
    at_lo = x <= lower + tol
    at_hi = x >= upper - tol
    return (at_lo & (g <= 0)) | (at_hi & (g >= 0))


def levenberg_marquardt(
    fused: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]],
    cost: Callable[[np.ndarray], float],
    x0,
    lower,
    upper,
    *,
    max_iterations: int = 200,
    ftol: float = 1e-8,
    xtol: float = 1e-8,
    gtol: float = 1e-8,
    lambda_init: float = 1e-3,
    max_rejections: int = 12,
    progress: Callable[[IterationInfo], None] | None = None,
) -> LMOutcome:
    """Minimise chi^2 inside the box ``[lower, upper]`` starting from ``x0`` (clipped to it).

    Parameters
    ----------
    fused, cost
        See the module docstring.
    x0, lower, upper
        Start and bounds, shape ``(n,)``; bounds may be infinite.
    max_iterations, ftol, xtol, gtol
        Stopping rules (module docstring).
    lambda_init
        Initial damping relative to the scaled normal matrix.
    max_rejections
        Consecutive rejected trial steps before stopping as ``stalled``.
    progress
        Called with an :class:`IterationInfo` at the start and after every accepted step.

    Returns
    -------
    LMOutcome
    """
    t_start = time.perf_counter()
    lower = np.asarray(lower, np.float64)
    upper = np.asarray(upper, np.float64)
    width = np.where(np.isfinite(upper - lower), upper - lower, 1.0)
    typical = 1e-6 * np.minimum(width, 1e6)
    x = np.clip(np.asarray(x0, np.float64), lower, upper)
    n = x.size
    timing = {"fused": 0.0, "cost": 0.0, "linear_algebra": 0.0}

    def run_fused(xx):
        t0 = time.perf_counter()
        c, a, g = fused(xx)
        timing["fused"] += time.perf_counter() - t0
        return float(c), np.asarray(a, np.float64), np.asarray(g, np.float64)

    def run_cost(xx):
        t0 = time.perf_counter()
        c = float(cost(xx))
        timing["cost"] += time.perf_counter() - t0
        return c

    f, a, g = run_fused(x)
    n_fused, n_cost = 1, 0
    if not np.isfinite(f):
        raise NLSQFitError(
            f"chi^2 is not finite at the starting point {np.array2string(x, precision=6)}"
        )
    d = np.zeros(n)
    lam, nu = float(lambda_init), 2.0
    history: list[IterationInfo] = []

    def report(it, step, rejected):
        info = IterationInfo(it, f, step, lam, rejected, time.perf_counter() - t_start)
        history.append(info)
        if progress is not None:
            progress(info)

    report(0, 0.0, 0)
    reason, message, converged = "max_iterations", "", False
    iterations = 0
    fixed = np.zeros(n, bool)
    while True:
        fixed = _active_set(x, g, lower, upper, width)
        free = ~fixed
        diag = np.clip(np.diag(a), 0.0, None)
        d = np.maximum(d, np.sqrt(diag))
        d_safe = np.where(d > 0, d, max(d.max(), 1.0) * 1e-12 + 1e-300)
        col = np.sqrt(diag)
        cosines = np.abs(g) / np.where(col > 0, col, np.inf) / max(np.sqrt(max(f, 0.0)), 1e-300)
        gmax = float(np.max(cosines[free])) if free.any() else 0.0
        if gmax <= gtol:
            reason, converged = "gtol", True
            message = (
                f"gradient small: max cosine(residual, free Jacobian column) {gmax:.2e} <= gtol"
            )
            break
        if iterations >= max_iterations:
            reason = "max_iterations"
            message = f"stopped after max_iterations = {max_iterations} accepted steps"
            break
        t0 = time.perf_counter()
        df = d_safe[free]
        a_s = a[np.ix_(free, free)] / np.outer(df, df)
        g_s = g[free] / df
        # Newton decrement: the decrease the undamped Gauss-Newton step predicts
        decrement = float(g_s @ _solve(a_s + 1e-12 * np.eye(a_s.shape[0]), g_s))
        timing["linear_algebra"] += time.perf_counter() - t0
        if iterations > 0 and 0.0 <= decrement <= ftol * f:
            reason, converged = "ftol", True
            message = (
                f"the Gauss-Newton step predicts a relative chi^2 decrease of "
                f"{decrement / max(f, 1e-300):.1e} <= ftol"
            )
            break
        rejected = 0
        accepted = False
        while rejected < max_rejections:
            t0 = time.perf_counter()
            z = _solve(a_s + lam * np.eye(a_s.shape[0]), g_s)
            x_try = x.copy()
            x_try[free] += z / df
            x_try = np.clip(x_try, lower, upper)
            dx = x_try - x
            predicted = float(2.0 * dx @ g - dx @ a @ dx)
            timing["linear_algebra"] += time.perf_counter() - t0
            if predicted <= 0 or not np.any(dx):
                lam *= nu
                nu *= 2.0
                rejected += 1
                continue
            f_try = run_cost(x_try)
            n_cost += 1
            rho = (f - f_try) / predicted if np.isfinite(f_try) else -np.inf
            if rho > 1e-4:
                lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                accepted = True
                break
            lam *= nu
            nu *= 2.0
            rejected += 1
        if not accepted:
            # Would even the undamped Gauss-Newton step gain anything worth having?
            z = _solve(a_s + 1e-12 * np.eye(a_s.shape[0]), g_s)
            dx = np.zeros(n)
            dx[free] = z / df
            gain = float(2.0 * dx @ g - dx @ a @ dx)
            if gain <= ftol * f:
                reason, converged = "ftol", True
                message = (
                    "no trial step decreased chi^2 and the Gauss-Newton model predicts a "
                    f"relative decrease of {gain / max(f, 1e-300):.1e} <= ftol"
                )
            else:
                reason = "stalled"
                message = (
                    f"{max_rejections} trial steps in a row failed to decrease chi^2 "
                    f"(lambda = {lam:.1e}); the model predicts a further relative decrease of "
                    f"{gain / max(f, 1e-300):.1e}"
                )
            break
        iterations += 1
        step = float(np.max(np.abs(dx) / (np.abs(x) + typical)))
        decrease = f - f_try
        x = x_try
        f_old = f
        f, a, g = run_fused(x)
        n_fused += 1
        report(iterations, step, rejected)
        if decrease <= ftol * f_old and rho > 0.25:
            reason, converged = "ftol", True
            message = f"relative chi^2 decrease {decrease / max(f_old, 1e-300):.1e} <= ftol"
            break
        if step <= xtol:
            reason, converged = "xtol", True
            message = f"largest relative parameter change {step:.1e} <= xtol"
            break
    timing["total"] = time.perf_counter() - t_start
    return LMOutcome(
        x=x,
        cost=f,
        jtj=a,
        jtr=g,
        iterations=iterations,
        converged=converged,
        reason=reason,
        message=message,
        n_fused=n_fused,
        n_cost=n_cost,
        active=_active_set(x, g, lower, upper, width),
        timing=timing,
        history=history,
    )
