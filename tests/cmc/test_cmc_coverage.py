"""Coverage of the CMC transport bands (``-m slow``): over 10 seeded static and 10 seeded
laminar_flow datasets, how often the posterior 68 % and 95 % bands of D(t) (and gamma_dot(t))
hold the truth at 5 ages. Small data and modest sampler settings keep it to minutes; the counts
are printed (run with ``-s``)."""

import warnings

import numpy as np
import pytest

from homodyne_physics import ModelSpec, Prior

pytestmark = pytest.mark.slow

STATIC = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 1000.0}
LAMINAR = {**STATIC, "gamma_dot_t0": 2e-3, "beta": -0.3, "gamma_dot_t_offset": 1e-4, "phi0": 3.0}
N_SETS = 10


def _priors():
    return {
        "D0": Prior("TruncatedNormal", 1e4, 1e5, 100.0, 1e5),
        "D_offset": Prior("TruncatedNormal", 0.0, 1e4, -1e5, 1e5),
    }


def _truth_curve(truth, key, t):
    if key == "D":
        return truth["D0"] * t ** truth["alpha"] + truth["D_offset"]
    return truth["gamma_dot_t0"] * t ** truth["beta"] + truth["gamma_dot_t_offset"]


def _coverage(mode, truth, phi, n_frames, keys, seed0):
    from homodyne_cmc import CMCConfig, fit_cmc
    from homodyne_data import simulate
    from homodyne_nlsq import fit_nlsq

    counts = {(k, lvl): 0 for k in keys for lvl in (68, 95)}
    total = 0
    for n in range(N_SETS):
        sim = simulate(mode, truth, phi=phi, n_frames=n_frames, noise=0.02, seed=seed0 + n)
        t = np.asarray(sim.data.t)
        ages = np.geomspace(t[1], t[-1], 5)
        nlsq = fit_nlsq(sim.data, ModelSpec.create(mode, initial=truth, priors=_priors()))
        cfg = CMCConfig(num_shards=1, num_warmup=200, num_samples=300, num_chains=2,
                        backend="sequential", dense_mass=True, seed=n)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tc = fit_cmc(sim.data, nlsq, cfg).transport(ages)
        for k in keys:
            want = _truth_curve(truth, k, ages)
            for lvl in (68, 95):
                lo, hi = getattr(tc, f"{k}_lo{lvl}"), getattr(tc, f"{k}_hi{lvl}")
                counts[(k, lvl)] += int(np.sum((lo <= want) & (want <= hi)))
        total += ages.size
    return counts, total


def _check(counts, total):
    # ages of one dataset share its noise: about N_SETS independent draws, so wide limits
    for (_, lvl), c in counts.items():
        frac = c / total
        assert (0.45 <= frac <= 0.9) if lvl == 68 else (0.8 <= frac), (counts, total)


def test_cmc_band_coverage_static():
    counts, total = _coverage("static", STATIC, (0.0,), 50, ["D"], 500)
    print(f"\nstatic CMC coverage over {N_SETS} datasets x 5 ages: {counts} of {total}")
    _check(counts, total)


def test_cmc_band_coverage_laminar():
    counts, total = _coverage(
        "laminar_flow", LAMINAR, (0.0, 60.0, 120.0), 50, ["D", "gamma_dot"], 700
    )
    print(f"\nlaminar_flow CMC coverage over {N_SETS} datasets x 5 ages: {counts} of {total}")
    _check(counts, total)
