"""Variable projection of the per-angle scaling: the best (contrast, offset) for fixed physics.

c2 = offset(phi) + contrast(phi) * g1^2 is linear in the scaling vector ``s`` of a
:class:`homodyne_physics.ScalingMap`. Given the per-angle moments of
:func:`homodyne_nlsq.normal_equations.scaling_moments`, the least-squares ``s`` (within its box)
and the resulting chi^2 are a small host-side solve. An age-dependent scaling (Legendre
coefficients per angle, :func:`homodyne_nlsq.age_scaling.age_scaling_moments`) is solved the
same way: its coefficients are more linear columns per angle. The fit uses this to start the scaling
from the data at the initial physics, and the global searches use it so that they only explore
the physical parameters.
"""

import numpy as np

from homodyne_physics import ScalingMap

__all__ = ["profile_scaling", "scaling_cost"]


def _quadratic(moments, scaling: ScalingMap):
    """``(mm, my, yy)``: chi^2 = sum_a yy_a - 2 f_a.my_a + f_a^T mm_a f_a over the per-angle
    coefficient vector ``f_a`` (contrast orders, then offset orders), from either form of
    moments: the ``(n_phi, 6)`` array of a constant scaling or the triple of
    :func:`homodyne_nlsq.age_scaling.age_scaling_moments`."""
    if isinstance(moments, tuple | list):
        mm, my, yy = (np.asarray(v, np.float64) for v in moments)
        return mm, my, yy
    gg, g, n, yg, y, yy = np.asarray(moments, np.float64).T
    mm = np.stack([np.stack([gg, g], -1), np.stack([g, n], -1)], -2)
    return mm, np.stack([yg, y], -1), yy


def _coef_vector(scaling: ScalingMap, s) -> np.ndarray:
    c, o = scaling.coefficients(np.asarray(s, np.float64))
    return np.concatenate([c, o], axis=1)


def scaling_cost(moments, scaling: ScalingMap, s) -> float:
    """chi^2 (sum of squared residuals) of scaling vector ``s`` from per-angle moments.

    Parameters
    ----------
    moments
        ``(n_phi, 6)``: ``(sum G^2, sum G, n, sum y G, sum y, sum y^2)`` per angle (constant
        scaling), or the ``(mm, my, yy)`` triple of an age-dependent scaling.
    scaling
        The scaling map.
    s
        Scaling vector, ``(scaling.n_params,)``.
    """
    mm, my, yy = _quadratic(moments, scaling)
    f = _coef_vector(scaling, s)
    per_angle = yy - 2.0 * np.einsum("af,af->a", f, my) + np.einsum("af,afg,ag->a", f, mm, f)
    return float(np.sum(per_angle))


def profile_scaling(moments, scaling: ScalingMap, lower=None, upper=None, *, rounds: int = 4):
    """Least-squares scaling vector for the given moments, kept inside ``[lower, upper]``.

    Entries that would leave the box are fixed at the bound and the others re-solved (a few
    rounds of an active-set iteration; exact when no bound is active). Works the same for a
    constant and an age-dependent scaling: the age coefficients are more linear columns.

    Returns
    -------
    (s, cost)
        ``s`` of shape ``(scaling.n_params,)`` and its chi^2.
    """
    n_s = scaling.n_params
    if n_s == 0:
        return np.zeros(0), scaling_cost(moments, scaling, np.zeros(0))
    mm, my, _ = _quadratic(moments, scaling)
    lo = np.full(n_s, -np.inf) if lower is None else np.asarray(lower, np.float64)
    hi = np.full(n_s, np.inf) if upper is None else np.asarray(upper, np.float64)
    t = scaling.coefficient_design()  # (n_phi, S, F)
    h = np.einsum("asu,auv,atv->st", t, mm, t)
    # residual moments of s = 0 (only the fixed part of a 'constant' scaling remains)
    f0 = _coef_vector(scaling, np.zeros(n_s))
    r0 = my - np.einsum("auv,av->au", mm, f0)
    b = np.einsum("asu,au->s", t, r0)
    s = np.zeros(n_s)
    fixed = np.zeros(n_s, bool)
    for _ in range(rounds):
        free = ~fixed
        rhs = b[free] - h[np.ix_(free, fixed)] @ s[fixed]
        sol, *_ = np.linalg.lstsq(h[np.ix_(free, free)], rhs, rcond=None)
        s[free] = sol
        out = (s < lo) | (s > hi)
        if not out.any():
            break
        s = np.clip(s, lo, hi)
        fixed |= out
    s = np.clip(s, lo, hi)
    return s, scaling_cost(moments, scaling, s)
