"""End-to-end: the real ``homodyne`` command in subprocesses (each costs a JAX start-up)."""

import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import TRACEBACK, run_homodyne, write


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_help_is_fast_and_imports_no_jax(tmp_path):
    code = (
        "import sys, time; t=time.perf_counter(); from homodyne_cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    rc = e.code\n"
        "heavy = [m for m in ('jax', 'numpy', 'matplotlib', 'h5py') if m in sys.modules]\n"
        "print('RESULT', rc, heavy, time.perf_counter() - t, file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    rc, heavy = proc.stderr.split("RESULT")[1].split()[:2]
    assert rc == "0" and heavy == "[]", proc.stderr
    for word in ("run", "demo", "config", "inspect", "plot-data", "simulate", "check"):
        assert word in proc.stdout


@pytest.mark.parametrize("args", [(), ("config",)])
def test_a_bare_command_group_shows_its_help_and_no_error(args, tmp_path):
    r = run_homodyne(*args, cwd=tmp_path, timeout=120)
    assert r.code == 0 and "Usage: homodyne" in r.out, r
    assert "error" not in r.err.lower() and TRACEBACK not in r.err, r.err


STATIC_2X = """
analysis_mode: static
analyzer_parameters:
  dt: 0.1
  start_frame: 1
  end_frame: -1
  scattering: {{wavevector_q: 0.0054}}
experimental_data:
  data_folder_path: {folder}
  data_file_name: static.hdf
  cache_file_path: ./cache/
phi_filtering: {{enabled: false}}
initial_parameters:
  parameter_names: [D0, alpha, D_offset]
  values: [8000.0, 0.0, 100.0]
parameter_space:
  model: static
  bounds:
    - {{name: contrast, min: 0.0, max: 1.0}}
    - {{name: offset, min: 0.5, max: 1.5}}
    - {{name: D0, min: 100.0, max: 1.0e5, type: TruncatedNormal,
       prior_mu: 2000.0, prior_sigma: 2000.0}}
    - {{name: alpha, min: -2.0, max: 2.0}}
    - {{name: D_offset, min: -1.0e5, max: 1.0e5}}
optimization:
  method: nlsq
  nlsq: {{max_iterations: 200, tolerance: 1.0e-8, loss: linear,
         anti_degeneracy: {{enable: false, per_angle_mode: auto}}}}
  mcmc: {{num_warmup: 500, num_samples: 1500, num_chains: 4}}
"""

LAMINAR_2X = """
analysis_mode: laminar_flow
analyzer_parameters:
  dt: 0.1
  start_frame: 1
  end_frame: -1
  scattering: {{wavevector_q: 0.0054}}
  geometry: {{stator_rotor_gap: 2000000}}
experimental_data:
  data_folder_path: {folder}
  data_file_name: laminar.hdf
phi_filtering:
  enabled: true
  target_ranges:
    - {{min_angle: -15.0, max_angle: 15.0, description: parallel to flow}}
    - {{min_angle: 40.0, max_angle: 140.0}}
initial_parameters:
  parameter_names: [D0, alpha, D_offset, gamma_dot_t0, beta, gamma_dot_t_offset, phi0]
  values: null
parameter_space:
  model: laminar_flow
  bounds:
    - {{name: D0, min: 100.0, max: 1.0e5}}
    - {{name: gamma_dot_t0, min: 1.0e-6, max: 0.5}}
optimization:
  method: nlsq
  nlsq:
    anti_degeneracy: {{enable: true, per_angle_mode: auto, constant_scaling_threshold: 3}}
    cmaes: {{enable: false}}
"""

FILE_PATH_ONLY = """
experimental_data:
  file_path: {file}
analyzer_parameters:
  dt: 0.1
initial_parameters:
  values: [8000.0, 0.0, 100.0]
"""


def test_2x_static_config_runs_unchanged_in_the_2x_form(sim_files, tmp_path):
    cfg = write(tmp_path / "static.yaml", STATIC_2X.format(folder=sim_files["folder"]))
    out = tmp_path / "homodyne_results"
    r = run_homodyne(
        "--config", str(cfg), "--method", "nlsq", "--output-dir", str(out), cwd=tmp_path
    )
    assert r.code == 0, r
    params = json.loads((out / "nlsq" / "parameters.json").read_text())
    assert params["converged"] and params["analysis_mode"] == "static"
    truth = sim_files["static_truth"]
    for name in ("D0", "alpha", "D_offset"):  # recovery within 4 reported standard errors
        p = params["parameters"][name]
        assert abs(p["value"] - truth[name]) < 4 * p["uncertainty"], (name, p, truth[name])
    fitted = np.load(out / "nlsq" / "fitted_data.npz")
    assert fitted["c2_exp"].shape == fitted["c2_fit"].shape == (3, 60, 60)
    assert np.allclose(
        fitted["residuals"][:, 0, 1],
        fitted["c2_exp"][:, 0, 1] - fitted["c2_fit"][:, 0, 1],
        rtol=0,
        atol=1e-6,
    )
    summary = json.loads((out / "summary.json").read_text())
    digest = hashlib.sha256(sim_files["static"].read_bytes()).hexdigest()
    assert summary["data"]["sha256"] == digest and summary["seed"] == 0
    assert set(summary["versions"]) >= {
        "homodyne-physics",
        "homodyne-data",
        "homodyne-nlsq",
        "homodyne-cmc",
        "homodyne-cli",
    }
    assert summary["config"]["nlsq"]["ftol"] == 1e-8
    assert "cache_file_path" not in r.err  # implemented key: no warning
    assert (out / "homodyne.log").read_text().count("NLSQ fit") >= 1
    assert sorted(p.name for p in (out / "plots").iterdir())[:1] == [
        "c2_heatmaps_phi_+000.00deg.png"
    ]
    assert not (tmp_path / "cache").exists() or (tmp_path / "cache").is_dir()
    # a second run never touches the first one
    before = _tree_digest(out)
    r2 = run_homodyne("run", "-c", str(cfg), "-o", str(out), "--no-plots", "-q", cwd=tmp_path)
    assert r2.code == 0, r2
    assert _tree_digest(out) == before
    assert (tmp_path / "homodyne_results-run2" / "nlsq" / "parameters.json").exists()


def test_2x_laminar_config_with_phi_filtering_and_null_values(sim_files, tmp_path):
    cfg = write(tmp_path / "laminar.yaml", LAMINAR_2X.format(folder=sim_files["folder"]))
    out = tmp_path / "res"
    r = run_homodyne("--config", str(cfg), "--output-dir", str(out), "--no-plots", cwd=tmp_path)
    assert r.code in (0, 1), r  # 1 only if the fit from registry defaults did not converge
    assert TRACEBACK not in r.err
    assert "constant_scaling_threshold" in r.err  # 2.x key we do not implement: named
    params = json.loads((out / "nlsq" / "parameters.json").read_text())
    assert params["scaling"]["phi"] == [-10.0, 0.0, 10.0, 45.0, 90.0, 135.0]
    assert len(params["parameters"]) == 7


def test_file_path_only_config_and_quality_gate_exit_1(sim_files, tmp_path):
    cfg = write(tmp_path / "min.yaml", FILE_PATH_ONLY.format(file=sim_files["static"]))
    r = run_homodyne(
        "run",
        "-c",
        str(cfg),
        "-o",
        str(tmp_path / "a"),
        "--no-plots",
        "--max-iterations",
        "1",
        cwd=tmp_path,
    )
    assert r.code == 1, r
    assert "did not converge" in r.err and TRACEBACK not in r.err
    assert (tmp_path / "a" / "nlsq" / "parameters.json").exists()  # results still written
    assert "analysis_mode" in r.err  # 'not given; using static' warning


@pytest.mark.parametrize(
    ("files", "args", "code", "message"),
    [
        ({}, ["run", "--config", "missing.yaml"], 2, "configuration file not found: missing.yaml"),
        (
            {"bad.yaml": "analysis_mode: static\nexperimental_data:\n  file_path: [a.hdf\n"},
            ["run", "-c", "bad.yaml"],
            2,
            "bad.yaml:4:1: YAML syntax error",
        ),
        (
            {
                "t.yaml": "analysis_mode: static\nanalyzer_parameters:\n  dt: fast\n"
                "experimental_data: {file_path: x.hdf}\n"
            },
            ["run", "-c", "t.yaml"],
            2,
            "t.yaml:3: analyzer_parameters.dt: expected a number",
        ),
        (
            {"m.yaml": "analysis_mode: static\nexperimental_data: {file_path: nothere.hdf}\n"},
            ["run", "-c", "m.yaml", "-o", "out"],
            3,
            "data file not found: nothere.hdf",
        ),
        (
            {
                "c.yaml": "analysis_mode: static\nexperimental_data: {file_path: corrupt.hdf}\n",
                "corrupt.hdf": "this is not HDF5\n",
            },
            ["run", "-c", "c.yaml", "-o", "out"],
            3,
            "not an HDF5 file",
        ),
        (
            {"blocker": "x"},
            ["run", "-c", "{static_cfg}", "-o", "blocker/out"],
            2,
            "cannot be created",
        ),
        ({}, ["run", "-c", "{static_cfg}", "--method", "magic"], 2, "--method must be"),
    ],
    ids=[
        "missing-config",
        "yaml-syntax",
        "wrong-type",
        "missing-data",
        "corrupt-hdf5",
        "output-not-writable",
        "bad-flag",
    ],
)
def test_bad_inputs_give_one_message_and_the_right_exit_code(
    sim_files, tmp_path, files, args, code, message
):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    static_cfg = write(tmp_path / "ok.yaml", FILE_PATH_ONLY.format(file=sim_files["static"]))
    before = set(p.name for p in tmp_path.iterdir())
    r = run_homodyne(*[a.format(static_cfg=static_cfg) for a in args], cwd=tmp_path)
    assert r.code == code, r
    assert message in r.err, r
    assert TRACEBACK not in r.err and TRACEBACK not in r.out
    assert set(p.name for p in tmp_path.iterdir()) == before  # nothing written anywhere


def test_config_new_validate_inspect_simulate_check(tmp_path):
    r = run_homodyne(
        "config",
        "new",
        "--mode",
        "laminar_flow",
        "-o",
        "new.yaml",
        "--data-file",
        "sim.hdf",
        cwd=tmp_path,
    )
    assert r.code == 0, r
    r = run_homodyne("config", "validate", "new.yaml", cwd=tmp_path)
    assert r.code == 0 and "valid" in r.err, r
    (tmp_path / "typo.yaml").write_text(
        "analysis_mode: static\nanalyser_parameters: {dt: 0.1}\n"
        "experimental_data: {file_path: sim.hdf}\n"
    )
    r = run_homodyne("config", "validate", "--strict", "typo.yaml", cwd=tmp_path)
    assert r.code == 2 and "did you mean 'analyzer_parameters'?" in r.err, r
    r = run_homodyne(
        "simulate",
        "-o",
        "sim.hdf",
        "--mode",
        "static",
        "--phi",
        "0,90",
        "--n-frames",
        "40",
        "--param",
        "D0=5000",
        "--write-config",
        cwd=tmp_path,
    )
    assert r.code == 0 and (tmp_path / "sim.hdf").exists() and (tmp_path / "sim.yaml").exists(), r
    r = run_homodyne("inspect", "sim.hdf", "--json", cwd=tmp_path)
    assert r.code == 0, r
    info = json.loads(r.out)
    assert info["quality_q"] == pytest.approx(0.0054, rel=1e-6)  # float32 storage in file
    r = run_homodyne("plot-data", "-c", "sim.yaml", "-o", "dplots", cwd=tmp_path)
    assert r.code == 0, r
    names = sorted(p.name for p in (tmp_path / "dplots" / "plots").iterdir())
    assert "data_overview.png" in names and len(names) == 4
    r = run_homodyne("check", "--json", cwd=tmp_path)
    assert r.code == 0, r
    rep = json.loads(r.out)
    assert rep["float64"] is True and rep["jax_backend"] == "cpu"


def test_ctrl_c_exits_130_without_traceback(sim_files, tmp_path):
    cfg = write(tmp_path / "min.yaml", FILE_PATH_ONLY.format(file=sim_files["static"]))
    import os

    env = dict(os.environ, JAX_PLATFORMS="cpu")
    # a shell may start background jobs with SIGINT ignored (inherited): give the child the
    # handler a terminal user has before running the command
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from homodyne_cli.app import main; main()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "run", "-c", str(cfg), "-o", str(tmp_path / "o")],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    # signal once the run holds its output folder's lock (a fixed sleep could land in the
    # interpreter's imports on a loaded machine, before the command owns the signal)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (tmp_path / ".o.lock").exists():
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and TRACEBACK not in err


def test_several_files_give_one_folder_each_and_a_summary_table(sim_files, tmp_path):
    copy = tmp_path / "static_copy.hdf"
    copy.write_bytes(sim_files["static"].read_bytes())
    r = run_homodyne(
        "run",
        "--data-file",
        str(sim_files["static"]),
        "--data-file",
        str(copy),
        "--mode",
        "static",
        "--dt",
        "0.1",
        "--initial",
        "D0=8000",
        "--initial",
        "alpha=0",
        "--initial",
        "D_offset=100",
        "--no-plots",
        "-o",
        "multi",
        cwd=tmp_path,
    )
    assert r.code == 0, r
    rows = (tmp_path / "multi" / "summary.csv").read_text().strip().splitlines()
    assert len(rows) == 3 and rows[0].startswith("folder,file,q,n_phi,converged,reduced_chi2")
    d0 = [float(row.split(",")[6]) for row in rows[1:]]
    assert d0[0] == d0[1]  # the same data give the same answer
    assert (tmp_path / "multi" / "static" / "nlsq" / "parameters.json").exists()
    assert (tmp_path / "multi" / "static_copy" / "nlsq" / "parameters.json").exists()
    assert "summary" in r.out


@pytest.mark.parametrize("mode", ["static", pytest.param("laminar_flow", marks=pytest.mark.slow)])
def test_demo_recovers_the_truth(tmp_path, mode):
    r = run_homodyne("demo", "--mode", mode, "-o", "demo", cwd=tmp_path)
    assert r.code == 0, r  # exit 1 if any parameter is more than 3 standard errors off
    assert "fitted vs true" in r.out and "> 3 sigma" not in r.out
    plots = tmp_path / "demo" / "results" / "plots"
    assert (plots / "overview.png").exists() and (plots / "residuals.png").exists()
    # what the fit means: transport table, csv, plots and the parameters.json keys
    assert "transport coefficients" in r.out and "model-free noise estimate" in r.err
    assert "reduced chi2 =" not in r.out + r.err  # sigma is estimated: no reduced chi2
    assert (plots / "transport.png").exists() and (plots / "residual_structure.png").exists()
    csv = (tmp_path / "demo" / "results" / "nlsq" / "transport.csv").read_text().splitlines()
    assert csv[0].startswith("t [s],D [A^2/s],D_lo68 [A^2/s]") and len(csv) > 200
    params = json.loads((tmp_path / "demo" / "results" / "nlsq" / "parameters.json").read_text())
    assert params["identifiability"]["ok"] and params["goodness_of_fit"]["residual_structure"]
    assert len(params["transport"]["columns"]["D"]) == len(csv) - 1


@pytest.mark.slow
def test_method_both_writes_nlsq_and_cmc_results(sim_files, tmp_path):
    cfg = write(
        tmp_path / "both.yaml",
        FILE_PATH_ONLY.format(file=sim_files["static"])
        + (
            "analysis_mode: static\noptimization:\n  method: both\n"
            "  mcmc: {num_warmup: 150, num_samples: 150, num_chains: 2}\n"
        ),
    )
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}  # no shard resumed from an earlier run
    r = run_homodyne("run", "-c", str(cfg), "-o", "both", cwd=tmp_path, timeout=1200, env=cache)
    assert r.code in (0, 1), r  # 1 only when the CMC diagnostics fail
    out = tmp_path / "both"
    assert (out / "nlsq" / "parameters.json").exists()
    for name in ("parameters.json", "diagnostics.json", "samples.npz", "posterior.nc"):
        assert (out / "cmc" / name).exists(), name
    assert (out / "cmc" / "fitted_data.npz").exists()
    assert (out / "cmc" / "transport.csv").exists() and (out / "plots" / "transport.png").exists()
    cmc_params = json.loads((out / "cmc" / "parameters.json").read_text())
    assert "D_hi95" in cmc_params["transport"]["columns"] and "identifiability" in cmc_params
    assert re.search(r"D NLSQ .*D CMC", r.out.replace("\n", " "))
    for name in ("trace", "rank", "posterior", "pair", "forest", "convergence", "overview"):
        assert (out / "plots" / "cmc" / f"{name}.png").exists(), name
    assert re.search(r"CMC sampling: shards (\d+)/\1 done", r.err) and "R-hat" in r.err
    assert json.loads((out / "summary.json").read_text())["cmc"] is not None


def test_ctrl_c_swallowed_in_a_gc_callback_is_still_seen(capsys):
    """Python ignores exceptions raised in gc callbacks (JAX installs one): a Ctrl-C landing there
    must still end the command with 130, and without an 'Exception ignored' traceback."""
    import gc
    import os

    from homodyne_cli.app import _watch_ctrl_c

    old_handler, old_hook = signal.getsignal(signal.SIGINT), sys.unraisablehook
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def interrupt_in_gc(phase, info):
        if phase == "start":
            gc.callbacks.remove(interrupt_in_gc)
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs here, inside the callback

    try:
        interrupted = _watch_ctrl_c()
        assert not interrupted()
        gc.callbacks.append(interrupt_in_gc)
        gc.collect()  # the KeyboardInterrupt is raised and swallowed by the interpreter
        assert interrupted()
    finally:
        signal.signal(signal.SIGINT, old_handler)
        sys.unraisablehook = old_hook
    assert "Traceback" not in capsys.readouterr().err
