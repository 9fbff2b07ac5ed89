"""Acceptance of issue 14 (``-m slow``): on realistic-shaped laminar data, CMC with the DEFAULT
configuration (only ``workers=2``, so the automatic rule shards the data in two) matches
full-data NUTS (one shard, same settings) in D(t) and gamma_dot(t) at three ages.

Data: the realistic_laminar truth (D0/D_offset ridge), 8 angles x 200 frames (159,200 points),
dt 0.1 s, q 0.0054 1/A, contrast 0.27, noise 0.011. The differences are reported in units of
the full-data posterior sd, with their Monte Carlo standard error (both runs' MCSE of the mean,
from ArviZ on the chains).

Measured (load about 10 on 2 cores; 885 s for the test): shards of 79,600 points, 338 s each
in parallel, full-data NUTS 408 s; 6.8 / 6.7 leapfrog steps per iteration; CMC minus full in
full-data sd (MCSE; sd ratio): D(0.2, 2, 20 s) +0.089 (0.015; 0.992), +0.095 (0.016; 1.011),
-0.016 (0.015; 1.027); gamma_dot(0.2, 2, 20 s) -0.051 (0.016; 0.947), -0.056 (0.015; 0.963),
+0.042 (0.017; 1.002); max R-hat 1.0017 / 1.0024, min bulk ESS 6377 / 7452. The D(t) offsets
of about 0.09 sd are 6 MCSE: a small consensus bias, well inside the 0.2 sd bound."""

import warnings

import arviz_stats as azs
import numpy as np
import pytest

from homodyne_physics import ModelSpec

pytestmark = pytest.mark.slow


def transport_draws(theta: np.ndarray, ages) -> dict[str, np.ndarray]:
    """D(t) and gamma_dot(t) at ``ages`` from physical draws ``(chains, samples, 7)``."""
    out = {}
    for sym, (a, b, c) in {"D": (0, 1, 2), "gamma_dot": (3, 4, 5)}.items():
        for t in ages:
            out[f"{sym}({t:.3g} s)"] = theta[..., a] * t ** theta[..., b] + theta[..., c]
    return out


def compare(full: dict, cmc: dict) -> dict[str, tuple[float, float, float]]:
    """Per quantity: (CMC mean - full mean) / full sd, its MC standard error in the same unit,
    and the sd ratio CMC / full."""
    rows = {}
    for k, ref in full.items():
        got, sd = cmc[k], float(ref.std())
        se = np.hypot(float(azs.mcse(ref, method="mean")), float(azs.mcse(got, method="mean")))
        rows[k] = ((got.mean() - ref.mean()) / sd, se / sd, float(got.std()) / sd)
    return rows


def test_default_cmc_matches_full_data_nuts_on_realistic_laminar(realistic_truth):
    from homodyne_cmc import CMCConfig, CMCWarning, fit_cmc
    from homodyne_data import simulate
    from homodyne_nlsq import fit_nlsq

    sim = simulate(
        "laminar_flow", realistic_truth, phi=tuple(np.linspace(0.0, 157.5, 8)), n_frames=200,
        q=0.0054, dt=0.1, contrast=0.27, offset=1.0, noise=0.011, seed=14,
    )  # fmt: skip
    nlsq = fit_nlsq(sim.data, ModelSpec.create("laminar_flow"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CMCWarning)
        cmc = fit_cmc(sim.data, nlsq, CMCConfig(workers=2))
        full = fit_cmc(sim.data, nlsq, CMCConfig(workers=2, num_shards=1))
    msgs = sorted({str(w.message) for w in caught})
    print("\nwarnings:", *msgs, sep="\n  ")
    # D_offset is on the D0/alpha ridge: prior-dominated in both shards (measured sd 0.81-0.82 x
    # tempered prior sd) AND for the full data (NUTS 0.80, Laplace 0.83 x prior sd), so the
    # warning says the data do not determine it instead of asking for fewer shards
    d_off = [m for m in msgs if m.startswith("D_offset is prior-dominated in 2 of 2 shard(s)")]
    assert d_off and "whatever the shard size" in d_off[0], msgs
    assert not any("use fewer, larger shards" in m for m in msgs), msgs
    assert cmc.n_shards == 2, cmc.shard_reason  # the automatic rule, not a request
    assert full.n_shards == 1
    t = np.asarray(sim.data.t)
    ages = (float(t[1]), float(np.sqrt(t[1] * t[-1])), float(t[-1]))
    rows = compare(
        transport_draws(full.theta_draws(), ages), transport_draws(cmc.theta_draws(), ages)
    )
    for name, res in (("CMC", cmc), ("full", full)):
        walls = [round(s["wall_s"]) for s in res.shards]
        sd_ratio = [round(s["posterior_prior_sd_ratio"]["D_offset"], 2) for s in res.shards]
        steps = res.sampler["leapfrog_steps_mean"]
        print(f"{name}: {res.n_points} points, shard wall s {walls}, leapfrog steps/iteration "
              f"{steps:.1f}, D_offset sd/prior sd {sd_ratio}")  # fmt: skip
    print("sampling coordinates:", cmc.combination["sampling"])
    print(f"{'quantity':16s} {'dmean/sd_full':>13s} {'MCSE':>6s} {'sd ratio':>8s}")
    for k, (dm, se, ratio) in rows.items():
        print(f"{k:16s} {dm:+13.3f} {se:6.3f} {ratio:8.3f}")
    for name, res in (("CMC", cmc), ("full", full)):
        rhat = max(v["r_hat"] for v in res.summary.values())
        ess = min(v["ess_bulk"] for v in res.summary.values())
        print(f"{name}: max R-hat {rhat:.4f}, min bulk ESS {ess:.0f}")
        assert rhat < 1.01 and ess > 400, name
    assert all(abs(dm) < 0.2 for dm, _, _ in rows.values()), rows
    assert all(0.85 < ratio < 1.15 for _, _, ratio in rows.values()), rows
