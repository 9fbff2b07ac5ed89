"""Fixed-b correction of the Bartlett middle term (homodyne_nlsq.fixed_b), checked by Monte
Carlo on series and fields of known long-run variance, and on the design of a real fit."""

import numpy as np
import pytest

from homodyne_nlsq.fixed_b import angle_counts, fixed_b_factor
from homodyne_nlsq.robust_covariance import _triangle_1d, bartlett_filter

THETA = 0.5  # MA(1) coefficient: long-run variance (1 + THETA)^2 per axis, unit innovations


def _ma1(z: np.ndarray, axis: int) -> np.ndarray:
    z = np.moveaxis(z, axis, -1)
    return np.moveaxis(z[..., 1:] + THETA * z[..., :-1], -1, axis)


def _bartlett(v: np.ndarray, bw: int) -> np.ndarray:
    """``sum_kl w(k - l) v_k v_l / N`` per replicate (first axis) over the last two axes."""
    return (v * bartlett_filter(v, bw)).sum(axis=(1, 2)) / (v.shape[1] * v.shape[2])


def _kv(b: float) -> float:
    return 1.0 - b + b * b / 3.0


def test_factor_is_kiefer_vogelsang_in_1d_and_one_for_bandwidth_one():
    n = 400
    row = np.ones((1, n))
    for bw in (20, 100, 200, 400):
        assert fixed_b_factor(row, bw, 1) == pytest.approx(_kv(bw / n), abs=2.0 / n)
    assert fixed_b_factor(row, 1, 1) == 1.0
    # block-averaged kernel on 4-frame blocks: the same sum, to the block approximation
    assert fixed_b_factor(np.full((1, n // 4), 4.0), 100, 4) == pytest.approx(_kv(0.25), abs=0.01)


def test_1d_ma1_mean_is_unbiased_after_correction():
    """Demeaned MA(1) series, 400 points: the Bartlett estimate at bandwidth 100 / 200 is low
    by the fixed-b share; divided by the factor its mean is the long-run variance within MC
    error (the truncation bias 2 theta / (M (1 + theta)^2) is 0.2-0.4 %)."""
    rng = np.random.default_rng(11)
    n, reps = 400, 4000
    x = _ma1(rng.standard_normal((reps, n + 1)), 1)
    v = x - x.mean(axis=1, keepdims=True)
    for bw in (100, 200):
        est = (v * _triangle_1d(v, bw, 1)).sum(axis=1) / n / (1.0 + THETA) ** 2
        se = est.std() / np.sqrt(reps)
        f = fixed_b_factor(np.ones((1, n)), bw, 1)
        assert est.mean() < 1.0 - 0.15  # uncorrected: 23 % / 42 % low
        assert abs(est.mean() / f - 1.0) < 3.0 * se / f + 2.0 * THETA / (bw * (1 + THETA) ** 2)


@pytest.mark.parametrize("shape", ["square", "triangle"])
def test_2d_field_with_one_mean_removed_needs_the_2d_factor_not_the_product(shape):
    """A 2-D field with separable MA(1) x MA(1) correlation, one mean removed over the grid or
    the upper triangle (the offset's score), bandwidth half the side: corrected by
    ``1 - sum K / N^2`` the mean is the long-run variance (minus the known truncation bias
    of about 2 %); the per-axis product ``(1 - b + b^2/3)^2`` would double it."""
    rng = np.random.default_rng(12)
    n, reps, bw = 80, 1200, 40
    z = _ma1(_ma1(rng.standard_normal((reps, n + 1, n + 1)), 1), 2)
    mask = np.ones((n, n), bool) if shape == "square" else np.triu(np.ones((n, n), bool), 1)
    n_pts = mask.sum()
    v = np.where(mask, z - (z * mask).sum(axis=(1, 2), keepdims=True) / n_pts, 0.0)
    est = _bartlett(v, bw) * (n * n / n_pts) / (1.0 + THETA) ** 4
    se = est.std() / np.sqrt(reps)
    i, j = np.nonzero(mask)
    f = fixed_b_factor(angle_counts(i, j, np.ones(i.size, bool), n, 1), bw, 1)
    trunc = (1.0 - 2.0 * THETA / (bw * (1 + THETA) ** 2)) ** 2  # Bartlett truncation, per axis
    assert est.mean() < 0.85 * trunc  # uncorrected: 17 % (square) / 27 % (triangle) low
    assert abs(est.mean() / f - trunc) < 3.0 * se / f + 0.01
    assert est.mean() / _kv(bw / n) ** 2 > 2.0 * trunc


def test_2d_white_noise_block_averaged_factor():
    """White field on the triangle, one mean removed: the factor on 4-frame blocks (as the
    middle term uses them) makes the mean unbiased at bandwidth 20 and 40."""
    rng = np.random.default_rng(13)
    n, reps = 80, 1500
    mask = np.triu(np.ones((n, n), bool), 1)
    n_pts = mask.sum()
    z = rng.standard_normal((reps, n, n))
    v = np.where(mask, z - (z * mask).sum(axis=(1, 2), keepdims=True) / n_pts, 0.0)
    i, j = np.nonzero(mask)
    for bw in (20, 40):
        est = _bartlett(v, bw) * (n * n / n_pts)
        se = est.std() / np.sqrt(reps)
        f = fixed_b_factor(angle_counts(i, j, np.ones(i.size, bool), n, 4), bw, 4)
        assert est.mean() < 1.0 - 0.08
        assert abs(est.mean() / f - 1.0) < 3.0 * se / f + 0.01


def test_static_fit_design_white_noise_corrected_errors_stay_within_15_percent():
    """Exact white-noise expectation of the sandwich for the static model of the tests (3
    angles x 80 frames; D0, alpha, D_offset, one contrast, one offset): ``E[M] = sum_a
    J_a^T (I - K o P_a) J_a`` with ``P`` the hat matrix. At the cap (bandwidth 40 = n_t / 2)
    the uncorrected variance is 15-18 % low; divided by the factor (0.73 on the triangle) it
    is 12-16 % high (sd within 8 %), where ``(1 - b + b^2/3)^2`` would make it 2.4x."""
    import homodyne_physics as hp

    from .conftest import STATIC_TRUTH

    n_t, phi = 80, np.array([0.0, 45.0, 90.0])
    model = hp.C2Model("static", q=0.0054, dt=0.1, convention="physical")
    th0 = np.array([STATIC_TRUTH[n] for n in model.parameter_names])
    t = np.arange(1, n_t + 1) * 0.1
    iu = np.triu_indices(n_t, 1)

    def c2(th, c, o):
        with hp.float64():
            full = hp.c2_matrix(model, th, np.full(3, c), np.full(3, o), t, phi)
        return np.asarray(full)[:, iu[0], iu[1]]

    base, cols = c2(th0, 0.3, 1.0), []
    for k in range(3):
        th = th0.copy()
        th[k] += 1e-6 * abs(th0[k])
        cols.append((c2(th, 0.3, 1.0) - base) / (1e-6 * abs(th0[k])))
    cols += [(c2(th0, 0.3 + 1e-7, 1.0) - base) / 1e-7, (c2(th0, 0.3, 1.0 + 1e-7) - base) / 1e-7]
    jac = np.stack(cols, axis=-1)  # (angle, point, parameter)
    h_inv = np.linalg.inv(np.einsum("anp,anq->pq", jac, jac))
    bw = 40
    tri = np.clip(1.0 - np.abs(np.subtract.outer(iu[0], iu[0])) / bw, 0, None)
    kern = tri * np.clip(1.0 - np.abs(np.subtract.outer(iu[1], iu[1])) / bw, 0, None)
    m = sum(ja.T @ ja - ja.T @ (kern * (ja @ h_inv @ ja.T)) @ ja for ja in jac)
    ratio = np.diag(h_inv @ m @ h_inv) / np.diag(h_inv)  # E[robust var] / true var
    f = fixed_b_factor(angle_counts(iu[0], iu[1], np.ones(iu[0].size, bool), n_t, 1), bw, 1)
    assert f == pytest.approx(0.73, abs=0.01)
    assert np.all((ratio > 0.80) & (ratio < 0.87)), ratio
    assert np.all(np.abs(np.sqrt(ratio / f) - 1.0) < 0.08), ratio / f
    assert np.all(ratio / _kv(bw / n_t) ** 2 > 2.2), ratio
