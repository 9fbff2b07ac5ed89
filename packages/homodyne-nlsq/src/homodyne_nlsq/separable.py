"""Variable projection of the per-angle scaling: the best (contrast, offset) for fixed physics.

c2 = offset(phi) + contrast(phi) * g1^2 is linear in the scaling vector ``s`` of a
:class:`homodyne_physics.ScalingMap`. Given the per-angle moments of
:func:`homodyne_nlsq.normal_equations.scaling_moments`, the least-squares ``s`` (within its box)
and the resulting chi^2 are a small host-side solve. The fit uses this to start the scaling
from the data at the initial physics, and the global searches use it so that they only explore
the physical parameters.
"""

import numpy as np

from homodyne_physics import ScalingMap

__all__ = ["profile_scaling", "scaling_cost"]


def _blocks(scaling: ScalingMap) -> np.ndarray:
    """T_a, shape (n_phi, S, 2): maps the per-angle (contrast, offset) gradient to s."""
    kc = scaling.n_contrast
    n_s = scaling.n_params
    t = np.zeros((scaling.n_phi, n_s, 2))
    t[:, :kc, 0] = scaling.design_contrast
    t[:, kc:, 1] = scaling.design_offset
    return t


def scaling_cost(moments, scaling: ScalingMap, s) -> float:
    """chi^2 (sum of squared residuals) of scaling vector ``s`` from per-angle moments.

    Parameters
    ----------
    moments
        ``(n_phi, 6)``: ``(sum G^2, sum G, n, sum y G, sum y, sum y^2)`` per angle.
    scaling
        The scaling map.
    s
        Scaling vector, ``(scaling.n_params,)``.
    """
    m = np.asarray(moments, np.float64)
    c, o = scaling.apply(np.asarray(s, np.float64))
    gg, g, n, yg, y, yy = m.T
    per_angle = yy - 2 * o * y - 2 * c * yg + o * o * n + 2 * o * c * g + c * c * gg
    return float(np.sum(per_angle))


def profile_scaling(moments, scaling: ScalingMap, lower=None, upper=None, *, rounds: int = 4):
    """Least-squares scaling vector for the given moments, kept inside ``[lower, upper]``.

    Entries that would leave the box are fixed at the bound and the others re-solved (a few
    rounds of an active-set iteration; exact when no bound is active).

    Returns
    -------
    (s, cost)
        ``s`` of shape ``(scaling.n_params,)`` and its chi^2.
    """
    n_s = scaling.n_params
    if n_s == 0:
        return np.zeros(0), scaling_cost(moments, scaling, np.zeros(0))
    m = np.asarray(moments, np.float64)
    gg, g, n, yg, y, _ = m.T
    lo = np.full(n_s, -np.inf) if lower is None else np.asarray(lower, np.float64)
    hi = np.full(n_s, np.inf) if upper is None else np.asarray(upper, np.float64)
    t = _blocks(scaling)
    mm = np.stack([np.stack([gg, g], -1), np.stack([g, n], -1)], -2)  # (n_phi, 2, 2)
    h = np.einsum("asu,auv,atv->st", t, mm, t)
    # residual of s = 0 is y - fixed_offset - fixed_contrast * G
    fc, fo = scaling.fixed_contrast, scaling.fixed_offset
    r0 = np.stack([yg - fo * g - fc * gg, y - fo * n - fc * g], -1)  # (n_phi, 2)
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
    return s, scaling_cost(m, scaling, s)
