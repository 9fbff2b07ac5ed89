"""ModelSpec: validation once, access by name, free/full vectors, JSON round trip."""

import json

import numpy as np
import pytest

from homodyne_physics import (
    CONVENTIONS,
    ModelSpec,
    ParameterError,
    Prior,
    UnknownParameterError,
    float64,
)


def test_conventions_come_from_the_literal():
    assert CONVENTIONS == ("physical", "homodyne2")


def test_defaults_are_the_registry():
    spec = ModelSpec.create("static_isotropic")
    assert spec.mode == "static"
    assert spec.names == ("D0", "alpha", "D_offset")
    assert spec.start == {"D0": 1000.0, "alpha": 0.5, "D_offset": 10.0}
    assert spec.bounds["D0"] == (100.0, 1e5)
    assert spec.free_names == spec.names and spec.fixed_values == {}


def test_aliases_bounds_priors_and_prior_truncation():
    spec = ModelSpec.create(
        "laminar_flow",
        initial={"gamma_dot_0": 0.02},
        bounds={"phi_0": (-5.0, 5.0)},
        priors={"beta": {"family": "Normal", "mean": 0.1, "sd": 0.2, "low": -1, "high": 1}},
    )
    assert spec.start["gamma_dot_t0"] == 0.02
    assert spec.bounds["phi0"] == (-5.0, 5.0)
    assert spec.priors["phi0"].low == -5.0 and spec.priors["phi0"].high == 5.0
    assert spec.bounds["beta"] == (-1.0, 1.0)  # a prior without bounds gives the bounds
    assert spec.priors["beta"] == Prior("Normal", 0.1, 0.2, -1.0, 1.0)


def test_fixed_by_value_name_and_none():
    spec = ModelSpec.create("static", initial={"alpha": -0.3}, fixed=["alpha"])
    assert spec.fixed_values == {"alpha": -0.3}
    spec = ModelSpec.create("static", fixed={"alpha": 0.0, "D_offset": None})
    assert spec.fixed_values == {"alpha": 0.0, "D_offset": 10.0}
    assert spec.free_names == ("D0",) and spec.free_index == (0,)
    np.testing.assert_array_equal(spec.theta([2500.0]), [2500.0, 0.0, 10.0])
    np.testing.assert_array_equal(spec.free_vector([2500.0, 0.0, 10.0]), [2500.0])


def test_theta_in_jax():
    import jax.numpy as jnp

    spec = ModelSpec.create("static", fixed={"alpha": 0.0})
    with float64():
        out = spec.theta(jnp.array([2.0, 3.0]), xp=jnp)
        np.testing.assert_array_equal(np.asarray(out), [2.0, 0.0, 3.0])


@pytest.mark.parametrize(
    ("kwargs", "err", "words"),
    [
        ({"initial": {"alpah": 0.1}}, UnknownParameterError, "did you mean 'alpha'"),
        ({"fixed": {"gamma_dot_t0": 0.1}}, ParameterError, "not a parameter of mode 'static'"),
        ({"initial": {"D0": 50.0}}, ParameterError, "D0: start value 50 is outside"),
        ({"fixed": {"alpha": 3.0}}, ParameterError, "alpha: fixed value 3 is outside"),
        ({"bounds": {"D0": (10.0, 1.0)}}, ParameterError, "bounds['D0']: expected min < max"),
        ({"convention": "homodyne3"}, Exception, "unknown convention 'homodyne3'"),
        ({"gap": -1.0}, Exception, "gap must be a positive"),
    ],
)
def test_validation_errors_name_the_parameter(kwargs, err, words):
    with pytest.raises(err) as exc:
        ModelSpec.create("static", **kwargs)
    assert words in str(exc.value)


def test_json_round_trip_and_hash():
    spec = ModelSpec.create(
        "laminar_flow",
        convention="homodyne2",
        gap=5e5,
        initial={"D0": 2000.0, "contrast": 0.3},
        bounds={"offset": (0.8, 1.2)},
        fixed={"phi0": 2.0},
    )
    back = ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert back == spec and hash(back) == hash(spec)
    assert back.scaling_start == {"contrast": 0.3}
    model = spec.model(0.01, 0.1)
    assert (model.gap, model.convention, model.mode) == (5e5, "homodyne2", "laminar_flow")


def test_with_start_keeps_fixed_and_with_fixed_adds():
    spec = ModelSpec.create("static", fixed={"alpha": 0.0})
    moved = spec.with_start({"D0": 3000.0, "alpha": 0.7})
    assert moved.start == {"D0": 3000.0, "alpha": 0.0, "D_offset": 10.0}
    more = moved.with_fixed(["D_offset"])
    assert more.fixed_names == ("alpha", "D_offset")


def test_from_dict_reports_what_is_missing():
    with pytest.raises(ParameterError, match="not a homodyne model spec"):
        ModelSpec.from_dict({"mode": "static"})
