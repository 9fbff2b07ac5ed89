"""CMC on a joint dataset of several q rings (issue 16): per-ring scaling, sharded vs full NUTS."""

import warnings

import numpy as np
import pytest

from homodyne_physics import ModelSpec

pytestmark = pytest.mark.slow

STATIC = {"D0": 1.2e4, "alpha": -0.6, "D_offset": 300.0}


def _ring(q, seed, n_t=50, phi=(10.0, 70.0, 130.0)):
    """Model matrices (one ring) plus independent noise 0.01 per (t1 < t2) pair, mirrored."""
    import homodyne_physics as hp
    from homodyne_data import XPCSData

    model = hp.C2Model("static", q=q, dt=0.1)
    theta = np.array([STATIC[n] for n in model.parameter_names])
    frames = np.arange(1, n_t + 1)
    with hp.float64():
        clean = np.asarray(hp.c2_matrix(model, theta, 0.3, 1.0, frames * 0.1, np.array(phi)))
    upper = np.triu(np.random.default_rng(seed).standard_normal(clean.shape), 1) * 0.01
    return XPCSData(clean + upper + np.swapaxes(upper, 1, 2), phi, q, 0.1, frames)


def test_default_cmc_on_two_rings_matches_full_data_nuts():
    """Acceptance of issue 16: DEFAULT settings (only ``workers=2``) on the smallest joint
    dataset the automatic rule shards in two, against full-data NUTS (``num_shards=1``).

    2 rings (q 0.003 and 0.006 1/A) x 3 angles x 120 frames: 42,840 points, 8 sampled
    parameters (3 physical, contrast and offset per ring, sigma), so the floor is 20,000 points
    per shard and the rule gives 2 shards of 21,420 (116 frames is the smallest size with 2).
    Every (ring, angle) row is in both shards (shards split frame pairs).

    Measured (load 7-8 on 2 cores, 508 s for the test): shards 230 s each in parallel, full-data
    NUTS 117 s; 6.5 / 6.6 leapfrog steps per iteration; max R-hat 1.0010 / 1.0028, min bulk ESS
    6745 / 7193; D was sampled by its end values (ridge |corr| 0.972) and combined by D(t) at
    1.1 and 12 s. CMC minus full in full-data sd (MCSE 0.016-0.017; sd ratio):
    D(0.2, 1.55, 12 s) -0.016 (0.999), +0.035 (1.012), +0.034 (0.988); D0 +0.039 (0.996),
    alpha +0.035 (0.988), D_offset -0.027 (0.979). So with the automatic shards the consensus
    offset of the forced tiny shards (0.28-0.36 sd, below) is gone."""
    from homodyne_cmc import CMCConfig, CMCWarning, fit_cmc
    from homodyne_cmc.sharding import make_shards
    from homodyne_data import join_rings
    from homodyne_nlsq import fit_nlsq

    from .test_cmc_vs_full_nuts_slow import compare

    joint = join_rings([_ring(0.003, 0, n_t=120), _ring(0.006, 1, n_t=120)])
    nlsq = fit_nlsq(joint, ModelSpec.create("static"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CMCWarning)
        cmc = fit_cmc(joint, nlsq, CMCConfig(workers=2))
        full = fit_cmc(joint, nlsq, CMCConfig(workers=2, num_shards=1))
    print("\nwarnings:", *sorted({str(w.message) for w in caught}), sep="\n  ")
    assert cmc.n_shards == 2 and "2 worker(s)" in cmc.shard_reason, cmc.shard_reason
    assert full.n_shards == 1
    # the shards the run made (same data, pairs and seed): every (ring, angle) row in each
    first = full.model.first_fitted_frame
    i, j = joint.pairs(first)
    rows = [np.asarray(s.w).sum(axis=1) for s in make_shards(joint.flat(first), i, j, 2, 0)]
    assert np.all(np.array(rows) > 0.45 * i.size), rows  # 6 rows, about half the pairs each
    t = np.asarray(joint.t)
    ages = (float(t[1]), float(np.sqrt(t[1] * t[-1])), float(t[-1]))
    draws = {}
    for name, res in (("full", full), ("cmc", cmc)):
        th = np.asarray(res.theta_draws())
        d = {f"D({a:.3g} s)": th[..., 0] * a ** th[..., 1] + th[..., 2] for a in ages}
        d.update({n: th[..., k] for k, n in enumerate(("D0", "alpha", "D_offset"))})
        draws[name] = d
    table = compare(draws["full"], draws["cmc"])
    for name, res in (("CMC", cmc), ("full", full)):
        walls = [round(s["wall_s"]) for s in res.shards]
        rhat = max(v["r_hat"] for v in res.summary.values())
        ess = min(v["ess_bulk"] for v in res.summary.values())
        steps = res.sampler["leapfrog_steps_mean"]
        print(f"{name}: {res.n_points} points, shard wall s {walls}, leapfrog steps/iteration "
              f"{steps:.1f}, max R-hat {rhat:.4f}, min bulk ESS {ess:.0f}")  # fmt: skip
        assert rhat < 1.01 and ess > 400, name
    print("sampling:", cmc.combination["sampling"])
    print("combined in:", cmc.combination["coordinates"])
    print(f"{'quantity':16s} {'dmean/sd_full':>13s} {'MCSE':>6s} {'sd ratio':>8s}")
    for k, (dm, se, ratio) in table.items():
        print(f"{k:16s} {dm:+13.3f} {se:6.3f} {ratio:8.3f}")
    for n in ("D0", "alpha", "D_offset"):
        ref = full.summary[n]
        assert abs(ref["mean"] - STATIC[n]) < 3 * ref["sd"] + 0.05 * abs(STATIC[n]), n
    assert all(abs(dm) < 0.2 for dm, _, _ in table.values()), table


def test_cmc_on_two_rings_tiny_shards_vs_full_data_nuts():
    """2 rings x 3 angles x 50 frames, 4 shards FORCED below the automatic floor
    (``min_points_per_shard=500``, about 1,800 points each) against 1, reduced sampler settings:
    D(t) at 3 ages and every parameter. Kept as a documented xfail: the acceptance case is
    :func:`test_default_cmc_on_two_rings_matches_full_data_nuts` (automatic shards).

    Measured (mean difference in full-data sd; MC error of that difference 0.05 from the ESS):
    50 frames: D(t) -0.28 / -0.36 / -0.31, D0 -0.32, alpha -0.04, D_offset +0.06, scaling
    entries about 0.32; 100 frames: D(t) -0.09 / -0.32 / -0.20, D0 -0.31, scaling 0.27-0.33.
    Not sampler noise (6x the MC error) and not the sharding: every shard holds every ring
    and angle (test_joint_q_shards.py). One ring with 6 angles x 100 frames shows the same kind
    of consensus offset on the physical parameters (D0 +0.17, alpha +0.27, D_offset -0.24,
    D(0.2 s) -0.21), the per-ring scaling entries of the joint data more (0.3 against 0.05-0.08).
    The issue's 0.2 sd is therefore not met at these sizes (xfail with the numbers)."""
    from homodyne_cmc import CMCConfig, CMCWarning, fit_cmc
    from homodyne_data import join_rings
    from homodyne_nlsq import fit_nlsq

    joint = join_rings([_ring(0.003, 0), _ring(0.006, 1)])
    nlsq = fit_nlsq(joint, ModelSpec.create("static"))
    base = dict(
        num_warmup=200,
        num_samples=300,
        num_chains=2,
        backend="sequential",
        min_points_per_shard=500,
        dense_mass=True,
        seed=1,
    )
    with warnings.catch_warnings():
        # D_offset is weakly determined at this size: each run may warn it is prior-dominated
        warnings.simplefilter("ignore", CMCWarning)
        full = fit_cmc(joint, nlsq, CMCConfig(num_shards=1, **base))
        cmc = fit_cmc(joint, nlsq, CMCConfig(num_shards=4, **base))
    assert {"contrast@r0", "contrast@r1", "offset@r0", "offset@r1"} <= set(full.names)
    assert full.model.q == (0.003,) * 3 + (0.006,) * 3
    for n in ("D0", "alpha", "D_offset"):
        ref = full.summary[n]
        assert abs(ref["mean"] - STATIC[n]) < 3 * ref["sd"] + 0.05 * abs(STATIC[n]), n
    t = np.asarray(joint.t)
    ages = (float(t[1]), float(np.sqrt(t[1] * t[-1])), float(t[-1]))
    off = {}
    for a in ages:
        ref, got = _d_at(full, a), _d_at(cmc, a)
        off[f"D({a:.3g})"] = round(float((got.mean() - ref.mean()) / ref.std()), 3)
    for n in full.summary:
        ref, got = full.summary[n], cmc.summary[n]
        off[n] = round(float((got["mean"] - ref["mean"]) / ref["sd"]), 3)
    print("\nCMC - full (full-data sd):", off)
    assert all(abs(v) < 0.5 for v in off.values()), off  # measured at most 0.36
    if any(abs(v) >= 0.2 for v in off.values()):
        pytest.xfail(f"CMC (4 shards) vs full-data NUTS beyond 0.2 sd: {off}")


def _d_at(result, age):
    """Draws of D(age) from a CMC result's theta draws."""
    th = np.asarray(result.theta_draws())
    th = th.reshape(-1, th.shape[-1])
    return th[:, 0] * age ** th[:, 1] + th[:, 2]
