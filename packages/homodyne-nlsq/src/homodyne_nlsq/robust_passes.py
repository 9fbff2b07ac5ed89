"""Passes behind the frame-correlated covariance (see :mod:`.robust_covariance`).

* the residual-correlation test works on **lag lines**: the points (i, i + tau) of one lag tau.
  Along a line, the shift (d, d) is a plain 1-D shift; the neighbours along t2 and t1 of the
  line tau are on the line tau + 1 at the same or the next position. So the test statistics
  and the diagonal autocorrelation (which sets the bandwidth) need only pairs of adjacent lines,
  and :func:`residual_lines` evaluates the residuals on a few dozen such pairs (all short lags,
  then geometrically spaced ones): about 10 % of the points of a 1000-frame matrix, one pass
  without derivatives. :func:`line_statistics` does the sums (``lines`` from a full grid give
  the exact statistics of every point);
* :func:`score_pass`: one chunked pass of the same structure as the fit's fused pass
  (:mod:`.normal_equations`) that forms, per angle, ``H_a = sum w v v^T``, the self term
  ``D_a = sum g g^T`` and the sums of the scores ``g = w r v`` over square blocks of frames
  (``jax.ops.segment_sum``), so the N x p score matrix never exists.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_physics import (
    g1sq_from_integrals,
    integral_tables,
    pair_integrals,
    shear_prefactor,
)

from .normal_equations import (
    ProblemArrays,
    _chunk_bounds,
    _chunk_slice,
    _weights,
    derivative_tables,
    g_and_gradient,
    loss_rho,
)

__all__ = [
    "ERROR_MODES",
    "SHIFTS",
    "line_pairs",
    "line_statistics",
    "pad_lines",
    "residual_lines",
    "score_pass",
    "test_lags",
]

SHIFTS = (("t2", (0, 1)), ("t1", (1, 0)), ("diagonal", (1, 1)))
# NLSQConfig.robust_covariance: when the frame-correlated covariance is computed
ERROR_MODES = ("auto", "always", "never")
# pairs of adjacent lag lines the test evaluates: every lag up to _SHORT, then about
# _GEOMETRIC more, geometrically spaced up to the longest lag
_SHORT = 8
_GEOMETRIC = 16


def test_lags(n_t: int, first: int) -> np.ndarray:
    """Lower lags tau of the line pairs (tau, tau + 1) the residual test evaluates."""
    top = n_t - 2 - first  # tau + 1 <= n_t - 1 - first
    if top < 1:
        return np.zeros(0, np.int64)
    geo = np.geomspace(_SHORT + 1, max(top, _SHORT + 1), _GEOMETRIC)
    cand = np.unique(np.concatenate([np.arange(1, _SHORT + 1, 2), np.round(geo)]).astype(np.int64))
    lags: list[int] = []
    for tau in cand[cand <= top]:  # disjoint pairs: every point enters the sums once
        if not lags or tau >= lags[-1] + 2:
            lags.append(int(tau))
    return np.asarray(lags, np.int64)


def line_pairs(n_t: int, first: int, lags: np.ndarray):
    """Frame indices ``(i, j)`` of the lines tau and tau + 1 for every tau in ``lags``, one line
    after the other, and the line lengths."""
    taus = np.stack([lags, lags + 1], axis=1).ravel()
    i = np.concatenate([np.arange(first, n_t - t) for t in taus])
    j = np.concatenate([np.arange(first + t, n_t) for t in taus])
    return i, j, n_t - first - taus


@partial(jax.jit, static_argnames=("model", "loss"))
def _residuals_core(model, theta, contrast, offset, arrs, loss, f_scale):
    tables = integral_tables(model, theta, arrs.t)
    i_d, i_g = pair_integrals(model, tables, arrs.i, arrs.j)
    k = shear_prefactor(model, theta, arrs.phi)
    g = g1sq_from_integrals(model, i_d[None], k[:, None] * i_g[None])
    valid = jnp.isfinite(arrs.y)
    r = jnp.where(valid, arrs.y - (offset[:, None] + contrast[:, None] * g), 0.0)
    # scores carry the IRLS weight: test what the sandwich sums (w r), not r
    _, w = loss_rho(loss, (r / f_scale) ** 2)
    return jnp.where(valid, w * r, 0.0), valid


def pad_lines(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``(n_phi, total)`` concatenated lines -> ``(n_phi, n_lines, longest)``, zero padded."""
    out = np.zeros((values.shape[0], lengths.size, int(lengths.max())), values.dtype)
    ends = np.cumsum(lengths)
    for k, (lo, hi) in enumerate(zip(ends - lengths, ends, strict=True)):
        out[:, k, : hi - lo] = values[:, lo:hi]
    return out


def residual_lines(problem, theta_full, contrast, offset):
    """Weighted residuals ``w r`` and validity on the test's line pairs, each
    ``(n_phi, 2 * n_lags, longest)`` (line tau at even, tau + 1 at odd positions; zero / False
    padded), from one pass without derivatives over those points only."""
    arrs = problem.arrs
    n_t = int(arrs.t.shape[0])
    first = problem.model.first_fitted_frame
    i, j, lengths = line_pairs(n_t, first, test_lags(n_t, first))
    grid = np.full((n_t, n_t), -1, np.int64)
    grid[np.asarray(arrs.i), np.asarray(arrs.j)] = np.arange(arrs.i.shape[0])
    flat = grid[i, j]
    y = np.asarray(arrs.y)[:, flat]
    sub = ProblemArrays.create(y, arrs.t, arrs.phi, i, j)
    cfg = problem.config
    r, valid = _residuals_core(
        problem.model, theta_full, contrast, offset, sub, cfg.loss, jnp.float64(cfg.f_scale)
    )
    r, valid = np.asarray(r), np.asarray(valid)
    return pad_lines(r, lengths), pad_lines(valid, lengths)


def _products(a, b, va, vb):
    """``(sum ab, sum (ab)^2, count)`` per angle over the first axes' pairs, ``(n_phi, 3)``."""
    prod = (a * b).reshape(a.shape[0], -1)
    both = (va & vb).reshape(a.shape[0], -1)
    return np.stack([prod.sum(1), np.einsum("ak,ak->a", prod, prod), both.sum(1)], axis=1)


def line_statistics(r: np.ndarray, valid: np.ndarray, top: int):
    """Test sums and diagonal autocorrelation from line pairs (see :func:`residual_lines`).

    Returns
    -------
    (sums, moments, rho_diagonal)
        ``sums`` ``(n_phi, 3, 3)``: per shift of :data:`SHIFTS` ``(sum r_k r_l,
        sum r_k^2 r_l^2, count)`` over valid neighbours; ``moments`` ``(n_phi, 2)``:
        ``(sum r^2, count)``; ``rho_diagonal`` ``(n_phi, n_shifts)``: mean r_k r_l over
        points d apart along the lines, over the variance, for d = 1, 2, ... up to the shift
        where every angle is below 1/e (or ``top``).
    """
    lo, hi = r[:, 0::2], r[:, 1::2]  # lines tau and tau + 1, position p = i - first
    vlo, vhi = valid[:, 0::2], valid[:, 1::2]
    sums = np.stack(
        [
            # (i, i+tau), (i, i+tau+1) and (i, i+tau+1), (i+1, i+tau+1); line tau + 1 is one
            # shorter than line tau, so its last padded entry can go
            _products(lo[..., :-1], hi[..., :-1], vlo[..., :-1], vhi[..., :-1]),
            _products(hi[..., :-1], lo[..., 1:], vhi[..., :-1], vlo[..., 1:]),
            _products(r[..., :-1], r[..., 1:], valid[..., :-1], valid[..., 1:]),
        ],
        axis=1,
    )
    moments = np.stack([np.einsum("alk,alk->a", r, r), valid.sum(axis=(1, 2))], axis=1)
    var = moments[:, 0] / np.maximum(moments[:, 1], 1)
    rows, crossed = [], np.zeros(r.shape[0], dtype=bool)
    for d in range(1, min(top, r.shape[-1] - 1) + 1):
        s, _, cnt = _products(r[..., :-d], r[..., d:], valid[..., :-d], valid[..., d:]).T
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = s / np.maximum(cnt, 1) / var
        rows.append(np.where((cnt > 0) & (var > 0), rho, 0.0))
        crossed |= rows[-1] < np.exp(-1.0)
        if crossed.all():
            break
    rho_diag = np.stack(rows, axis=1) if rows else np.zeros((r.shape[0], 0))
    return sums, moments, rho_diag


@partial(jax.jit, static_argnames=("model", "chunk", "loss", "n_blocks"))
def _score_core(model, theta, contrast, offset, arrs, ids, rows, chunk, loss, f_scale, n_blocks):
    n_phi, n_v = arrs.phi.shape[0], model.n_params + 2
    derivs = derivative_tables(model, theta, arrs)
    size, n_chunks = _chunk_bounds(arrs.i.shape[0], chunk)

    def body(carry, kk):
        h_acc, d_acc, b_acc = carry
        i, j, y, fresh = _chunk_slice(arrs, kk, size)
        start = jnp.minimum(kk * size, arrs.i.shape[0] - size)
        blk = jax.lax.dynamic_slice(ids, (start,), (size,))
        g, dg = g_and_gradient(model, derivs, i, j)
        v = jnp.concatenate([dg, g[..., None], jnp.ones_like(g)[..., None]], axis=-1)
        r, w, _ = _weights(y, fresh[None], offset[:, None] + contrast[:, None] * g, loss, f_scale)
        wv = w[..., None] * v
        sc = r[..., None] * wv  # scores (n_phi, C, n_v)
        h_acc = h_acc + jnp.einsum("acp,acq->apq", wv, v)
        d_acc = d_acc + jnp.einsum("ac,acp,acq->apq", r * r * w, wv, v)
        flat = jnp.transpose(sc, (1, 0, 2)).reshape(size, n_phi * n_v)
        b_acc = b_acc + jax.ops.segment_sum(flat, blk, num_segments=n_blocks)
        return (h_acc, d_acc, b_acc), None

    init = (
        jnp.zeros((n_phi, n_v, n_v)),
        jnp.zeros((n_phi, n_v, n_v)),
        jnp.zeros((n_blocks, n_phi * n_v)),
    )
    (h, d0, b), _ = jax.lax.scan(body, init, jnp.arange(n_chunks))
    # the free physical rows, then G and 1
    return (
        h[:, rows][:, :, rows],
        d0[:, rows][:, :, rows],
        b.reshape(n_blocks, n_phi, n_v)[..., rows],
    )


def score_pass(problem, theta_full, contrast, offset, block: int):
    """``(H_a, D_a, B_a)`` per angle: ``H_a = sum w v v^T`` and ``D_a = sum g g^T``
    ``(n_phi, n_v, n_v)``, and the block sums of the scores ``(n_phi, n_v, nb, nb)`` over
    ``block x block`` frame blocks (``nb = ceil(n_t / block)``); ``v`` holds the free physical
    rows, then G and 1."""
    arrs, cfg = problem.arrs, problem.config
    n_t = arrs.t.shape[0]
    nb = -(-n_t // block)
    i = np.asarray(arrs.i, np.int64)
    j = np.asarray(arrs.j, np.int64)
    ids = jnp.asarray((i // block) * nb + (j // block), jnp.int32)
    p = problem.model.n_params
    rows = jnp.asarray([*problem.spec.free_index, p, p + 1], jnp.int32)
    h, d0, b = _score_core(
        problem.model,
        theta_full,
        contrast,
        offset,
        arrs,
        ids,
        rows,
        int(cfg.chunk_size),
        cfg.loss,
        jnp.float64(cfg.f_scale),
        nb * nb,
    )
    b = np.asarray(b).reshape(nb, nb, b.shape[1], b.shape[2])
    return np.asarray(h), np.asarray(d0), np.transpose(b, (2, 3, 0, 1))
