"""Parameters held fixed by the ModelSpec leave the least-squares solve."""

import numpy as np
import pytest

from homodyne_nlsq import NLSQConfig, fit_nlsq
from homodyne_physics import ModelSpec

from .conftest import STATIC_TRUTH

PHI = [0.0, 60.0, 120.0]


@pytest.fixture(scope="module")
def free_and_fixed():
    from .conftest import make_data

    data = make_data("static", STATIC_TRUTH, PHI, n_t=50, seed=31)
    cfg = NLSQConfig(scaling_mode="auto")
    free = fit_nlsq(data, ModelSpec.create("static"), cfg)
    fixed = fit_nlsq(data, ModelSpec.create("static", fixed={"alpha": -0.6}), cfg)
    return free, fixed


def test_fixed_alpha_is_exact_and_uses_one_degree_of_freedom_less(free_and_fixed):
    free, fixed = free_and_fixed
    assert fixed.converged, fixed.message
    assert fixed.values["alpha"] == -0.6 and fixed.errors["alpha"] == 0.0
    assert fixed.dof == free.dof + 1
    assert "alpha" not in fixed.names and fixed.covariance.shape[0] == len(fixed.names)
    assert fixed.names == tuple(n for n in free.names if n != "alpha")
    for name in ("D0", "D_offset"):
        z = (fixed.values[name] - STATIC_TRUTH[name]) / fixed.errors[name]
        assert abs(z) < 3, (name, fixed.values[name], fixed.errors[name])
    np.testing.assert_array_equal(fixed.theta[1], -0.6)
    assert any("alpha held fixed" in w for w in fixed.warnings)


def test_fixed_parameters_are_reported_and_recorded(free_and_fixed):
    _, fixed = free_and_fixed
    d = fixed.to_dict()
    assert d["parameters"]["alpha"] == {"value": -0.6, "error": 0.0, "fixed": True}
    assert ModelSpec.from_dict(d["spec"]) == fixed.spec
    assert fixed.spec.fixed_values == {"alpha": -0.6}


def test_simple_diffusion_alpha_and_offset_fixed_at_zero():
    from .conftest import make_data

    truth = {"D0": 1.5e4, "alpha": 0.0, "D_offset": 0.0}
    data = make_data("static", truth, PHI, n_t=50, seed=32)
    res = fit_nlsq(
        data,
        ModelSpec.create("static", fixed={"alpha": 0.0, "D_offset": 0.0}),
        NLSQConfig(scaling_mode="auto"),
    )
    assert res.values["alpha"] == 0.0 and res.values["D_offset"] == 0.0
    assert res.names[:1] == ("D0",)
    assert abs(res.values["D0"] - truth["D0"]) < 3 * res.errors["D0"]
    assert res.dof == res.n_points - 1 - 2  # D0 + one shared contrast and offset


def test_every_parameter_fixed_still_solves_the_scaling():
    from .conftest import make_data

    data = make_data("static", STATIC_TRUTH, PHI, n_t=30, seed=33)
    res = fit_nlsq(
        data,
        ModelSpec.create("static", fixed=STATIC_TRUTH),
        NLSQConfig(scaling_mode="auto"),
    )
    assert res.values == STATIC_TRUTH and res.names == ("contrast", "offset")
    assert abs(res.contrast[0] - 0.3) < 3 * res.contrast_err[0]


def test_alpha_fixed_at_zero_on_a_static_dataset():
    """Issue 11 acceptance: alpha = 0 exactly, one degree of freedom fewer, D0 and D_offset
    within 3 sd. With alpha = 0, D(t) = D0 + D_offset: the data fix only the sum, so the fit
    must say D0 and D_offset are not separately determined (inf errors and a warning) and
    recover the sum, which the same data fitted with D_offset also fixed at 0 measure."""
    from .conftest import make_data

    truth = {"D0": 1.2e4, "alpha": 0.0, "D_offset": 300.0}
    data = make_data("static", truth, PHI, n_t=50, seed=34)
    cfg = NLSQConfig(scaling_mode="auto")
    free = fit_nlsq(data, ModelSpec.create("static"), cfg)
    fixed = fit_nlsq(data, ModelSpec.create("static", fixed={"alpha": 0.0}), cfg)
    assert fixed.converged, fixed.message
    assert fixed.values["alpha"] == 0.0 and fixed.errors["alpha"] == 0.0
    assert fixed.dof == free.dof + 1 and "alpha" not in fixed.names
    for name in ("D0", "D_offset"):
        assert abs(fixed.values[name] - truth[name]) <= 3 * fixed.errors[name], name
    assert np.isinf(fixed.errors["D0"]) and np.isinf(fixed.errors["D_offset"])
    assert any("do not determine D0, D_offset" in w for w in fixed.warnings), fixed.warnings
    total = fit_nlsq(data, ModelSpec.create("static", fixed={"alpha": 0.0, "D_offset": 0.0}), cfg)
    d_sum, sd = total.values["D0"], total.errors["D0"]
    assert abs(d_sum - (truth["D0"] + truth["D_offset"])) < 3 * sd
    assert abs(fixed.values["D0"] + fixed.values["D_offset"] - d_sum) < 0.1 * sd
    assert fixed.chi2 == pytest.approx(total.chi2, rel=1e-9)
