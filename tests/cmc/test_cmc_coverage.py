"""Coverage of the CMC transport bands (``-m slow``): over 20 seeded static and 10 seeded
laminar_flow datasets, how often the posterior 68 % and 95 % bands of D(t) (and gamma_dot(t))
hold the truth at 5 ages, next to the NLSQ bands on the same datasets. The counts are printed
(run with ``-s``).

The priors are wide where the data are weak: the registry's alpha prior (TruncatedNormal 0.5,
sd 0.5) sits two sd from the simulated alpha = -0.5, and in laminar flow (3 angles, 50 frames:
NLSQ's alpha error 0.7-1.8) it pulled the posterior of alpha to -0.35 / -0.09 and the D(t)
bands off the truth (95 % coverage 9 of 15 where NLSQ had 13; 13 of 15 with the wide prior).
CMC's noise sigma is sampled and agrees with the simulated 0.02 to 2 % on every set.
"""

import warnings

import numpy as np
import pytest

from homodyne_physics import ModelSpec, Prior

pytestmark = pytest.mark.slow

STATIC = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 1000.0}
LAMINAR = {**STATIC, "gamma_dot_t0": 2e-3, "beta": -0.3, "gamma_dot_t_offset": 1e-4, "phi0": 3.0}


def _priors(mode):
    wide = {
        "D0": Prior("TruncatedNormal", 1e4, 1e5, 100.0, 1e5),
        "D_offset": Prior("TruncatedNormal", 0.0, 1e4, -1e5, 1e5),
        "alpha": Prior("TruncatedNormal", 0.0, 5.0, -2.0, 2.0),
    }
    if mode == "laminar_flow":
        wide["beta"] = Prior("TruncatedNormal", 0.0, 5.0, -2.0, 2.0)
    return wide


def _truth_curve(truth, key, t):
    if key == "D":
        return truth["D0"] * t ** truth["alpha"] + truth["D_offset"]
    return truth["gamma_dot_t0"] * t ** truth["beta"] + truth["gamma_dot_t_offset"]


def _hits(curves, key, want, lvl) -> int:
    lo, hi = getattr(curves, f"{key}_lo{lvl}"), getattr(curves, f"{key}_hi{lvl}")
    return int(np.sum((lo <= want) & (want <= hi)))


def _coverage(mode, truth, phi, n_sets, keys, seed0):
    """Band hits ``{(method, key, level): count}`` over ``n_sets`` datasets x 5 ages."""
    from homodyne_cmc import CMCConfig, fit_cmc
    from homodyne_data import simulate
    from homodyne_nlsq import fit_nlsq

    counts = {(m, k, lvl): 0 for m in ("cmc", "nlsq") for k in keys for lvl in (68, 95)}
    sigmas = []
    for n in range(n_sets):
        sim = simulate(mode, truth, phi=phi, n_frames=50, noise=0.02, seed=seed0 + n)
        t = np.asarray(sim.data.t)
        ages = np.geomspace(t[1], t[-1], 5)
        nlsq = fit_nlsq(sim.data, ModelSpec.create(mode, initial=truth, priors=_priors(mode)))
        cfg = CMCConfig(num_shards=1, num_warmup=300, num_samples=400, num_chains=2,
                        backend="sequential", dense_mass=True, seed=n)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cmc = fit_cmc(sim.data, nlsq, cfg)
        sigmas.append(cmc.summary["sigma"]["mean"])
        bands = {"cmc": cmc.transport(ages), "nlsq": nlsq.transport(ages)}
        for m, k, lvl in counts:
            counts[(m, k, lvl)] += _hits(bands[m], k, _truth_curve(truth, k, ages), lvl)
    # (b) the noise level: sampled, it is the simulated one
    np.testing.assert_allclose(sigmas, 0.02, rtol=0.05)
    return counts, 5 * n_sets


def _report(mode, counts, total):
    lines = [f"\n{mode}: band coverage over {total // 5} datasets x 5 ages"]
    for (m, k, lvl), c in sorted(counts.items()):
        lines.append(f"  {m:4s} {k:9s} {lvl} %: {c}/{total} = {c / total:.2f}")
    print("\n".join(lines))


def _check(counts, total, paired):
    """Ages of one dataset share its noise (about n_sets independent draws, so the 68 %
    coverage of one run scatters by about 0.15): wide limits on CMC's own coverage, and the
    sharper paired check, CMC within ``paired`` of NLSQ on the same datasets.

    Measured (2026-12-03): static 20 sets, 68 %: CMC 58 / NLSQ 56 of 100, 95 %: 96 / 96;
    laminar_flow 10 sets, D 68 %: 34 / 34 of 50, 95 %: 45 / 46; gamma_dot 68 %: 25 / 24,
    95 %: 48 / 49."""
    for (m, k, lvl), c in counts.items():
        if m != "cmc":
            continue
        frac = c / total
        assert (0.4 <= frac <= 0.9) if lvl == 68 else (0.8 <= frac), (counts, total)
        assert abs(c - counts[("nlsq", k, lvl)]) <= paired * total, (counts, total)


def test_cmc_band_coverage_static():
    counts, total = _coverage("static", STATIC, (0.0,), 20, ["D"], 500)
    _report("static", counts, total)
    _check(counts, total, paired=0.1)


def test_cmc_band_coverage_laminar():
    counts, total = _coverage(
        "laminar_flow", LAMINAR, (0.0, 60.0, 120.0), 10, ["D", "gamma_dot"], 700
    )
    _report("laminar_flow", counts, total)
    _check(counts, total, paired=0.12)
