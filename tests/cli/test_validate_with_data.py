"""Issue 15 item 7: `config validate --with-data` runs every check `run` makes before fitting;
plain `config validate` says which checks need --with-data."""

import pytest

from .conftest import write

BASE = """
experimental_data:
  file_path: {file}
analysis_mode: static
analyzer_parameters:
  dt: 0.1
  end_frame: {end}
  scattering: {{wavevector_q: {q}}}
{extra}
"""

CASES = {
    "missing file": (dict(file="nowhere.hdf"), "data file not found: nowhere.hdf"),
    "folder": (dict(file="{folder}"), "is a folder, expected an HDF5"),
    "frames beyond": (dict(end=100), "end_frame 100 is past the last frame"),
    "phi selects nothing": (
        dict(
            extra="phi_filtering: {enabled: true, target_ranges: "
            "[{min_angle: 170.0, max_angle: 175.0}]}"
        ),
        "inside the phi ranges",
    ),
    "q far from any ring": (dict(q=0.05), "no q ring within 10% of the requested q = 0.05"),
}


def _config(tmp_path, sim_files, **kw):
    values = dict(file=str(sim_files["static"]), end=-1, q=0.0054, extra="")
    values.update(kw)
    values["file"] = values["file"].format(folder=tmp_path)
    return write(tmp_path / "c.yaml", BASE.format(**values))


@pytest.mark.parametrize("case", list(CASES))
def test_with_data_finds_what_run_would_refuse(sim_files, tmp_path, capsys, case):
    from homodyne_cli.commands.config_cmd import config_validate
    from homodyne_cli.console import UI, set_ui
    from homodyne_cli.data_checks import DataCheckFailed
    from homodyne_cli.errors import exit_code_for

    kw, expected = CASES[case]
    cfg = _config(tmp_path, sim_files, **kw)
    set_ui(UI(0))
    config_validate(file=cfg, strict=False)  # the config itself is valid ...
    assert "not checked without --with-data" in capsys.readouterr().err
    with pytest.raises(DataCheckFailed, match="1 problem with the data") as e:
        config_validate(file=cfg, strict=False, with_data=True)  # ... the data are not
    err = capsys.readouterr().err
    assert expected in err, err
    assert exit_code_for(e.value) == 3


def test_with_data_on_good_data_passes(sim_files, tmp_path, capsys):
    from homodyne_cli.commands.config_cmd import config_validate
    from homodyne_cli.console import UI, set_ui

    set_ui(UI(0))
    config_validate(file=_config(tmp_path, sim_files), strict=False, with_data=True)
    assert "data ok:" in capsys.readouterr().err
