"""Issue 18 acceptance: coverage of NLSQ intervals on speckle-simulated data (slow).

Each seed simulates correlator output with ``homodyne_data.simulate_speckle`` (4 bins x 100
frames x 200 pixels, 512 scatterers per q vector, frame time 0.25 s so that the ages 3, 10,
25 s lie inside the data),
fits it from the truth and checks whether the 68 % / 95 % intervals of D(t) at the three ages
(and gamma_dot(t) and phi0 in laminar flow) contain the truth, for the independent-noise
errors (``naive``) and the errors the fit reports (``corrected``). The counts are printed
(``-s``); the corrected ones must fall in the issue's bands. The power-law offsets are held at
the truth and the laminar bins are turned by 15 deg (reasons at ``PHI_LAMINAR`` and
``LAMINAR_FIXED``).
"""

import numpy as np
import pytest

import homodyne_data as hd
from homodyne_nlsq import fit_nlsq
from homodyne_physics import ModelSpec

STATIC = {"D0": 1000.0, "alpha": 0.5, "D_offset": 10.0}
LAMINAR = {**STATIC, "gamma_dot_t0": 2.0e-4, "beta": 0.3, "gamma_dot_t_offset": 0.0, "phi0": 3.0}
AGES = np.array([3.0, 10.0, 25.0])
# 512 scatterers per q vector, not the simulator's default 64: with 64 the realised motion
# behind each q vector fluctuates (a finite-ensemble effect real samples, 10^10 scatterers per
# speckle, do not have) and lowers the variance of the fit's scores, measured at the truth
# over 120-400 seeds: D(3 s) 2.33e5 (64) / 2.74e5 (512), D(25 s) 1.24e6 / 1.74e6 (static);
# the Gaussian-speckle covariance (homodyne_nlsq.speckle_statistics) gives 2.83e5 / 1.43e6.
SIZE = {"n_frames": 100, "n_pixels": 200, "dt": 0.25, "n_scatterers": 512}
PHI = np.linspace(-180.0, 180.0, 4, endpoint=False)
# Laminar: the bins are turned by 15 deg. The shear term depends on |cos(phi - phi0)| only, so
# on a bin set symmetric under phi -> -phi (as PHI is) the model at -phi0 equals the model at
# phi0 exactly (max |difference| 2e-16): the sign of phi0 is not identified, its likelihood
# has two equal maxima and a zero slope at phi0 = 0, and no Wald interval can cover (seeds 204
# and 209 fitted -2.95 and -3.54 for 3). On PHI + 15 the two differ by up to 0.06 in c2.
PHI_LAMINAR = PHI + 15.0
# Laminar: the offsets are held at the truth. With them free, 100 frames over 0.25-25 s do not
# separate D0 t^alpha + D_offset from its alpha -> 0 limit (A + B log t): in 13 of 20 seeds
# the fit ran to D0 = 1e5 (the bound), D_offset = -1e5, alpha ~ 0.01 (likewise gamma_dot),
# where a bound is active and the delta-method sd of D(t) is 1e3-1e6 times the spread: those
# seeds "covered" with pulls of 0.00, one had no finite covariance.
LAMINAR_FIXED = {"D_offset": LAMINAR["D_offset"], "gamma_dot_t_offset": 0.0}
TRIOS = {"D": ("D0", "alpha", "D_offset"), "gdot": ("gamma_dot_t0", "beta", "gamma_dot_t_offset")}


def _curve_sd(values, cov, names, trio):
    """D(t) or gamma_dot(t) at AGES and their delta-method sd."""
    a, b, c = (values[n] for n in trio)
    val = a * AGES**b + c
    grad = np.zeros((AGES.size, len(names)))
    for col, g in zip(trio, (AGES**b, a * AGES**b * np.log(AGES), np.ones_like(AGES)), strict=True):
        if col in names:  # a fixed parameter carries no uncertainty
            grad[:, names.index(col)] = g
    return val, np.sqrt(np.einsum("ai,ij,aj->a", grad, cov, grad))


def _pulls(res, truth):
    """quantity -> (|fit - truth| / naive sd, |fit - truth| / corrected sd)."""
    names = [n for n in res.names if n in res.parameter_names]  # free physical, cov order
    k = len(names)
    naive = np.asarray(res.error_model["covariance_independent"])[:k, :k]
    corrected = np.asarray(res.covariance)[:k, :k]
    out = {}
    trios = [("D", TRIOS["D"])] + ([("gdot", TRIOS["gdot"])] if res.mode != "static" else [])
    for prefix, trio in trios:
        tv = np.array([truth[n] for n in trio])
        true = tv[0] * AGES ** tv[1] + tv[2]
        fit, sn = _curve_sd(res.values, naive, names, trio)
        _, sc = _curve_sd(res.values, corrected, names, trio)
        for t, f, tr, a, b in zip(AGES, fit, true, sn, sc, strict=True):
            out[f"{prefix}({t:g})"] = (abs(f - tr) / a, abs(f - tr) / b)
    if "phi0" in names:
        j = names.index("phi0")
        dev = abs(res.values["phi0"] - truth["phi0"])
        out["phi0"] = (dev / np.sqrt(naive[j, j]), dev / np.sqrt(corrected[j, j]))
    return out


def _coverage(mode: str, truth: dict, seeds, bin_width=None, phi=PHI, fixed=None) -> dict:
    """Counts per quantity; ``bin_width``: the fit models the simulator's angular bins;
    ``fixed``: parameters held at these values in the fit."""
    rows = []
    for seed in seeds:
        sim = hd.simulate_speckle(mode, truth, phi=phi, seed=seed, **SIZE)
        spec = ModelSpec.create(mode, initial=truth, phi_bin_width=bin_width, fixed=fixed)
        res = fit_nlsq(sim.data, spec)
        rows.append(_pulls(res, truth))
    table = {}
    for key in rows[0]:
        p = np.array([r[key] for r in rows])  # (n, 2)
        table[key] = {
            "naive": (int((p[:, 0] <= 1.0).sum()), int((p[:, 0] <= 1.96).sum())),
            "corrected": (int((p[:, 1] <= 1.0).sum()), int((p[:, 1] <= 1.96).sum())),
        }
    print(f"\n{mode}: {len(rows)} seeds; 68 % / 95 % coverage counts")
    for key, v in table.items():
        print(f"  {key:10s} naive {v['naive']}  corrected {v['corrected']}")
    return table


def _check(table, n):
    """The issue's bands: 68 % intervals cover in 55-80 % of the seeds, 95 % ones in 85-99 %."""
    for key, v in table.items():
        c68, c95 = v["corrected"]
        assert 0.55 * n <= c68 <= 0.80 * n and 0.85 * n <= c95 <= 0.99 * n, (key, v)


@pytest.mark.slow
def test_static_coverage_over_100_speckle_seeds():
    """100 seeds (with 60, a true 95 % coverage gives 60/60, above the 99 % cap, in 5 % of
    runs; with 100 it gives 100/100 in 0.6 %). D_offset is held at the truth, as in laminar
    flow (free, fits ride the A + B log t ridge and count as covered with huge errors).
    Measured 2026-12-04 (speckle-statistics middle term, 512 scatterers, seeds 100-199):
    corrected 68 % 72/70/78, 95 % 92/96/98 at D(3, 10, 25 s); pulls (fit - truth) / sd have
    sd 0.98/1.00/0.82. Runtime about 5 min."""
    table = _coverage("static", STATIC, range(100, 200), fixed={"D_offset": STATIC["D_offset"]})
    _check(table, 100)
    for key, v in table.items():  # the independent-noise intervals are far too narrow
        assert v["naive"][1] <= 0.5 * 100, (key, v)


@pytest.mark.slow
def test_laminar_coverage_over_100_speckle_seeds():
    """Every count in its band: D(t), gamma_dot(t) at 3, 10, 25 s and phi0.

    Measured 2026-12-04 (speckle-statistics middle term, 512 scatterers, seeds 200-299, about
    7 min): corrected 68 % D(3, 10, 25 s) 65/73/69, gamma_dot 72/69/64, phi0 65; 95 % D
    94/97/97, gamma_dot 99/94/95, phi0 91; pull sd 1.03/0.95/1.03, 0.91/0.98/1.03, 1.11. On the
    first 60 of these seeds gamma_dot(3 s) covered 60/60, one above the cap (a true 95 %
    coverage does that in 5 % of 60-seed runs): its intervals are slightly wide (pull sd 0.91;
    the linearised estimator at the truth scatters 0.93-1.00x the covariance's sd, the fits
    0.86x for gamma_dot(3 s): the power law's estimator is not quite linear in
    (gamma_dot_t0, beta) at this size). With the 2-D Bartlett sum the scatter was 1.70 / 1.09 /
    1.52x the reported sd of D(3, 10, 25 s).
    """
    # the fit models the simulator's 4 deg angular bins (the shear term averaged over a bin)
    table = _coverage(
        "laminar_flow",
        LAMINAR,
        range(200, 300),
        bin_width=4.0,
        phi=PHI_LAMINAR,
        fixed=LAMINAR_FIXED,
    )
    _check(table, 100)
