"""Age-dependent contrast and offset (``contrast_age_order``/``offset_age_order``).

The acceptance case of the contrast drift: data whose contrast rises linearly by 30 % over the
run trigger the residual-structure warning with a constant contrast, which suggests
``contrast_age_order: 1``; with it the bias of D(t) at three ages falls below 5 % and the
warning clears. The streamed normal equations of the age path are checked against finite
differences of its cost and against the constant path.
"""

import importlib.util

import numpy as np
import pytest

import homodyne_physics as hp
from homodyne_nlsq import NLSQConfig, NLSQConfigError, fit_nlsq, goodness_of_fit
from homodyne_nlsq.age_scaling import age_accumulate, age_cost
from homodyne_nlsq.normal_equations import ProblemArrays, accumulate
from homodyne_physics import ModelSpec, make_scaling

from .conftest import LAMINAR_TRUTH, STATIC_TRUTH, make_data
from .test_transport_quality import drift_data, true_d

DRIFT_AGES = np.array([1.0, 3.0, 5.5])


def _arrays(data):
    i, j = data.pairs(1)
    return ProblemArrays.create(data.flat(1), data.t, data.phi, i, j), i, j


def test_age_normal_equations_match_finite_differences_and_the_constant_path():
    data = make_data("laminar_flow", LAMINAR_TRUTH, [0.0, 60.0], n_t=30, seed=2)
    model = hp.C2Model("laminar_flow", q=data.q, dt=data.dt)
    arrs, i, j = _arrays(data)
    ages = 0.5 * (data.t[i] + data.t[j])
    sm = make_scaling("individual", data.phi, contrast_age_order=1, offset_age_order=2,
                      age_range=(ages.min(), ages.max()))  # fmt: skip
    theta = np.array([LAMINAR_TRUTH[n] for n in model.parameter_names]) * 1.02
    s = sm.fit_vector([[0.31, 0.02], [0.28, -0.01]], [[1.0, 0.001, 0.0], [1.01, 0.0, 0.002]])
    with hp.float64():
        cost, jtj, jtr = age_accumulate(model, theta, s, sm, arrs, chunk=97)
        x = np.concatenate([theta, s])
        p = model.n_params

        def f(v):
            return float(age_cost(model, v[:p], v[p:], sm, arrs, chunk=97))

        assert float(cost) == pytest.approx(f(x), rel=1e-12)
        grad = np.empty(x.size)
        for k in range(x.size):
            h = 1e-6 * max(abs(x[k]), 1e-3)
            up, dn = x.copy(), x.copy()
            up[k] += h
            dn[k] -= h
            grad[k] = (f(up) - f(dn)) / (2 * h)
        tol = 1e-6 * abs(grad).max()
        np.testing.assert_allclose(-2.0 * np.asarray(jtr), grad, rtol=2e-5, atol=tol)
        # slopes at 0: the same cost and normal equations as the constant scaling
        flat = make_scaling("individual", data.phi)
        s0 = flat.fit_vector([0.31, 0.28], [1.0, 1.01])
        c1, a1, g1 = accumulate(model, theta, s0, flat, arrs, chunk=97)
        c2, a2, g2 = age_accumulate(model, theta, sm.fit_vector([0.31, 0.28], [1.0, 1.01]), sm,
                                    arrs, chunk=97)  # fmt: skip
    keep = np.r_[np.arange(p), p + np.array([0, 1]), p + np.array([4, 5])]  # order-0 rows
    assert float(c2) == pytest.approx(float(c1), rel=1e-12)
    np.testing.assert_allclose(np.asarray(a2)[np.ix_(keep, keep)], a1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(g2)[keep], g1, rtol=1e-10, atol=1e-14)


def test_contrast_drift_warning_suggests_the_age_order_and_clears_with_it():
    """Contrast 0.3 rising by 30 % over the run, noise 0.01 (100 frames, one angle)."""
    data = drift_data(seed=0, drift=0.3)
    truth = true_d(STATIC_TRUTH, DRIFT_AGES)
    flat = fit_nlsq(data, ModelSpec.create("static"))
    warn = goodness_of_fit(flat, data).structure.warning
    assert warn and "contrast drifts with age" in warn and "contrast_age_order: 1" in warn
    bias_flat = flat.transport(DRIFT_AGES).D / truth - 1
    assert np.max(np.abs(bias_flat)) > 0.2  # the drift biases D(t) by tens of percent
    res = fit_nlsq(data, ModelSpec.create("static"), NLSQConfig(contrast_age_order=1))
    assert res.converged and res.age_dependent
    bias = res.transport(DRIFT_AGES).D / truth - 1
    print("bias of D at", DRIFT_AGES, "constant:", bias_flat, "age order 1:", bias)
    assert np.all(np.abs(bias) < 0.05), bias
    good = goodness_of_fit(res, data)
    assert good.structure.ok, good.structure.warning
    # the coefficients: contrast 0.3 (1 + 0.3 a), a in [0, 1] -> mean 0.345, slope 0.045
    coef = res.age_coefficients()
    assert coef["contrast"][0][0] == pytest.approx(0.345, rel=0.03)
    assert coef["contrast"][0][1] == pytest.approx(0.045, rel=0.1)
    d = res.to_dict()
    assert d["age_scaling"]["contrast_age_order"] == 1 and "contrast_age1[0]" in d["scaling"]
    fitted = res.fitted_c2(data)
    i, j = data.pairs(1)
    resid = np.asarray(data.c2)[0, i, j] - fitted[0, i, j]
    assert np.std(resid) == pytest.approx(0.01, rel=0.05)


def test_age_orders_in_the_config_and_its_schema():
    cfg = NLSQConfig.from_dict({"contrast_age_order": 1, "offset_age_order": 2})
    assert (cfg.contrast_age_order, cfg.offset_age_order) == (1, 2)
    assert NLSQConfig().contrast_age_order == 0
    with pytest.raises(NLSQConfigError, match="optimization.nlsq.contrast_age_order"):
        NLSQConfig.from_dict({"contrast_age_order": 4})
    with pytest.raises(NLSQConfigError, match="nlsq: contrast_age_order > 0 needs a"):
        NLSQConfig.from_dict({"contrast_age_order": 1, "scaling_mode": "constant"})
    from pydantic import TypeAdapter

    props = TypeAdapter(NLSQConfig).json_schema()["properties"]
    assert props["contrast_age_order"]["maximum"] == 3 and "offset_age_order" in props


@pytest.mark.slow
def test_age_order_one_removes_the_drift_bias_over_seeds_at_low_contrast():
    """Realistic low contrast (0.1, noise 0.02): the mean D(t) bias over 10 seeds is < 5 % with
    contrast_age_order: 1 (single fits scatter by about 8 %)."""
    truth = true_d(STATIC_TRUTH, DRIFT_AGES)
    ratios, flagged = [], 0
    for seed in range(10):
        data = drift_data(seed=200 + seed, drift=0.3, contrast=0.1, noise=0.02)
        res = fit_nlsq(data, ModelSpec.create("static"), NLSQConfig(contrast_age_order=1))
        ratios.append(res.transport(DRIFT_AGES).D / truth)
        flagged += not goodness_of_fit(res, data).structure.ok
    bias = np.mean(ratios, axis=0) - 1
    print(f"mean bias with contrast_age_order 1: {bias}; structure warnings {flagged} of 10")
    assert np.all(np.abs(bias) < 0.05), bias
    assert flagged <= 1


def test_the_drift_hint_asks_for_the_next_order_when_one_is_fitted():
    from types import SimpleNamespace

    from homodyne_nlsq.goodness import _hint_orders, residual_structure

    t = np.arange(1, 81) * 0.1
    g = np.exp(-np.abs(np.subtract.outer(t, t)) / 0.8)[None]
    a = (0.5 * np.add.outer(t, t) - t[0]) / (t[-1] - t[0])
    noise = np.triu(np.random.default_rng(0).normal(0, 0.01, g.shape), 1)
    data = 1.0 + 0.2 * (1.0 + 0.3 * a**2) * g + noise + np.swapaxes(noise, 1, 2)
    s = residual_structure(t, data, 1.0 + 0.2 * g, contrast=0.2, offset=1.0)
    assert "set contrast_age_order: 1" in s.warning
    fitted = SimpleNamespace(ages=True, contrast_age_order=1, offset_age_order=0)
    assert "raise contrast_age_order above 1" in _hint_orders(s, fitted).warning


@pytest.mark.skipif(
    importlib.util.find_spec("nlsq") is None,
    reason="the optional nlsq library is not installed (pip install 'homodyne-nlsq[nlsq]')",
)
@pytest.mark.slow  # about 30 s of CPU (two fits, one through the library's dense Jacobian)
def test_nlsq_library_backend_with_age_orders_agrees_with_the_default_solver():
    """``solver: nlsq`` with ``contrast_age_order: 1``: the same optimum and errors as ``lm``."""
    data = drift_data(seed=1, drift=0.3)
    cfg = {"contrast_age_order": 1, "offset_age_order": 1}
    ours = fit_nlsq(data, ModelSpec.create("static"), NLSQConfig(**cfg))
    theirs = fit_nlsq(data, ModelSpec.create("static"), NLSQConfig(**cfg, solver="nlsq"))
    assert theirs.solver == "nlsq" and theirs.age_dependent
    for name in ours.parameter_names:
        assert abs(theirs.values[name] - ours.values[name]) < 0.05 * ours.errors[name], name
        assert theirs.errors[name] == pytest.approx(ours.errors[name], rel=1e-2), name
    assert theirs.cost == pytest.approx(ours.cost, rel=1e-6)
    np.testing.assert_allclose(theirs.age_coefficients()["contrast"],
                               ours.age_coefficients()["contrast"], rtol=1e-3)  # fmt: skip
