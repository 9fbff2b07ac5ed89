"""The limit of tiny shards (``-m slow``): CMC with 4 REQUESTED shards of about 7,000 points
(below the automatic rule's floor of 20,000 points per shard, where a default run would use one
shard) on 4 angles x 120 frames (28,560 points) with the realistic_laminar truth, against
full-data NUTS, both in the sampling coordinates (``sampling_space: auto``).

What it documents (measured at load 1-2): D(t) at three ages agrees within 0.2 full-data sd,
while the weakly determined shear does not: gamma_dot(0.2, 1.55, 12 s) -1.5, -6.2, -3.7 sd with
CMC sd 2.3-10 x the full-data sd. Each shard's shear posterior is shaped by its (tempered)
prior and the consensus of such shards is wider and shifted; that is why the automatic rule
keeps shards large. The default-settings acceptance is
``tests/cmc/test_cmc_vs_full_nuts_slow.py`` (2 automatic shards of 80,000 points)."""

import warnings

import numpy as np
import pytest

from homodyne_physics import ModelSpec

pytestmark = pytest.mark.slow


def _transport(theta, ages):
    th = np.asarray(theta).reshape(-1, theta.shape[-1])
    out = {}
    for sym, (a, b, c) in {"D": (0, 1, 2), "gamma_dot": (3, 4, 5)}.items():
        for t in ages:
            out[f"{sym}({t:.3g})"] = th[:, a] * t ** th[:, b] + th[:, c]
    return out


def test_tiny_shards_keep_d_but_not_the_weak_shear(realistic_truth):
    from homodyne_cmc import CMCConfig, CMCWarning, fit_cmc
    from homodyne_data import simulate
    from homodyne_nlsq import fit_nlsq

    sim = simulate(
        "laminar_flow", realistic_truth, phi=(0.0, 45.0, 90.0, 135.0), n_frames=120, q=0.0054,
        dt=0.1, contrast=0.27, noise=0.011, seed=14,
    )  # fmt: skip
    nlsq = fit_nlsq(sim.data, ModelSpec.create("laminar_flow"))
    base = dict(backend="sequential", min_points_per_shard=1000, seed=3)
    with warnings.catch_warnings(record=True) as caught:
        # D_offset sits on the ridge: each run warns that its posterior is the prior's, and
        # the full data do not determine it either (Laplace sd 0.95 x prior sd)
        warnings.simplefilter("always", CMCWarning)
        full = fit_cmc(sim.data, nlsq, CMCConfig(num_shards=1, **base))
        cmc = fit_cmc(sim.data, nlsq, CMCConfig(num_shards=4, **base))
    msgs = sorted({str(w.message) for w in caught})
    print("\nwarnings:", *msgs, sep="\n  ")
    d_off = [m for m in msgs if m.startswith("D_offset is prior-dominated in")]
    assert not d_off or "whatever the shard size" in d_off[0], msgs
    assert "log D(t_min)" in cmc.combination["sampling"]["names"], cmc.combination["sampling"]
    t = np.asarray(sim.data.t)
    ages = (float(t[1]), float(np.sqrt(t[1] * t[-1])), float(t[-1]))
    ref, got = _transport(full.theta_draws(), ages), _transport(cmc.theta_draws(), ages)
    print("\nquantity  dmean/sd_full  sd_ratio  steps full/cmc",
          full.sampler["leapfrog_steps_mean"], cmc.sampler["leapfrog_steps_mean"])  # fmt: skip
    off = {}
    for k in ref:
        dm = (got[k].mean() - ref[k].mean()) / ref[k].std()
        print(f"{k:18s} {dm:+.3f} {got[k].std() / ref[k].std():.3f}")
        if abs(dm) >= 0.2:
            off[k] = round(float(dm), 2)
    for res in (full, cmc):
        assert max(v["r_hat"] for v in res.summary.values()) < 1.01
        assert min(v["ess_bulk"] for v in res.summary.values()) > 400
    assert not [k for k in off if k.startswith("D(")], off
    if off:  # measured: gamma_dot(0.2, 1.55, 12 s) -1.5, -6.2, -3.7 sd; CMC sd 2.3-10x (issue 14)
        pytest.xfail(f"tiny shards: CMC (4 shards) vs full-data NUTS beyond 0.2 sd: {off}")
