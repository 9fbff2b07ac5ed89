"""Frame-correlated uncertainties: a sandwich covariance and a residual-correlation test.

Two-time matrices from a correlator do not carry independent noise: the values at (t1, t2) and
(t1 + d1, t2 + d2) share the speckle patterns of nearby frames while g1 has not decayed. The
independent-noise covariance ``s^2 (J^T J)^-1`` then claims far too much. This module gives

* :func:`residual_correlation_test`: self-normalised z statistics of the residual correlation
  between neighbouring points along t1, t2 and the diagonal (under independent noise each is
  about standard normal, whatever the per-point variance);
* :func:`robust_covariance`: the sandwich ``H^-1 M H^-1 * N/(N - p)`` with ``H = J^T W J``
  and ``M = sum_{k,l} w(k, l) g_k g_l^T`` over the per-point scores ``g_k = w_k r_k J_k``,
  with ``w`` a 2-D Bartlett (product of triangles) kernel in the frame offsets
  ``(d1, d2)`` of half-width ``bandwidth`` frames (a HAC estimator, Newey-West in two
  dimensions). The N x p Jacobian is never formed: per angle, each score component is laid on
  the (t1, t2) grid and filtered by the separable triangle with running sums (O(n_t^2) per
  component), and the per-angle blocks are mapped to the fitted vector through the scaling
  design, as the normal equations are;
* the bandwidth, when not given, from the data, per angle (bins do not share pixels, so their
  scores are independent and each angle's middle term has its own correlation length; shear
  decorrelates bins along the flow much faster than bins across it): ``3 x`` the shift at
  which that angle's residual correlation along the diagonal falls below ``1/e`` (at least 3
  frames, at most half the frames).
"""

from dataclasses import dataclass, replace
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_physics import (
    float64,
    g1sq_from_integrals,
    integral_tables,
    pair_integrals,
    shear_prefactor,
)

from .normal_equations import _assemble, loss_rho
from .problem import FitProblem
from .uncertainty import Uncertainty, covariance_from_normal_matrix

__all__ = [
    "RobustCovariance",
    "bartlett_filter",
    "choose_bandwidth",
    "choose_error_model",
    "residual_correlation_test",
    "robust_covariance",
]

# z above this (one-sided, max over three shifts: false-alarm rate about 7e-4) -> correlated
Z_THRESHOLD = 3.5
_BANDWIDTH_FACTOR = 3.0
_MIN_BANDWIDTH = 3


@dataclass(frozen=True)
class RobustCovariance:
    """The frame-correlated (sandwich) covariance and the evidence for using it.

    Attributes
    ----------
    covariance, errors
        Sandwich covariance over the fitted vector and its standard errors.
    bandwidth
        Largest half-width of the Bartlett kernel over the angles, frames.
    bandwidths
        Half-width used for each angle, frames.
    rho, z
        Residual correlation and its z statistic at the shifts (1, 0), (0, 1), (1, 1).
    correlated
        Whether the residuals are correlated (max z above :data:`Z_THRESHOLD`).
    rho_diagonal
        Residual correlation per angle along the diagonal shift d = 1, 2, ...
        ``(n_phi, n_shifts)`` (used for the bandwidths).
    """

    covariance: np.ndarray
    errors: np.ndarray
    bandwidth: int
    bandwidths: tuple[int, ...]
    rho: dict[str, float]
    z: dict[str, float]
    correlated: bool
    rho_diagonal: np.ndarray


def _moving_sum(a: np.ndarray, width: int, axis: int) -> np.ndarray:
    """Causal running sum of ``width`` samples along ``axis`` (zeros before the start)."""
    cs = np.cumsum(a, axis=axis)
    out = cs.copy()
    n = a.shape[axis]
    if width < n:
        src = [slice(None)] * a.ndim
        dst = [slice(None)] * a.ndim
        src[axis], dst[axis] = slice(0, n - width), slice(width, n)
        out[tuple(dst)] -= cs[tuple(src)]
    return out


def _triangle_1d(a: np.ndarray, b: int, axis: int) -> np.ndarray:
    """``sum_d (1 - |d|/b) a[i + d]`` along ``axis`` (|d| < b), by two running sums."""
    if b <= 1:
        return a
    pad = [(0, 0)] * a.ndim
    pad[axis] = (b - 1, b - 1)
    ap = np.pad(a, pad)
    bb = _moving_sum(_moving_sum(ap, b, axis), b, axis)
    sl = [slice(None)] * a.ndim
    sl[axis] = slice(2 * b - 2, 2 * b - 2 + a.shape[axis])
    return bb[tuple(sl)] / b


def bartlett_filter(grid: np.ndarray, bandwidth: int) -> np.ndarray:
    """2-D Bartlett smoothing ``sum_{d1,d2} (1-|d1|/b)(1-|d2|/b) grid[i+d1, j+d2]`` over the
    last two axes (|d| < b; ``b = bandwidth``, ``b = 1`` is the identity)."""
    b = int(bandwidth)
    return _triangle_1d(_triangle_1d(grid, b, grid.ndim - 2), b, grid.ndim - 1)


@partial(jax.jit, static_argnames=("model",))
def _pair_tangents(model, theta, t, i, j):
    """Pair integrals and their theta tangents, shared by every angle: by the chain rule
    through the 1-D integral tables (as the fit's normal equations do), no per-pair jacfwd.
    Returns ``i_d, i_g`` ``(C,)`` and ``di_d, di_g`` ``(P, C)``."""
    tables = integral_tables(model, theta, t)
    dtab = jax.jacfwd(lambda th: integral_tables(model, th, t))(theta)
    (i_d, i_g), (di_d, di_g) = jax.vmap(
        lambda tan: jax.jvp(lambda tb: pair_integrals(model, tb, i, j), (tables,), (tan,)),
        out_axes=(None, 0),
    )((dtab[0].T, dtab[1].T))
    return i_d, i_g, di_d, di_g


@partial(jax.jit, static_argnames=("model", "loss"))
def _scores_core(model, theta, contrast_a, offset_a, phi_a, pairs, y, loss, f_scale, rows):
    i_d, i_g, di_d, di_g = pairs
    k = shear_prefactor(model, theta, phi_a)[0]
    dk = jax.jacfwd(lambda th: shear_prefactor(model, th, phi_a))(theta)[0]  # (P,)
    x = k * i_g
    ones = jnp.ones_like(x)
    g, g_d = jax.jvp(lambda a: g1sq_from_integrals(model, a, x), (i_d,), (ones,))
    _, g_x = jax.jvp(lambda b: g1sq_from_integrals(model, i_d, b), (x,), (ones,))
    dg = g_d[None] * di_d + g_x[None] * (k * di_g + i_g[None] * dk[:, None])  # (P, C)
    valid = jnp.isfinite(y)
    r = jnp.where(valid, y - (offset_a + contrast_a * g), 0.0)
    _, drho = loss_rho(loss, (r / f_scale) ** 2)
    w = jnp.where(valid, drho, 0.0)
    # rows: the free physical parameters (fixed ones are not fitted), then G and 1
    v = jnp.concatenate([dg, g[None], ones[None]], axis=0)[rows]  # (n_v, C)
    h = (w[None] * v) @ v.T
    scores = (w * r)[None] * v  # (n_v, n_pairs), one contiguous row per component
    return r, valid, h, scores @ scores.T, scores


def _angle_scores(problem: FitProblem, theta, contrast, offset, pairs, a: int):
    """Pieces of angle ``a`` as numpy arrays: residual ``r`` and validity at the (t1 < t2) pairs,
    ``H_a = sum w v v^T``, ``D_a = sum g g^T`` and the scores ``g = w r v`` ``(n_v, n_pairs)``,
    with ``v = (dG/dtheta, G, 1)`` (NaN points have w = 0); ``pairs`` from
    :func:`_pair_tangents`."""
    arrs = problem.arrs
    p = problem.model.n_params
    out = _scores_core(
        problem.model,
        theta,
        contrast[a],
        offset[a],
        arrs.phi[a : a + 1],
        pairs,
        arrs.y[a],
        problem.config.loss,
        jnp.float64(problem.config.f_scale),
        jnp.asarray([*problem.spec.free_index, p, p + 1], jnp.int32),
    )
    return tuple(np.asarray(o) for o in out)


def _grid(values: np.ndarray, i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    """Scatter ``(..., n_pairs)`` onto ``(..., n, n)`` grids (zero off the pairs)."""
    out = np.zeros(values.shape[:-1] + (n, n))
    out[..., i, j] = values
    return out


def _shift_products(rg: np.ndarray, mask: np.ndarray, d1: int, d2: int):
    """``(sum r_k r_l, sum r_k^2 r_l^2, count)`` over valid pairs shifted by (d1, d2)."""
    n = rg.shape[-1]
    a = rg[..., : n - d1, : n - d2]
    b = rg[..., d1:, d2:]
    m = mask[..., : n - d1, : n - d2] & mask[..., d1:, d2:]
    ab = np.where(m, a * b, 0.0)
    return float(ab.sum()), float((ab * ab).sum()), int(m.sum())


_SHIFTS = (("t2", (0, 1)), ("t1", (1, 0)), ("diagonal", (1, 1)))


def _angle_sums(rg: np.ndarray, mask: np.ndarray, top: int):
    """One angle's sums for the test: ``[(s, s2, count)]`` per shift of :data:`_SHIFTS`,
    ``(sum r^2, count)`` and its diagonal autocorrelation (:func:`_diagonal_autocorrelation`)."""
    sums = [_shift_products(rg, mask, d1, d2) for _, (d1, d2) in _SHIFTS]
    moments = (float((rg**2).sum()), int(mask.sum()))
    return sums, moments, _diagonal_autocorrelation(rg[None], mask[None], top)[0]


def _pool(per_angle) -> tuple[dict, dict]:
    """``rho`` and ``z`` by shift name pooled over the angles' :func:`_angle_sums`."""
    r2 = sum(m[0] for _, m, _ in per_angle)
    var = r2 / max(sum(m[1] for _, m, _ in per_angle), 1)
    rho, z = {}, {}
    for k, (name, _) in enumerate(_SHIFTS):
        s, s2, cnt = (sum(sums[k][c] for sums, _, _ in per_angle) for c in range(3))
        rho[name] = s / cnt / var if cnt and var > 0 else 0.0
        z[name] = s / np.sqrt(s2) if s2 > 0 else 0.0
    return rho, z


def _stack_rows(rows) -> np.ndarray:
    """Diagonal autocorrelations of unequal length as ``(n_phi, longest)``, NaN padded."""
    out = np.full((len(rows), max(len(r) for r in rows)), np.nan)
    for a, row in enumerate(rows):
        out[a, : len(row)] = row
    return out


def residual_correlation_test(
    residual_grids: np.ndarray, masks: np.ndarray, max_shift: int | None = None
):
    """Residual correlation at neighbouring shifts and along the diagonal.

    Parameters
    ----------
    residual_grids, masks
        ``(n_phi, n_t, n_t)`` residuals on the (t1 < t2) grid and where they are valid.
    max_shift
        Largest diagonal shift for ``rho_diagonal`` (default ``n_t // 2``).

    Returns
    -------
    (rho, z, rho_diagonal)
        ``rho_diagonal`` per angle ``(n_phi, n_shifts)``, each angle up to the shift where it
        falls below 1/e (NaN beyond); ``rho``/``z`` pooled over the angles, by shift name
        ``'t2'`` (0, 1), ``'t1'`` (1, 0), ``'diagonal'`` (1, 1);
        ``z = sum r_k r_l / sqrt(sum r_k^2 r_l^2)`` is about N(0, 1) for independent noise.
    """
    n = residual_grids.shape[-1]
    top = max(n // 2 if max_shift is None else min(int(max_shift), n - 1), 1)
    per_angle = [_angle_sums(rg, m, top) for rg, m in zip(residual_grids, masks, strict=True)]
    rho, z = _pool(per_angle)
    return rho, z, _stack_rows([row for _, _, row in per_angle])


def _diagonal_autocorrelation(rg, mask, top: int) -> np.ndarray:
    """rho_a(d) = mean r(i, j) r(i + d, j + d) / var_a per angle a for d = 1, 2, ... by direct
    shifted products, stopping at the first shift where every angle is below 1/e (or at
    ``top``): the bandwidth needs no more. Shape ``(n_phi, n_shifts)``."""
    n = rg.shape[-1]
    var_a = (rg**2).sum(axis=(1, 2)) / np.maximum(mask.sum(axis=(1, 2)), 1)
    rows, crossed = [], np.zeros(rg.shape[0], dtype=bool)
    for d in range(1, top + 1):
        m = mask[:, : n - d, : n - d] & mask[:, d:, d:]
        prod = np.einsum("aij,aij->a", rg[:, : n - d, : n - d], rg[:, d:, d:])
        count = m.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = prod / np.maximum(count, 1) / var_a
        rows.append(np.where((count > 0) & (var_a > 0), rho, 0.0))
        crossed |= rows[-1] < np.exp(-1.0)
        if crossed.all():
            break
    return np.stack(rows, axis=1) if rows else np.zeros((rg.shape[0], 0))


def _block_size(bandwidth: int, n_t: int) -> int:
    """Frames per block side for the middle term: a quarter of the bandwidth (at least 2 from
    128 frames on), at most ``n_t // 16``."""
    b = int(np.ceil(bandwidth / 4.0))
    if n_t >= 128:
        b = max(b, 2)
    return int(max(1, min(b, n_t // 16)))


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


def _middle_term(scores, d0, i, j, n_t: int, bandwidth: int, block: int | None, ids_cache: dict):
    """``sum_{k,l} w(k - l) g_k g_l^T`` over the scores ``g`` ``(n_v, n_pairs)``, given
    ``d0 = sum_k g_k g_k^T``: exact for k = l, the other pairs
    through block sums of the scores over ``B x B`` frame blocks weighted by the block-averaged
    2-D Bartlett kernel (exact when the scores' correlation is constant over a block)."""
    blk = _block_size(bandwidth, n_t) if block is None else max(int(block), 1)
    nb = -(-n_t // blk)
    if blk not in ids_cache:
        ids_cache[blk] = (i // blk) * nb + (j // blk)
    ids = ids_cache[blk]
    grid = np.stack([np.bincount(ids, weights=row, minlength=nb * nb) for row in scores])
    grid = grid.reshape(scores.shape[0], nb, nb)
    w1, c0 = _block_kernel(bandwidth, blk)
    smooth = _correlate(_correlate(grid, w1, 1), w1, 2)
    flat = grid.reshape(grid.shape[0], -1)
    m = flat @ smooth.reshape(grid.shape[0], -1).T
    m += (c0 - w1[(w1.size - 1) // 2] ** 2) * (flat @ flat.T) + (1.0 - c0) * d0
    return 0.5 * (m + m.T)


def choose_bandwidth(rho_diagonal: np.ndarray, n_t: int) -> int:
    """``3 x`` the first diagonal shift with correlation below 1/e, within [3, n_t // 2]."""
    below = np.nonzero(rho_diagonal < np.exp(-1.0))[0]
    first = int(below[0]) + 1 if below.size else rho_diagonal.size + 1
    return int(np.clip(np.ceil(_BANDWIDTH_FACTOR * first), _MIN_BANDWIDTH, max(n_t // 2, 1)))


def robust_covariance(
    problem: FitProblem, x, *, bandwidth: int | None = None, block_size: int | None = None
) -> RobustCovariance:
    """Sandwich covariance of the fitted vector ``x`` with a 2-D Bartlett middle term.

    Call inside ``homodyne_physics.float64()``.

    Parameters
    ----------
    problem
        The :class:`FitProblem` that was fitted.
    x
        Fitted vector ``(theta, s)``.
    bandwidth
        Kernel half-width in frames for every angle; ``None`` chooses one per angle from its
        residuals (:func:`choose_bandwidth`). ``1`` gives the heteroscedasticity-robust
        (White) form.
    block_size
        Frames per block side for the pairs at different points of the middle term; ``None``
        chooses about a quarter of each angle's bandwidth (:func:`_block_size`), ``1`` is the
        exact point-by-point Bartlett sum.

    Returns
    -------
    RobustCovariance
    """
    theta, s = problem.split(x)
    contrast, offset = problem.scaling.apply(jnp.asarray(s, jnp.float64), xp=jnp)
    arrs = problem.arrs
    n_phi, n_t = arrs.phi.shape[0], arrs.t.shape[0]
    i, j = np.asarray(arrs.i, dtype=np.intp), np.asarray(arrs.j, dtype=np.intp)
    n_v = problem.n_theta + 2
    h_a = np.empty((n_phi, n_v, n_v))
    m_a = np.empty((n_phi, n_v, n_v))
    ids_cache: dict = {}
    theta = jnp.asarray(problem.full_theta(theta), jnp.float64)  # fixed ones included
    pairs = _pair_tangents(problem.model, theta, arrs.t, arrs.i, arrs.j)
    per_angle, bws = [], []
    for a in range(n_phi):  # one angle's scores in memory at a time
        r, valid, h_a[a], d0, scores = _angle_scores(problem, theta, contrast, offset, pairs, a)
        per_angle.append(_angle_sums(_grid(r, i, j, n_t), _grid(valid, i, j, n_t) > 0, n_t // 2))
        bw = choose_bandwidth(per_angle[-1][2], n_t) if bandwidth is None else bandwidth
        bws.append(max(int(bw), 1))
        m_a[a] = _middle_term(scores, d0, i, j, n_t, bws[-1], block_size, ids_cache)
    rho, z = _pool(per_angle)
    rho_diag = _stack_rows([row for _, _, row in per_angle])
    bws = tuple(bws)
    design_c = jnp.asarray(problem.scaling.design_contrast)
    design_o = jnp.asarray(problem.scaling.design_offset)
    zeros = jnp.zeros((n_phi, n_v))
    h, _ = _assemble(jnp.asarray(h_a), zeros, contrast, design_c, design_o)
    m, _ = _assemble(jnp.asarray(m_a), zeros, contrast, design_c, design_o)
    n_points, p = problem.n_valid, h.shape[0]
    h_inv = covariance_from_normal_matrix(np.asarray(h), 1.0, n_points, sigma=1.0).covariance
    cov = h_inv @ np.asarray(m) @ h_inv * (n_points / max(n_points - p, 1))
    cov = 0.5 * (cov + cov.T)
    errors = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return RobustCovariance(
        covariance=cov,
        errors=errors,
        bandwidth=max(bws),
        bandwidths=bws,
        rho=rho,
        z=z,
        correlated=max(z.values()) > Z_THRESHOLD,
        rho_diagonal=rho_diag,
    )


def choose_error_model(problem: FitProblem, x, unc: Uncertainty):
    """Compute the sandwich covariance next to the independent-noise one and pick one.

    The sandwich is used when :func:`residual_correlation_test` finds correlated residuals
    (max z above :data:`Z_THRESHOLD`); otherwise the independent-noise covariance stays.

    Returns
    -------
    (unc, robust, error_model)
        ``unc`` with the chosen covariance, errors and correlation (and a note saying which),
        the :class:`RobustCovariance` (``None`` if it could not be computed) and a JSON-safe
        dict: ``used`` (``'frame-correlated'`` or ``'independent'``), ``reason``,
        ``bandwidth``, ``z``, ``rho``, ``ratio`` (robust / independent error per name),
        ``errors_independent`` and ``covariance_independent``.
    """
    names = problem.names
    try:
        with float64():
            robust = robust_covariance(problem, x)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError, MemoryError) as exc:
        reason = f"the frame-correlated covariance could not be computed ({exc})"
        return unc, None, {"used": "independent", "reason": reason}
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = robust.errors / unc.errors
    z_max = max(robust.z.values())
    info = {
        "bandwidth": list(robust.bandwidths),
        "z": robust.z,
        "rho": robust.rho,
        "ratio": {n: float(r) for n, r in zip(names, ratio, strict=True)},
        "errors_independent": {n: float(e) for n, e in zip(names, unc.errors, strict=True)},
        "covariance_independent": unc.covariance,
    }
    if not robust.correlated:
        reason = (
            f"residuals show no correlation between neighbouring frames (max z = {z_max:.2f} "
            f"<= {Z_THRESHOLD}): independent-noise covariance used"
        )
        return unc, robust, {"used": "independent", "reason": reason, **info}
    finite = ratio[np.isfinite(ratio)]
    typical = f"{np.median(finite):.1f}x" if finite.size else "not comparable to"
    reason = (
        f"residuals are correlated between neighbouring frames (rho = "
        f"{robust.rho['diagonal']:.2f} along the diagonal, max z = {z_max:.1f} > "
        f"{Z_THRESHOLD}): frame-correlated (2-D Bartlett sandwich, bandwidth "
        f"{min(robust.bandwidths)}-{robust.bandwidth} frames) covariance used; it is {typical} the "
        "independent-noise errors (median over the fitted entries)"
    )
    errors = robust.errors
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = robust.covariance / np.outer(errors, errors)
    np.fill_diagonal(corr, 1.0)
    unc = replace(
        unc,
        covariance=robust.covariance,
        errors=errors,
        correlation=corr,
        notes=(*unc.notes, reason),
    )
    return unc, robust, {"used": "frame-correlated", "reason": reason, **info}
