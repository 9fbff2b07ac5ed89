"""Acceptance of the one model spec: NLSQ and CMC run the same model (convention, gap).

Both run the real command on small laminar files with short chains (slow: CMC sampling).
"""

import json

import pytest

from .conftest import run_homodyne, write

TRUTH = {
    "D0": 12000.0,
    "alpha": -0.2,
    "D_offset": 200.0,
    "gamma_dot_t0": 1.2e-3,
    "beta": 0.3,
    "gamma_dot_t_offset": 0.0,
    "phi0": 3.0,
}

CONFIG = """
analysis_mode: laminar_flow
analyzer_parameters:
  dt: 0.1
  scattering: {{wavevector_q: 0.0054}}
  geometry: {{stator_rotor_gap: {gap}}}
experimental_data:
  file_path: {file}
initial_parameters:
  parameter_names: [D0, alpha, D_offset, gamma_dot_t0, beta, gamma_dot_t_offset, phi0]
  values: [10000.0, -0.1, 100.0, 1.0e-3, 0.2, 0.0, 1.0]
optimization:
  method: both
  nlsq: {{anti_degeneracy: {{per_angle_mode: auto}}}}
  cmc:
    sharding: {{num_shards: 2}}
    per_shard_mcmc: {{num_warmup: 150, num_samples: 250, num_chains: 2}}
plots: {{enabled: false}}
"""


def _laminar_file(folder, gap: float):
    from homodyne_data import simulate, write_aps_u
    from homodyne_physics import ModelSpec

    sim = simulate(
        ModelSpec.create("laminar_flow", gap=gap),
        TRUTH,
        phi=(-10.0, 0.0, 10.0, 45.0, 90.0, 135.0),
        n_frames=40,
        noise=0.01,
        seed=8,
    )
    path = folder / f"laminar_gap{gap:g}.hdf"
    write_aps_u(path, sim)
    return path


def _results(out):
    nlsq = json.loads((out / "nlsq" / "parameters.json").read_text())
    cmc = json.loads((out / "cmc" / "parameters.json").read_text())
    return nlsq, cmc


@pytest.mark.slow
def test_both_methods_run_in_the_homodyne2_convention(tmp_path):
    data = _laminar_file(tmp_path, 2e6)
    cfg = write(tmp_path / "h2.yaml", CONFIG.format(gap=2000000, file=data))
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    r = run_homodyne(
        "run", "-c", str(cfg), "--convention", "homodyne2", "-o", "h2",
        cwd=tmp_path, timeout=1200, env=cache,
    )  # fmt: skip
    assert r.code in (0, 1), r  # 1 only when the short chains fail the diagnostics
    nlsq, cmc = _results(tmp_path / "h2")
    assert nlsq["convention"] == cmc["convention"] == "homodyne2"
    assert nlsq["spec"] == cmc["spec"] and nlsq["spec"]["convention"] == "homodyne2"


@pytest.mark.slow
def test_configured_gap_reaches_nlsq_and_cmc(tmp_path):
    data = _laminar_file(tmp_path, 5e5)
    cfg = write(tmp_path / "gap.yaml", CONFIG.format(gap=500000, file=data))
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    r = run_homodyne("run", "-c", str(cfg), "-o", "gap", cwd=tmp_path, timeout=1200, env=cache)
    assert r.code in (0, 1), r
    nlsq, cmc = _results(tmp_path / "gap")
    assert nlsq["spec"]["gap"] == cmc["spec"]["gap"] == cmc["gap"] == 5e5
    g_nlsq = nlsq["parameters"]["gamma_dot_t0"]
    g_cmc = cmc["parameters"]["gamma_dot_t0"]
    se = g_nlsq["uncertainty"]
    truth = TRUTH["gamma_dot_t0"]
    print(f"gamma_dot_t0: truth {truth}, NLSQ {g_nlsq}, CMC mean {g_cmc['mean']} sd {g_cmc['sd']}")
    assert abs(g_cmc["mean"] - g_nlsq["value"]) < se, (g_nlsq, g_cmc)
    assert abs(g_nlsq["value"] - truth) < 3 * se, g_nlsq
    assert abs(g_cmc["mean"] - truth) < 3 * g_cmc["sd"], g_cmc
