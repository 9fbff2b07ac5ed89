"""The YAML configuration layer, in-process (no subprocess): line numbers, 2.x keys, mapping."""

import pytest

from homodyne_cli.config import Override, load_config, render_template
from homodyne_cli.errors import ConfigError

from .conftest import write

STATIC_2X = """
analysis_mode: static
analyzer_parameters:
  dt: 0.1
  start_frame: 1
  end_frame: -1
  scattering: {wavevector_q: 0.0054}
experimental_data:
  data_folder_path: ./data/
  data_file_name: sample_twotime.hdf
  cache_file_path: ./cache/
phi_filtering: {enabled: false}
initial_parameters:
  parameter_names: [D0, alpha, D_offset]
  values: [2000.0, 0.0, 0.0]
parameter_space:
  model: static
  bounds:
    - {name: contrast, min: 0.0, max: 1.0}
    - {name: D0, min: 100.0, max: 1.0e5, type: TruncatedNormal,
       prior_mu: 2000.0, prior_sigma: 2000.0}
    - {name: alpha, min: -2.0, max: 2.0}
    - {name: D_offset, min: -1.0e5, max: 1.0e5}
optimization:
  method: nlsq
  nlsq: {max_iterations: 200, tolerance: 1.0e-8, loss: soft_l1,
         anti_degeneracy: {enable: false, per_angle_mode: auto},
         hybrid_streaming: {enable: true, chunk_size: 10000}}
  mcmc: {num_warmup: 500, num_samples: 1500, num_chains: 4}
"""


def test_2x_static_config_maps_onto_typed_settings(tmp_path):
    run = load_config(write(tmp_path / "c.yaml", STATIC_2X))
    assert run.mode == "static" and run.method == "nlsq" and run.convention == "physical"
    assert run.files == ("data/sample_twotime.hdf",)
    assert run.q == (0.0054,) and run.dt == 0.1 and run.start_frame == 1 and run.end_frame == -1
    assert run.initial == {"D0": 2000.0, "alpha": 0.0, "D_offset": 0.0}
    assert run.bounds["D0"] == (100.0, 1e5) and run.bounds["contrast"] == (0.0, 1.0)
    assert run.priors["D0"]["mean"] == 2000.0 and run.priors["D0"]["sd"] == 2000.0
    assert run.nlsq.ftol == 1e-8 and run.nlsq.loss == "soft_l1"
    assert run.nlsq.scaling_mode == "auto"
    assert (run.cmc.num_warmup, run.key_path("cmc", "num_warmup")) == (
        500,
        "optimization.mcmc.num_warmup",
    )
    # the unimplemented 2.x block is named once, with its line
    legacy = [w for w in run.warnings if "hybrid_streaming" in str(w)]
    assert len(legacy) == 1 and legacy[0].line == 27
    from homodyne_cli.config import nlsq_config

    cfg = nlsq_config(run)
    assert cfg.ftol == 1e-8 and cfg.loss == "soft_l1" and cfg.max_iterations == 200


def test_errors_are_all_reported_with_key_path_and_line(tmp_path):
    text = STATIC_2X.replace("dt: 0.1", "dt: fast").replace(
        "max_iterations: 200", "max_iterations: 2.5"
    )
    text = text.replace("  start_frame: 1", "  start_frme: 1")
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path / "c.yaml", text))
    msg = str(exc.value)
    assert "2 problems" in msg
    assert "c.yaml:3: analyzer_parameters.dt: expected a number, got text 'fast'" in msg
    assert "c.yaml:25: optimization.nlsq.max_iterations: expected an integer" in msg
    typo = [i for i in exc.value.issues if i.level == "warning" and "start_frme" in str(i)]
    assert typo and "did you mean 'start_frame'?" in str(typo[0]) and typo[0].line == 4


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path / "bad.yaml", "analysis_mode: static\noptimization:\n  nlsq: {a: 1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:4:1: YAML syntax error.*starts on line 3"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("analysis_mode: laminar\n", "did you mean 'laminar_flow'"),
        ("analysis_mode: static\nanalyzer_parameters: {end_frame: 0}\n", "end_frame: must be -1"),
        ("parameter_space:\n  bounds:\n    - {name: D0, min: 5, max: 1}\n", "min must be < max"),
        ("initial_parameters: {parameter_names: [D0, alpha], values: [1.0]}\n", "1 values for 2"),
        ("phi_filtering: {enabled: true}\n", "enabled but no target_ranges"),
        ("analysis_mode: static\n", "no data file given"),
    ],
)
def test_bad_values_are_refused(text, expected):
    if "experimental_data" not in text and "no data file" not in expected:
        text += "experimental_data: {file_path: x.hdf}\n"
    with pytest.raises(ConfigError, match=expected):
        load_config(text=text)


def test_values_null_phi_filtering_and_overrides():
    text = """
analysis_mode: laminar_flow
experimental_data: {file_path: /data/a.hdf}
phi_filtering:
  enabled: true
  target_ranges:
    - {min_angle: -10.0, max_angle: 10.0, description: parallel}
    - {min_angle: 170.0, max_angle: -170.0}
initial_parameters:
  parameter_names: [D0, alpha, D_offset, gamma_dot_0, beta, gamma_dot_offset, phi_0]
  values: null
"""
    run = load_config(text=text)
    assert run.initial is None
    assert run.phi_ranges == ((-10.0, 10.0), (170.0, -170.0))
    run = load_config(
        text=text,
        overrides=[
            Override(("analyzer_parameters", "scattering", "wavevector_q"), [0.005, 0.006], "--q"),
            Override(("convention",), "homodyne2", "--convention"),
            Override(("experimental_data", "file_paths"), ["a.hdf", "b.hdf"], "--data-file"),
        ],
    )
    assert run.q == (0.005, 0.006) and run.convention == "homodyne2"
    assert run.files == ("a.hdf", "b.hdf")


@pytest.mark.parametrize("mode", ["static", "laminar_flow"])
def test_templates_are_valid_and_quiet(mode):
    run = load_config(text=render_template(mode, file="x.hdf", q=0.0054))
    assert run.mode == mode and run.issues == []


def test_strict_turns_warnings_into_errors():
    text = "analysis_mode: static\nexperimental_data: {file_path: a.hdf}\nlogging: {level: INFO}\n"
    assert len(load_config(text=text).warnings) == 1
    with pytest.raises(ConfigError, match="logging"):
        load_config(text=text, strict=True)


def test_cmc_dask_section_reaches_the_typed_config_with_line_numbers(tmp_path):
    import yaml

    from homodyne_cli.config import cmc_config

    doc = yaml.safe_load(STATIC_2X)
    doc["optimization"]["method"] = "cmc"
    doc["optimization"]["cmc"] = {
        "backend": "dask",
        "dask": {"cluster": "slurm", "queue": "debug", "max_jobs": 4, "job_extra": ["--qos=x"]},
        "combination": {"space": "reference"},
    }
    cfg = cmc_config(load_config(write(tmp_path / "good.yaml", yaml.safe_dump(doc))))
    assert cfg.backend == "dask" and cfg.dask.cluster == "slurm"
    assert cfg.combination_space == "reference"
    assert cfg.dask.max_jobs == 4 and cfg.dask.job_extra == ("--qos=x",)
    doc["optimization"]["cmc"]["dask"] = {"clustr": "slurm"}
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: optimization\.cmc\.dask: unknown"):
        cmc_config(load_config(write(tmp_path / "bad.yaml", yaml.safe_dump(doc))))
