"""Streamed passes for an age-dependent per-angle scaling (``contrast_age_order`` > 0 or
``offset_age_order`` > 0).

With Legendre coefficients ``C[a, k]`` and ``O[a, k]`` (see :class:`homodyne_physics.ScalingMap`)
the model at a point of angle ``a`` and age ``u`` (mapped onto [-1, 1]) is

    c2 = sum_k O[a, k] P_k(u) + (sum_k C[a, k] P_k(u)) G

which is still linear in the coefficients: each order is one more linear column per angle.
The passes here are those of :mod:`homodyne_nlsq.normal_equations` with the per-angle vector
``v = (c(u) dG/dtheta, G P_0(u) .. G P_Kc(u), P_0(u) .. P_Ko(u))``; the blocks are mapped to
``(theta, s)`` by :meth:`ScalingMap.coefficient_design`. The constant scaling (both orders 0)
never comes here: it keeps the dense fast path of :mod:`homodyne_nlsq.normal_equations`.
The age of a point is ``(t[i] + t[j]) / 2``: any set of frame pairs works.
"""

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_physics import (
    C2Model,
    g1sq_from_factors,
    integral_tables,
    legendre_basis,
    pair_integrals,
    shear_factors,
)
from homodyne_physics.programs import cached_jit
from homodyne_physics.scaling import ScalingMap

from .normal_equations import (
    ProblemArrays,
    _chunk_bounds,
    _chunk_slice,
    _chunk_weight,
    _weights,
    derivative_tables,
    g_and_gradient,
)

__all__ = ["age_accumulate", "age_cost", "age_scaling_error_model", "age_scaling_moments"]


def _basis(arrs: ProblemArrays, i, j, age_lo, age_span, order: int):
    """Legendre basis ``(order + 1, C)`` at the ages of the pairs (i, j)."""
    age = 0.5 * (arrs.t[i] + arrs.t[j])
    return legendre_basis((age - age_lo) * (2.0 / age_span) - 1.0, order, jnp)


def _scales(coef_c, coef_o, basis):
    """Per-point contrast and offset ``(n_phi, C)``."""
    return coef_c @ basis[: coef_c.shape[1]], coef_o @ basis[: coef_o.shape[1]]


def _age_args(scaling: ScalingMap, s):
    coef_c, coef_o = scaling.coefficients(jnp.asarray(s, jnp.float64), xp=jnp)
    lo, hi = scaling.age_range
    span = hi - lo if hi > lo else 1.0
    return coef_c, coef_o, np.float64(lo), np.float64(span)


@cached_jit(static_argnames=("model", "chunk", "loss"))
def _cost(model, theta, coef_c, coef_o, age_lo, age_span, arrs, chunk, loss, f_scale):
    tables = integral_tables(model, theta, arrs.t)
    k = shear_factors(model, theta, arrs.phi)
    size, n_chunks = _chunk_bounds(arrs.i.shape[0], chunk)
    order = max(coef_c.shape[1], coef_o.shape[1]) - 1

    def body(total, kk):
        i, j, y, fresh = _chunk_slice(arrs, kk, size)
        i_d, i_g = pair_integrals(model, tables, i, j)
        g = g1sq_from_factors(model, i_d[None], i_g, k)
        c, o = _scales(coef_c, coef_o, _basis(arrs, i, j, age_lo, age_span, order))
        wt = _chunk_weight(arrs, kk, size)  # point-set weights (None: dense)
        _, _, cost = _weights(y, fresh[None], o + c * g, loss, f_scale, wt)
        return total + cost, None

    total, _ = jax.lax.scan(body, jnp.zeros((), jnp.float64), jnp.arange(n_chunks))
    return total


def age_cost(
    model: C2Model,
    theta,
    s,
    scaling: ScalingMap,
    arrs: ProblemArrays,
    *,
    chunk=16384,
    loss="linear",
    f_scale=1.0,
):
    """Sum of ``f_scale^2 rho((r/f_scale)^2)`` over valid points for the age-dependent scaling
    ``s`` (chi^2 for the linear loss)."""
    return _cost(
        model,
        jnp.asarray(theta, jnp.float64),
        *_age_args(scaling, s),
        arrs,
        int(chunk),
        loss,
        np.float64(f_scale),
    )


@cached_jit(static_argnames=("model", "chunk", "loss"))
def _moments(model, theta, coef_c, coef_o, age_lo, age_span, arrs, chunk, loss, f_scale):
    """Per-angle M_a = sum w v v^T, b_a = sum w r v (module docstring for v)."""
    n_phi, n_par = arrs.phi.shape[0], model.n_params
    nc, no = coef_c.shape[1], coef_o.shape[1]
    order = max(nc, no) - 1
    n_v = n_par + nc + no
    derivs = derivative_tables(model, theta, arrs)
    size, n_chunks = _chunk_bounds(arrs.i.shape[0], chunk)

    def body(carry, kk):
        m_acc, b_acc, c_acc = carry
        i, j, y, fresh = _chunk_slice(arrs, kk, size)
        g, dg = g_and_gradient(model, derivs, i, j)  # (n_phi, C), (n_phi, C, P)
        basis = _basis(arrs, i, j, age_lo, age_span, order)  # (order + 1, C)
        c, o = _scales(coef_c, coef_o, basis)
        pb = jnp.broadcast_to(basis.T[None], (n_phi, *basis.T.shape))  # (n_phi, C, order + 1)
        v = jnp.concatenate([c[..., None] * dg, g[..., None] * pb[..., :nc], pb[..., :no]], -1)
        wt = _chunk_weight(arrs, kk, size)  # point-set weights (None: dense)
        r, w, cost = _weights(y, fresh[None], o + c * g, loss, f_scale, wt)
        wv = w[..., None] * v
        m_acc = m_acc + jnp.einsum("acp,acq->apq", wv, v)
        b_acc = b_acc + jnp.einsum("ac,acp->ap", r, wv)
        return (m_acc, b_acc, c_acc + cost), None

    init = (
        jnp.zeros((n_phi, n_v, n_v), jnp.float64),
        jnp.zeros((n_phi, n_v), jnp.float64),
        jnp.zeros((), jnp.float64),
    )
    (m, b, cost), _ = jax.lax.scan(body, init, jnp.arange(n_chunks))
    return m, b, cost


def age_accumulate(
    model: C2Model,
    theta,
    s,
    scaling: ScalingMap,
    arrs: ProblemArrays,
    *,
    chunk: int = 4096,
    loss: str = "linear",
    f_scale: float = 1.0,
):
    """One fused pass: ``(cost, J^T W J, J^T W r)`` over ``(theta, s)`` for an age-dependent
    scaling (same contract as :func:`homodyne_nlsq.normal_equations.accumulate`)."""
    m, b, cost = _moments(
        model,
        jnp.asarray(theta, jnp.float64),
        *_age_args(scaling, s),
        arrs,
        int(chunk),
        loss,
        np.float64(f_scale),
    )
    n_par = model.n_params
    t_s = jnp.asarray(scaling.coefficient_design())  # (n_phi, S, F)
    n_phi, n_s, n_f = t_s.shape
    tmat = jnp.zeros((n_phi, n_par + n_s, n_par + n_f))
    tmat = tmat.at[:, :n_par, :n_par].set(jnp.eye(n_par)[None])
    tmat = tmat.at[:, n_par:, n_par:].set(t_s)
    jtj = jnp.einsum("aiv,avw,ajw->ij", tmat, m, tmat)
    jtr = jnp.einsum("aiv,av->i", tmat, b)
    return cost, jtj, jtr


@cached_jit(static_argnames=("model", "chunk", "nc", "no"))
def _scaling_moments(model, theta, age_lo, age_span, arrs, chunk, nc, no):
    tables = integral_tables(model, theta, arrs.t)
    k = shear_factors(model, theta, arrs.phi)
    size, n_chunks = _chunk_bounds(arrs.i.shape[0], chunk)
    n_phi, n_f = arrs.phi.shape[0], nc + no

    def body(acc, kk):
        i, j, y, fresh = _chunk_slice(arrs, kk, size)
        i_d, i_g = pair_integrals(model, tables, i, j)
        g = g1sq_from_factors(model, i_d[None], i_g, k)
        valid = fresh[None] & jnp.isfinite(y)
        w = valid.astype(g.dtype)
        wt = _chunk_weight(arrs, kk, size)
        if wt is not None:  # point-set weights enter the moments as sqrt(w) on both factors
            w = w * jnp.sqrt(wt)
        yv = jnp.where(valid, y, 0.0) * w
        pb = _basis(arrs, i, j, age_lo, age_span, max(nc, no) - 1).T[None]  # (1, C, order+1)
        f = (
            jnp.concatenate(
                [
                    g[..., None] * pb[..., :nc],
                    jnp.broadcast_to(pb[..., :no], (n_phi, pb.shape[1], no)),
                ],
                -1,
            )
            * w[..., None]
        )
        mm, my, yy = acc
        return (
            mm + jnp.einsum("acf,acg->afg", f, f),
            my + jnp.einsum("ac,acf->af", yv, f),
            yy + jnp.sum(yv * yv, axis=1),
        ), None

    init = (
        jnp.zeros((n_phi, n_f, n_f), jnp.float64),
        jnp.zeros((n_phi, n_f), jnp.float64),
        jnp.zeros((n_phi,), jnp.float64),
    )
    out, _ = jax.lax.scan(body, init, jnp.arange(n_chunks))
    return out


def age_scaling_moments(
    model: C2Model, theta, scaling: ScalingMap, arrs: ProblemArrays, *, chunk=16384
):
    """Per-angle ``(sum f f^T, sum y f, sum y^2)`` with the features
    ``f = (G P_0 .. G P_Kc, P_0 .. P_Ko)``: chi^2 as an explicit quadratic in the per-angle
    Legendre coefficients (see :func:`homodyne_nlsq.separable.profile_scaling`)."""
    lo, hi = scaling.age_range
    span = hi - lo if hi > lo else 1.0
    return _scaling_moments(
        model,
        jnp.asarray(theta, jnp.float64),
        np.float64(lo),
        np.float64(span),
        arrs,
        int(chunk),
        scaling.contrast_age_order + 1,
        scaling.offset_age_order + 1,
    )


def age_scaling_error_model() -> dict[str, str]:
    """The error-model record of a fit with an age-dependent scaling: independent noise, and why."""
    return {
        "used": "independent",
        "reason": "the frame-correlated covariance is not computed for an age-dependent "
        "scaling (contrast_age_order / offset_age_order > 0)",
    }
