"""NLSQConfig: defaults, validation messages that name the key, mapping round trip."""

import pytest

from homodyne_nlsq import NLSQConfig, NLSQConfigError
from homodyne_physics import HomodyneError


def test_defaults_match_the_contract():
    cfg = NLSQConfig()
    assert (cfg.max_iterations, cfg.ftol, cfg.xtol, cfg.gtol) == (200, 1e-8, 1e-8, 1e-8)
    assert (cfg.chunk_size, cfg.loss, cfg.f_scale, cfg.scaling_mode) == (
        4096,
        "linear",
        1.0,
        "auto",
    )
    assert (cfg.fourier_order, cfg.sigma, cfg.solver, cfg.multistart) == (2, None, "lm", 0)
    assert (cfg.cmaes, cfg.seed) == (False, 0)


def test_from_dict_round_trip_and_yaml_strings():
    cfg = NLSQConfig.from_dict(
        {"ftol": "1e-10", "max_iterations": 50, "sigma": 0.01, "loss": "huber"}
    )
    assert cfg.ftol == 1e-10 and cfg.max_iterations == 50 and cfg.sigma == 0.01
    assert NLSQConfig.from_dict(cfg.to_dict()) == cfg
    assert NLSQConfig.from_dict(None) == NLSQConfig()


@pytest.mark.parametrize(
    ("section", "key_path"),
    [
        ({"ftol": -1.0}, "optimization.nlsq.ftol"),
        ({"max_iterations": 0}, "optimization.nlsq.max_iterations"),
        ({"max_iterations": 2.5}, "optimization.nlsq.max_iterations"),
        ({"loss": "l1"}, "optimization.nlsq.loss"),
        ({"scaling_mode": "averaged"}, "optimization.nlsq.scaling_mode"),
        ({"solver": "trf"}, "optimization.nlsq.solver"),
        ({"sigma": 0}, "optimization.nlsq.sigma"),
        ({"cmaes": "yes"}, "optimization.nlsq.cmaes"),
        ({"multistart": -1}, "optimization.nlsq.multistart"),
        ({"tolerance": 1e-8}, "optimization.nlsq.tolerance"),
    ],
)
def test_errors_name_the_key(section, key_path):
    with pytest.raises(NLSQConfigError, match=key_path.replace(".", r"\.")) as err:
        NLSQConfig.from_dict(section)
    assert isinstance(err.value, HomodyneError)


def test_custom_path_and_direct_construction():
    with pytest.raises(NLSQConfigError, match=r"run\.lsq\.gtol: expected a positive"):
        NLSQConfig.from_dict({"gtol": "abc"}, path="run.lsq")
    with pytest.raises(NLSQConfigError, match="chunk_size"):
        NLSQConfig(chunk_size=0)
