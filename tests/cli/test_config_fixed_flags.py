"""Fixed parameters (2.x keys and --fix), command-line values checked as flags, the schema."""

import json

import pytest

from homodyne_cli.app import main
from homodyne_cli.commands.run import resolve_run_config
from homodyne_cli.config import load_config
from homodyne_cli.errors import ConfigError, UsageError

from .conftest import write

LAMINAR = """
analysis_mode: laminar_flow
experimental_data: {file_path: a.hdf}
initial_parameters:
  parameter_names: [D0, alpha, D_offset, gamma_dot_t0, beta, gamma_dot_t_offset, phi0]
  values: [1000.0, 0.5, 10.0, 0.01, 0.0, 0.0, 3.0]
parameter_space:
  bounds:
    - {name: phi0, min: -10.0, max: 10.0}
"""


def test_active_parameters_fix_every_other_parameter_of_the_mode():
    text = LAMINAR.replace(
        "  values:", "  active_parameters: [D0, alpha, D_offset, gamma_dot_0]\n  values:"
    )
    run = load_config(text=text)
    assert run.fixed == {"beta": None, "gamma_dot_t_offset": None, "phi0": None}
    assert run.issues == []  # no longer warned as unimplemented


def test_fixed_parameters_list_mapping_and_fix_flag():
    as_list = LAMINAR.replace("  values:", "  fixed_parameters: [phi_0, beta]\n  values:")
    assert load_config(text=as_list).fixed == {"phi0": None, "beta": None}
    as_map = LAMINAR.replace("  values:", "  fixed_parameters: {phi0: 2.5}\n  values:")
    run = load_config(text=as_map, fix={"alpha": 0.0, "gamma_dot_offset": None})
    assert run.fixed == {"phi0": 2.5, "alpha": 0.0, "gamma_dot_t_offset": None}
    assert run.overrides["--fix"] == {"alpha": 0.0, "gamma_dot_offset": None}


def test_unknown_or_out_of_bounds_fixed_names_are_errors_with_line(tmp_path):
    text = LAMINAR.replace("  values:", "  fixed_parameters: {alpah: 0.0, phi0: 45.0}\n  values:")
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path / "f.yaml", text))
    msg = str(exc.value)
    assert "f.yaml:5: initial_parameters.fixed_parameters: unknown parameter 'alpah'" in msg
    assert "did you mean 'alpha'?" in msg
    assert "fixed phi0 = 45 is outside its bounds [-10, 10]" in msg
    with pytest.raises(ConfigError, match=r"--fix Dzero=1: unknown parameter 'Dzero'"):
        load_config(text=LAMINAR, fix={"Dzero": 1.0})


def _opts(cfg, **kw):
    return {"config": cfg, **kw}


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("end_frame", -5, "--end-frame -5: must be -1 (last frame) or a 1-based frame >= 1"),
        ("dt", 0.0, "--dt 0.0: must be > 0"),
        ("q", [-1.0], "--q -1.0: must be > 0"),
        ("sigma", -1.0, "--sigma -1.0: expected null (estimate from residuals) or a positive"),
        ("max_iterations", 0, "--max-iterations 0: expected an integer >= 1"),
        ("mode", "lamnar", "--mode lamnar: must be one of"),
    ],
)
def test_command_line_values_are_checked_as_flags(tmp_path, flag, value, expected):
    cfg = write(tmp_path / "c.yaml", LAMINAR)
    with pytest.raises(ConfigError) as exc:
        resolve_run_config(_opts(cfg, **{flag: value}))
    assert expected in str(exc.value)
    assert "c.yaml:" not in str(exc.value).split("\n", 1)[1]  # no YAML line for a flag value
    if flag == "mode":
        assert "did you mean 'laminar_flow'?" in str(exc.value)


def test_fix_flag_parsing_and_threads_and_quiet(tmp_path, capsys):
    cfg = write(tmp_path / "c.yaml", LAMINAR)
    run = resolve_run_config(_opts(cfg, fix=["alpha=0", "phi0"]))
    assert run.fixed == {"alpha": 0.0, "phi0": None}
    with pytest.raises(UsageError, match="--fix expects NAME or NAME=NUMBER"):
        resolve_run_config(_opts(cfg, fix=["alpha=zero"]))
    with pytest.raises(SystemExit) as code:
        main(["run", "-c", str(cfg), "--threads", "0"])
    assert code.value.code == 2 and "--threads" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    quiet = [line for line in out.splitlines() if "--quiet" in line]
    assert quiet and "<bool>" not in quiet[0] and "NAME[=VALUE]" in out


def test_cmc_thresholds_live_in_the_config():
    text = LAMINAR + "optimization:\n  cmc: {max_rhat: 1.05, min_ess_bulk: 200}\n"
    cfg = load_config(text=text).cmc
    assert (cfg.max_rhat, cfg.min_ess_bulk) == (1.05, 200.0)
    bad = LAMINAR + "optimization:\n  cmc: {max_rhat: 1.0, min_ess_bulk: 0}\n"
    with pytest.raises(ConfigError) as exc:
        load_config(text=bad)
    assert "optimization.cmc.max_rhat: must be > 1" in str(exc.value)
    assert "optimization.cmc.min_ess_bulk: must be > 0" in str(exc.value)


def test_schema_validates_templates_and_2x_configs(tmp_path, capsys):
    import jsonschema
    import yaml

    from homodyne_cli.config import render_template
    from homodyne_cli.config.templates import TEMPLATE_MODES

    from . import test_commands, test_config

    with pytest.raises(SystemExit) as code:
        main(["config", "schema", "-o", str(tmp_path / "s.json")])
    assert code.value.code == 0
    schema = json.loads((tmp_path / "s.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    docs = [render_template(m, file="x.hdf", q=0.0054) for m in TEMPLATE_MODES]
    docs += [render_template(m, file="x.hdf", q=None, dt=0.1) for m in TEMPLATE_MODES]
    cmc_2x = "optimization:\n  cmc:\n    sharding: {num_shards: auto}\n"
    cmc_2x += "    backend_config: {name: multiprocessing}\n"
    docs += [test_config.STATIC_2X, LAMINAR, LAMINAR + cmc_2x]
    run = load_config(text=LAMINAR + cmc_2x)
    assert run.cmc.num_shards is None and run.cmc.backend == "local"
    assert any("runs as 'local'" in str(w) for w in run.warnings)
    for text in (test_commands.STATIC_2X, test_commands.LAMINAR_2X):
        docs.append(text.format(folder="/data"))
    docs.append(test_commands.FILE_PATH_ONLY.format(file="/data/a.hdf"))
    for text in docs:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
        assert errors == [], (errors, text[:200])
    # and the schema does catch what the checker refuses
    bad = yaml.safe_load(test_config.STATIC_2X.replace("dt: 0.1", "dt: -1"))
    assert any("dt" in str(e.path) for e in validator.iter_errors(bad))
    # config new writes the editor's schema line only when asked
    with pytest.raises(SystemExit):
        main(["config", "new", "-o", str(tmp_path / "c.yaml"), "--schema", "s.json"])
    first = (tmp_path / "c.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=s.json"
    assert load_config(tmp_path / "c.yaml").issues == []
