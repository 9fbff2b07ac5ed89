"""Priors have one home, the model spec: the 2.x bounds-entry keys (type/prior_mu/prior_sigma)
and ``optimization.cmc.priors`` are read by the CLI into ``RunConfig.priors`` and from there
into the ``ModelSpec`` that NLSQ fits and CMC samples; ``CMCConfig`` has no priors."""

import pytest

from homodyne_cli.config import cmc_config, load_config
from homodyne_cli.errors import ConfigError
from homodyne_cli.model_spec import spec_from_run

from .conftest import write

LAMINAR = """
analysis_mode: laminar_flow
experimental_data: {file_path: data.hdf}
parameter_space:
  bounds:
    - {name: D0, min: 100.0, max: 1.0e5, type: TruncatedNormal, prior_mu: 2000.0,
       prior_sigma: 2000.0}
    - {name: alpha, min: -2.0, max: 2.0, type: Normal, prior_mu: -0.5, prior_sigma: 0.3}
optimization:
  method: both
  cmc:
    num_chains: 2
    priors:
      D0: {family: Normal, mean: 1500.0, sd: 300.0, min: 100.0, max: 1.0e5}
      gamma_dot_0: {min: 0.0, max: 0.2}
"""


def test_bounds_entry_and_cmc_section_priors_reach_the_spec():
    run = load_config(text=LAMINAR)
    spec = spec_from_run(run)
    # 2.x bounds entry: as written
    assert spec.priors["alpha"].family == "Normal"
    assert (spec.priors["alpha"].mean, spec.priors["alpha"].sd) == (-0.5, 0.3)
    # optimization.cmc.priors wins over the bounds entry of the same parameter
    d0 = spec.priors["D0"]
    assert (d0.family, d0.mean, d0.sd, d0.low, d0.high) == ("Normal", 1500.0, 300.0, 100.0, 1e5)
    # alias resolved; min/max only -> mid-range, range / 4 (and the prior's ends bound the fit)
    g = spec.priors["gamma_dot_t0"]
    assert (g.family, g.mean, g.sd, g.low, g.high) == ("TruncatedNormal", 0.1, 0.05, 0.0, 0.2)
    assert spec.bounds["gamma_dot_t0"] == (0.0, 0.2)
    # the CMC settings keep theirs, and no priors
    cfg = cmc_config(run)
    assert cfg.num_chains == 2 and not hasattr(cfg, "priors")
    assert "priors" not in cfg.to_dict()
    assert not [w for w in run.warnings if "priors" in str(w)]


def _line(text: str, needle: str) -> int:
    """1-based line of ``needle`` in the file ``write`` makes of ``text``."""
    return next(n for n, row in enumerate(text.lstrip().splitlines(), 1) if needle in row)


def test_bad_cmc_section_priors_are_reported_with_key_path_and_line(tmp_path):
    bad_family = LAMINAR.replace("family: Normal, mean: 1500.0", "family: Cauchy, mean: 1500.0")
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path / "f.yaml", bad_family))
    line = _line(bad_family, "Cauchy")
    assert f"f.yaml:{line}: optimization.cmc.priors.D0.family: must be one of" in str(e.value)
    text = LAMINAR.replace("gamma_dot_0: {min: 0.0, max: 0.2}", "gamma_dot_0: {min: 0.2, max: 0}")
    text += "      D_ofset: {mean: 1.0}\n"
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path / "p.yaml", text))
    msg = str(e.value)
    assert "2 problems" in msg  # every problem at once
    line = _line(text, "gamma_dot_0")
    where = f"p.yaml:{line}: optimization.cmc.priors.gamma_dot_0"
    assert f"{where}: gamma_dot_t0: min must be < max" in msg
    line = _line(text, "D_ofset")
    assert f"p.yaml:{line}: optimization.cmc.priors.D_ofset: unknown parameter 'D_ofset'" in msg
    assert "did you mean 'D_offset'" in msg


def test_a_prior_for_a_parameter_the_mode_lacks_is_warned_and_ignored():
    text = LAMINAR.replace("laminar_flow", "static").replace("      gamma_dot_0", "      beta")
    run = load_config(text=text)
    assert "gamma_dot_t0" not in spec_from_run(run).priors
    (w,) = [w for w in run.warnings if "priors" in str(w)]
    assert "'beta' is not a parameter of mode 'static'; ignored" in str(w)
