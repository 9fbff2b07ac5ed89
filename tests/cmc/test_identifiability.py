"""Issue 15 item 2: the prior-dominated (identifiability) check runs for any shard count,
one included: a single-shard run whose D_offset posterior is its prior says so."""

import warnings

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
    # one rule for every report: the identifiability report names the same parameter
    report = res.identifiability()
    assert "D_offset" in report.prior_dominated and "D0" not in report.prior_dominated
    assert not report.ok
