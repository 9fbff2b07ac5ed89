"""Frame-correlated uncertainties: a sandwich covariance and a residual-correlation test.

Two-time matrices from a correlator do not carry independent noise: the values at (t1, t2) and
(t1 + d1, t2 + d2) share the speckle patterns of nearby frames while g1 has not decayed. The
independent-noise covariance ``s^2 (J^T J)^-1`` then claims far too much. This module gives

* :func:`residual_evidence` / :func:`residual_correlation_test`: self-normalised z statistics
  of the residual correlation between neighbouring points along t1, t2 and the diagonal
  (under independent noise each is about standard normal, whatever the per-point variance),
  from the residuals on a few dozen pairs of adjacent lag lines (one pass without
  derivatives, about 10 % of the points; :mod:`.robust_passes`);
* :func:`robust_covariance`: the sandwich ``H^-1 M H^-1 * N/(N - p)`` with ``H = J^T W J``
  and ``M = sum_{k,l} w(k, l) g_k g_l^T`` over the per-point scores ``g_k = w_k r_k J_k``,
  with ``w`` a 2-D Bartlett (product of triangles) kernel in the frame offsets
  ``(d1, d2)`` of half-width ``bandwidth`` frames (a HAC estimator, Newey-West in two
  dimensions); each angle's fixed-b factor ``1 - sum_kl w_kl / N_a^2`` (the share of the
  long-run variance a fit absorbs when the bandwidth is a fixed fraction of the frames;
  Kiefer & Vogelsang 2005, Econometric Theory 21, 1130, in two dimensions: :mod:`.fixed_b`)
  is reported, and its term divided by it with ``NLSQConfig.robust_fixed_b`` (off by
  default: measured, it over-corrects, see :mod:`.fixed_b`). The N x p Jacobian is never
  formed: the fit's last fused pass (run in block-major order, :func:`scored_pass`) also
  sums the scores over square blocks of frames, the block grid is filtered by the
  block-averaged triangle, and the per-angle blocks are mapped to the fitted vector through
  the scaling design, as the normal equations are;
* the bandwidth, when not given, from the data, per angle (bins do not share pixels, so their
  scores are independent and each angle's middle term has its own correlation length; shear
  decorrelates bins along the flow much faster than bins across it): ``3 x`` the shift at
  which that angle's residual correlation along the diagonal falls below ``1/e`` (at least 3
  frames, at most half the frames);
* :func:`choose_error_model`: in the default ``'auto'`` mode the sandwich is computed (and
  used) only when the residual test fires, so independent-noise fits pay only the test.
"""

import time
from dataclasses import dataclass, field, replace

import jax.numpy as jnp
import numpy as np

from homodyne_physics import float64

from .fixed_b import fixed_b_factors
from .problem import FitProblem
from .robust_passes import (
    ERROR_MODES,
    SHIFTS,
    BlockScores,
    _middle_term,
    _to_fitted,
    block_layout,
    fused_with_scores,
    line_pairs,
    line_statistics,
    pad_lines,
    residual_lines,
)
from .speckle_statistics import with_speckle_middle
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
    seconds
        Wall time of the residual test (``'test'``), of the sandwich (``'sandwich'``) and
        within it of the scored pass (``'score_pass'``, about 0 when the fit's last pass
        returned the scores).
    fixed_b, fixed_b_applied
        Fixed-b factor per angle (:mod:`.fixed_b`); whether the middle terms were divided by it.
    middle
        ``'bartlett'`` or ``'speckle'`` (:mod:`.speckle_statistics`): which middle term gave
        ``covariance``; ``middle_note`` says why when the speckle model was not used.
    pixels, pixels_given, errors_bartlett
        With the speckle middle term: the pixels per angle it used (``None`` otherwise),
        whether they were given (``NLSQConfig.speckle_pixels``) rather than calibrated, and
        the errors of the Bartlett sum (reported beside).
    """

    covariance: np.ndarray
    errors: np.ndarray
    bandwidth: int
    bandwidths: tuple[int, ...]
    rho: dict[str, float]
    z: dict[str, float]
    correlated: bool
    rho_diagonal: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)
    fixed_b: tuple[float, ...] = ()
    fixed_b_applied: bool = False
    middle_note: str = ""
    pixels: float | None = None
    pixels_given: bool = False
    errors_bartlett: np.ndarray | None = None

    @property
    def middle(self) -> str:
        """``'speckle'`` when the speckle middle term replaced the Bartlett one (whose errors
        are then kept in ``errors_bartlett``), else ``'bartlett'``."""
        return "bartlett" if self.errors_bartlett is None else "speckle"


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


def _pool(sums: np.ndarray, moments: np.ndarray) -> tuple[dict, dict]:
    """``rho`` and ``z`` by shift name pooled over the angles' :func:`line_statistics`."""
    var = moments[:, 0].sum() / max(moments[:, 1].sum(), 1)
    rho, z = {}, {}
    for k, (name, _) in enumerate(SHIFTS):
        s, s2, cnt = (float(sums[:, k, c].sum()) for c in range(3))
        rho[name] = s / cnt / var if cnt and var > 0 else 0.0
        z[name] = s / np.sqrt(s2) if s2 > 0 else 0.0
    return rho, z


def _test(r: np.ndarray, valid: np.ndarray, top: int):
    sums, moments, rho_diag = line_statistics(r, valid, top)
    rho, z = _pool(sums, moments)
    return rho, z, rho_diag


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
        ``rho_diagonal`` per angle ``(n_phi, n_shifts)``, up to the shift where every angle
        has fallen below 1/e; ``rho``/``z`` pooled over the angles, by shift name
        ``'t2'`` (0, 1), ``'t1'`` (1, 0), ``'diagonal'`` (1, 1), over every point (the t1/t2
        neighbours between the lag lines 2k - 1 and 2k);
        ``z = sum r_k r_l / sqrt(sum r_k^2 r_l^2)`` is about N(0, 1) for independent noise.
    """
    n = residual_grids.shape[-1]
    top = max(n // 2 if max_shift is None else min(int(max_shift), n - 1), 1)
    i, j, lengths = line_pairs(n, 0, np.arange(1, n - 1, 2))
    valid = np.asarray(masks, bool)[:, i, j]
    r = np.where(valid, np.asarray(residual_grids, np.float64)[:, i, j], 0.0)
    return _test(pad_lines(r, lengths), pad_lines(valid, lengths), top)


def _block_size(bandwidth: int, n_t: int) -> int:
    """Frames per block side for the middle term: a quarter of the bandwidth (at least 2 from
    128 frames on), at most ``n_t // 16``."""
    b = int(np.ceil(bandwidth / 4.0))
    if n_t >= 128:
        b = max(b, 2)
    return int(max(1, min(b, n_t // 16)))


# largest block-sum grid (floats: slots x angles x rows) the scored fused pass returns
_MAX_GRID = 1 << 23


def score_block(n_phi: int, n_t: int, n_v: int) -> int:
    """Frames per block side of the scored fused pass: the finest blocks (at least 2 frames
    from 128 frames on) whose ``nb (nb + 1) / 2`` upper-triangle slots keep the grid under
    :data:`_MAX_GRID` floats; the middle term merges them to about a quarter of each angle's
    bandwidth (:func:`_block_size`)."""
    nb = int(np.floor((np.sqrt(1.0 + 8.0 * _MAX_GRID / (n_phi * n_v)) - 1.0) / 2.0))
    b = -(-n_t // max(nb, 1))
    return int(max(b, 2 if n_t >= 128 else 1))


# positions per chunk of the scored pass, at most: its extra per-point sums (the self term
# and the block sums) run about 0.3 s (of ~2 s) faster at 23 x 1000 on chunks of 1024
# positions than of 4096 (the block sums' working set stays in cache)
_SCORE_CHUNK = 1024


def scored_pass(problem: FitProblem, block: int | None = None):
    """The scored fused pass of ``problem`` (:func:`.robust_passes.fused_with_scores`) with
    ``block``-frame blocks (default :func:`score_block`) and chunks of at most
    ``min(chunk_size, 1024)`` positions."""
    arrs = problem.arrs
    n_t = int(arrs.t.shape[0])
    if block is None:
        block = score_block(int(arrs.phi.shape[0]), n_t, problem.n_theta + 2)
    chunk = min(int(problem.config.chunk_size), _SCORE_CHUNK)
    return fused_with_scores(problem, block_layout(arrs.i, arrs.j, n_t, block, chunk))


def choose_bandwidth(rho_diagonal: np.ndarray, n_t: int) -> int:
    """``3 x`` the first diagonal shift with correlation below 1/e, within [3, n_t // 2]."""
    below = np.nonzero(rho_diagonal < np.exp(-1.0))[0]
    first = int(below[0]) + 1 if below.size else rho_diagonal.size + 1
    return int(np.clip(np.ceil(_BANDWIDTH_FACTOR * first), _MIN_BANDWIDTH, max(n_t // 2, 1)))


@dataclass(frozen=True)
class ResidualEvidence:
    """The residual-correlation test at the fitted vector (see :func:`residual_evidence`).

    Attributes
    ----------
    rho, z
        Residual correlation and its z statistic at the shifts (1, 0), (0, 1), (1, 1).
    rho_diagonal
        ``(n_phi, n_shifts)`` residual correlation per angle along the diagonal.
    bandwidths
        Bartlett half-width per angle chosen from ``rho_diagonal``, frames.
    correlated
        Whether max z is above :data:`Z_THRESHOLD`.
    seconds
        Wall time of the test (one residual pass and the neighbour sums).
    """

    rho: dict[str, float]
    z: dict[str, float]
    rho_diagonal: np.ndarray
    bandwidths: tuple[int, ...]
    correlated: bool
    seconds: float


def _at(problem: FitProblem, x):
    theta, s = problem.split(x)
    contrast, offset = problem.scaling.apply(np.asarray(s, np.float64))  # host: no compilation
    return jnp.asarray(problem.full_theta(theta), jnp.float64), contrast, offset


def residual_evidence(problem: FitProblem, x, *, bandwidth: int | None = None):
    """Residual-correlation test and per-angle bandwidths at ``x`` from one cheap residual
    pass (no derivatives). Call inside ``homodyne_physics.float64()``.

    Returns
    -------
    ResidualEvidence
    """
    t0 = time.perf_counter()
    n_t = problem.arrs.t.shape[0]
    r, valid = residual_lines(problem, *_at(problem, x))
    rho, z, rho_diag = _test(r, valid, max(n_t // 2, 1))
    if bandwidth is None:
        bws = tuple(choose_bandwidth(row[np.isfinite(row)], n_t) for row in rho_diag)
    else:
        bws = (max(int(bandwidth), 1),) * r.shape[0]
    return ResidualEvidence(
        rho=rho,
        z=z,
        rho_diagonal=rho_diag,
        bandwidths=bws,
        correlated=max(z.values()) > Z_THRESHOLD,
        seconds=time.perf_counter() - t0,
    )


def _middle_terms(scores: BlockScores, bws, n_t: int, merged: bool = True):
    """``M_a`` per angle ``(n_phi, n_v, n_v)`` from the block sums of the scored pass, merged
    per angle to about a quarter of its bandwidth (:func:`_block_size`) unless not
    ``merged``, and the block side each used, frames."""
    out, blocks = np.empty_like(scores.h), []
    for a, bw in enumerate(bws):
        merge = max(1, int(round(_block_size(bw, n_t) / scores.layout.block))) if merged else 1
        grid, block = scores.block_grid(a, merge)
        out[a] = _middle_term(grid, scores.d0[a], bw, block)
        blocks.append(block)
    return out, blocks


def robust_covariance(
    problem: FitProblem,
    x,
    *,
    bandwidth: int | None = None,
    block_size: int | None = None,
    evidence: ResidualEvidence | None = None,
    scores: BlockScores | None = None,
    fixed_b: bool | None = None,
) -> RobustCovariance:
    """Sandwich covariance of the fitted vector ``x`` with a 2-D Bartlett middle term.

    Call inside ``homodyne_physics.float64()``. Cost: one residual pass for the test (unless
    ``evidence`` is given), one scored fused pass (unless ``scores`` is given: the fit's last
    pass at ``x`` already returns them, see :func:`scored_pass`) and the host sums over the
    block grid.

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
        Frames per block side of the score sums; ``None`` uses ``scores`` or the
        :func:`score_block` grid, merged per angle to about a quarter of its bandwidth;
        ``1`` is the exact point-by-point Bartlett sum (a pass of its own).
    evidence
        The :func:`residual_evidence` at ``x`` when already computed.
    scores
        The :class:`.robust_passes.BlockScores` at ``x`` of the fit's last pass, if any.
    fixed_b
        Divide each angle's middle term by its fixed-b factor (:mod:`.fixed_b`); ``None``:
        ``problem.config.robust_fixed_b``. The factors are computed and reported either way.

    Returns
    -------
    RobustCovariance
    """
    if evidence is None:
        evidence = residual_evidence(problem, x, bandwidth=bandwidth)
    t0 = time.perf_counter()
    n_t = problem.arrs.t.shape[0]
    bws = evidence.bandwidths
    if scores is None or block_size is not None:
        scores = scored_pass(problem, block_size)(x)[3]
    t_pass = time.perf_counter() - t0
    # block_size given: exactly this block, no merging
    m_a, blocks = _middle_terms(scores, bws, n_t, merged=block_size is None)
    arrs = problem.arrs
    valid = np.isfinite(np.asarray(arrs.y))
    factors = fixed_b_factors(arrs.i, arrs.j, valid, n_t, bws, blocks, scores.layout.block)
    if fixed_b is None:
        fixed_b = bool(problem.config.robust_fixed_b)
    if fixed_b:
        m_a = m_a / factors[:, None, None]
    _, contrast, _ = _at(problem, x)
    h, m = (_to_fitted(problem, np.asarray(contrast), v) for v in (scores.h, m_a))
    n_points, p = problem.n_valid, h.shape[0]
    h_inv = covariance_from_normal_matrix(h, 1.0, n_points, sigma=1.0).covariance
    cov = h_inv @ m @ h_inv * (n_points / max(n_points - p, 1))
    cov = 0.5 * (cov + cov.T)
    errors = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    seconds = {"test": evidence.seconds, "sandwich": time.perf_counter() - t0}
    seconds["score_pass"] = t_pass
    return RobustCovariance(
        covariance=cov,
        errors=errors,
        bandwidth=max(bws),
        bandwidths=tuple(bws),
        rho=evidence.rho,
        z=evidence.z,
        correlated=evidence.correlated,
        rho_diagonal=evidence.rho_diagonal,
        seconds=seconds,
        fixed_b=tuple(float(f) for f in factors),
        fixed_b_applied=fixed_b,
    )


def _quiet(problem: FitProblem, unc: Uncertainty, ev: ResidualEvidence, robust, mode: str):
    """The error model when the residual test does not fire (nothing replaced)."""
    z_max = max(ev.z.values())
    reason = (
        f"residuals show no correlation between neighbouring frames (max z = {z_max:.2f} "
        f"<= {Z_THRESHOLD}): independent-noise covariance used"
    )
    info = {
        "used": "independent",
        "reason": reason,
        "bandwidth": list(ev.bandwidths),
        "z": ev.z,
        "rho": ev.rho,
        "errors_independent": dict(zip(problem.names, map(float, unc.errors), strict=True)),
        "covariance_independent": unc.covariance,
        "seconds": {"test": ev.seconds},
    }
    if robust is None:
        info["reason"] += (
            f"; the frame-correlated covariance was not computed (robust_covariance = '{mode}'"
            " computes it only when the test fires)"
        )
        return info
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = robust.errors / unc.errors
    info["ratio"] = {n: float(r) for n, r in zip(problem.names, ratio, strict=True)}
    info["fixed_b_factor"] = list(robust.fixed_b)
    info["fixed_b_applied"] = robust.fixed_b_applied
    info["middle"] = robust.middle
    if robust.middle_note:
        info["middle_note"] = robust.middle_note
    if robust.errors_bartlett is not None:
        info["pixels"] = robust.pixels
        info["pixels_given"] = robust.pixels_given
        info["errors_bartlett"] = dict(
            zip(problem.names, map(float, robust.errors_bartlett), strict=True)
        )
    info["seconds"] = robust.seconds
    return info


def _middle_words(robust: RobustCovariance) -> str:
    bartlett = (
        f"bandwidth {min(robust.bandwidths)}-{robust.bandwidth} frames, fixed-b factor "
        f"{min(robust.fixed_b):.2f}-{max(robust.fixed_b):.2f}, "
        f"{'applied' if robust.fixed_b_applied else 'not applied'}"
    )
    if robust.middle != "speckle":
        note = f"; {robust.middle_note}" if robust.middle_note else ""
        return f"2-D Bartlett sandwich, {bartlett}{note}"
    with np.errstate(invalid="ignore", divide="ignore"):
        r = robust.errors_bartlett / robust.errors
    r = r[np.isfinite(r)]
    beside = f"{np.median(r):.2f}x these errors" if r.size else "not comparable"
    return (
        f"speckle-statistics sandwich, {robust.pixels:.3g} pixels per angle "
        f"({'given' if robust.pixels_given else 'calibrated from the residuals'}); the "
        f"2-D Bartlett sum ({bartlett}) gives {beside}"
    )


def choose_error_model(
    problem: FitProblem,
    x,
    unc: Uncertainty,
    mode: str = "auto",
    scores: BlockScores | None = None,
    *,
    evidence: ResidualEvidence | None = None,
):
    """Test the residuals for frame correlation and pick the covariance.

    ``mode`` (``NLSQConfig.robust_covariance``): ``'auto'`` runs the cheap residual test
    (one pass without derivatives) and computes the sandwich only when it fires (max z above
    :data:`Z_THRESHOLD`), then uses it; ``'always'`` also computes the sandwich when the test
    is quiet (reported beside, not used); ``'never'`` does neither. ``scores``: the
    :class:`.robust_passes.BlockScores` at ``x`` from the fit's last pass (else one more pass);
    ``evidence``: the :func:`residual_evidence` the fit's last pass already ran (else the test
    runs here).

    Returns
    -------
    (unc, robust, error_model)
        ``unc`` with the chosen covariance, errors and correlation (and a note saying which),
        the :class:`RobustCovariance` (``None`` if not computed) and a JSON-safe dict:
        ``used`` (``'frame-correlated'`` or ``'independent'``), ``reason``, ``bandwidth``,
        ``z``, ``rho``, ``ratio`` (robust / independent error per name, when computed),
        ``fixed_b_factor`` (per angle, :mod:`.fixed_b`) and ``fixed_b_applied`` (whether the
        middle terms were divided by it; ``NLSQConfig.robust_fixed_b``), when computed,
        ``errors_independent``, ``covariance_independent`` and ``seconds`` (test, sandwich).
    """
    if mode not in ERROR_MODES:
        raise ValueError(f"robust_covariance: expected one of {ERROR_MODES}, got {mode!r}")
    if mode == "never":
        return unc, None, {"used": "independent", "reason": "robust_covariance = 'never'"}
    try:
        with float64():
            ev = residual_evidence(problem, x) if evidence is None else evidence
            robust = None
            if ev.correlated or mode == "always":
                robust = robust_covariance(problem, x, evidence=ev, scores=scores)
            if ev.correlated:  # a model of correlated noise: only for correlated residuals
                robust = with_speckle_middle(problem, x, robust)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError, MemoryError) as exc:
        reason = f"the frame-correlated covariance could not be computed ({exc})"
        return unc, None, {"used": "independent", "reason": reason}
    info = _quiet(problem, unc, ev, robust, mode)
    if not ev.correlated:
        return unc, robust, info
    ratio = np.array(list(info["ratio"].values()))
    z_max = max(robust.z.values())
    finite = ratio[np.isfinite(ratio)]
    typical = f"{np.median(finite):.1f}x" if finite.size else "not comparable to"
    reason = (
        f"residuals are correlated between neighbouring frames (rho = "
        f"{robust.rho['diagonal']:.2f} along the diagonal, max z = {z_max:.1f} > "
        f"{Z_THRESHOLD}): frame-correlated ({_middle_words(robust)}) covariance used; it is "
        f"{typical} the independent-noise errors (median over the fitted entries)"
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
    return unc, robust, {**info, "used": "frame-correlated", "reason": reason}
