"""analyzer_parameters.scattering.phi_bin_width: the finite angular bin reaches the model spec."""

import pytest

from homodyne_cli.config import load_config
from homodyne_cli.errors import ConfigError
from homodyne_cli.model_spec import bin_width_note, spec_from_run

BASE = (
    "analysis_mode: laminar_flow\nexperimental_data: {file_path: a.hdf}\n"
    "analyzer_parameters:\n  scattering:\n"
)


def test_bin_width_key_sets_the_spec_and_the_log_line():
    run = load_config(text=BASE + "    phi_bin_width: 4\n")
    spec = spec_from_run(run)
    assert run.phi_bin_width == 4.0 and spec.phi_bin_width == 4.0
    assert spec.to_dict()["phi_bin_width"] == 4.0  # recorded with the spec in the results
    assert "averaged over 4 deg" in bin_width_note(spec)
    per = spec_from_run(load_config(text=BASE + "    phi_bin_width: [2, 4]\n"))
    assert per.phi_bin_width == (2.0, 4.0)
    plain = spec_from_run(load_config(text=BASE + "    wavevector_q: 0.005\n"))
    assert plain.phi_bin_width is None and "taken as 0" in bin_width_note(plain)
    with pytest.raises(ConfigError, match="phi_bin_width"):
        load_config(text=BASE + "    phi_bin_width: -3\n")
