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

# relative chi^2 change up to which a final pass's extras are reused (see ``_Passes``)
EXTRAS_REUSE = 1e-4

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
    # what ``final_fused`` added at the final point (or at one whose chi^2 is within a
    # relative EXTRAS_REUSE of it), else None
    extras: object = None


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]


@dataclass(frozen=True)
class _Box:
    """The bounds, their widths (1 where infinite) and the typical size of a parameter."""

    lower: np.ndarray
    upper: np.ndarray
    width: np.ndarray
    typical: np.ndarray

    @classmethod
    def of(cls, lower, upper) -> "_Box":
        lower = np.asarray(lower, np.float64)
        upper = np.asarray(upper, np.float64)
        width = np.where(np.isfinite(upper - lower), upper - lower, 1.0)
        return cls(lower, upper, width, 1e-6 * np.minimum(width, 1e6))


def _active_set(x, g, box: _Box) -> np.ndarray:
    """Parameters on a bound whose gradient points outward: held there for the iteration."""
    tol = 1e-12 * box.width
    at_lo = x <= box.lower + tol
    at_hi = x >= box.upper - tol
    return (at_lo & (g <= 0)) | (at_hi & (g >= 0))


@dataclass
class _Passes:
    """The two passes over the data, timed and counted.

    ``extras`` of the last ``final_fn`` pass are kept, with the chi^2 where they were taken,
    through later plain passes; a pass flagged ``last`` reuses them instead of running
    ``final_fn`` again when chi^2 has since dropped by at most :data:`EXTRAS_REUSE` of itself
    (a residual vector that close changes quadratic score sums by about
    ``2 sqrt(EXTRAS_REUSE)`` at most, 2 %; the first-order part is a zero-mean noise sum, so
    in practice far less: see the tests), and :meth:`final_extras` hands them out on the same
    condition."""

    fused_fn: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]]
    cost_fn: Callable[[np.ndarray], float]
    final_fn: Callable | None = None
    extras: object = None
    extras_cost: float = np.inf
    timing: dict[str, float] = field(
        default_factory=lambda: {"fused": 0.0, "cost": 0.0, "linear_algebra": 0.0}
    )
    n_fused: int = 0
    n_cost: int = 0

    def _fresh(self, f: float | None) -> bool:
        """Are the kept extras close enough to a point of chi^2 ``f``?"""
        if self.extras is None or f is None or not np.isfinite(f):
            return False
        return abs(self.extras_cost - f) <= EXTRAS_REUSE * max(abs(f), 1e-300)

    def fused(
        self, x: np.ndarray, last: bool = False, f_hint: float | None = None
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """One fused pass at ``x``; ``last``: the extras pass unless kept extras taken at a
        chi^2 close to ``f_hint`` (the cost at ``x``, if known) can serve."""
        t0 = time.perf_counter()
        if last and self.final_fn is not None and not self._fresh(f_hint):
            c, a, g, self.extras = self.final_fn(x)
            self.extras_cost = float(c)
        else:
            c, a, g = self.fused_fn(x)
        self.timing["fused"] += time.perf_counter() - t0
        self.n_fused += 1
        return float(c), np.asarray(a, np.float64), np.asarray(g, np.float64)

    def final_extras(self, f: float):
        """The kept extras when they belong to the final point of chi^2 ``f``, else None."""
        return self.extras if self._fresh(f) else None

    def cost(self, x: np.ndarray) -> float:
        t0 = time.perf_counter()
        c = float(self.cost_fn(x))
        self.timing["cost"] += time.perf_counter() - t0
        self.n_cost += 1
        return c


@dataclass
class _Damping:
    """Marquardt's lambda with Nielsen's update."""

    lam: float
    nu: float = 2.0

    def success(self, rho: float) -> None:
        self.lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
        self.nu = 2.0

    def failure(self) -> None:
        self.lam *= self.nu
        self.nu *= 2.0


@dataclass(frozen=True)
class _Stop:
    reason: str
    message: str
    converged: bool = True


@dataclass(frozen=True)
class _Scaled:
    """The normal equations of the free parameters in the variables ``D x``."""

    a_s: np.ndarray
    g_s: np.ndarray
    df: np.ndarray
    free: np.ndarray

    @classmethod
    def build(cls, a: np.ndarray, g: np.ndarray, d_safe: np.ndarray, free: np.ndarray):
        df = d_safe[free]
        return cls(a[np.ix_(free, free)] / np.outer(df, df), g[free] / df, df, free)

    def step(self, lam: float) -> np.ndarray:
        """The damped step of the free parameters (unscaled)."""
        return _solve(self.a_s + lam * np.eye(self.a_s.shape[0]), self.g_s) / self.df


@dataclass(frozen=True)
class _Trial:
    """An accepted trial point, its step, chi^2, gain ratio and the rejections before it."""

    x: np.ndarray
    dx: np.ndarray
    f: float
    rho: float
    rejected: int


def _gradient_stop(f: float, a, g, free, gtol: float) -> _Stop | None:
    """``gtol``: the largest cosine between the residual and a free Jacobian column."""
    col = np.sqrt(np.clip(np.diag(a), 0.0, None))
    cosines = np.abs(g) / np.where(col > 0, col, np.inf) / max(np.sqrt(max(f, 0.0)), 1e-300)
    gmax = float(np.max(cosines[free])) if free.any() else 0.0
    if gmax > gtol:
        return None
    return _Stop(
        "gtol", f"gradient small: max cosine(residual, free Jacobian column) {gmax:.2e} <= gtol"
    )


def _limit_stop(iterations: int, max_iterations: int) -> _Stop | None:
    if iterations < max_iterations:
        return None
    msg = f"stopped after max_iterations = {max_iterations} accepted steps"
    return _Stop("max_iterations", msg, converged=False)


def _newton_decrement(sys_: _Scaled) -> float:
    """The chi^2 decrease the undamped Gauss-Newton step predicts, ``g^T A^-1 g``."""
    return float(sys_.g_s @ _solve(sys_.a_s + 1e-12 * np.eye(sys_.a_s.shape[0]), sys_.g_s))


def _likely_last(sys_: _Scaled, trial: _Trial, f_old: float, ftol: float) -> bool:
    """Will the pass at the accepted trial point probably be the last? When the step left
    little of the decrease the Gauss-Newton model promised (the decrement stop will fire), or
    decreased chi^2 by less than ``sqrt(ftol)`` (a stop is near)."""
    decrease = f_old - trial.f
    left = _newton_decrement(sys_) - decrease / trial.rho
    return left <= 10.0 * ftol * trial.f or decrease <= np.sqrt(ftol) * f_old


def _decrement_stop(sys_: _Scaled, f: float, ftol: float) -> _Stop | None:
    """``ftol`` by the Newton decrement: the decrease the undamped Gauss-Newton step predicts."""
    decrement = _newton_decrement(sys_)
    if not 0.0 <= decrement <= ftol * f:
        return None
    return _Stop(
        "ftol",
        f"the Gauss-Newton step predicts a relative chi^2 decrease of "
        f"{decrement / max(f, 1e-300):.1e} <= ftol",
    )


def _try_steps(
    sys_: _Scaled, x, f, a, g, box: _Box, damping: _Damping, passes: _Passes, max_rejections: int
) -> _Trial | None:
    """Damped trial steps until one decreases chi^2 as predicted (None after too many)."""
    rejected = 0
    while rejected < max_rejections:
        t0 = time.perf_counter()
        x_try = x.copy()
        x_try[sys_.free] += sys_.step(damping.lam)
        x_try = np.clip(x_try, box.lower, box.upper)
        dx = x_try - x
        predicted = float(2.0 * dx @ g - dx @ a @ dx)
        passes.timing["linear_algebra"] += time.perf_counter() - t0
        if predicted <= 0 or not np.any(dx):
            damping.failure()
            rejected += 1
            continue
        f_try = passes.cost(x_try)
        rho = (f - f_try) / predicted if np.isfinite(f_try) else -np.inf
        if rho > 1e-4:
            damping.success(rho)
            return _Trial(x_try, dx, f_try, rho, rejected)
        damping.failure()
        rejected += 1
    return None


def _stalled_stop(
    sys_: _Scaled, f: float, a, g, lam: float, ftol: float, max_rejections: int
) -> _Stop:
    """No trial step was accepted: would even the undamped Gauss-Newton step gain much?"""
    dx = np.zeros(g.size)
    dx[sys_.free] = sys_.step(1e-12)
    gain = float(2.0 * dx @ g - dx @ a @ dx)
    if gain <= ftol * f:
        return _Stop(
            "ftol",
            "no trial step decreased chi^2 and the Gauss-Newton model predicts a "
            f"relative decrease of {gain / max(f, 1e-300):.1e} <= ftol",
        )
    return _Stop(
        "stalled",
        f"{max_rejections} trial steps in a row failed to decrease chi^2 "
        f"(lambda = {lam:.1e}); the model predicts a further relative decrease of "
        f"{gain / max(f, 1e-300):.1e}",
        converged=False,
    )


def _step_stop(
    decrease: float, f_old: float, rho: float, step: float, ftol: float, xtol: float
) -> _Stop | None:
    """``ftol`` for a well-predicted accepted step, or ``xtol``."""
    if decrease <= ftol * f_old and rho > 0.25:
        return _Stop("ftol", f"relative chi^2 decrease {decrease / max(f_old, 1e-300):.1e} <= ftol")
    if step <= xtol:
        return _Stop("xtol", f"largest relative parameter change {step:.1e} <= xtol")
    return None


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
    final_fused: Callable | None = None,
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
    final_fused
        ``x -> (cost, JtJ, Jtr, extras)``: a fused pass that returns more, run instead of
        ``fused`` where the pass is likely the last (the step test will stop after it, the
        step took nearly all the decrease the Gauss-Newton model promised, or it decreased
        chi^2 by less than ``sqrt(ftol)``); ``extras`` come back in :attr:`LMOutcome.extras`
        when taken at the final point or at a point whose chi^2 differs from the final one by
        at most :data:`EXTRAS_REUSE` of it (then the last pass is a plain one: a near-final
        extras pass is not repeated), else None.

    Returns
    -------
    LMOutcome
    """
    t_start = time.perf_counter()
    box = _Box.of(lower, upper)
    x = np.clip(np.asarray(x0, np.float64), box.lower, box.upper)
    passes = _Passes(fused, cost, final_fused)
    f, a, g = passes.fused(x)
    if not np.isfinite(f):
        raise NLSQFitError(
            f"chi^2 is not finite at the starting point {np.array2string(x, precision=6)}"
        )
    d = np.zeros(x.size)
    damping = _Damping(float(lambda_init))
    history: list[IterationInfo] = []

    def report(it: int, step: float, rejected: int) -> None:
        info = IterationInfo(it, f, step, damping.lam, rejected, time.perf_counter() - t_start)
        history.append(info)
        if progress is not None:
            progress(info)

    report(0, 0.0, 0)
    iterations = 0
    while True:
        free = ~_active_set(x, g, box)
        d, d_safe = _column_scales(d, a)
        if stop := _gradient_stop(f, a, g, free, gtol) or _limit_stop(iterations, max_iterations):
            break
        t0 = time.perf_counter()
        sys_ = _Scaled.build(a, g, d_safe, free)
        stop = _decrement_stop(sys_, f, ftol) if iterations > 0 else None
        passes.timing["linear_algebra"] += time.perf_counter() - t0
        if stop:
            break
        trial = _try_steps(sys_, x, f, a, g, box, damping, passes, max_rejections)
        if trial is None:
            stop = _stalled_stop(sys_, f, a, g, damping.lam, ftol, max_rejections)
            break
        iterations += 1
        step = float(np.max(np.abs(trial.dx) / (np.abs(x) + box.typical)))
        x, f_old = trial.x, f
        stop = _step_stop(f_old - trial.f, f_old, trial.rho, step, ftol, xtol)
        last = bool(stop) or iterations >= max_iterations
        if final_fused is not None and not last:
            last = _likely_last(sys_, trial, f_old, ftol)
        f, a, g = passes.fused(x, last=last, f_hint=trial.f)
        report(iterations, step, trial.rejected)
        if stop:
            break
    passes.timing["total"] = time.perf_counter() - t_start
    return _outcome(x, f, a, g, box, iterations, stop, passes, history)


def _column_scales(d, a) -> tuple[np.ndarray, np.ndarray]:
    """The scales ``d`` (running maximum of the column norms ``sqrt(diag(A))``) updated at
    ``a``, and a copy with zeros replaced by a tiny positive number, safe to divide by."""
    d = np.maximum(d, np.sqrt(np.clip(np.diag(a), 0.0, None)))
    return d, np.where(d > 0, d, max(d.max(), 1.0) * 1e-12 + 1e-300)


def _outcome(x, f, a, g, box: _Box, iterations: int, stop: _Stop, passes: _Passes, history):
    """The :class:`LMOutcome` at the final point."""
    return LMOutcome(
        x=x,
        cost=f,
        jtj=a,
        jtr=g,
        iterations=iterations,
        converged=stop.converged,
        reason=stop.reason,
        message=stop.message,
        n_fused=passes.n_fused,
        n_cost=passes.n_cost,
        active=_active_set(x, g, box),
        timing=passes.timing,
        history=history,
        extras=passes.final_extras(f),
    )
