"""The analysis pipeline behind ``homodyne run``: load -> fit -> write -> plot, per data set.

Several data files and/or several q rings give one result folder each plus a summary table
(``summary.csv``, also printed).
"""

import dataclasses
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cmc_checks import cmc_problems
from .commands.array_options import with_array_options
from .config import RunConfig, cmc_config, data_config, nlsq_config
from .console import UI
from .errors import AnalysisFailed, ConfigError
from .fit_quality import (
    cmc_quality,
    nlsq_quality,
    print_transport_table,
    quality_gate,
    write_cmc_quality,
    write_nlsq_quality,
)
from .memory import check_model_memory
from .model_spec import spec_from_run
from .outputs import (
    atomic_write_csv,
    atomic_write_json,
    default_shard_cache,
    file_sha256,
    utc_now,
    versions,
)
from .results import write_cmc_plots, write_fit_plots, write_nlsq
from .run_folder import RunFolder
from .run_outcome import failure_status, job_status, outcome_line, write_failure_summary
from .signal_check import check_signal, flat_within_noise

__all__ = ["JobResult", "run_pipeline"]


@dataclass
class JobResult:
    """Outcome of one (data file, q ring) job."""

    file: str
    q_requested: float | None
    folder: Path
    nlsq: Any = None
    cmc: Any = None
    data: Any = None
    converged: bool = True
    problems: list[str] = field(default_factory=list)


def _job_folder(root: Path, file: str, q: float | None, multi: bool) -> Path:
    if not multi:
        return root
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(file).stem)
    return root / (stem + (f"_q{q:.5g}" if q is not None else ""))


def _provenance(data: Any, file: str) -> dict[str, Any]:
    p = data.provenance
    return {
        "file": str(Path(file).resolve()),
        "sha256": file_sha256(file),
        "layout": p.layout,
        "selection": dict(p.selection),
        "q_used": data.q,
        "q_available": list(p.q_available),
        "notes": list(p.notes),
        "n_phi": data.n_phi,
        "phi": data.phi,
        "n_frames": data.n_t,
        "frames": [int(data.frames[0]), int(data.frames[-1])],
        "dt": data.dt,
    }


def _fit_brief(res: Any) -> dict[str, Any]:
    return {
        "converged": bool(res.converged),
        "message": res.message,
        "reduced_chi_squared": res.reduced_chi2,
        "chi_squared": res.chi2,
        "iterations": res.iterations,
        "parameters": {
            n: {"value": res.values[n], "uncertainty": res.errors[n]} for n in res.parameter_names
        },
        "at_bound": list(res.at_bound or []),
        "timing": dict(res.timing),
    }


def run_job(
    run: RunConfig,
    file: str,
    q: float | None,
    folder: Path,
    method: str,
    ui: UI,
    argv: list[str],
    start_writing: Any = None,
) -> JobResult:
    """Load one data set, fit it, write every output into ``folder``.

    ``start_writing`` (no arguments) is called once the data loaded, before anything is
    written: it creates the output folder and opens the run log.
    """
    from homodyne_data import load_data, quality_report

    spec = spec_from_run(run)  # the one model of the job: NLSQ fits it, CMC samples it

    job = JobResult(file=file, q_requested=q, folder=folder)
    timings: dict[str, float] = {}
    ui.info(f"[bold]data[/bold] {file}" + (f"  (q = {q:g} 1/A)" if q is not None else ""))
    t0 = time.perf_counter()
    with ui.phase("load data"):
        data = load_data(with_array_options(data_config(run, file, q), run))
    timings["load"] = time.perf_counter() - t0
    job.data = data
    if not data.is_dense:  # the result writers and plots still expect full matrices
        raise ConfigError(
            f"{file} holds {data.provenance.layout} point-set data ({data.n_points} (t1, t2) "
            "values per angle): `homodyne run` does not write results or plots for point sets "
            "yet; fit them from Python with homodyne_nlsq.fit_nlsq(homodyne_data.load(file), "
            "spec) (and homodyne_cmc.fit_cmc), or inspect them with `homodyne inspect`"
        )
    check_model_memory(data)  # model matrices for fitted_data.npz and plots: refuse early
    if start_writing is not None:
        start_writing(job)
    folder.mkdir(parents=True, exist_ok=True)
    ui.info(f"  {data.n_phi} angles, {data.n_t} frames, q = {data.q:.5g} 1/A, dt = {data.dt:g} s")
    for note in data.provenance.notes:
        ui.detail(f"  {note}")
    for warning in data.provenance.warnings:
        ui.warn(f"data: {warning}")
    quality = quality_report(data)
    for flag in quality.flags:
        ui.warn(f"data quality: {flag}")
    check_signal(data, file)  # refuses constant c2; flags c2 flat within the noise
    if flat := flat_within_noise(data, quality):
        ui.warn(flat)
        job.problems.append(flat)

    nl_cfg = nlsq_config(run)
    res = None
    if method in ("nlsq", "both", "cmc"):
        from homodyne_nlsq import fit_nlsq

        t0 = time.perf_counter()
        label = "NLSQ fit" + (" (warm start for CMC)" if method == "cmc" else "")
        with ui.phase(label) as ph:
            res = fit_nlsq(
                data,
                spec,
                nl_cfg,
                progress=lambda info: ph.update(
                    f"iteration {info.iteration}, chi2 = {info.cost:.6g}"
                ),
            )
        timings["nlsq"] = time.perf_counter() - t0
        job.nlsq = res
        _report_nlsq(res, ui)
        c2_fit = res.fitted_c2(data)
        fitq = nlsq_quality(res, data, c2_fit, ui)
        curves = {"NLSQ": fitq["transport"]}
        print_transport_table(curves, ui)
        if not res.converged:
            job.converged = False
            job.problems.append(f"NLSQ did not converge: {res.message}")
        gate = quality_gate(res, fitq["goodness"], run.max_reduced_chi2)
        if gate:
            job.problems.append(gate)
        t0 = time.perf_counter()
        with ui.phase("write NLSQ results"):
            write_nlsq(folder, res, data, c2_fit, extra=fitq["json"])
            write_nlsq_quality(folder, fitq, data.q, run.plots)
            if run.plots:
                write_fit_plots(
                    folder / "plots",
                    data,
                    c2_fit,
                    res.sigma,
                    max_display=run.max_display,
                    label="NLSQ",
                )
        timings["write_nlsq"] = time.perf_counter() - t0

    if method in ("cmc", "both"):
        import homodyne_cmc

        if not hasattr(homodyne_cmc, "fit_cmc"):
            raise ConfigError(
                "--method cmc needs homodyne_cmc.fit_cmc, which this installation "
                "does not provide yet; use --method nlsq"
            )
        # priors travel in the spec (through the NLSQ warm start), not in the CMC settings
        cm_cfg = dataclasses.replace(cmc_config(run, warn=ui.warn), priors={})
        t0 = time.perf_counter()
        with ui.phase("CMC sampling") as ph:
            if cm_cfg.cache_dir is None:  # finished shards survive an interrupted run
                cm_cfg = dataclasses.replace(cm_cfg, cache_dir=str(default_shard_cache()))
            cres = homodyne_cmc.fit_cmc(data, res, cm_cfg, progress=_shard_progress(ph))
        timings["cmc"] = time.perf_counter() - t0
        job.cmc = cres
        _report_cmc(cres, ui)
        cmc_curves = cmc_quality(cres, ui)
        curves = {**(curves if res is not None else {}), "CMC": cmc_curves}
        if cmc_curves is not None:
            print_transport_table(curves, ui)
        for problem in cmc_problems(cres):  # e.g. a prior-dominated parameter, any shard count
            ui.warn(problem)
            job.problems.append(problem)
        t0 = time.perf_counter()
        with ui.phase("write CMC results"):
            cres.write(folder, data)
            if cmc_curves is not None:
                write_cmc_quality(folder, curves, data.q, run.plots)
            if run.plots:
                write_cmc_plots(folder / "plots" / "cmc", data, cres, max_display=run.max_display)
        timings["write_cmc"] = time.perf_counter() - t0
        if getattr(cres, "converged", True) is False:
            job.converged = False
            job.problems.append("CMC diagnostics failed (see cmc/diagnostics.json)")

    summary = {
        "timestamp": utc_now(),
        "status": job_status(job),
        "command": argv,
        "method": method,
        "mode": spec.mode,
        "convention": spec.convention,
        "seed": run.seed,
        "timing_s": timings,
        "data": _provenance(data, file),
        "data_quality": quality.to_dict(),
        "nlsq": _fit_brief(res) if res is not None else None,
        "cmc": _cmc_brief(job.cmc),
        "problems": job.problems,
        "versions": versions(),
        "python": sys.version.split()[0],
        "config_file": run.source,
        "config": run.to_dict(),
        "spec": spec.to_dict(),
    }
    atomic_write_json(folder / "summary.json", summary)
    return job


def _cmc_brief(cres: Any) -> Any:
    if cres is None:
        return None
    d = cres.to_dict() if hasattr(cres, "to_dict") else {}
    keep = {k: d[k] for k in ("parameters", "converged", "convergence", "timing") if k in d}
    keep = keep or d
    keep["resumed"] = bool(getattr(cres, "n_cached", 0))
    keep["shards_from_cache"] = int(getattr(cres, "n_cached", 0))
    return keep


def _shard_progress(ph: Any):
    """CMC progress callback: shards done / running / failed and the ETA."""

    def report(p: Any) -> None:
        eta = f", ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
        text = f"shards {p.done}/{p.total} done, {p.running} running, {p.failed} failed{eta}"
        if p.last is not None or p.done + p.failed == p.total:
            ph.milestone(text)
        else:
            ph.update(text)

    return report


def _report_cmc(cres: Any, ui: UI) -> None:
    rows = cres.summary.values()
    status = "[green]converged[/green]" if cres.converged else "[red]NOT converged[/red]"
    used = len(cres.shard_ids)
    if getattr(cres, "n_cached", 0):
        ui.info(
            f"  CMC resumed: {cres.n_cached} of {cres.n_shards} shard(s) reused from the shard "
            "cache (finished by an earlier, interrupted run), the rest sampled now"
        )
    ui.info(
        f"  CMC {status}: {used} of {cres.n_shards} shard(s) combined, "
        f"max R-hat = {max(r['r_hat'] for r in rows):.4g}, "
        f"min bulk ESS = {min(r['ess_bulk'] for r in rows):.0f}"
    )
    fixed = getattr(cres, "fixed", {})
    for name in cres.parameter_names:
        if name in fixed:
            ui.info(f"    {name:>20s} = {fixed[name]:.6g}  (fixed, not sampled)")
            continue
        row = cres.summary[name]
        ui.info(
            f"    {name:>20s} = {row['mean']:.6g} +- {row['sd']:.3g}  "
            f"(R-hat {row['r_hat']:.3f}, ESS {row['ess_bulk']:.0f})"
        )


def _report_nlsq(res: Any, ui: UI) -> None:
    status = "[green]converged[/green]" if res.converged else "[red]NOT converged[/red]"
    noise = (
        f"reduced chi2 = {res.reduced_chi2:.4g} (given sigma = {res.sigma:.3g})"
        if res.sigma_source == "user"
        else f"noise sigma estimated from the residuals = {res.sigma:.3g}"
    )
    ui.info(f"  NLSQ {status} after {res.iterations} iterations: {res.message}; {noise}")
    for name in res.parameter_names:
        err = res.errors[name]
        err_s = f"{err:.3g}" if err is not None and math.isfinite(err) else "n/a"
        bound = "  [yellow](at bound)[/yellow]" if name in (res.at_bound or []) else ""
        if name in getattr(res, "fixed", {}):
            err_s, bound = "0", "  (fixed)"
        ui.info(f"    {name:>20s} = {res.values[name]:.6g} +- {err_s}{bound}")


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
            r.data.q if r.data is not None else r.q_requested,
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


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{v:.4g}"
    return "" if v is None else str(v)
