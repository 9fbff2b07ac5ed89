"""Frame-correlated (sandwich) covariance and the residual-correlation test."""

import numpy as np
import pytest

import homodyne_data as hd
from homodyne_nlsq import NLSQConfig, fit_nlsq
from homodyne_nlsq.robust_covariance import (
    bartlett_filter,
    choose_bandwidth,
    residual_correlation_test,
)
from homodyne_physics import ModelSpec

from .conftest import STATIC_TRUTH, make_data


def test_bartlett_filter_equals_the_explicit_kernel_sum():
    rng = np.random.default_rng(0)
    grid = rng.standard_normal((2, 17, 13))
    for b in (1, 2, 5, 20):
        tri = [
            np.clip(1 - np.abs(np.subtract.outer(np.arange(n), np.arange(n))) / b, 0, None)
            for n in (17, 13)
        ]
        want = np.einsum("ik,akl,jl->aij", tri[0], grid, tri[1])  # sum_kl w(k-i) w(l-j) g_kl
        np.testing.assert_allclose(bartlett_filter(grid, b), want, atol=1e-12)


def test_bandwidth_follows_the_residual_correlation():
    assert choose_bandwidth(np.array([0.1, 0.0]), 300) == 3
    rho = np.exp(-np.arange(1, 40) / 10.0)  # falls below 1/e at shift 11
    assert choose_bandwidth(rho, 300) == 33
    assert choose_bandwidth(rho, 40) == 20  # at most half the frames


@pytest.mark.parametrize("fixed_b", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_independent_noise_robust_agrees_with_naive_and_test_is_quiet(seed, fixed_b):
    data = make_data("static", STATIC_TRUTH, [0.0, 45.0, 90.0], n_t=80, seed=seed)
    always = NLSQConfig(robust_covariance="always", robust_fixed_b=fixed_b)
    res = fit_nlsq(data, ModelSpec.create("static", initial=STATIC_TRUTH), always)
    em = res.error_model
    assert em["used"] == "independent", em["reason"]
    assert em["fixed_b_applied"] is fixed_b
    # short bandwidths (3 frames of 80): the factor is close to 1
    assert len(em["fixed_b_factor"]) == 3 and min(em["fixed_b_factor"]) > 0.99
    assert max(em["z"].values()) < 3.5
    for name in res.parameter_names:
        assert em["ratio"][name] == pytest.approx(1.0, abs=0.15), (name, em["ratio"])
        assert res.errors[name] == em["errors_independent"][name]
    assert res.errors_robust.keys() == set(res.names)
    d = res.to_dict()
    assert d["error_model"]["used"] == "independent"
    assert np.asarray(d["covariance_robust"]).shape == res.covariance.shape


def test_speckle_data_use_the_frame_correlated_covariance(monkeypatch):
    calls = _count_scored_passes(monkeypatch)
    truth = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 2000.0}
    sim = hd.simulate_speckle("static", truth, phi=[0.0, 90.0], n_frames=60, n_pixels=100)
    res = fit_nlsq(sim.data, ModelSpec.create("static", initial=truth))
    assert calls["scored"] >= 1  # correlated residuals: the last pass returned the scores
    em = res.error_model
    assert em["used"] == "frame-correlated", em["reason"]
    assert em["rho"]["diagonal"] > 0.3
    assert min(em["bandwidth"]) >= 3 and len(em["bandwidth"]) == 2
    # the sandwich is substantially wider than the independent-noise errors
    for name in res.parameter_names:
        assert em["ratio"][name] > 3.0, em["ratio"]
        assert res.errors[name] == pytest.approx(res.errors_robust[name])
    assert any("frame-correlated" in w for w in res.warnings)


def test_fixed_b_option_divides_the_middle_term_by_the_reported_factor():
    """One angle: the sandwich with ``robust_fixed_b`` is the one without divided by the
    angle's factor, which ``error_model`` reports (and the reason names)."""
    truth = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 2000.0}
    sim = hd.simulate_speckle("static", truth, phi=[0.0], n_frames=60, n_pixels=100, seed=3)
    spec = ModelSpec.create("static", initial=truth)
    off = fit_nlsq(sim.data, spec, NLSQConfig(robust_middle="bartlett"))
    on = fit_nlsq(sim.data, spec, NLSQConfig(robust_middle="bartlett", robust_fixed_b=True))
    assert off.error_model["used"] == on.error_model["used"] == "frame-correlated"
    assert off.error_model["fixed_b_applied"] is False and on.error_model["fixed_b_applied"]
    (f,) = on.error_model["fixed_b_factor"]
    assert off.error_model["fixed_b_factor"] == [f]
    bw = on.error_model["bandwidth"][0]
    i, j = np.triu_indices(60, 1)  # the (t1 < t2) pairs: 1 - sum K / N^2 point by point
    tri_i, tri_j = (np.clip(1 - np.abs(np.subtract.outer(k, k)) / bw, 0, None) for k in (i, j))
    kern = tri_i * tri_j
    assert f == pytest.approx(1.0 - kern.sum() / i.size**2, abs=0.01)
    np.testing.assert_allclose(on.covariance_robust, off.covariance_robust / f, rtol=1e-10)
    assert "not applied" in off.error_model["reason"] and "applied)" in on.error_model["reason"]


@pytest.mark.slow
def test_false_alarm_rate_under_5_percent_over_40_seeds():
    fired, worst = 0, 0.0
    for seed in range(40):
        data = make_data("static", STATIC_TRUTH, [0.0, 45.0, 90.0], n_t=80, seed=1000 + seed)
        spec = ModelSpec.create("static", initial=STATIC_TRUTH)
        em = fit_nlsq(data, spec, NLSQConfig(robust_covariance="always")).error_model
        fired += em["used"] != "independent"
        worst = max(worst, max(abs(r - 1.0) for r in em["ratio"].values()))
    print(f"\nresidual test fired in {fired} of 40 seeds; worst |ratio - 1| = {worst:.3f}")
    assert fired < 2, f"{fired} of 40 independent-noise fits flagged correlated residuals"
    assert worst < 0.15


def _count_scored_passes(monkeypatch):
    import importlib

    api = importlib.import_module("homodyne_nlsq.api")
    calls = {"scored": 0}
    inner = api.scored_pass

    def counting(problem):
        run = inner(problem)

        def counted(x):
            calls["scored"] += 1
            return run(x)

        return counted

    monkeypatch.setattr(api, "scored_pass", counting)
    return calls


def test_auto_mode_skips_the_sandwich_when_the_test_is_quiet(monkeypatch):
    import importlib

    rc = importlib.import_module("homodyne_nlsq.robust_covariance")
    calls = _count_scored_passes(monkeypatch)
    inner_test = rc.residual_evidence

    def counting_test(*args, **kw):
        calls["error_model_tests"] = calls.get("error_model_tests", 0) + 1
        return inner_test(*args, **kw)

    monkeypatch.setattr(rc, "residual_evidence", counting_test)
    data = make_data("static", STATIC_TRUTH, [0.0, 45.0, 90.0], n_t=80, seed=0)
    res = fit_nlsq(data, ModelSpec.create("static", initial=STATIC_TRUTH))
    # the likely-last passes tested the residuals first and paid for no scores, and the error
    # model reused the last pass's test instead of running its own
    assert calls["scored"] == 0
    assert calls.get("error_model_tests", 0) == 0
    em = res.error_model
    assert em["used"] == "independent"
    assert "not computed" in em["reason"] and "ratio" not in em
    assert res.covariance_robust is None and res.errors_robust is None
    assert set(em["seconds"]) == {"test"}
    never = fit_nlsq(
        data,
        ModelSpec.create("static", initial=STATIC_TRUTH),
        NLSQConfig(robust_covariance="never"),
    )
    assert never.error_model["used"] == "independent"
    # the same fit and errors as without the sandwich
    for name, err in never.errors.items():
        assert res.errors[name] == pytest.approx(err, rel=1e-8)


def test_residual_test_on_grids_is_quiet_for_white_noise_and_sees_smoothing():
    rng = np.random.default_rng(3)
    mask = np.triu(np.ones((60, 60), bool), 1)[None].repeat(4, 0)
    white = rng.standard_normal((4, 60, 60))
    _, z, _ = residual_correlation_test(white, mask)
    assert max(abs(v) for v in z.values()) < 3.5
    smooth = bartlett_filter(white, 4)  # correlated over about 4 frames in both directions
    rho, z, rho_diag = residual_correlation_test(smooth, mask)
    assert min(z.values()) > 10 and rho["diagonal"] > 0.3
    assert rho_diag.shape[0] == 4 and choose_bandwidth(rho_diag[0], 60) >= 6


def test_parametric_bootstrap_refits_speckle_replicates():
    from homodyne_nlsq import parametric_bootstrap
    from homodyne_physics import Prior

    truth = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 2000.0}
    spec = ModelSpec.create(
        "static",
        initial=truth,
        priors={"D0": Prior("TruncatedNormal", 1e4, 1e5, 100.0, 1e5)},
        fixed=["D_offset"],
    )
    small = {"n_frames": 40, "n_pixels": 60}
    sim = hd.simulate_speckle("static", truth, phi=[0.0, 90.0], seed=1, **small)
    res = fit_nlsq(sim.data, spec)
    boot = parametric_bootstrap(res, [0.0, 90.0], 3, simulation=sim.settings, seed=50)
    assert boot.names == ("D0", "alpha") and boot.draws.shape == (3, 2) and not boot.failed
    assert boot.seeds == (50, 51, 52)
    assert boot.seconds["simulate"] > 0 and boot.seconds["fit"] > 0
    for name in boot.names:
        # replicates scatter around the fitted values, on the scale of the stated errors
        assert abs(boot.mean[name] - res.values[name]) < 5 * boot.sd[name] + 1e-12, name
        assert 0.1 < boot.ratio[name] < 10, boot.ratio
    again = parametric_bootstrap(res, [0.0, 90.0], 3, simulation=sim.settings, seed=50)
    np.testing.assert_array_equal(again.draws, boot.draws)
    with pytest.raises(ValueError, match="k must be"):
        parametric_bootstrap(res, [0.0, 90.0], 1)


def test_block_layout_holds_every_pair_once_in_whole_blocks():
    from homodyne_nlsq.robust_passes import block_layout

    i, j = np.triu_indices(23, 1)
    lay = block_layout(i, j, 23, 4, 40)
    perm = np.asarray(lay.perm)
    assert np.array_equal(np.sort(perm[perm >= 0]), np.arange(i.size))
    cap = 16
    for slot, (bi, bj) in enumerate(lay.slots[: lay.n_real]):
        k = perm[slot * cap : (slot + 1) * cap]
        k = k[k >= 0]
        assert k.size and (i[k] // 4 == bi).all() and (j[k] // 4 == bj).all()
    assert perm.size % (cap * lay.per_chunk) == 0


def test_the_fits_last_pass_gives_the_sandwich_of_a_pass_of_its_own():
    """The LM's last scored pass replaces the score pass: the same sandwich as a pass of its
    own at the solution within 0.2 % (the scores may come from a near-final point whose chi^2
    differs by at most EXTRAS_REUSE), and the per-point (block 1) sum agrees with the block
    sums within a few per cent."""
    import importlib

    import homodyne_physics as hp

    api = importlib.import_module("homodyne_nlsq.api")
    rc = importlib.import_module("homodyne_nlsq.robust_covariance")
    seen = {}
    inner = api.choose_error_model

    def capture(problem, x, unc, mode="auto", scores=None, **kw):
        seen.update(problem=problem, x=x, scores=scores)
        return inner(problem, x, unc, mode, scores, **kw)

    data = make_data("static", STATIC_TRUTH, [0.0, 45.0, 90.0], n_t=160, seed=1)
    api.choose_error_model = capture
    try:
        res = fit_nlsq(data, ModelSpec.create("static"), NLSQConfig(robust_covariance="always"))
    finally:
        api.choose_error_model = inner
    assert seen["scores"] is not None and seen["scores"].layout.block == 2
    with hp.float64():
        ev = rc.residual_evidence(seen["problem"], seen["x"])
        own = rc.robust_covariance(seen["problem"], seen["x"], evidence=ev)
        exact = rc.robust_covariance(seen["problem"], seen["x"], evidence=ev, block_size=1)
    robust = np.array(list(res.errors_robust.values()))
    np.testing.assert_allclose(robust, own.errors[: robust.size], rtol=2e-3)
    np.testing.assert_allclose(own.errors, exact.errors, rtol=0.05)
