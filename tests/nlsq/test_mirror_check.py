"""The mirror check of the flow angle (homodyne_nlsq.mirror).

On an angle set that maps onto itself under a reflection about an axis c (mod 180), the
laminar-flow model at phi0 and at 2 c - phi0 hands the same curves to mirrored angles, so
chi^2 has a second minimum at the mirror image. Fixed seeds, independent noise (conftest)."""

import numpy as np
import pytest

from homodyne_nlsq import NLSQConfig, fit_nlsq
from homodyne_nlsq.mirror import (
    MirrorSearch,
    inflation_of,
    mirror_candidates,
    mirror_record,
    screen_threshold,
    symmetry_axes,
)
from homodyne_physics import ModelSpec

from .conftest import LAMINAR_TRUTH, make_data

EIGHT = np.linspace(-180.0, 180.0, 8, endpoint=False)  # 45 deg apart: mirror-symmetric about 0
NO_CHECK = NLSQConfig(mirror_check=False)


def _mirror_warnings(res):
    return [w for w in res.warnings if "mirror image" in w]


def test_symmetry_axes_of_common_angle_sets():
    # equally spaced from -180: axes every 22.5 deg (mod 90), all exact
    axes = symmetry_axes(EIGHT)
    assert [c for c, _ in axes] == pytest.approx([0.0, 22.5, 45.0, 67.5])
    assert max(m for _, m in axes) < 1e-9
    # the coverage test's set (4 bins turned by 15 deg): axes 15 and 60, mirror of 3 deg at
    # 27 or -63 deg, outside the default phi0 box [-10, 10]
    turned = symmetry_axes(np.linspace(-180.0, 180.0, 4, endpoint=False) + 15.0)
    assert [c for c, _ in turned] == pytest.approx([15.0, 60.0])
    assert mirror_candidates(3.0, turned, -10.0, 10.0) == []
    assert mirror_candidates(3.0, axes, -10.0, 10.0) == [(pytest.approx(-3.0), 0.0)]
    # an axis through phi0 mirrors it onto itself: nothing to check
    assert mirror_candidates(0.0, axes, -10.0, 10.0) == []
    # near-symmetric (one angle 0.4 deg off): an axis through a pair's midpoint, mismatch 0.4
    (near,) = symmetry_axes([-30.0, 0.0, 30.4, 90.0])
    assert abs(near[0]) <= 0.2 and near[1] == pytest.approx(0.4)
    # no axis within 1 deg: no mirror degeneracy
    assert symmetry_axes([0.0, 10.0, 35.0]) == []


def test_the_indistinguishable_threshold_is_in_frame_correlation_scaled_units():
    """Delta chi^2 = 40 sigma^2 between the minima is decisive for independent noise, but
    with phi0's robust sd 5x its independent-noise sd (variance inflation 25) it is 1.6:
    the warning fires. The record states both phi0 and both chi^2."""
    search = MirrorSearch(axes=[(0.0, 0.0)], phi0_fit=2.0, cost_fit=100.0)
    search.candidates = [
        {"axis": 0.0, "phi0_start": -2.0, "stage": "full", "phi0": -2.1, "cost": 140.0}
    ]
    model = {"used": "frame-correlated", "ratio": {"phi0": 5.0}}
    assert inflation_of(model) == pytest.approx(25.0)
    assert inflation_of({"used": "independent", "ratio": {"phi0": 5.0}}) == 1.0
    rec, warning = mirror_record(search, 100.0, 2.0, 1.0, inflation_of(model), 1.0)
    assert rec["delta_chi2"] == pytest.approx(1.6) and rec["indistinguishable"]
    assert rec["phi0_other"] == -2.1 and rec["chi2_other"] == 140.0 and rec["chi2"] == 100.0
    assert "phi0 = 2 and its mirror image phi0 = -2.1" in warning
    assert "not determined by these data" in warning
    rec, warning = mirror_record(search, 100.0, 2.0, 1.0, 1.0, 1.0)
    assert rec["delta_chi2"] == pytest.approx(40.0) and not rec["indistinguishable"]
    assert warning is None
    # the subset screen keeps a full-data Delta of 4 at 3 sigma: 4 + 12 sqrt(ratio)
    assert screen_threshold(18.0) == pytest.approx(4.0 + 12.0 * np.sqrt(18.0))


def test_a_fit_started_on_the_wrong_side_is_moved_to_the_true_minimum():
    """phi0 = 1.5 on 8 angles symmetric about 0: started at -1.5 the solver stops in the
    mirror minimum (-1.36, chi^2 higher by 225 sigma^2); the check refits from its mirror
    image and reports the true one, recording both."""
    truth = {**LAMINAR_TRUTH, "phi0": 1.5}
    data = make_data("laminar_flow", truth, EIGHT, noise=0.02, seed=0)
    spec = ModelSpec.create("laminar_flow", initial={**truth, "phi0": -1.5})
    cfg = NLSQConfig(start_search=False)  # the start is given: the local solver alone
    plain = fit_nlsq(data, spec, NLSQConfig(start_search=False, mirror_check=False))
    assert plain.values["phi0"] == pytest.approx(-1.364, abs=0.01)  # the mirror minimum
    res = fit_nlsq(data, spec, cfg)
    assert res.values["phi0"] == pytest.approx(1.529, abs=0.01)
    assert abs(res.values["phi0"] - 1.5) < 2 * res.errors["phi0"]
    mc = res.mirror_check
    assert mc["flipped"] and not mc["indistinguishable"]
    assert mc["phi0_first_fit"] == pytest.approx(plain.values["phi0"])
    assert mc["phi0_other"] == pytest.approx(plain.values["phi0"])
    assert mc["chi2_other"] == pytest.approx(plain.chi2)
    assert mc["delta_chi2"] == pytest.approx((plain.chi2 - res.chi2) / (res.chi2 / res.dof))
    assert 150 < mc["delta_chi2"] < 300
    assert res.chi2 < plain.chi2 and res.starts[-1]["origin"] == "mirror_check"
    assert "mirror check: the fit ended at phi0 = -1.364" in res.message
    assert not _mirror_warnings(res)
    assert res.to_dict()["mirror_check"]["phi0_other"] == pytest.approx(-1.364, abs=0.01)


def test_mirror_equivalent_data_give_the_warning():
    """Bins at -180, -90, 0, 90 deg: each is its own mirror about 0, so the model at -phi0
    equals the model at phi0 and the data cannot say which (the speckle seeds 204 and 209
    of the coverage test fitted -2.97 and -3.53 for 3 on this set). The fit is kept, the
    other minimum recorded and a warning names both."""
    # 110 frames: 23,980 points, so the subset (11,992) screens first, then all points
    data = make_data("laminar_flow", LAMINAR_TRUTH, [-180.0, -90.0, 0.0, 90.0], n_t=110, seed=0)
    res = fit_nlsq(data, ModelSpec.create("laminar_flow"))
    mc = res.mirror_check
    assert [c["stage"] for c in mc["candidates"]] == ["full"]
    assert mc["candidates"][0]["subset_points"] == 11992
    assert abs(abs(res.values["phi0"]) - 3.0) < 3 * res.errors["phi0"]
    assert mc["phi0_other"] == pytest.approx(-res.values["phi0"], abs=1e-4)
    assert abs(mc["delta_chi2"]) < 1e-3 and mc["indistinguishable"] and not mc["flipped"]
    (warning,) = _mirror_warnings(res)
    assert f"phi0 = {res.values['phi0']:.4g}" in warning
    assert f"phi0 = {mc['phi0_other']:.4g}" in warning
    assert "sign of the flow direction relative to the bins is not determined" in warning
    assert not _mirror_warnings(fit_nlsq(data, ModelSpec.create("laminar_flow"), NO_CHECK))


def test_a_clear_case_is_left_alone():
    """phi0 = 3 on the same symmetric 8 angles, 80 frames (25,280 points, subset 12,640): the
    mirror's subset optimum projects to 1300 sigma^2 above the fit, beyond the screen
    (4 + 12 sqrt(2) = 21): no full-data refit, no warning, and the reported fit is the one
    without the check, bit for bit."""
    data = make_data("laminar_flow", LAMINAR_TRUTH, EIGHT, n_t=80, noise=0.02, seed=1)
    spec = ModelSpec.create("laminar_flow")
    res = fit_nlsq(data, spec)
    plain = fit_nlsq(data, spec, NO_CHECK)
    assert plain.mirror_check is None
    mc = res.mirror_check
    (cand,) = mc["candidates"]
    assert cand["phi0_start"] == pytest.approx(-res.values["phi0"])
    assert cand["stage"] == "subset" and cand["subset_points"] == 12640
    assert cand["subset_delta_chi2"] > 50 * screen_threshold(25280 / 12640)  # 1319
    assert cand["subset_phi0"] < -2.0 and "chi2" not in cand
    assert not mc["flipped"] and not mc["indistinguishable"] and "phi0_other" not in mc
    assert not _mirror_warnings(res)
    assert res.values == plain.values and res.errors == plain.errors and res.chi2 == plain.chi2
