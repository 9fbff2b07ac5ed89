"""The stages of one ``homodyne run`` job, each run alone on its typed inputs."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from homodyne_cli import job
from homodyne_cli.config import load_config
from homodyne_cli.console import UI
from homodyne_cli.model_spec import spec_from_run

CONFIG = """
analysis_mode: static
experimental_data: {file_path: data.hdf}
optimization:
  nlsq:
    quality_validation: {enable: true, reduced_chi_squared_threshold: 1.5}
"""


@pytest.fixture(scope="module")
def data():
    from homodyne_data import simulate

    truth = {"D0": 12000.0, "alpha": -0.2, "D_offset": 200.0}
    return simulate("static", truth, phi=(0.0, 60.0, 120.0), n_frames=30, seed=5).data


def test_check_data_flags_c2_flat_within_the_noise(data):
    check = job.check_data(data, "data.hdf", UI(-1))
    assert check.problems == () and "flags" in check.quality.to_dict()
    flat = dataclasses.replace(data, c2=1.0 + 0.01 * np.random.default_rng(0).random(data.c2.shape))
    flat_check = job.check_data(flat, "flat.hdf", UI(-1))
    assert len(flat_check.problems) == 1 and flat_check.problems[0].startswith("no signal")


def test_nlsq_fit_passes_the_spec_and_settings_and_times_itself(data, monkeypatch):
    import homodyne_nlsq

    run, seen = load_config(text=CONFIG), {}

    def fake_fit(d, spec, config, progress):
        seen.update(data=d, spec=spec, config=config)
        progress(SimpleNamespace(iteration=1, cost=2.0))
        return "result"

    monkeypatch.setattr(homodyne_nlsq, "fit_nlsq", fake_fit)
    timings = {}
    spec = spec_from_run(run)
    assert job.nlsq_fit(run, data, spec, UI(-1), timings, warm_start=True) == "result"
    assert seen == {"data": data, "spec": spec, "config": run.nlsq}
    assert set(timings) == {"nlsq", "nlsq_cpu"}
    assert timings["nlsq"] >= 0 and timings["nlsq_cpu"] >= 0


def test_nlsq_review_applies_convergence_and_the_chi2_gate(data, monkeypatch):
    monkeypatch.setattr(job, "report_nlsq", lambda res, ui: None)
    goodness = SimpleNamespace(structure=SimpleNamespace(ok=True, patterns=[]))
    quality = {"transport": {"t": [0.0]}, "goodness": goodness}
    monkeypatch.setattr(job, "nlsq_quality", lambda res, d, c2, ui: quality)
    monkeypatch.setattr(job, "print_transport_table", lambda curves, ui: None)
    run = load_config(text=CONFIG)
    assert run.max_reduced_chi2 == 1.5

    def result(converged, chi2):
        return SimpleNamespace(
            converged=converged,
            message="m",
            reduced_chi2=chi2,
            sigma_source="user",  # the gate reads chi2 only with a given sigma
            fitted_c2=lambda d: d.c2,
        )

    good = job.nlsq_review(result(True, 1.1), data, run, UI(-1))
    assert good.problems == () and good.converged and good.curves == {"NLSQ": {"t": [0.0]}}
    assert good.c2_fit is data.c2
    bad = job.nlsq_review(result(False, 2.0), data, run, UI(-1))
    assert not bad.converged
    assert bad.problems == (
        "NLSQ did not converge: m",
        "quality gate: reduced chi2 2 > 1.5 with the given sigma "
        "(optimization.nlsq.quality_validation)",
    )
    jr = job.JobResult(file="data.hdf", q_requested=None, folder=None)
    job._absorb(jr, bad)
    assert jr.problems == list(bad.problems) and not jr.converged


def test_cmc_review_reports_failed_diagnostics(monkeypatch):
    monkeypatch.setattr(job, "report_cmc", lambda cres, ui: None)
    monkeypatch.setattr(job, "cmc_quality", lambda cres, ui: {"t": [1.0]})
    monkeypatch.setattr(job, "cmc_problems", lambda cres: ["CMC: D_offset is prior-dominated"])
    cres = SimpleNamespace(converged=False)
    review = job.cmc_review(cres, {"NLSQ": {"t": [0.0]}}, UI(-1))
    assert not review.converged and review.curves == {"NLSQ": {"t": [0.0]}, "CMC": {"t": [1.0]}}
    assert review.problems == (
        "CMC: D_offset is prior-dominated",
        "CMC diagnostics failed (see cmc/diagnostics.json)",
    )
