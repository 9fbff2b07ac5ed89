"""The shard likelihood for an age-dependent per-angle scaling.

With ``contrast_age_order`` / ``offset_age_order`` > 0 the contrast and offset of an angle
change with the age ``(t1 + t2)/2`` of each point: ``c(u) = sum_k C[a, k] P_k(u)`` with the
Legendre polynomials ``P_k`` of the age mapped onto [-1, 1] (see
:class:`homodyne_physics.ScalingMap`). The fused custom-JVP pass of
:func:`homodyne_physics.gaussian_loglik` assumes one contrast per angle, so this module
evaluates the same Gaussian log-likelihood with per-point scaling in a streamed pass and lets
JAX differentiate it (each chunk's body is rematerialised, so memory stays one chunk). It is
slower per point than the fused pass; the constant scaling (both orders 0) never comes here.
"""

from functools import partial

import jax
import jax.numpy as jnp

from homodyne_physics import (
    C2Model,
    g1sq_from_factors,
    integral_tables,
    legendre_basis,
    pair_integrals,
    shear_factors,
)

__all__ = ["age_coefficients", "age_gaussian_loglik"]

_CHUNK_POINTS = 4096


def age_coefficients(s, design_c, design_o, fixed_c, fixed_o, orders: tuple[int, int]):
    """Per-angle Legendre coefficients ``(C (n_phi, K_c + 1), O (n_phi, K_o + 1))`` from the
    scaling vector ``s`` (order-major blocks, as :meth:`ScalingMap.coefficients`)."""
    out, start = [], 0
    for design, fixed, order in ((design_c, fixed_c, orders[0]), (design_o, fixed_o, orders[1])):
        k = design.shape[1]
        cols = [fixed + design @ s[start : start + k]]
        cols += [design @ s[start + k * m : start + k * (m + 1)] for m in range(1, order + 1)]
        start += k * (order + 1)
        out.append(jnp.stack(cols, axis=1))
    return out[0], out[1]


@partial(jax.jit, static_argnames=("model", "chunk"))
def age_gaussian_loglik(
    model: C2Model, theta, coef_c, coef_o, age_range, sigma, t, phi, i, j, y, w, *, chunk=None
):
    """``-1/2 sum (w (y - o(u) - c(u) G))^2 / sigma^2 - n(w > 0) log sigma`` over the pairs
    (i, j) of every angle, with per-point contrast and offset from the Legendre coefficients
    ``coef_c``/``coef_o`` over ``age_range = (age_min, age_max)`` (s). ``y`` must be finite
    where ``w`` is 0. Differentiable in ``theta``, the coefficients and ``sigma``."""
    t = jnp.asarray(t, jnp.float64)
    y, w = jnp.asarray(y, jnp.float64), jnp.asarray(w, jnp.float64)
    i, j = jnp.asarray(i, jnp.int32), jnp.asarray(j, jnp.int32)
    n_phi, n_pairs = y.shape
    size = max(1, min(int(chunk or max(16, _CHUNK_POINTS // n_phi)), n_pairs))
    n_chunks = -(-n_pairs // size)
    pad = n_chunks * size - n_pairs
    i = jnp.pad(i, (0, pad))
    j = jnp.pad(j, (0, pad), constant_values=1)
    y = jnp.pad(y, ((0, 0), (0, pad)))
    w = jnp.pad(w, ((0, 0), (0, pad)))
    tables = integral_tables(model, theta, t)
    k = shear_factors(model, theta, jnp.atleast_1d(jnp.asarray(phi, jnp.float64)))
    lo, hi = age_range[0], age_range[1]
    scale = 2.0 / jnp.where(hi > lo, hi - lo, 1.0)
    order = max(coef_c.shape[1], coef_o.shape[1]) - 1

    @jax.checkpoint
    def body(total, kk):
        sl = (kk * size,)
        ic = jax.lax.dynamic_slice(i, sl, (size,))
        jc = jax.lax.dynamic_slice(j, sl, (size,))
        yc = jax.lax.dynamic_slice(y, (0, kk * size), (n_phi, size))
        wc = jax.lax.dynamic_slice(w, (0, kk * size), (n_phi, size))
        i_d, i_g = pair_integrals(model, tables, ic, jc)
        g = g1sq_from_factors(model, i_d[None], i_g, k)
        u = (0.5 * (t[ic] + t[jc]) - lo) * scale - 1.0
        basis = legendre_basis(u, order, jnp)
        c = coef_c @ basis[: coef_c.shape[1]]
        o = coef_o @ basis[: coef_o.shape[1]]
        r = (yc - o - c * g) * wc
        return total + jnp.sum(r * r), None

    ssr, _ = jax.lax.scan(body, jnp.zeros((), jnp.float64), jnp.arange(n_chunks))
    # w is sqrt(weight) (0 = masked): every kept point has variance sigma^2 / weight, so the
    # normalisation counts points, as homodyne_physics.gaussian_loglik does
    return -0.5 * ssr / (sigma * sigma) - jnp.sum(w > 0) * jnp.log(sigma)
