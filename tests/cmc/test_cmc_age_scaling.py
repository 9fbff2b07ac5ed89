"""CMC with an age-dependent contrast: the per-point likelihood and a small end-to-end run."""

import warnings

import jax
import numpy as np
import pytest

import homodyne_physics as hp
from homodyne_cmc.age_likelihood import age_coefficients, age_gaussian_loglik
from homodyne_physics import ModelSpec, Prior, make_scaling

TRUTH = {"D0": 1.2e4, "alpha": -0.6, "D_offset": 300.0}


def test_age_loglik_is_the_gaussian_loglik_with_per_point_scaling():
    model = hp.C2Model("laminar_flow", q=0.0054, dt=0.1)
    theta = np.array([8000.0, -0.6, 400.0, 2e-3, -0.5, 2e-4, 3.0])
    t = np.arange(1, 31) * 0.1
    phi = np.array([0.0, 60.0])
    i, j = np.triu_indices(30, 1)
    rng = np.random.default_rng(1)
    y = 1.0 + 0.3 * rng.uniform(size=(2, i.size))
    w = (rng.uniform(size=y.shape) > 0.1).astype(float)
    age = 0.5 * (t[i] + t[j])
    sm = make_scaling("individual", phi, contrast_age_order=2, offset_age_order=1,
                      age_range=(age.min(), age.max()))  # fmt: skip
    s = sm.fit_vector([[0.3, 0.02, -0.01], [0.25, 0.0, 0.01]], [[1.0, 0.002], [0.99, 0.0]])
    orders = (2, 1)
    with hp.float64():
        c, o = sm.at_age(s, age)
        g = np.asarray(hp.c2_matrix(model, theta, [1.0, 1.0], [0.0, 0.0], t, phi))[:, i, j]
        want = -0.5 * np.sum((w * (y - o - c * g)) ** 2) / 0.02**2 - w.sum() * np.log(0.02)
        design = (sm.design_contrast, sm.design_offset, sm.fixed_contrast, sm.fixed_offset)

        def f(theta, s):
            cc, oo = age_coefficients(s, *design, orders)
            rng_ = np.array(sm.age_range)
            return age_gaussian_loglik(model, theta, cc, oo, rng_, 0.02, t, phi, i, j, y, w,
                                       chunk=37)  # fmt: skip

        got = float(f(theta, s))
        assert got == pytest.approx(want, rel=1e-10)
        gs = np.asarray(jax.grad(f, argnums=1)(theta, s))
        h = 1e-6
        fd = [(float(f(theta, s + h * e)) - float(f(theta, s - h * e))) / (2 * h)
              for e in np.eye(s.size)]  # fmt: skip
    np.testing.assert_allclose(gs, fd, rtol=1e-5, atol=1e-3)


def _drift_data(seed, drift, n_t):
    """Static single-angle data, contrast 0.3 rising by ``drift`` (relative) over the run."""
    from homodyne_data import XPCSData

    model = hp.C2Model("static", q=0.0054, dt=0.1)
    frames = np.arange(1, n_t + 1)
    t = frames * 0.1
    with hp.float64():
        g = np.asarray(hp.c2_matrix(model, list(TRUTH.values()), 1.0, 0.0, t, np.array([0.0])))
    a = (0.5 * (t[:, None] + t[None, :]) - t[0]) / (t[-1] - t[0])
    upper = np.triu(np.random.default_rng(seed).standard_normal(g.shape), 1) * 0.01
    c2 = 1.0 + 0.3 * (1.0 + drift * a) * g + upper + np.swapaxes(upper, 1, 2)
    return XPCSData(c2, np.array([0.0]), 0.0054, 0.1, frames)


@pytest.mark.slow
def test_cmc_samples_the_age_coefficients_and_recovers_d_under_a_contrast_drift():
    from homodyne_cmc import CMCConfig, fit_cmc
    from homodyne_nlsq import NLSQConfig, fit_nlsq

    data = _drift_data(seed=0, drift=0.3, n_t=50)
    priors = {
        "D0": Prior("TruncatedNormal", 1e4, 1e5, 100.0, 1e5),
        "D_offset": Prior("TruncatedNormal", 0.0, 1e4, -1e5, 1e5),
    }
    nlsq = fit_nlsq(data, ModelSpec.create("static", priors=priors),
                    NLSQConfig(contrast_age_order=1))  # fmt: skip
    cfg = CMCConfig(num_shards=1, num_warmup=200, num_samples=300, num_chains=2,
                    backend="sequential", seed=1)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_cmc(data, nlsq, cfg)
    assert "contrast_age1[0]" in res.names
    slope = res.draws[..., res.names.index("contrast_age1[0]")]
    assert np.mean(slope) == pytest.approx(0.3 * 0.3 / 2, rel=0.15)  # 0.045
    ages = np.array([1.0, 3.0, 4.5])
    tc = res.transport(ages)
    truth = TRUTH["D0"] * ages ** TRUTH["alpha"] + TRUTH["D_offset"]
    assert np.all((tc.D_lo95 <= truth) & (truth <= tc.D_hi95)), (tc.D, truth)
    assert np.all(np.abs(tc.D / truth - 1) < 0.05)
    assert res.fitted_c2(data).shape == (1, 50, 50)
