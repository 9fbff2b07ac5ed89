"""Optional backend: the same residuals through the ``nlsq`` library's ``curve_fit``.

For users who want to cross-check our solver with that library at small and medium sizes
(install ``homodyne-nlsq[nlsq]``). It is not the default: it forms the dense N x P Jacobian,
needs tens to hundreds of times longer than the streamed solver at 10^6 points and many GB at
10^7, and its wheel pulls in ~220 packages. The model is still our one kernel
(:func:`homodyne_physics.c2_pairs`); the uncertainties are recomputed from our own fused pass at
the solution so both solvers report errors with the same definition.
"""

import time

import jax.numpy as jnp
import numpy as np

from homodyne_physics import c2_pairs

from .errors import NLSQBackendError
from .lm import LMOutcome
from .problem import FitProblem

__all__ = ["fit_with_nlsq"]


def _import_curve_fit():
    try:
        from nlsq import curve_fit
    except ImportError as exc:
        raise NLSQBackendError(
            "solver 'nlsq' needs the optional nlsq package: install homodyne-nlsq[nlsq] "
            "(or use the default solver 'lm')"
        ) from exc
    return curve_fit


def fit_with_nlsq(problem: FitProblem, x0) -> LMOutcome:
    """Minimise the same chi^2 as the default solver with ``nlsq.curve_fit`` (trust region).

    Parameters
    ----------
    problem
        The fit problem (its config gives tolerances, iterations and loss).
    x0
        Starting vector ``(free theta, s)``.
    """
    curve_fit = _import_curve_fit()
    cfg = problem.config
    arrs = problem.arrs
    y = np.asarray(arrs.y)
    valid = np.flatnonzero(np.isfinite(y).ravel())
    k = problem.n_theta
    scaling = problem.scaling
    t, phi, i, j = arrs.t, arrs.phi, arrs.i, arrs.j
    model = problem.model

    def f(index, *params):
        p = jnp.stack([jnp.asarray(v, jnp.float64) for v in params])
        theta = problem.spec.theta(p[:k], xp=jnp)
        if scaling.ages:  # per-point scaling: G from the kernel, then the age polynomials
            ones = jnp.ones(phi.shape[0])
            g = c2_pairs(model, theta, ones, 0.0 * ones, t, phi, i, j)
            contrast, offset = scaling.at_age(p[k:], 0.5 * (t[i] + t[j]), xp=jnp)
            full = offset + contrast * g
        else:
            contrast, offset = scaling.apply(p[k:], xp=jnp)
            full = c2_pairs(model, theta, contrast, offset, t, phi, i, j)
        # the library hands xdata over as floats: the point indices are exact in float64
        return full.reshape(-1)[jnp.asarray(index).astype(jnp.int64)]

    t0 = time.perf_counter()
    lower = np.where(np.isfinite(problem.lower), problem.lower, -np.inf)
    upper = np.where(np.isfinite(problem.upper), problem.upper, np.inf)
    x_start = np.clip(np.asarray(x0, np.float64), lower, upper)
    try:
        out = curve_fit(
            f,
            jnp.asarray(valid),
            jnp.asarray(y.ravel()[valid]),
            p0=x_start,
            bounds=(lower, upper),
            method="trf",
            ftol=cfg.ftol,
            xtol=cfg.xtol,
            gtol=cfg.gtol,
            max_nfev=max(cfg.max_iterations, 1) * 5,
            loss=cfg.loss,
            f_scale=cfg.f_scale,
        )
    except Exception as exc:  # the library's own errors are not ours to enumerate
        raise NLSQBackendError(f"nlsq.curve_fit failed: {type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - t0
    # a CurveFitResult (dict subclass with x, nit, nfev, success, message) or a (popt, pcov)
    info = out if isinstance(out, dict) else {}
    popt = np.asarray(info["x"] if "x" in info else out[0], np.float64)
    steps = info.get("nit") if info.get("nit") is not None else info.get("nfev")
    cost, jtj, jtr = problem.fused(popt)
    return LMOutcome(
        x=popt,
        cost=cost,
        jtj=jtj,
        jtr=jtr,
        iterations=int(steps) if steps is not None else 0,
        converged=bool(info.get("success", True)),
        reason="nlsq",
        message="nlsq.curve_fit: " + str(info.get("message", "returned")),
        n_fused=1,
        n_cost=0,
        active=np.zeros(popt.size, bool),
        timing={"nlsq_curve_fit": elapsed, "total": elapsed},
    )
