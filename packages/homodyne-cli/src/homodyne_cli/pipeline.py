"""The analysis pipeline behind ``homodyne run``: load -> fit -> write -> plot, per data set.

One job (data file, q ring) is a chain of stages (:mod:`homodyne_cli.job`).
Several data files and/or several q rings give one result folder each plus a summary table
(``summary.csv``, also printed).
"""

import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .config import RunConfig
from .console import UI
from .errors import AnalysisFailed
from .job import JobResult, run_job
from .outputs import atomic_write_csv
from .qrings import q_text
from .run_folder import RunFolder
from .run_outcome import failure_status, job_status, outcome_line, write_failure_summary

__all__ = ["JobResult", "run_pipeline"]


def _job_folder(root: Path, file: str, q: float | None, multi: bool) -> Path:
    if not multi:
        return root
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(file).stem)
    if isinstance(q, tuple):
        return root / (stem + "_q" + "-".join(f"{v:.5g}" for v in q))
    return root / (stem + (f"_q{q:.5g}" if q is not None else ""))


def run_pipeline(
    run: RunConfig,
    *,
    output_dir: str | Path,
    method: str | None = None,
    overwrite: bool = False,
    ui: UI,
    argv: list[str] | None = None,
) -> list[JobResult]:
    """Run every (file, q) job of ``run``; write results and the summary table.

    Raises
    ------
    AnalysisFailed
        After writing everything, when a fit did not converge or failed a quality gate.
    """
    method = method or run.method
    argv = list(argv or sys.argv)
    jobs = [(f, q) for f in run.files for q in run.q]
    multi = len(jobs) > 1
    from homodyne_data import DataFileNotFoundError

    for file in run.files:  # fail before creating anything
        if not Path(file).is_file():
            where = f" (from {run.source})" if run.source else ""
            raise DataFileNotFoundError(f"data file not found: {file}{where}")
    plan = RunFolder(output_dir, overwrite=overwrite)
    work = plan.staging  # written here, moved into plan.target when the run has finished

    def start_writing(job: Any = None) -> None:
        plan.current_job = job
        if plan.created:
            return
        plan.create()
        ui.attach_log(work / "homodyne.log")
        for note in ([plan.note] if plan.note else []) + plan.recovered:
            ui.warn(note)

    ui.detail(f"command: {' '.join(argv)}")
    for issue in run.warnings:
        ui.warn(str(issue))
    if run.convention == "physical":
        ui.detail(
            "convention: physical. To reproduce homodyne 2.x numbers add "
            "'convention: homodyne2' to the config or pass --convention homodyne2 "
            "(gamma_dot_t0 then comes out about pi times larger)."
        )
    results: list[JobResult] = []
    try:
        for file, q in jobs:
            folder = _job_folder(work, file, q, multi)
            results.append(run_job(run, file, q, folder, method, ui, argv, start_writing))
            plan.current_job = None
        if multi:
            _write_table(work, results, ui)
        statuses = [job_status(r) for r in results]
        status = next((s for s in statuses if s != "ok"), "ok")
        ui.detail(outcome_line(status, "; ".join(p for r in results for p in r.problems)))
        ui.detach_log()
        root = plan.commit()
        for r in results:  # where the results are now
            r.folder = root / r.folder.relative_to(work)
    except BaseException as exc:
        _record_failure(plan, exc, run=run, method=method, argv=argv, ui=ui)
        raise
    finally:
        ui.detach_log()
        plan.release()
    ui.info(
        f"results in [bold]{root}[/bold]"
        + (f"; plots in {root / 'plots'}" if run.plots and not multi else "")
    )
    problems = [p for r in results for p in r.problems]
    if problems:
        raise AnalysisFailed("; ".join(problems) + f" (results written to {root})")
    return results


def _record_failure(plan: RunFolder, exc: BaseException, **how: Any) -> None:
    """Failed or interrupted run: summary.json for the job in progress, the outcome as the
    log's last line, and the staging folder renamed ``<name>.failed-<stamp>``."""
    ui = how["ui"]
    status = failure_status(exc)
    message = "" if status == "interrupted" else (str(exc) or type(exc).__name__)
    job = plan.current_job
    if plan.created and job is not None:
        write_failure_summary(
            job.folder,
            job,
            run=how["run"],
            method=how["method"],
            argv=how["argv"],
            status=status,
            message=message,
        )
    ui.detail(outcome_line(status, message))
    ui.detach_log()
    try:
        failed = plan.fail()
    except OSError:
        failed = plan.staging
    if failed is not None:
        ui.detail(f"the log and partial output of this run are in {failed}")
        if not isinstance(exc, KeyboardInterrupt):
            ui.warn(f"run failed; its log and partial output are in {failed}")


def _write_table(root: Path, results: list[JobResult], ui: UI) -> None:
    names: list[str] = []
    for r in results:
        if r.nlsq is not None:
            names += [n for n in r.nlsq.parameter_names if n not in names]
    header = ["folder", "file", "q", "n_phi", "converged", "reduced_chi2"]
    for n in names:
        header += [n, f"{n}_err"]
    rows = []
    for r in results:
        res = r.nlsq
        row = [
            r.folder.name,
            r.file,
            _q_cell(r.data.q if r.data is not None else r.q_requested),
            r.data.n_phi if r.data is not None else None,
            r.converged,
            res.reduced_chi2 if res is not None else None,
        ]
        for n in names:
            row += [res.values.get(n) if res else None, res.errors.get(n) if res else None]
        rows.append(row)
    atomic_write_csv(root / "summary.csv", header, rows)
    from rich.table import Table

    table = Table(title="summary (also in summary.csv)")
    for h in header[:1] + header[2:6] + names:
        table.add_column(h)
    for r, row in zip(results, rows, strict=True):
        cells = [str(row[0])] + [_fmt(v) for v in row[2:6]]
        res = r.nlsq
        for n in names:
            cells.append(
                f"{res.values[n]:.4g} +- {res.errors[n]:.2g}" if res and n in res.values else ""
            )
        table.add_row(*cells)
    if ui.verbosity >= 0:
        ui.out.print(table)


def _q_cell(q: Any) -> Any:
    """One ring's q as it is; several rings (a joint job) as their list."""
    return q_text(q) if q is not None and np.ndim(q) > 0 else q


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{v:.4g}"
    return "" if v is None else str(v)
