"""Point-set files on the command line: ``inspect`` shows them; ``run`` fits them end to end
(multi-tau and (age, lag) files; NLSQ, CMC, both) and writes point tables and age x lag plots."""

import json

import numpy as np
import pytest

import homodyne_data as hd

from .test_inspect_arrays import call

TRUTH = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 10.0}  # D_offset at its prior centre

CMC_CONFIG = """
analysis_mode: static
analyzer_parameters: {{dt: 0.1, scattering: {{wavevector_q: 0.0054}}}}
experimental_data: {{file_path: {file}}}
parameter_space:  # priors wide around the truth (the registry's D0 prior is 1000 +- 1000)
  bounds:
    - {{name: D0, min: 100.0, max: 1.0e+5, type: TruncatedNormal,
        prior_mu: 2.0e+4, prior_sigma: 2.0e+4}}
    - {{name: alpha, min: -2.0, max: 2.0, type: TruncatedNormal, prior_mu: 0.0, prior_sigma: 1.0}}
    - {{name: D_offset, min: -1.0e+5, max: 1.0e+5, type: TruncatedNormal,
        prior_mu: 0.0, prior_sigma: 5.0e+3}}
optimization:
  method: {method}
  cmc:
    sharding: {{num_shards: 1}}
    per_shard_mcmc: {{num_warmup: 150, num_samples: 200, num_chains: 2}}
plots: {{enabled: {plots}}}
"""


def _sim(n_frames=64):
    return hd.simulate("static", TRUTH, phi=(0.0, 90.0), n_frames=n_frames, noise=0.01, seed=1)


def _multitau_file(tmp_path, n_frames=64):
    return str(
        hd.write_multitau(tmp_path / "mt.h5", hd.coarsen_multitau(_sim(n_frames).data, 4, 4))
    )


def _agelag_file(tmp_path):
    return str(hd.write_agelag(tmp_path / "al.h5", _sim().data, n_lags=12))


def _check_point_table(npz_path, n_points):
    from homodyne_cli import point_table

    with np.load(npz_path) as f:
        assert f["c2_exp"].shape == f["c2_fit"].shape == f["weights"].shape == (2, n_points)
        table = point_table(f, 1)
    assert np.all(table["t1"] < table["t2"]) and np.allclose(
        table["lag"], table["t2"] - table["t1"]
    )
    assert np.allclose(table["residuals"], table["c2_exp"] - table["c2_fit"], atol=1e-6)
    scaled = table["residuals"] * np.sqrt(table["weights"])  # one unit-weight point's residual
    assert 0.008 < np.std(scaled) < 0.013  # the simulated noise is 0.01 per frame pair
    return table


@pytest.mark.slow  # ~50 s on the loaded 2-core machine (JIT, fit, writers)
def test_inspect_and_run_nlsq_on_a_multitau_file(capsys, monkeypatch, tmp_path):
    path = _multitau_file(tmp_path, n_frames=48)
    code, out, err = call(capsys, monkeypatch, tmp_path, "inspect", path)
    assert code == 0, err
    assert "multitau" in out and "points used" in out
    code, out, err = call(
        capsys,
        monkeypatch,
        tmp_path,
        "run",
        "-d",
        path,
        "--mode",
        "static",
        "-o",
        "res",
        "--no-plots",
    )
    assert code == 0, err + out
    assert "points per angle" in out + err and "Traceback" not in err
    res = tmp_path / "res"
    params = json.loads((res / "nlsq" / "parameters.json").read_text())
    for name in ("D0", "alpha"):
        p = params["parameters"][name]
        assert abs(p["value"] - TRUTH[name]) < 3 * p["uncertainty"], (name, p)
    assert params["goodness_of_fit"]["residual_structure"]["ok"]
    table = _check_point_table(res / "nlsq" / "fitted_data.npz", params["n_points"] // 2)
    assert set(np.unique(table["level"])) == {0, 1, 2, 3}
    summary = json.loads((res / "summary.json").read_text())
    assert summary["data"]["layout"] == "multitau" and summary["data"]["n_points"] > 0
    assert not (res / "plots").exists()


@pytest.mark.slow
def test_run_with_plots_on_an_agelag_file(capsys, monkeypatch, tmp_path):
    path = _agelag_file(tmp_path)
    code, out, err = call(
        capsys, monkeypatch, tmp_path, "run", "-d", path, "--mode", "static", "-o", "res"
    )
    assert code == 0, err + out
    res = tmp_path / "res"
    plots = {p.name for p in (res / "plots").iterdir()}
    assert {"c2_points_phi_+000.00deg.png", "c2_points_phi_+090.00deg.png"} <= plots
    assert {"lag_cuts.png", "residuals.png", "residual_structure.png", "transport.png"} <= plots
    assert not any(p.startswith(("c2_heatmaps", "overview")) for p in plots)
    _check_point_table(res / "nlsq" / "fitted_data.npz", _n_points(res / "nlsq"))


def _n_points(folder):
    return json.loads((folder / "parameters.json").read_text())["n_points"] // 2


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::homodyne_cmc.errors.CMCWarning")  # prior-dominated: short run
@pytest.mark.parametrize(("form", "method"), [("agelag", "both"), ("multitau", "cmc")])
def test_run_cmc_on_point_set_files(capsys, monkeypatch, tmp_path, form, method):
    path = _agelag_file(tmp_path) if form == "agelag" else _multitau_file(tmp_path)
    cfg = tmp_path / "run.yaml"
    plots = "true" if method == "both" else "false"
    cfg.write_text(CMC_CONFIG.format(file=path, method=method, plots=plots))
    code, out, err = call(capsys, monkeypatch, tmp_path, "run", "-c", str(cfg), "-o", "res")
    assert "Traceback" not in err
    assert code in (0, 1), err + out  # 1: R-hat just above 1.01 on chains this short
    res = tmp_path / "res"
    post = json.loads((res / "cmc" / "parameters.json").read_text())
    d0 = post["parameters"]["D0"]
    assert abs(d0["mean"] - TRUTH["D0"]) < 4 * d0["sd"], d0
    with np.load(res / "cmc" / "fitted_data.npz") as f:
        assert f["c2_fit"].shape == f["weights"].shape and "t1" in f.files
    if method == "both":
        _check_point_table(res / "nlsq" / "fitted_data.npz", _n_points(res / "nlsq"))
        cmc_plots = {p.name for p in (res / "plots" / "cmc").iterdir()}
        assert "c2_points_phi_+000.00deg.png" in cmc_plots and "trace.png" in cmc_plots
