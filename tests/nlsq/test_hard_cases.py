"""Hard cases: they must not crash, and the result must say what happened."""

import numpy as np
import pytest

from homodyne_data import XPCSData
from homodyne_nlsq import NLSQConfig, fit_nlsq
from homodyne_physics import HomodyneError, ModelSpec, ParameterError

from .conftest import LAMINAR_TRUTH, STATIC_TRUTH, pulls

PHI6 = np.linspace(5.0, 155.0, 6)


def test_no_shear_data_fitted_with_laminar_flow_says_so(simulate):
    data = simulate("static", STATIC_TRUTH, PHI6, seed=11)
    res = fit_nlsq(data, ModelSpec.create("laminar_flow"), NLSQConfig(scaling_mode="individual"))
    assert res.converged, res.message
    # the shear rate is consistent with its lower bound (no shear) within its error ...
    assert res.values["gamma_dot_t0"] - 1e-6 < 3 * res.errors["gamma_dot_t0"]
    # ... and the result says that the data show no significant shear
    assert res.shear_delta_chi2 < 9.488
    assert any(w.startswith("no significant shear") for w in res.warnings), res.warnings
    # the diffusion part is still right
    for name in ("D0", "alpha"):
        assert abs(res.values[name] - STATIC_TRUTH[name]) < 3 * res.errors[name]


def test_lower_bound_of_the_shear_rate_is_flagged(simulate):
    # a positive floor on gamma_dot_t0 above what the (shear-free) data allow pins it there
    data = simulate("static", STATIC_TRUTH, PHI6, seed=11)
    res = fit_nlsq(
        data,
        ModelSpec.create(
            "laminar_flow",
            bounds={
                "gamma_dot_t0": (1e-4, 0.5),
                "beta": (0.0, 1.0),
                "gamma_dot_t_offset": (0, 0.1),
            },
        ),
        NLSQConfig(scaling_mode="individual"),
    )
    assert res.values["gamma_dot_t0"] == pytest.approx(1e-4, rel=1e-6)
    assert "gamma_dot_t0" in res.at_bound
    assert any("gamma_dot_t0" in w and "lower bound" in w for w in res.warnings)
    assert res.to_dict()["at_bound"] == res.at_bound


def test_shear_is_significant_when_present(simulate):
    data = simulate("laminar_flow", LAMINAR_TRUTH, PHI6, seed=11)
    res = fit_nlsq(data, ModelSpec.create("laminar_flow"), NLSQConfig(scaling_mode="auto"))
    assert res.shear_delta_chi2 > 1e3
    assert not any("shear" in w for w in res.warnings)


def test_start_at_a_bound(simulate):
    data = simulate("static", STATIC_TRUTH, PHI6, seed=12)
    res = fit_nlsq(
        data,
        ModelSpec.create("static", initial={"D0": 1e5, "alpha": -2.0, "D_offset": 1e5}),
        NLSQConfig(scaling_mode="auto"),
    )
    assert res.starts[0]["start"]["D0"] == 1e5
    assert res.converged, res.message
    assert max(abs(z) for z in pulls(res, STATIC_TRUTH).values()) < 3
    assert not res.at_bound


def test_nan_points_are_masked(simulate):
    clean = simulate("static", STATIC_TRUTH, PHI6, seed=13)
    c2 = np.array(clean.c2)
    rng = np.random.default_rng(0)
    holes = rng.random(c2.shape) < 0.1
    holes |= np.swapaxes(holes, 1, 2)
    c2[holes] = np.nan
    c2[2, :5, :] = np.nan  # a dead block of rows
    c2[2, :, :5] = np.nan
    data = XPCSData(c2, clean.phi, clean.q, clean.dt, clean.frames)
    res = fit_nlsq(data, ModelSpec.create("static"), NLSQConfig(scaling_mode="individual"))
    i, j = data.pairs()
    n_valid = int(np.isfinite(c2[:, i, j]).sum())
    assert res.n_points == n_valid < data.n_phi * i.size
    assert res.dof == n_valid - len(res.names)
    assert any("NaN" in w and "masked" in w for w in res.warnings)
    assert np.isfinite(res.chi2) and res.converged
    assert max(abs(z) for z in pulls(res, STATIC_TRUTH).values()) < 3


def test_one_angle_laminar_reports_the_degenerate_shear(simulate):
    # with one angle only gamma_dot(t) cos(phi0 - phi) is measured: phi0 trades against it
    data = simulate("laminar_flow", LAMINAR_TRUTH, [30.0], seed=14)
    res = fit_nlsq(data, ModelSpec.create("laminar_flow"), NLSQConfig(scaling_mode="auto"))
    assert res.scaling_mode == "individual"
    assert any("singular" in w for w in res.warnings), res.warnings
    assert not np.isfinite(res.errors["phi0"])
    # the fit is at least as good as the truth (it found the least-squares optimum) ...
    from homodyne_nlsq import build_problem
    from homodyne_physics import float64

    with float64():
        problem = build_problem(data, ModelSpec.create("laminar_flow"), NLSQConfig())
        _, cost_truth = problem.profile([LAMINAR_TRUTH[n] for n in res.parameter_names])
    assert res.cost <= cost_truth * (1 + 1e-9)
    # ... and the diffusion, which the degeneracy does not touch, is recovered
    for name in ("D0", "alpha"):
        assert abs(res.values[name] - LAMINAR_TRUTH[name]) < 3 * res.errors[name]
    assert res.to_dict()["parameters"]["phi0"]["error"] is None  # JSON-safe: inf -> null


def test_bad_inputs_raise_homodyne_errors(simulate):
    data = simulate("static", STATIC_TRUTH, PHI6, n_t=20, seed=15)
    with pytest.raises(ParameterError, match=r"D0: start value 50 is outside its bounds \[100"):
        fit_nlsq(data, ModelSpec.create("static", initial={"D0": 50.0}))
    with pytest.raises(ParameterError, match="not a parameter of mode 'static'"):
        fit_nlsq(data, ModelSpec.create("static", initial={"phi0": 1.0}))
    with pytest.raises(HomodyneError, match="unknown parameter 'D_0'"):
        fit_nlsq(data, ModelSpec.create("static", bounds={"D_0": (1.0, 2.0)}))
    with pytest.raises(HomodyneError, match="unknown analysis mode"):
        fit_nlsq(data, ModelSpec.create("shear"))
    with pytest.raises(ParameterError, match="no finite c2 values"):
        fit_nlsq(
            XPCSData(np.full_like(data.c2, np.nan), data.phi, data.q, data.dt, data.frames),
            ModelSpec.create("static"),
        )
    tiny = simulate("static", STATIC_TRUTH, PHI6, n_t=2, seed=15)  # 6 x 1 points, 3 + 12 params
    with pytest.raises(ParameterError, match="6 finite data points cannot determine 15"):
        fit_nlsq(tiny, ModelSpec.create("static"), NLSQConfig(scaling_mode="individual"))
    with pytest.raises(HomodyneError, match="fourier"):
        fit_nlsq(
            data, ModelSpec.create("static"), NLSQConfig(scaling_mode="fourier", fourier_order=3)
        )
