"""Issue 15 item 2: the prior-dominated (identifiability) check runs for any shard count,
one included: a single-shard run whose D_offset posterior is its prior says so."""

import warnings

import numpy as np
import pytest

from homodyne_physics import ModelSpec


def _reports(ratios_per_shard):
    return [{"index": i, "posterior_prior_sd_ratio": r} for i, r in enumerate(ratios_per_shard)]


def test_prior_dominated_for_one_and_several_shards():
    from homodyne_cmc.diagnostics import prior_dominated, prior_dominated_message

    one = _reports([{"D0": 0.05, "D_offset": 0.98, "sigma": float("nan")}])
    assert prior_dominated(one, 0.5) == {"D_offset": [0]}
    msg = prior_dominated_message("D_offset", [0], one, 0.5)
    assert msg.startswith("D_offset is prior-dominated (posterior sd = 0.98 x prior sd > 0.5)")
    assert "do not identify it" in msg
    many = _reports([{"D0": 0.1, "D_offset": 0.7}, {"D0": 0.6, "D_offset": 0.2}])
    assert prior_dominated(many, 0.5) == {"D_offset": [0], "D0": [1]}
    assert "in 1 of 2 shard(s)" in prior_dominated_message("D0", [1], many, 0.5)
    assert prior_dominated(many, 0.9) == {}


def test_single_shard_run_warns_about_a_prior_dominated_parameter():
    """Registry priors (D_offset ~ 10 +- 200) and D_offset = 1000 that 3 x 50 frames barely
    constrain: the only shard's D_offset posterior is close to its prior."""
    from homodyne_cmc import CMCConfig, CMCWarning, fit_cmc
    from homodyne_data import simulate
    from homodyne_nlsq import fit_nlsq

    truth = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 1000.0}
    sim = simulate("static", truth, phi=(0.0, 45.0, 90.0), n_frames=50, noise=0.01, seed=11)
    nlsq = fit_nlsq(sim.data, ModelSpec.create("static"))
    cfg = CMCConfig(
        num_shards=1, num_warmup=150, num_samples=150, num_chains=2, backend="sequential"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_cmc(sim.data, nlsq, cfg)
    ratio = res.shards[0]["posterior_prior_sd_ratio"]["D_offset"]
    msgs = [str(w.message) for w in caught if issubclass(w.category, CMCWarning)]
    assert ratio > 0.5, ratio
    assert any(m.startswith("D_offset is prior-dominated (posterior sd") for m in msgs), msgs
    assert not any(m.startswith("D0 is prior-dominated") for m in msgs)
    # the full-data Laplace check agrees: D_offset near its prior, D0 determined
    full = res.full_data["parameters"]
    assert full["D_offset"]["laplace_prior_sd_ratio"] > 0.5, full["D_offset"]
    assert full["D0"]["laplace_prior_sd_ratio"] < 0.5, full["D0"]
    assert any("only the combination D(t) = D0 t^alpha + D_offset" in m for m in msgs), msgs
    # one rule for every report: the identifiability report names the same parameter
    report = res.identifiability()
    assert "D_offset" in report.prior_dominated and "D0" not in report.prior_dominated
    assert not report.ok


def _d_law_full(ratio_offset: float, corr: float = -0.97):
    """full_data_identification of a D law whose D_offset has Laplace sd = ratio x prior sd."""
    from homodyne_cmc.diagnostics import full_data_identification

    names = ("D0", "alpha", "D_offset")
    sd = np.array([100.0, 0.01, 50.0])
    corr_m = np.array([[1.0, 0.3, corr], [0.3, 1.0, -0.2], [corr, -0.2, 1.0]])
    cov = corr_m * np.outer(sd, sd)
    prior_sd = np.array([1e4, 0.5, 50.0 / ratio_offset])
    return full_data_identification(names, cov, prior_sd, (0.2, 19.9))


def test_full_data_identification_ratios_and_ridge():
    full = _d_law_full(0.94)
    par = full["parameters"]
    assert par["D_offset"]["laplace_prior_sd_ratio"] == pytest.approx(0.94)
    assert par["D0"]["laplace_prior_sd_ratio"] == pytest.approx(0.01)
    assert par["D_offset"]["ridge"] == {"D0": pytest.approx(-0.97)}
    assert par["alpha"]["ridge"] == {} and full["age_range_s"] == [0.2, 19.9]


def test_prior_dominated_in_every_shard_and_for_the_full_data_names_the_ridge():
    """The full data do not determine D_offset either: no 'fewer shards' advice; the message
    says what the data determine (D(t) over the measured ages) and names the ridge."""
    from homodyne_cmc.diagnostics import prior_dominated_message

    shards = _reports([{"D_offset": 0.9}, {"D_offset": 0.95}])
    msg = prior_dominated_message("D_offset", [0, 1], shards, 0.5, _d_law_full(0.94))
    assert msg.startswith("D_offset is prior-dominated in 2 of 2 shard(s)")
    assert "so it is for the full data (Laplace sd = 0.94 x prior sd)" in msg
    assert "the data do not determine it, whatever the shard size" in msg
    assert "D(t) = D0 t^alpha + D_offset over the measured ages 0.2-19.9 s is determined" in msg
    assert "ridge of D_offset with D0 (correlation -0.970)" in msg
    assert "fewer shards will not help" in msg and "use fewer, larger shards" not in msg
    one = prior_dominated_message("D_offset", [0], shards[:1], 0.5, _d_law_full(0.94))
    assert "do not identify it" in one and "ridge of D_offset with D0" in one


def test_prior_dominated_in_shards_but_determined_by_the_full_data_blames_the_shard_size():
    from homodyne_cmc.diagnostics import prior_dominated_message

    shards = _reports([{"D_offset": 0.7}, {"D_offset": 0.8}])
    msg = prior_dominated_message("D_offset", [0, 1], shards, 0.5, _d_law_full(0.2))
    assert "the shards are too small to identify it" in msg
    assert "(the full data determine it: Laplace sd = 0.20 x prior sd)" in msg
    assert msg.endswith("use fewer, larger shards") and "whatever the shard size" not in msg
    # without the full-data check (old callers): the shard size is blamed, as before
    assert prior_dominated_message("D_offset", [0, 1], shards, 0.5).endswith(
        "use fewer, larger shards"
    )
