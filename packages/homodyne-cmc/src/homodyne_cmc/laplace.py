"""Full-data Laplace approximation: MAP by Gauss-Newton on the log posterior, and its covariance.

Starting from the NLSQ optimum, a few damped Gauss-Newton steps on
``chi2(x) / (2 sigma^2) - log prior(x)`` (``x = (theta, s)``) reach the maximum a posteriori;
the covariance is the inverse of ``J^T J / sigma^2 + H_prior`` there. The normal equations come
from :func:`homodyne_nlsq.accumulate` (one streamed pass over all points, no Jacobian stored).
This serves three purposes: the centre and covariance of the whitening map of every shard, the
cheap cross-check reported beside the CMC posterior, and a warm start when no NLSQ is given.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_nlsq import ProblemArrays, accumulate, cost_only
from homodyne_nlsq.age_scaling import age_accumulate, age_cost
from homodyne_physics import C2Model, ScalingMap

from .parameterization import ParamSpace, full_theta, log_prior, to_physical, to_unconstrained

__all__ = ["LaplaceResult", "laplace_fit"]


@dataclass(frozen=True, eq=False)
class LaplaceResult:
    """Gaussian approximation of the full-data posterior of ``x = (free theta, s)``.

    Attributes
    ----------
    mean
        MAP, shape ``(P + K,)``.
    cov
        Covariance, shape ``(P + K, P + K)``.
    sigma
        Noise sd used (fixed, or re-estimated as sqrt(chi2 / (N - P - K))).
    chi2
        Sum of squared residuals at the MAP.
    n_points
        Number of valid points.
    steps
        Gauss-Newton steps taken; ``converged`` whether the Newton decrement fell below 1e-8.
    """

    mean: np.ndarray
    cov: np.ndarray
    sigma: float
    chi2: float
    n_points: int
    steps: int
    converged: bool

    @property
    def sd(self) -> np.ndarray:
        """Marginal standard deviations."""
        return np.sqrt(np.diag(self.cov))


def _full(x, space: ParamSpace, sigma):
    if space.static.sample_sigma:
        return jnp.concatenate([x, jnp.asarray([sigma], jnp.float64)])
    return x


def _inside(x, space: ParamSpace, sigma) -> bool:
    xf = _full(jnp.asarray(x), space, sigma)
    arrays = space.jax_arrays()
    back, _ = to_physical(
        to_unconstrained(xf, space.static, arrays, margin=0.0), space.static, arrays
    )
    lo, hi = np.asarray(space.arrays.low), np.asarray(space.arrays.high)
    n = x.shape[0]
    ok = np.all(x > lo[:n]) and np.all(x < hi[:n])
    return bool(ok and np.allclose(np.asarray(back)[:n], x, rtol=1e-9, atol=0.0))


def laplace_fit(
    model: C2Model,
    scaling: ScalingMap,
    arrs: ProblemArrays,
    space: ParamSpace,
    x0,
    *,
    sigma: float | None = None,
    max_steps: int = 30,
    chunk: int = 4096,
) -> LaplaceResult:
    """Laplace approximation of the full-data posterior, started at ``x0 = (theta, s)``.

    Parameters
    ----------
    model, scaling, arrs
        Physics model, scaling map and all data points (:class:`homodyne_nlsq.ProblemArrays`).
    space
        The parameter space (priors and bounds; its sigma entry, if any, is not part of x).
    x0
        Starting point, shape ``(P + K,)``.
    sigma
        Fixed noise sd; None re-estimates it from the residuals at every step.
    """
    p_theta = space.static.n_theta
    n_valid = int(np.isfinite(np.asarray(arrs.y)).sum())
    arrays = space.jax_arrays()
    x = np.array(x0, np.float64)
    n_x = x.shape[0]
    # rows of the full (all physical + scaling) normal equations that belong to x
    rows = np.concatenate(
        [
            np.asarray(space.static.free_index, np.int64),
            np.arange(model.n_params, model.n_params + n_x - p_theta),
        ]
    )

    def split(v):
        v = jnp.asarray(v)
        return full_theta(v, space.static, arrays), v[p_theta:]

    def normal_equations(v):
        theta, s = split(v)
        fused = age_accumulate if scaling.ages else accumulate
        c, jtj, jtr = fused(model, theta, s, scaling, arrs, chunk=chunk)
        return float(c), np.asarray(jtj)[np.ix_(rows, rows)], np.asarray(jtr)[rows]

    def chi2_at(v):
        theta, s = split(v)
        if scaling.ages:
            return float(age_cost(model, theta, s, scaling, arrs, chunk=chunk))
        c, o = scaling.apply(s, xp=jnp)
        return float(cost_only(model, theta, c, o, arrs, chunk=chunk))

    def neg_log_prior(v, sig):
        return -log_prior(_full(v, space, sig), space.static, arrays)

    grad_prior = jax.grad(neg_log_prior)
    hess_prior = jax.hessian(neg_log_prior)
    dof = max(n_valid - n_x, 1)
    sig = sigma
    steps, converged = 0, False
    chi2 = chi2_at(x)
    for steps in range(1, max_steps + 1):  # noqa: B007
        chi2, jtj, jtr = normal_equations(x)
        sig = sigma if sigma is not None else float(np.sqrt(chi2 / dof))
        xj = jnp.asarray(x)
        grad = -np.asarray(jtr) / sig**2 + np.asarray(grad_prior(xj, sig))
        hess = np.asarray(jtj) / sig**2 + np.asarray(hess_prior(xj, sig))
        scale = 1.0 / np.sqrt(np.maximum(np.abs(np.diag(hess)), 1e-300))
        hs = hess * scale[:, None] * scale[None, :]
        step = -scale * np.linalg.solve(hs, scale * grad)
        decrement = float(-grad @ step)
        if decrement < 1e-8:
            converged = True
            break
        f0 = 0.5 * chi2 / sig**2 + float(neg_log_prior(xj, sig))
        lam = 1.0
        while lam > 1e-6:
            cand = x + lam * step
            if _inside(cand, space, sig):
                f1 = 0.5 * chi2_at(cand) / sig**2 + float(neg_log_prior(jnp.asarray(cand), sig))
                if f1 <= f0:
                    break
            lam *= 0.5
        if lam <= 1e-6:
            converged = True  # no further descent possible at double precision
            break
        x = x + lam * step
    chi2, jtj, _ = normal_equations(x)
    sig = sigma if sigma is not None else float(np.sqrt(chi2 / dof))
    hess = np.asarray(jtj) / sig**2 + np.asarray(hess_prior(jnp.asarray(x), sig))
    scale = 1.0 / np.sqrt(np.maximum(np.abs(np.diag(hess)), 1e-300))
    cov = np.linalg.inv(hess * scale[:, None] * scale[None, :]) * scale[:, None] * scale[None, :]
    cov = 0.5 * (cov + cov.T)
    return LaplaceResult(x, cov, float(sig), chi2, n_valid, steps, converged)
