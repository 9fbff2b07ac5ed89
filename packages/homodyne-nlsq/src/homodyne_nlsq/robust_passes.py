"""Passes behind the frame-correlated covariance (see :mod:`.robust_covariance`).

* the residual-correlation test works on **lag lines**: the points (i, i + tau) of one lag tau.
  Along a line, the shift (d, d) is a plain 1-D shift; the neighbours along t2 and t1 of the
  line tau are on the line tau + 1 at the same or the next position. So the test statistics
  and the diagonal autocorrelation (which sets the bandwidth) need only pairs of adjacent lines,
  and :func:`residual_lines` evaluates the residuals on a few dozen such pairs (all short lags,
  then geometrically spaced ones): about 10 % of the points of a 1000-frame matrix, one pass
  without derivatives. :func:`line_statistics` does the sums (``lines`` from a full grid give
  the exact statistics of every point);
* :func:`fused_with_scores`: the fit's fused pass (cost, J^T J, J^T r) over the pairs in
  block-major order (:func:`block_layout`) that also forms, per angle, ``H_a = sum w v v^T``,
  the self term ``D_a = sum g g^T`` and the sums of the scores ``g = w r v`` over square
  blocks of frames (a reshape and sum per chunk, no scatter), so the N x p score matrix
  never exists. The Levenberg-Marquardt solver runs it as its last pass at the solution, and
  the sandwich then needs no pass of its own.
"""

from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_physics import (
    g1sq_from_factors,
    integral_tables,
    pair_integrals,
    shear_factors,
)
from homodyne_physics.programs import cached_jit

from .normal_equations import (
    ProblemArrays,
    _assemble,
    _weights,
    derivative_tables,
    g_and_gradient,
    host_array,
    loss_rho,
)

__all__ = [
    "ERROR_MODES",
    "SHIFTS",
    "BlockLayout",
    "BlockScores",
    "block_layout",
    "fused_with_scores",
    "line_pairs",
    "line_statistics",
    "pad_lines",
    "residual_lines",
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


@cached_jit(static_argnames=("model", "loss"))
def _residuals_core(model, theta, contrast, offset, arrs, loss, f_scale):
    tables = integral_tables(model, theta, arrs.t)
    i_d, i_g = pair_integrals(model, tables, arrs.i, arrs.j)
    k = shear_factors(model, theta, arrs.phi)
    g = g1sq_from_factors(model, i_d[None], i_g, k)
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
        problem.model, theta_full, contrast, offset, sub, cfg.loss, np.float64(cfg.f_scale)
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


@dataclass(frozen=True)
class BlockLayout:
    """The frame pairs in block-major order, for a fused pass that also sums the scores over
    square blocks of frames without a scatter.

    Every block ``(I, J)`` (``I <= J``, frames ``[I b, (I + 1) b)`` x ``[J b, (J + 1) b)``)
    that holds a pair gets a slot of ``b^2`` positions; ``perm`` gives the pair at each
    position (-1: padding, masked). A chunk is ``per_chunk`` whole slots, so the block sums of
    a chunk are one reshape and sum.

    Attributes
    ----------
    block
        Frames per block side ``b``.
    n_blocks
        Blocks per axis ``ceil(n_t / b)``.
    slots
        ``(n_slots, 2)`` block indices ``(I, J)`` of each slot (padding slots: ``(0, 0)``
        with no points).
    perm
        ``(n_slots b^2,)`` pair index per position, -1 for padding.
    per_chunk
        Slots per chunk.
    n_real
        Slots that hold pairs (the first ones; the rest pad the last chunk).
    """

    block: int
    n_blocks: int
    slots: np.ndarray
    perm: jax.Array
    per_chunk: int
    n_real: int


def block_layout(i, j, n_t: int, block: int, chunk: int) -> BlockLayout:
    """:class:`BlockLayout` of the pairs ``(i, j)`` for ``block``-frame blocks and about
    ``chunk`` positions per chunk."""
    b = max(int(block), 1)
    nb = -(-int(n_t) // b)
    key = (np.asarray(i, np.int64) // b) * nb + np.asarray(j, np.int64) // b
    order = np.argsort(key, kind="stable")
    uniq, first, counts = np.unique(key[order], return_index=True, return_counts=True)
    cap = b * b
    per = max(1, int(chunk) // cap)
    n_slots = -(-uniq.size // per) * per
    perm = np.full(n_slots * cap, -1, np.int64)
    slot_of = np.repeat(np.arange(uniq.size), counts)
    perm[slot_of * cap + np.arange(order.size) - np.repeat(first, counts)] = order
    slots = np.zeros((n_slots, 2), np.int64)
    slots[: uniq.size] = np.stack([uniq // nb, uniq % nb], axis=1)
    return BlockLayout(b, nb, slots, host_array(perm, np.int32), per, int(uniq.size))


@cached_jit(static_argnames=("model", "loss", "cap", "per"))
def _scores_core(model, theta, contrast, offset, arrs, loss, f_scale, cap, per):
    """The scored pass over ``arrs`` already in block order (NaN padding), ``cap * per``
    positions (``per`` whole slots) a chunk."""
    n_phi, n_v = arrs.phi.shape[0], model.n_params + 2
    derivs = derivative_tables(model, theta, arrs)
    size = cap * per

    def body(carry, kk):
        h_acc, d_acc, b_acc, cost = carry
        i = jax.lax.dynamic_slice(arrs.i, (kk * size,), (size,))
        j = jax.lax.dynamic_slice(arrs.j, (kk * size,), (size,))
        y = jax.lax.dynamic_slice(arrs.y, (0, kk * size), (n_phi, size))
        g, dg = g_and_gradient(model, derivs, i, j)
        v = jnp.concatenate([dg, g[..., None], jnp.ones_like(g)[..., None]], axis=-1)
        every = jnp.ones((1, size), bool)  # padding is NaN in y
        r, w, c = _weights(y, every, offset[:, None] + contrast[:, None] * g, loss, f_scale)
        wv = w[..., None] * v
        h_acc = h_acc + jnp.einsum("acp,acq->apq", wv, v)
        d_acc = d_acc + jnp.einsum("ac,acp,acq->apq", r * r * w, wv, v)
        sc = r[..., None] * wv  # scores (n_phi, C, n_v)
        blocks = jnp.transpose(sc.reshape(n_phi, per, cap, n_v).sum(axis=2), (1, 0, 2))
        return (h_acc, d_acc, b_acc + blocks.sum(axis=0), cost + c), blocks

    zero = jnp.zeros((n_phi, n_v, n_v))
    init = (zero, zero, jnp.zeros((n_phi, n_v)), jnp.zeros(()))
    (h, d0, b, cost), blocks = jax.lax.scan(body, init, jnp.arange(arrs.i.shape[0] // size))
    return h, d0, b, cost, blocks  # blocks (n_chunks, per, n_phi, n_v)


@dataclass(frozen=True)
class BlockScores:
    """Per-angle sums at one fitted vector, what the sandwich's middle term needs.

    ``h`` = sum w v v^T and ``d0`` = sum g g^T ``(n_phi, n_v, n_v)`` over the rows ``keep``
    of ``v`` (the free physical rows, then G and 1; ``g = w r v``), and ``grid`` the score
    sums over the layout's slots ``(n_slots, n_phi, n_all)`` over every row of ``v``."""

    h: np.ndarray
    d0: np.ndarray
    grid: np.ndarray
    keep: np.ndarray
    layout: BlockLayout

    def block_grid(self, angle: int, coarsen: int = 1) -> tuple[np.ndarray, int]:
        """``(n_v, nb, nb)`` block sums of one angle (zero below the diagonal), merged
        ``coarsen x coarsen`` at a time, and the block side of the result in frames."""
        lay, f = self.layout, max(int(coarsen), 1)
        nb = -(-lay.n_blocks // f) * f
        full = np.zeros((self.keep.size, nb, nb))
        real = lay.n_real
        full[:, lay.slots[:real, 0], lay.slots[:real, 1]] = self.grid[:real, angle][:, self.keep].T
        if f > 1:
            full = full.reshape(full.shape[0], nb // f, f, nb // f, f).sum(axis=(2, 4))
        return full, lay.block * f


def _in_block_order(arrs: ProblemArrays, layout: BlockLayout) -> ProblemArrays:
    """``arrs`` in ``layout``'s order, NaN where a slot is padding (one copy of the data:
    contiguous chunks in the pass instead of a gather per chunk)."""
    # on the host: eager jnp operations here would each be a program to compile
    perm = np.asarray(layout.perm)
    k = np.where(perm >= 0, perm, 0)
    y = np.where(perm[None] >= 0, np.take(np.asarray(arrs.y), k, axis=1), np.nan)
    i, j = (host_array(np.take(np.asarray(a), k), np.int32) for a in (arrs.i, arrs.j))
    return ProblemArrays(host_array(y, np.float64), arrs.t, arrs.phi, i, j)


def fused_with_scores(problem, layout: BlockLayout):
    """``x -> (cost, J^T J, J^T r, BlockScores)``: the fit's fused pass (same contract as
    ``FitProblem.fused``) over the pairs in ``layout``'s order (a copy of the data in that
    order is made once), that also returns what the sandwich covariance needs
    (:class:`BlockScores`), so the LM's last pass at the solution replaces a separate score
    pass. Call inside ``homodyne_physics.float64()``."""
    cfg, p = problem.config, problem.model.n_params
    arrs = _in_block_order(problem.arrs, layout)
    keep = np.asarray([*problem.spec.free_index, p, p + 1], np.int64)
    design_c = host_array(problem.scaling.design_contrast, np.float64)
    design_o = host_array(problem.scaling.design_offset, np.float64)
    rows = problem._free_rows()
    cap = layout.block * layout.block

    def run(x):
        theta, s = problem.split(x)
        contrast, offset = problem.scaling.apply(jnp.asarray(s, jnp.float64), xp=jnp)
        theta_full = jnp.asarray(problem.full_theta(theta), jnp.float64)
        h, d0, b, cost, blocks = _scores_core(
            problem.model,
            theta_full,
            contrast,
            offset,
            arrs,
            cfg.loss,
            np.float64(cfg.f_scale),
            cap,
            layout.per_chunk,
        )
        jtj, jtr = _assemble(h, b, contrast, design_c, design_o)
        h, d0 = np.asarray(h)[:, keep][:, :, keep], np.asarray(d0)[:, keep][:, :, keep]
        blocks = np.asarray(blocks)
        grid = blocks.reshape(-1, blocks.shape[2], blocks.shape[3])
        jtj, jtr = np.asarray(jtj), np.asarray(jtr)
        scores = BlockScores(h, d0, grid, keep, layout)
        return float(cost), jtj[np.ix_(rows, rows)], jtr[rows], scores

    return run


@lru_cache(maxsize=64)
def _block_kernel(bandwidth: int, block: int) -> tuple[np.ndarray, float]:
    """Bartlett weights between blocks of ``block`` frames, averaged over the frame pairs of
    the two blocks: 1-D weights ``w1(D)`` for block offsets ``D = -K..K``, and the 2-D weight
    ``c0`` of the distinct point pairs inside one block (the point with itself has weight 1
    and is added exactly)."""
    b, n = int(bandwidth), int(block)
    k = -(-(b + n - 2) // n)
    a = np.arange(n)
    d = np.subtract.outer(a, a)  # a - a'
    offs = np.arange(-k, k + 1)
    w1 = np.array([np.clip(1.0 - np.abs(o * n + d) / b, 0.0, None).mean() for o in offs])
    if n == 1:
        return w1, 1.0
    s1 = w1[k] * n * n
    return w1, float((s1 * s1 - n * n) / (n**4 - n * n))


def _correlate(grid: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """``sum_D weights[D + K] grid[.., i + D, ..]`` along ``axis`` (zeros outside)."""
    k = (weights.size - 1) // 2
    out = weights[k] * grid
    n = grid.shape[axis]
    for o in range(1, min(k, n - 1) + 1):
        if weights[k + o] == 0.0 and weights[k - o] == 0.0:
            continue
        lo = [slice(None)] * grid.ndim
        hi = [slice(None)] * grid.ndim
        lo[axis], hi[axis] = slice(0, n - o), slice(o, n)
        out[tuple(lo)] += weights[k + o] * grid[tuple(hi)]
        out[tuple(hi)] += weights[k - o] * grid[tuple(lo)]
    return out


def _middle_term(grid, d0, bandwidth: int, block: int):
    """``sum_{k,l} w(k - l) g_k g_l^T`` of one angle from the block sums ``grid``
    ``(n_v, nb, nb)`` of its scores over ``block x block`` frame blocks and ``d0 = sum_k g_k
    g_k^T``: exact for k = l, the other pairs weighted by the block-averaged 2-D Bartlett kernel
    (exact when the scores' correlation is constant over a block; ``block = 1`` is the exact
    point-by-point sum)."""
    w1, c0 = _block_kernel(bandwidth, block)
    smooth = _correlate(_correlate(grid, w1, 1), w1, 2)
    # distinct pairs inside a block weigh c0, not the filter's w1(0)^2: one contraction
    smooth += (c0 - w1[(w1.size - 1) // 2] ** 2) * grid
    n_v = grid.shape[0]
    # einsum, not BLAS: these thin products are slower threaded on a busy machine
    m = np.einsum("pk,qk->pq", grid.reshape(n_v, -1), smooth.reshape(n_v, -1))
    m += (1.0 - c0) * d0
    return 0.5 * (m + m.T)


def _to_fitted(problem, contrast: np.ndarray, per_angle: np.ndarray) -> np.ndarray:
    """Per-angle ``(n_phi, n_v, n_v)`` sums over ``v = (dG/dtheta, G, 1)`` -> the matrix over
    the fitted vector (theta, s), through the scaling design (as the normal equations)."""
    n_phi, n_v, _ = per_angle.shape
    p = n_v - 2
    d_c, d_o = problem.scaling.design_contrast, problem.scaling.design_offset
    kc = d_c.shape[1]
    t = np.zeros((n_phi, p + kc + d_o.shape[1], n_v))
    t[:, :p, :p] = contrast[:, None, None] * np.eye(p)[None]
    t[:, p : p + kc, p] = d_c
    t[:, p + kc :, p + 1] = d_o
    return np.einsum("aiv,avw,ajw->ij", t, per_angle, t, optimize=True)
