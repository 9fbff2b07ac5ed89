"""Issue 15 items 1, 5, 10: results are replaced only by a finished run, a failed run's folder
is named as such, the log ends with the outcome (in plain text) and summary.json has a status.

In-process: the fit is replaced by a function that fails or is interrupted, so no JAX work."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from homodyne_cli.errors import OutputError
from homodyne_cli.run_folder import RunFolder

from .conftest import write

CONFIG = """
experimental_data:
  file_path: {file}
analysis_mode: static
analyzer_parameters:
  dt: 0.1
initial_parameters:
  values: [8000.0, 0.0, 100.0]
plots: {{enabled: false}}
"""


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def previous_results(out: Path) -> dict[str, str]:
    (out / "nlsq").mkdir(parents=True)
    (out / "nlsq" / "parameters.json").write_text('{"D0": 1}\n')
    (out / "summary.json").write_text('{"status": "ok"}\n')
    (out / "homodyne.log").write_text("old log\n")
    return tree_digest(out)


def pipeline(sim_files, tmp_path, out, **kw):
    from homodyne_cli.config import load_config
    from homodyne_cli.console import UI
    from homodyne_cli.pipeline import run_pipeline

    cfg = write(tmp_path / "c.yaml", CONFIG.format(file=sim_files["static"]))
    return run_pipeline(load_config(cfg), output_dir=out, ui=UI(-1), argv=["homodyne"], **kw)


def failing_fit(exc):
    def fit(*args, **kwargs):
        raise exc

    return fit


@pytest.mark.parametrize(
    ("exc", "status", "last"),
    [
        (RuntimeError("solver exploded"), "error", "outcome: error: solver exploded"),
        (KeyboardInterrupt(), "interrupted", "outcome: interrupted"),
    ],
)
def test_overwrite_keeps_previous_results_when_the_run_fails(
    sim_files, tmp_path, monkeypatch, exc, status, last
):
    import homodyne_nlsq

    out = tmp_path / "res"
    before = previous_results(out)
    monkeypatch.setattr(homodyne_nlsq, "fit_nlsq", failing_fit(exc))
    with pytest.raises(type(exc)):
        pipeline(sim_files, tmp_path, out, overwrite=True)
    assert tree_digest(out) == before  # nothing of the previous run changed
    failed = sorted(tmp_path.glob("res.failed-*"))
    assert len(failed) == 1, sorted(tmp_path.iterdir())
    log = (failed[0] / "homodyne.log").read_text().strip().splitlines()
    assert log[-1].endswith(last), log[-3:]
    summary = json.loads((failed[0] / "summary.json").read_text())
    assert summary["status"] == status and summary["data"]["n_phi"] == 3
    assert summary["nlsq"] is None
    # no hidden staging folder, backup or lock left behind
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".res")) == []


def test_a_failed_run_does_not_divert_the_next_one(sim_files, tmp_path, monkeypatch):
    import homodyne_nlsq

    out = tmp_path / "res"
    monkeypatch.setattr(homodyne_nlsq, "fit_nlsq", failing_fit(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        pipeline(sim_files, tmp_path, out)
    assert not out.exists() and len(list(tmp_path.glob("res.failed-*"))) == 1
    plan = RunFolder(out)
    assert plan.target == out and plan.note == ""
    plan.release()


def test_swap_replaces_previous_results_only_at_the_end(tmp_path):
    out = tmp_path / "res"
    before = previous_results(out)
    (out / "my_notes.txt").write_text("mine")  # not a result entry: kept
    plan = RunFolder(out, overwrite=True)
    assert plan.target == out and "kept if it fails" in plan.note
    staging = plan.create()
    (staging / "summary.json").write_text('{"status": "new"}')
    assert tree_digest(out) == {**before, "my_notes.txt": tree_digest(out)["my_notes.txt"]}
    assert plan.commit() == out
    plan.release()
    assert json.loads((out / "summary.json").read_text())["status"] == "new"
    assert not (out / "nlsq").exists() and not (out / "homodyne.log").exists()
    assert (out / "my_notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_second_run_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "res"
    first = RunFolder(out)
    code = (
        "import sys; from homodyne_cli.run_folder import RunFolder\n"
        "try:\n    RunFolder(sys.argv[1])\nexcept Exception as e:\n    print(e); sys.exit(2)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and "in use by another homodyne run" in proc.stdout
    assert f"pid {os.getpid()}" in proc.stdout
    with pytest.raises(OutputError, match="in use"):
        RunFolder(out)
    first.release()
    RunFolder(out).release()  # free again


def test_staging_left_by_a_killed_run_is_renamed_failed(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    ).stdout.strip()
    stale = tmp_path / f".res.partial-20260101T000000-{dead}"
    stale.mkdir()
    (stale / "homodyne.log").write_text("half\n")
    plan = RunFolder(tmp_path / "res")
    plan.release()
    assert plan.target == tmp_path / "res"
    assert (tmp_path / f"res.failed-20260101T000000-{dead}" / "homodyne.log").exists()
    assert any("was killed" in n for n in plan.recovered)


def test_log_is_plain_text_and_ends_with_the_outcome(sim_files, tmp_path, monkeypatch):
    """Item 10: no Rich markup in homodyne.log."""
    from homodyne_cli.console import UI, plain

    assert plain("[green]converged[/green] [bold]x[/bold]") == "converged x"
    assert plain("values [1, 2] and a[0]") == "values [1, 2] and a[0]"
    ui = UI(-1)
    ui.attach_log(tmp_path / "l.log")
    ui.info("  NLSQ [green]converged[/green]; [yellow](at bound)[/yellow]")
    with ui.phase("fit"):
        pass
    ui.detach_log()
    text = (tmp_path / "l.log").read_text()
    assert "NLSQ converged; (at bound)" in text and "[green]" not in text and "[/" not in text


def test_interrupted_cmc_of_a_both_run_writes_a_summary_with_the_nlsq_result(
    sim_files, tmp_path, monkeypatch
):
    """Item 5: `both` interrupted in CMC: summary.json (status interrupted) with the NLSQ fit."""
    import homodyne_cmc

    monkeypatch.setattr(homodyne_cmc, "fit_cmc", failing_fit(KeyboardInterrupt()))
    out = tmp_path / "res"
    with pytest.raises(KeyboardInterrupt):
        pipeline(sim_files, tmp_path, out, method="both")
    (failed,) = tmp_path.glob("res.failed-*")
    summary = json.loads((failed / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["method"] == "both"
    assert summary["nlsq"]["converged"] is True and summary["cmc"] is None
    assert (failed / "nlsq" / "parameters.json").exists()
    assert (failed / "homodyne.log").read_text().strip().endswith("outcome: interrupted")
    assert not out.exists()


def test_resumed_cmc_says_so(tmp_path):
    from homodyne_cli.console import UI
    from homodyne_cli.job_report import cmc_brief as _cmc_brief
    from homodyne_cli.job_report import report_cmc as _report_cmc

    row = {"mean": 1.0, "sd": 0.1, "r_hat": 1.0, "ess_bulk": 500.0}
    cres = SimpleNamespace(
        summary={"D0": row},
        converged=True,
        shard_ids=[0, 1, 2],
        n_shards=3,
        n_cached=2,
        parameter_names=["D0"],
        to_dict=lambda: {"converged": True},
    )
    ui = UI(-1)
    ui.attach_log(tmp_path / "l.log")
    _report_cmc(cres, ui)
    ui.detach_log()
    assert "CMC resumed: 2 of 3 shard(s) reused" in (tmp_path / "l.log").read_text()
    brief = _cmc_brief(cres)
    assert brief["resumed"] is True and brief["shards_from_cache"] == 2


def test_cmc_prior_dominated_parameter_is_a_problem_of_the_run():
    """Item 2 (CLI side): a single-shard CMC run whose D_offset posterior is its prior ends
    with exit 1 and status 'prior-dominated', not a plain 'CMC converged'."""
    from homodyne_cli.cmc_checks import cmc_problems
    from homodyne_cli.run_outcome import job_status

    shard = {"index": 0, "posterior_prior_sd_ratio": {"D0": 0.04, "D_offset": 0.98}}
    cres = SimpleNamespace(shards=[shard], config=SimpleNamespace(prior_dominated_ratio=0.5))
    (problem,) = cmc_problems(cres)
    assert problem.startswith("CMC: D_offset is prior-dominated (posterior sd = 0.98 x prior")
    cres.converged = True
    job = SimpleNamespace(cmc=cres, nlsq=None, problems=[problem])
    assert job_status(job) == "prior-dominated"


def test_log_of_a_killed_run_gets_its_outcome_when_recovered(tmp_path):
    """A SIGKILLed run cannot write its outcome: the next run into the folder appends it."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    ).stdout.strip()
    stale = tmp_path / f".res.partial-20260101T000000-{dead}"
    stale.mkdir()
    (stale / "homodyne.log").write_text("2026-01-01 00:00:00,000 INFO CMC sampling: shard")
    RunFolder(tmp_path / "res").release()
    log = (tmp_path / f"res.failed-20260101T000000-{dead}" / "homodyne.log").read_text()
    lines = log.splitlines()
    assert lines[0].endswith("CMC sampling: shard")  # the cut line is kept, then a new line
    assert lines[-1].endswith(
        "ERROR outcome: killed (the run ended without recording an outcome; found by a later run)"
    )
    assert len(lines) == 2 and log.endswith("\n")
