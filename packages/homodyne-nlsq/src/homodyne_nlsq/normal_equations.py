"""Streamed normal equations: cost, J^T W r and J^T W J in one fused pass over chunks.

This is the inner loop of the least-squares engine. The N x P Jacobian is never formed:

* the physics enters each point only through the two integrals (I_D, I_g) and the per-angle
  shear factor k(phi); their derivatives with respect to the physical parameters come from the
  1-D tables (``jax.jacfwd`` of :func:`homodyne_physics.integral_tables`, O(n_t P)) and are
  gathered per frame pair with a forward-mode JVP of :func:`homodyne_physics.pair_integrals`;
* per point, the kernel :func:`homodyne_physics.g1sq_from_integrals` is differentiated only with
  respect to its two scalar inputs, so the cost per point is one exp per pair, one sin per point
  and O(P) multiply-adds;
* per-angle (contrast, offset) enter linearly. Each angle accumulates the moments of
  ``v = (dG/dtheta, G, 1)``; the blocks of the full J^T J are assembled once at the end through
  the scaling design matrices, whatever the scaling mode.

Weights: missing data (NaN) get weight 0; point-set data carry a likelihood weight per point
(``ProblemArrays.wt``, a 1/variance multiplier) that multiplies every term of the sums; a
robust loss (``soft_l1``, ``huber``, ``cauchy``) is
applied by iteratively reweighted least squares with weights ``rho'(z)``, ``z = (r/f_scale)^2``,
recomputed from the current residuals in the same pass.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_physics import (
    C2Model,
    g1sq_from_factors,
    g1sq_from_integrals,
    integral_tables,
    pair_integrals,
    shear_factors,
)
from homodyne_physics.programs import cached_jit
from homodyne_physics.scaling import ScalingMap

__all__ = [
    "LOSSES",
    "ProblemArrays",
    "accumulate",
    "cost_only",
    "loss_rho",
    "scaling_moments",
    "scaling_moments_many",
]

LOSSES = ("linear", "soft_l1", "huber", "cauchy")


def loss_rho(loss: str, z):
    """``(rho(z), rho'(z))`` for the squared, scaled residual ``z`` (scipy's definitions)."""
    if loss == "linear":
        return z, jnp.ones_like(z)
    if loss == "soft_l1":
        root = jnp.sqrt(1.0 + z)
        return 2.0 * (root - 1.0), 1.0 / root
    if loss == "huber":
        big = z > 1.0
        zs = jnp.where(big, z, 1.0)
        return jnp.where(big, 2.0 * jnp.sqrt(zs) - 1.0, z), jnp.where(big, 1.0 / jnp.sqrt(zs), 1.0)
    if loss == "cauchy":
        return jnp.log1p(z), 1.0 / (1.0 + z)
    raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")


class ProblemArrays(NamedTuple):
    """Device arrays of one fit (a JAX pytree): data at the (t1 < t2) points, times, angles.

    Build with :meth:`create`. ``y``: data ``(n_phi, n_pairs)``, NaN marks points to ignore;
    ``t``: frame times, s, ``(n_t,)``; ``phi``: angles, degrees, ``(n_phi,)``; ``i``, ``j``:
    frame indices of each pair, ``(n_pairs,)``; ``wt``: likelihood weight of each point
    ``(n_phi, n_pairs)`` (point sets), ``None`` when every point weighs 1 (dense matrices).
    """

    y: jax.Array
    t: jax.Array
    phi: jax.Array
    i: jax.Array
    j: jax.Array
    wt: jax.Array | None = None

    @classmethod
    def create(cls, y, t, phi, i, j, wt=None) -> "ProblemArrays":
        """Convert to float64 / int32 device arrays and check shapes."""
        # converted on the host: a conversion on the device is a program to compile
        f64, i32 = (lambda a: host_array(a, np.float64)), (lambda a: host_array(a, np.int32))
        arrs = cls(
            f64(y),
            f64(t),
            f64(np.atleast_1d(np.asarray(phi, dtype=np.float64))),
            i32(i),
            i32(j),
            None if wt is None else f64(wt),
        )
        if arrs.y.shape != (arrs.phi.shape[0], arrs.i.shape[0]) or arrs.i.shape != arrs.j.shape:
            raise ValueError(
                f"y {arrs.y.shape} must be (n_phi={arrs.phi.shape[0]}, n_pairs={arrs.i.shape[0]})"
            )
        if arrs.wt is not None and arrs.wt.shape != arrs.y.shape:
            raise ValueError(f"weights {arrs.wt.shape} must have the shape of y {arrs.y.shape}")
        return arrs

    @property
    def n_points(self) -> int:
        """Number of points (angles x pairs), missing ones included."""
        return int(self.y.shape[0] * self.y.shape[1])


def host_array(a, dtype) -> jax.Array:
    """``a`` as a device array of ``dtype``, converted on the host (``jnp.asarray`` without a
    matching dtype, or with a conversion, compiles a small program in a fresh process)."""
    return jax.device_put(np.asarray(a, dtype=dtype))


def _chunk_bounds(n_pairs: int, chunk: int) -> tuple[int, int]:
    size = max(1, min(int(chunk), n_pairs))
    return size, -(-n_pairs // size)


def _chunk_slice(arrs: ProblemArrays, k, size):
    """Chunk ``k`` of the pairs. The last chunk is shifted back to stay in range and its points
    that belong to the previous chunk are masked out (no padded copy of the data)."""
    n_pairs = arrs.i.shape[0]
    start = jnp.minimum(k * size, n_pairs - size)
    fresh = (start + jnp.arange(size)) >= k * size
    i = jax.lax.dynamic_slice(arrs.i, (start,), (size,))
    j = jax.lax.dynamic_slice(arrs.j, (start,), (size,))
    y = jax.lax.dynamic_slice(arrs.y, (0, start), (arrs.y.shape[0], size))
    return i, j, y, fresh


def _chunk_weight(arrs: ProblemArrays, k, size):
    """Point weights of chunk ``k`` (same placement as :func:`_chunk_slice`), or ``None``."""
    if arrs.wt is None:
        return None
    start = jnp.minimum(k * size, arrs.i.shape[0] - size)
    return jax.lax.dynamic_slice(arrs.wt, (0, start), (arrs.wt.shape[0], size))


def _weights(y, resid_mask, model_c2, loss, f_scale, wt=None):
    valid = resid_mask & jnp.isfinite(y)
    r = jnp.where(valid, y - model_c2, 0.0)
    rho, drho = loss_rho(loss, (r / f_scale) ** 2)
    if wt is not None:  # point weights: rho and its derivative scale with the weight
        rho, drho = wt * rho, wt * drho
    w = jnp.where(valid, drho, 0.0)
    cost = jnp.sum(jnp.where(valid, rho, 0.0)) * f_scale**2
    return r, w, cost


@cached_jit(static_argnames=("model", "chunk", "loss"))
def cost_only(
    model: C2Model,
    theta,
    contrast,
    offset,
    arrs: ProblemArrays,
    *,
    chunk=16384,
    loss="linear",
    f_scale=1.0,
):
    """Sum of ``f_scale^2 rho((r/f_scale)^2)`` over valid points (chi^2 for the linear loss)."""
    tables = integral_tables(model, theta, arrs.t)
    k = shear_factors(model, theta, arrs.phi)
    size, n_chunks = _chunk_bounds(arrs.i.shape[0], chunk)

    def body(total, kk):
        i, j, y, fresh = _chunk_slice(arrs, kk, size)
        i_d, i_g = pair_integrals(model, tables, i, j)
        g = g1sq_from_factors(model, i_d[None], i_g, k)
        _, _, cost = _weights(
            y,
            fresh[None],
            offset[:, None] + contrast[:, None] * g,
            loss,
            f_scale,
            _chunk_weight(arrs, kk, size),
        )
        return total + cost, None

    total, _ = jax.lax.scan(body, jnp.zeros((), jnp.float64), jnp.arange(n_chunks))
    return total


def derivative_tables(model: C2Model, theta, arrs: ProblemArrays):
    """What every derivative pass needs once per call: the integral tables, their tangents
    (one per parameter, ``P x n_t`` each), the shear factors (``(n_phi,)``, or a pair for a
    bin-averaged model: :func:`homodyne_physics.shear_factors`) and their Jacobians
    (``(n_phi, P)`` each)."""
    tables = integral_tables(model, theta, arrs.t)
    dtables = jax.jacfwd(lambda th: integral_tables(model, th, arrs.t))(theta)  # 2 x (n_t, P)
    k = shear_factors(model, theta, arrs.phi)
    dk = jax.jacfwd(lambda th: shear_factors(model, th, arrs.phi))(theta)
    return tables, (dtables[0].T, dtables[1].T), k, dk


def g_and_gradient(model: C2Model, derivs, i, j):
    """G = g1^2 ``(n_phi, C)`` and dG/dtheta ``(n_phi, C, P)`` at the pairs ``(i, j)``, from
    :func:`derivative_tables`: only the two pair integrals carry tangents (and, for a
    bin-averaged model, G depends on the shear integral through two arguments x and y)."""
    tables, dtables_t, k, dk = derivs
    (i_d, i_g), (di_d, di_g) = jax.vmap(
        lambda tan: jax.jvp(lambda tb: pair_integrals(model, tb, i, j), (tables,), (tan,)),
        out_axes=(None, 0),
    )(dtables_t)  # primal (C,), tangents (P, C)
    ks, dks = (k, dk) if isinstance(k, tuple) else ((k,), (dk,))
    args = tuple(f[:, None] * i_g[None] for f in ks)  # x (and y)
    i_d_b = jnp.broadcast_to(i_d[None], args[0].shape)
    ones = jnp.ones_like(args[0])
    g, g_d = jax.jvp(lambda a: g1sq_from_integrals(model, a, *args), (i_d_b,), (ones,))
    dg = g_d[..., None] * di_d.T[None]
    for n, (f, df) in enumerate(zip(ks, dks, strict=True)):

        def along(b, n=n):
            return g1sq_from_integrals(model, i_d_b, *args[:n], b, *args[n + 1 :])

        _, g_n = jax.jvp(along, (args[n],), (ones,))
        dx = f[:, None, None] * di_g.T[None] + i_g[None, :, None] * df[:, None, :]
        dg = dg + g_n[..., None] * dx
    return g, dg


@cached_jit(static_argnames=("model", "chunk", "loss"))
def _moments(model: C2Model, theta, contrast, offset, arrs: ProblemArrays, chunk, loss, f_scale):
    """Per-angle moments M_a = sum w v v^T, b_a = sum w r v with v = (dG/dtheta, G, 1)."""
    n_phi = arrs.phi.shape[0]
    n_par = model.n_params
    derivs = derivative_tables(model, theta, arrs)
    size, n_chunks = _chunk_bounds(arrs.i.shape[0], chunk)

    def body(carry, kk):
        m_acc, b_acc, c_acc = carry
        i, j, y, fresh = _chunk_slice(arrs, kk, size)
        g, dg = g_and_gradient(model, derivs, i, j)
        v = jnp.concatenate([dg, g[..., None], jnp.ones_like(g)[..., None]], axis=-1)
        r, w, cost = _weights(
            y,
            fresh[None],
            offset[:, None] + contrast[:, None] * g,
            loss,
            f_scale,
            _chunk_weight(arrs, kk, size),
        )
        wv = w[..., None] * v
        m_acc = m_acc + jnp.einsum("acp,acq->apq", wv, v)
        b_acc = b_acc + jnp.einsum("ac,acp->ap", r, wv)
        return (m_acc, b_acc, c_acc + cost), None

    init = (
        jnp.zeros((n_phi, n_par + 2, n_par + 2), jnp.float64),
        jnp.zeros((n_phi, n_par + 2), jnp.float64),
        jnp.zeros((), jnp.float64),
    )
    (m, b, cost), _ = jax.lax.scan(body, init, jnp.arange(n_chunks))
    return m, b, cost


@cached_jit
def _assemble(m, b, contrast, design_c, design_o):
    """Full J^T W J and J^T W r for the parameter vector (theta, s) from per-angle moments."""
    n_phi, n_v, _ = m.shape
    n_par = n_v - 2
    kc, ko = design_c.shape[1], design_o.shape[1]
    # T_a maps v = (dG/dtheta, G, 1) to the Jacobian row over (theta, s_c, s_o).
    top = contrast[:, None, None] * jnp.eye(n_par)[None]  # (n_phi, P, P)
    tmat = jnp.zeros((n_phi, n_par + kc + ko, n_v))
    tmat = tmat.at[:, :n_par, :n_par].set(top)
    tmat = tmat.at[:, n_par : n_par + kc, n_par].set(design_c)
    tmat = tmat.at[:, n_par + kc :, n_par + 1].set(design_o)
    jtj = jnp.einsum("aiv,avw,ajw->ij", tmat, m, tmat)
    jtr = jnp.einsum("aiv,av->i", tmat, b)
    return jtj, jtr


def accumulate(
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
    """One fused pass: ``(cost, J^T W J, J^T W r)`` for the parameter vector ``(theta, s)``.

    Parameters
    ----------
    model
        :class:`homodyne_physics.C2Model`.
    theta
        Physical parameters, ``(P,)``.
    s
        Scaling vector of ``scaling`` (may be empty for ``constant``).
    scaling
        :class:`homodyne_physics.ScalingMap` for the angles of ``arrs``.
    arrs
        :class:`ProblemArrays`.
    chunk
        Frame pairs per chunk (each chunk covers all angles).

    Returns
    -------
    (cost, jtj, jtr)
        ``cost`` = sum of ``f^2 rho((r/f)^2)``, r = data - model; ``jtj`` is
        ``(P + len(s), P + len(s))``, ``jtr`` is ``(P + len(s),)`` with J = d model / d params.
    """
    theta = jnp.asarray(theta, jnp.float64)
    # The scaling map is a few small products: on the host, so that the pass is two compiled
    # calls and no chain of small eager operations (each one a dispatch, and a compilation
    # in a fresh process).
    contrast, offset = scaling.apply(np.asarray(s, np.float64))
    m, b, cost = _moments(
        model, theta, contrast, offset, arrs, int(chunk), loss, np.float64(f_scale)
    )
    jtj, jtr = _assemble(m, b, contrast, scaling.design_contrast, scaling.design_offset)
    return cost, jtj, jtr


@cached_jit(static_argnames=("model", "chunk"))
def scaling_moments(model: C2Model, theta, arrs: ProblemArrays, *, chunk=16384):
    """Per-angle sums that make chi^2 an explicit quadratic in (contrast, offset).

    For fixed physical parameters c2 = offset + contrast * G is linear in the scaling, so
    one cheap pass (no derivatives) gives, per angle over the valid points,
    ``(sum G^2, sum G, n, sum y G, sum y, sum y^2)``, shape ``(n_phi, 6)``. The best scaling
    vector and its chi^2 then follow on the host for any scaling mode (variable projection;
    see :func:`homodyne_nlsq.separable.profile_scaling`).
    """
    tables = integral_tables(model, theta, arrs.t)
    k = shear_factors(model, theta, arrs.phi)
    size, n_chunks = _chunk_bounds(arrs.i.shape[0], chunk)

    def body(acc, kk):
        i, j, y, fresh = _chunk_slice(arrs, kk, size)
        i_d, i_g = pair_integrals(model, tables, i, j)
        g = g1sq_from_factors(model, i_d[None], i_g, k)
        valid = fresh[None] & jnp.isfinite(y)
        w = valid.astype(g.dtype)
        g = jnp.where(valid, g, 0.0)
        yv = jnp.where(valid, y, 0.0)
        wt = _chunk_weight(arrs, kk, size)
        if wt is None:  # dense matrices: unweighted sums (the fast path, unchanged)
            sums = jnp.stack([g * g, g, w, yv * g, yv, yv * yv], axis=-1).sum(axis=1)
        else:
            w = w * wt
            sums = jnp.stack([w * g * g, w * g, w, w * yv * g, w * yv, w * yv * yv], axis=-1)
            sums = sums.sum(axis=1)
        return acc + sums, None

    total, _ = jax.lax.scan(
        body, jnp.zeros((arrs.phi.shape[0], 6), jnp.float64), jnp.arange(n_chunks)
    )
    return total


@cached_jit(static_argnames=("model", "chunk"))
def scaling_moments_many(model: C2Model, thetas, arrs: ProblemArrays, *, chunk=16384):
    """:func:`scaling_moments` for each row of ``thetas`` ``(n, P)`` in one compiled call;
    ``(n, n_phi, 6)``."""
    return jax.vmap(lambda th: scaling_moments(model, th, arrs, chunk=chunk))(thetas)
