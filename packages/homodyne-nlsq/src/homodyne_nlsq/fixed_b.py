"""Fixed-b correction of the Bartlett middle term of the sandwich (:mod:`.robust_covariance`).

The scores are evaluated at the fitted vector, where they sum to zero. A kernel (HAC) estimate
of their long-run covariance then misses the part of it that the fit has absorbed, and this
part does not vanish when the bandwidth is a fixed share of the sample: Kiefer & Vogelsang
(2005, "A new asymptotic theory for heteroskedasticity-autocorrelation robust tests",
Econometric Theory 21, 1130-1164) show that a 1-D Bartlett estimate of bandwidth ``b n``
over ``n`` demeaned scores has expectation ``Omega (1 - b + b^2/3)`` to first order
(``b <= 1``). The same argument in any dimension: for scores ``v_k = e_k - mean(e)`` over a
set of ``N`` points and kernel weights ``K_kl``,
``E[sum_kl K_kl v_k v_l] / N = Omega (1 - sum_kl K_kl / N^2)`` up to the usual truncation
bias; in 1-D ``sum K / n^2 -> b - b^2/3``.

Each angle's middle term is a 2-D Bartlett sum over its own (t1 < t2) points (the angles'
scores are independent, :mod:`.robust_covariance`), with its own bandwidth, so the factor
``f_a = 1 - sum_{k,l} K_kl / N_a^2`` is computed per angle over that angle's valid points
(on the same blocks, with the same block-averaged kernel, as its middle term) and the angle's
term is divided by it before the angles are summed. It is not the per-axis product
``(1 - b + b^2/3)^2``: that holds only when the fit removes a mean from every row and every
column of the grid, while here each score direction loses one (weighted) sum over the angle
(Monte Carlo as in ``tests/nlsq/test_fixed_b.py``: on a full square with one mean removed, bandwidth
half the side, 0.79 +- 0.01 against ``1 - sum K/N^2`` = 0.83 minus 0.02 truncation bias, and
``(1 - b + b^2/3)^2`` = 0.34).

For a fit with several parameters the exact white-noise expectation depends on the design
(``J^T (K o P) J``, ``P`` the hat matrix): for the static model of the tests (3 angles x 80
frames, five fitted parameters) it is 0.82-0.85 of the truth per parameter at bandwidth 40
(``f`` = 0.73 on the triangle), 0.89-0.91 at 20 (``f`` = 0.91), 0.96-0.97 at 8 (``f`` =
0.98). The factor is exact for a location model (one mean per angle); this fit absorbs less,
and the factor over-corrects it by up to about 8 % in sd at the cap ``n_t / 2``.

Therefore it is reported (``error_model['fixed_b_factor']``) but applied only with
``NLSQConfig.robust_fixed_b``. Measured on the speckle coverage sets
(``tests/nlsq/test_speckle_coverage.py``, 2026-12-04): static, 40 seeds, most slow bins at
the cap (factors 0.73-0.96): rms corrected pull at D(3, 10, 25 s) 1.08/0.95/0.97 without,
0.94/0.83/0.85 with it (95 % coverage of D(10 s) 39 -> 40 of 40, above the 99 % band);
laminar, 20 seeds, bandwidths 6-42 of 100 frames (factors 0.79-0.99): rms pulls 1.18-2.35
without, 1.13-2.25 with it, so the fixed-b bias does not explain the laminar intervals being
too narrow. The per-axis product ``(1 - b + b^2/3)^2`` would inflate the variance 2.4x at the
cap on independent noise.
"""

import numpy as np

from .robust_passes import _middle_term

__all__ = ["angle_counts", "fixed_b_factor", "fixed_b_factors"]


def angle_counts(i, j, valid: np.ndarray, n_t: int, block: int) -> np.ndarray:
    """Valid points per ``block x block`` frame block ``(nb, nb)`` of one angle's pairs
    ``(i, j)`` (``valid`` per pair)."""
    b = max(int(block), 1)
    nb = -(-int(n_t) // b)
    keep = np.asarray(valid, bool)
    key = (np.asarray(i, np.int64)[keep] // b) * nb + np.asarray(j, np.int64)[keep] // b
    return np.bincount(key, minlength=nb * nb).reshape(nb, nb).astype(np.float64)


def fixed_b_factor(counts: np.ndarray, bandwidth: int, block: int) -> float:
    """``1 - sum_{k,l} K_kl / N^2`` over the valid points of one angle (``counts`` per block,
    :func:`angle_counts`), with the 2-D Bartlett kernel of half-width ``bandwidth`` frames
    averaged over ``block``-frame blocks exactly as the middle term does (the middle term of
    scores that are all 1). 1 for ``bandwidth = 1``; ``1 - b + b^2/3`` for one row of ``n``
    points and ``b = bandwidth / n``; in ``(0, 1]``."""
    n = float(counts.sum())
    if n <= 0.0 or int(bandwidth) <= 1:
        return 1.0
    total = _middle_term(counts[None], np.array([[n]]), int(bandwidth), int(block))[0, 0]
    return float(np.clip(1.0 - total / (n * n), np.finfo(float).eps, 1.0))


def _coarsen(counts: np.ndarray, f: int) -> np.ndarray:
    """Sums over ``f x f`` cells (zero padded to a multiple of ``f``)."""
    if f <= 1:
        return counts
    nb = -(-counts.shape[0] // f) * f
    full = np.zeros((nb, nb))
    full[: counts.shape[0], : counts.shape[1]] = counts
    return full.reshape(nb // f, f, nb // f, f).sum(axis=(1, 3))


def fixed_b_factors(i, j, valid: np.ndarray, n_t: int, bandwidths, blocks, fine: int = 1):
    """:func:`fixed_b_factor` per angle over its valid pairs (``valid`` ``(n_phi, n_pairs)``),
    with its bandwidth and the block side of its middle term (each a multiple of ``fine``:
    the counts are taken once on ``fine``-frame blocks, per angle only when the angles'
    valid pairs differ, and summed up to each block side)."""
    i, j, valid = np.asarray(i), np.asarray(j), np.asarray(valid, bool)
    fine = max(int(fine), 1)
    shared = angle_counts(i, j, valid[0], n_t, fine) if valid.all() else None
    out = []
    for a, (bw, block) in enumerate(zip(bandwidths, blocks, strict=True)):
        counts = shared if shared is not None else angle_counts(i, j, valid[a], n_t, fine)
        out.append(fixed_b_factor(_coarsen(counts, int(block) // fine), bw, block))
    return np.asarray(out)
