"""Joint fits over several q rings (issue 16): recovery, precision gain, q-consistency check."""

import numpy as np
import pytest

from homodyne_data import join_rings
from homodyne_nlsq import NLSQConfig, fit_nlsq, q_consistency
from homodyne_physics import ModelSpec

from .conftest import LAMINAR_TRUTH, STATIC_TRUTH, make_data, pulls

Q4 = (0.003, 0.005, 0.007, 0.009)  # a factor of 3
PHI6 = np.linspace(0.0, 180.0, 6, endpoint=False) + 5.0
PHI3 = np.array([10.0, 70.0, 130.0])


def _scaled(truth, factor):
    return dict(truth, D0=truth["D0"] * factor, D_offset=truth["D_offset"] * factor)


def _joint(mode, truth, phi, q_rings, *, n_t, seed, d_factors=None, contrasts=None):
    factors = d_factors or (1.0,) * len(q_rings)
    contrasts = contrasts or (0.3,) * len(q_rings)
    parts = [
        make_data(mode, _scaled(truth, f), phi, q=q, n_t=n_t, contrast=c, seed=seed + 97 * k)
        for k, (q, f, c) in enumerate(zip(q_rings, factors, contrasts, strict=True))
    ]
    return parts, join_rings(parts)


def test_static_joint_fit_recovers_truth_with_per_ring_scaling():
    parts, joint = _joint(
        "static", STATIC_TRUTH, PHI3, (0.003, 0.006), n_t=40, seed=5, contrasts=(0.25, 0.35)
    )
    res = fit_nlsq(joint, ModelSpec.create("static"), NLSQConfig(scaling_mode="auto"))
    assert res.converged, res.message
    assert res.model.q == (0.003,) * 3 + (0.006,) * 3
    assert set(res.scaling_values) == {"contrast@r0", "contrast@r1", "offset@r0", "offset@r1"}
    for name, z in pulls(res, STATIC_TRUTH).items():
        assert abs(z) < 3.0, f"{name}: {res.values[name]:.6g} +- {res.errors[name]:.3g}"
    want = np.array([0.25] * 3 + [0.35] * 3)
    assert np.all(np.abs(res.contrast - want) < 3 * res.contrast_err), res.contrast
    assert res.contrast[0] == res.contrast[2] != res.contrast[3]  # one pair per ring (auto)
    assert res.sigma == pytest.approx(0.01, rel=0.05)
    # the sandwich's scored pass carries the per-angle q: on independent noise it agrees
    # with the independent-noise errors (issue 18's 15 %)
    rob = fit_nlsq(
        joint,
        ModelSpec.create("static"),
        NLSQConfig(scaling_mode="auto", robust_covariance="always"),
    )
    for name in STATIC_TRUTH:
        assert rob.values[name] == pytest.approx(res.values[name], rel=1e-6, abs=1e-9)
        assert rob.errors[name] == pytest.approx(res.errors[name], rel=0.15), name


@pytest.mark.slow
def test_laminar_four_rings_recover_truth_and_beat_the_best_ring():
    """4 rings (q x3) x 6 angles: every parameter within 3 sd; the joint SEs against the best
    single ring's. The issue's 2x is NOT met and this test does not claim it: measured best-ring
    / joint 1.45-1.94 here (50 frames), 1.32-1.85 on the realistic laminar truth at 120 frames
    (noise 0.011, contrast 0.27). The joint information is the sum of the rings' (ring SE /
    joint SE for D0 there: 3.29, 2.04, 1.85, 1.88, so sum 1/r^2 = 0.90 ~ 1), and q does not
    break the D0/D_offset ridge (correlation -0.993 to -0.996 in every ring, -0.994 joint): q^2
    multiplies all of D(t) and q all of gamma_dot(t). With additive information the gain over
    the best of 4 rings is at most 2, reached only when all 4 carry equal information (D is
    best seen at high q, the shear at low q); more needs rings with differently shaped ridges."""
    spec = ModelSpec.create("laminar_flow")
    parts, joint = _joint("laminar_flow", LAMINAR_TRUTH, PHI6, Q4, n_t=50, seed=1)
    res = fit_nlsq(joint, spec, NLSQConfig())
    assert res.converged, res.message
    for name, z in pulls(res, LAMINAR_TRUTH).items():
        assert abs(z) < 3.0, f"{name}: {res.values[name]:.6g} +- {res.errors[name]:.3g}"
    singles = [fit_nlsq(d, spec, NLSQConfig()) for d in parts]
    ratios = {n: min(s.errors[n] for s in singles) / res.errors[n] for n in res.parameter_names}
    print("SE ratio best ring / joint:", {n: round(r, 2) for n, r in ratios.items()})
    assert all(r > 1.3 for r in ratios.values()), ratios


@pytest.mark.slow
def test_a_ring_whose_d_does_not_scale_as_q2_is_named():
    spec = ModelSpec.create("laminar_flow")
    _, joint = _joint(
        "laminar_flow", LAMINAR_TRUTH, PHI6, Q4, n_t=40, seed=3, d_factors=(1, 1.3, 1, 1)
    )
    res = fit_nlsq(joint, spec, NLSQConfig())
    qc = q_consistency(res, joint)
    print("LR:", qc.chi2.round(1), "p:", qc.p_value, "curves:", qc.chi2_curves.round(1))
    assert qc.outliers == (1,)
    assert "q ring 1 (q = 0.005 1/A)" in qc.warnings[0]
    assert qc.p_value[1] < 1e-6
    assert np.all(np.delete(qc.p_value, 1) > qc.alpha / 4)
    record = qc.to_dict()
    assert record["outliers"] == [1] and len(record["rings"]["D"]) == 4


@pytest.mark.slow
def test_consistent_rings_rarely_raise_the_warning():
    """40 seeds of consistent data (static, 4 rings x 3 angles x 40 frames): the per-ring
    likelihood ratio follows chi2(3) (measured: mean 3.06, KS p 0.29, 1 false alarm at
    Bonferroni alpha = 0.01, which expects 0.4); the issue asks for < 5 % (at most 1 of 40)."""
    from scipy import stats

    spec = ModelSpec.create("static")
    flagged, lr = 0, []
    for seed in range(40):
        _, joint = _joint("static", STATIC_TRUTH, PHI3, Q4, n_t=40, seed=1000 + seed)
        res = fit_nlsq(joint, spec, NLSQConfig())
        qc = q_consistency(res, joint)
        assert np.all(qc.dof == 3)
        flagged += bool(qc.outliers)
        lr.extend(qc.chi2)
    ks = stats.kstest(lr, "chi2", args=(3,)).pvalue
    print(f"false alarms: {flagged}/40; LR mean {np.mean(lr):.3f} (chi2(3): 3), KS p {ks:.3g}")
    assert flagged <= 1
    assert 2.5 < np.mean(lr) < 3.5  # sd of the mean of 160 chi2(3) draws (4 rings share data): ~0.2
    assert ks > 0.01
