"""``inspect`` as a diagnosis tool, and bare arrays from the command line (--q, --phi, --dt)."""

import json
import signal
import sys
import warnings

import h5py
import numpy as np
import pytest

from .conftest import TRACEBACK, run_homodyne


def call(capsys, monkeypatch, tmp_path, *args):
    """Run ``homodyne ARGS`` in this process (JAX is imported once): (exit code, stdout, stderr)."""
    from homodyne_cli.app import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "150")
    handler, hook, show = signal.getsignal(signal.SIGINT), sys.unraisablehook, warnings.showwarning
    try:
        with pytest.raises(SystemExit) as e:
            main(list(args))
    finally:
        signal.signal(signal.SIGINT, handler)
        sys.unraisablehook, warnings.showwarning = hook, show
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def _broken(path, n=20):
    """APS-U by hand: angle 90 with 30 % NaN, frame_time 0, a delay_list of 5 entries."""
    rng = np.random.default_rng(0)
    mats = []
    for _ in range(2):
        a = 1.0 + 0.2 * rng.standard_normal((n, n))
        mats.append(np.triu(a) + np.triu(a, 1).T)
    iu = np.triu_indices(n, 1)
    k = int(0.3 * iu[0].size)
    mats[1][iu[0][:k], iu[1][:k]] = np.nan
    with h5py.File(path, "w") as f:
        f["xpcs/qmap/dynamic_v_list_dim0"] = [0.005]
        f["xpcs/qmap/dynamic_v_list_dim1"] = [0.0, 90.0]
        f["xpcs/twotime/processed_bins"] = [1, 2]
        for b, m in enumerate(mats, start=1):
            f[f"xpcs/twotime/correlation_map/c2_{b:05d}"] = np.triu(m).astype(np.float32)
        f["xpcs/twotime/delay_list"] = np.arange(1, 6) * 0.01
        f["entry/instrument/detector_1/frame_time"] = 0.0
    return path


def test_inspect_lists_all_three_problems_and_exits_3(tmp_path, capsys, monkeypatch):
    _broken(tmp_path / "broken.h5")
    code, out, err = call(capsys, monkeypatch, tmp_path, "inspect", "broken.h5")
    assert code == 3, (out, err)
    assert TRACEBACK not in out + err
    assert "3 problem(s)" in out
    for text in ("frame_time 0.0", "delay_list holds 5", "30% of the values are NaN"):
        assert text in out, out
    assert "units" in out and "1/A" in out and "deg" in out  # the table has units
    code, out, err = call(capsys, monkeypatch, tmp_path, "inspect", "broken.h5", "--json")
    assert code == 3, err
    info = json.loads(out)
    assert sorted(p["kind"] for p in info["problems"]) == ["metadata", "nan", "time step"]
    assert info["ok"] is False and info["file"]["layout"] == "aps_u"
    assert info["quality"]["angles"][1]["nan_fraction"] == pytest.approx(0.3, abs=0.01)


def test_inspect_shows_invented_values(sim_files, tmp_path, capsys, monkeypatch):
    code, out, err = call(capsys, monkeypatch, tmp_path, "inspect", str(sim_files["static"]))
    assert code == 0, (out, err)
    assert "invented" in out and "detector_1/distance" in out and "12.5" in out
    code, out, _ = call(
        capsys, monkeypatch, tmp_path, "inspect", str(sim_files["static"]), "--json"
    )
    info = json.loads(out)
    assert info["problems"] == [] and info["ok"] is True
    assert any(i["path"].endswith("incident_energy") for i in info["file"]["invented"])


def test_bare_npy_from_the_command_line(tmp_path, capsys, monkeypatch):
    i = np.arange(50)
    rng = np.random.default_rng(1)
    c2 = 1.0 + 0.3 * np.exp(-np.abs(i[:, None] - i[None, :]) / 10.0)
    c2 += 0.01 * rng.standard_normal(c2.shape)
    np.save(tmp_path / "c2.npy", (c2 + c2.T) / 2)
    bare = ("--q", "0.0054", "--phi", "0", "--dt", "0.1")
    code, out, err = call(capsys, monkeypatch, tmp_path, "inspect", "c2.npy")
    assert code == 3 and "array_phi" in out, (out, err)
    code, out, err = call(capsys, monkeypatch, tmp_path, "inspect", "c2.npy", *bare)
    assert code == 0 and "0.0054" in out, (out, err)
    code, out, err = call(
        capsys, monkeypatch, tmp_path, "run", "-d", "c2.npy", *bare[:2], *bare[4:]
    )
    assert code == 3 and "give array_phi" in err and "--phi" in err, err
    code, out, err = call(capsys, monkeypatch, tmp_path, "run", "-d", "c2.npy", "--phi", "nine")
    assert code == 2 and "--phi" in err, err


@pytest.mark.slow
def test_350_frame_npy_fits_from_the_command_line(tmp_path):
    from homodyne_data import simulate

    truth = {"D0": 12000.0, "alpha": -0.2, "D_offset": 200.0}
    sim = simulate("static", truth, phi=(0.0,), n_frames=350, noise=0.01, seed=3)
    np.save(tmp_path / "c2.npy", sim.data.c2[0])
    r = run_homodyne(
        "run",
        "-d",
        "c2.npy",
        "--q",
        "0.0054",
        "--phi",
        "0",
        "--dt",
        "0.1",
        "--mode",
        "static",
        "--no-plots",
        "-o",
        "out",
        cwd=tmp_path,
    )
    assert r.code == 0, r
    r = run_homodyne(
        "plot-data",
        "-d",
        "c2.npy",
        "--q",
        "0.0054",
        "--phi",
        "0",
        "--dt",
        "0.1",
        "-o",
        "p",
        cwd=tmp_path,
    )
    assert r.code == 0 and (tmp_path / "p" / "plots" / "data_overview.png").exists(), r
    params = json.loads((tmp_path / "out" / "nlsq" / "parameters.json").read_text())
    for name in ("D0", "alpha"):
        p = params["parameters"][name]
        assert abs(p["value"] - truth[name]) < 4 * p["uncertainty"], (name, p)


def test_config_keys_for_bare_arrays(tmp_path):
    from homodyne_cli.commands.array_options import with_array_options
    from homodyne_cli.commands.run import resolve_run_config
    from homodyne_cli.config import data_config
    from homodyne_data import load_data

    stack = np.stack([np.eye(6) + 1.0 + 0.1 * k for k in range(2)], axis=-1)  # (N, N, n_phi)
    np.save(tmp_path / "g12b.npy", stack)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "analysis_mode: static\n"
        f"experimental_data:\n  file_path: {tmp_path / 'g12b.npy'}\n"
        "  array_q: 0.1 1/nm\n  array_phi: [0, 90]\n  axis_order: phi_last\n"
        "analyzer_parameters:\n  dt: 0.5\n"
    )
    run = resolve_run_config({"config": cfg})
    data = load_data(with_array_options(data_config(run, run.files[0], run.q[0]), run))
    assert data.q == pytest.approx(0.01) and data.dt == 0.5
    np.testing.assert_array_equal(data.phi, [0.0, 90.0])
    np.testing.assert_array_equal(data.c2[1], stack[..., 1])
    run = resolve_run_config({"config": cfg, "phi": ["10,20"]})  # --phi wins over the file
    data = load_data(with_array_options(data_config(run, run.files[0], run.q[0]), run))
    np.testing.assert_array_equal(data.phi, [10.0, 20.0])
