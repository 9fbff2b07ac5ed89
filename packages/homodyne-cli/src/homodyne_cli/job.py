"""One job of ``homodyne run`` (one data file, one q ring) as a chain of stages.

``run_job`` composes them: load -> check the data -> NLSQ fit -> review and write it ->
CMC sampling -> review and write it -> ``summary.json``. Each stage takes what the one
before returned (typed results below) and can be run alone.
"""

import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cmc_checks import cmc_problems
from .commands.array_options import with_array_options
from .config import RunConfig, cmc_config, data_config, nlsq_config
from .console import UI
from .errors import ConfigError
from .fit_quality import (
    cmc_quality,
    nlsq_quality,
    print_transport_table,
    quality_gate,
    write_cmc_quality,
    write_nlsq_quality,
)
from .heap import freeze_heap
from .job_report import cmc_brief, fit_brief, provenance, report_cmc, report_nlsq, shard_progress
from .memory import check_model_memory
from .model_spec import bin_width_note, spec_from_run
from .outputs import atomic_write_json, default_shard_cache, utc_now, versions
from .q_report import q_consistency_record, write_q_consistency_plot
from .qrings import load_joint, plot_q, q_text
from .results import (
    finish_fit_plots,
    prepare_fit_plots,
    start_fit_plots,
    write_cmc_plots,
    write_fit_plots,
    write_nlsq,
)
from .run_outcome import job_status
from .signal_check import check_signal, flat_within_noise

__all__ = [
    "CMCReview",
    "DataCheck",
    "JobResult",
    "NLSQReview",
    "check_data",
    "cmc_fit",
    "cmc_review",
    "load_stage",
    "nlsq_fit",
    "nlsq_review",
    "run_job",
    "write_cmc_stage",
    "write_nlsq_stage",
    "write_summary",
]

Timings = dict[str, float]


@dataclass
class JobResult:
    """Outcome of one (data file, q ring) job."""

    file: str
    q_requested: float | tuple[float, ...] | None
    folder: Path
    nlsq: Any = None
    cmc: Any = None
    data: Any = None
    converged: bool = True
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DataCheck:
    """The loaded data's quality report and the problems it raises for the run."""

    quality: Any
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class NLSQReview:
    """A finished NLSQ fit judged: its model c2, quality record, transport curves, problems."""

    result: Any
    c2_fit: np.ndarray
    quality: dict[str, Any]
    curves: dict[str, Any]
    problems: tuple[str, ...] = ()
    converged: bool = True
    plots: Any = None  # fit plots under way (results.start_fit_plots), finished by the write


@dataclass(frozen=True)
class CMCReview:
    """A finished CMC run judged: transport curves (with NLSQ's, if any) and problems."""

    result: Any
    curves: dict[str, Any] | None
    problems: tuple[str, ...] = ()
    converged: bool = True


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, all threads, and its finished children."""
    import resource

    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@contextmanager
def _timed(timings: Timings, key: str) -> Iterator[None]:
    """Wall seconds of the block as ``timings[key]``, its CPU seconds as ``timings[key_cpu]``
    (on a loaded machine the CPU figure is the steadier one)."""
    t0, c0 = time.perf_counter(), _cpu_seconds()
    yield
    timings[key] = time.perf_counter() - t0
    timings[f"{key}_cpu"] = _cpu_seconds() - c0


def load_stage(run: RunConfig, file: str, q: Any, ui: UI, timings: Timings) -> Any:
    """Load one data set (several rings: jointly); refuse early when it would not fit in memory."""
    from homodyne_data import load_data

    ui.info(f"[bold]data[/bold] {file}" + (f"  (q = {q_text(q)} 1/A)" if q is not None else ""))
    with _timed(timings, "load"), ui.phase("load data"):
        if isinstance(q, tuple) or run.q_range is not None:
            data = load_joint(run, file, q)
        else:
            data = load_data(with_array_options(data_config(run, file, q), run))
    check_model_memory(data)  # model matrices for fitted_data.npz and plots
    return data


def check_data(data: Any, file: str, ui: UI) -> DataCheck:
    """Report the data's notes and quality flags; refuse constant c2, flag c2 flat in noise."""
    from homodyne_data import quality_report

    size = f"{data.n_t} frames" if data.is_dense else f"{data.n_points} points per angle"
    ui.info(f"  {data.n_phi} angles, {size}, q = {q_text(data.q)} 1/A, dt = {data.dt:g} s")
    for note in data.provenance.notes:
        ui.detail(f"  {note}")
    for warning in data.provenance.warnings:
        ui.warn(f"data: {warning}")
    quality = quality_report(data)
    for flag in quality.flags:
        ui.warn(f"data quality: {flag}")
    check_signal(data, file)
    flat = flat_within_noise(data, quality)
    if flat:
        ui.warn(flat)
    return DataCheck(quality, (flat,) if flat else ())


def nlsq_fit(
    run: RunConfig, data: Any, spec: Any, ui: UI, timings: Timings, *, warm_start: bool = False
) -> Any:
    """Fit ``spec`` to ``data`` by NLSQ (``warm_start``: only as CMC's starting point)."""
    from homodyne_nlsq import fit_nlsq

    freeze_heap()  # the imports and the data: no full collection needs to scan them again
    label = "NLSQ fit" + (" (warm start for CMC)" if warm_start else "")
    with _timed(timings, "nlsq"), ui.phase(label) as ph:
        return fit_nlsq(
            data,
            spec,
            nlsq_config(run),
            progress=lambda info: ph.update(f"iteration {info.iteration}, chi2 = {info.cost:.6g}"),
        )


def nlsq_review(
    res: Any, data: Any, run: RunConfig, ui: UI, *, folder: Path | None = None, worker: Any = None
) -> NLSQReview:
    """Report the fit, its quality and transport curves; convergence and the quality gate.

    With ``folder`` (and ``run.plots``) the fit plots start as soon as the model matrices
    exist: a plot ``worker`` draws its share while this process judges the fit.
    """
    freeze_heap()  # now with matplotlib (imported while the fit ran) and the fit's programs
    report_nlsq(res, ui)
    c2_fit = res.fitted_c2(data)
    plots = None
    if folder is not None and run.plots:
        plots = start_fit_plots(
            folder / "plots",
            data,
            c2_fit,
            res.sigma,
            max_display=run.max_display,
            label="NLSQ",
            worker=worker,
        )
    fitq = nlsq_quality(res, data, c2_fit, ui)
    curves = {"NLSQ": fitq["transport"]}
    print_transport_table(curves, ui)
    qc = q_consistency_record(res, data, nlsq_config(run), ui)
    if qc is not None:
        fitq["json"]["q_consistency"] = qc
    problems = [] if res.converged else [f"NLSQ did not converge: {res.message}"]
    gate = quality_gate(res, fitq["goodness"], run.max_reduced_chi2)
    if gate:
        problems.append(gate)
    return NLSQReview(res, c2_fit, fitq, curves, tuple(problems), bool(res.converged), plots)


def write_nlsq_stage(
    folder: Path,
    review: NLSQReview,
    data: Any,
    run: RunConfig,
    ui: UI,
    timings: Timings,
    *,
    worker: Any = None,
) -> None:
    """``nlsq/`` results, the fit-quality files and (``run.plots``) the fit plots (those the
    review started, else all of them here, with a plot ``worker`` of its own when none is
    given); ends the worker, so that its CPU time counts in this stage."""
    from .plots.worker import plot_worker

    res = review.result
    own = worker is None and review.plots is None
    with _timed(timings, "write_nlsq"), ui.phase("write NLSQ results"):
        # the result files (mostly disk writes, which release the GIL) are written by a
        # second thread while this one draws the plots, a second process its share of them
        with (
            ThreadPoolExecutor(1, thread_name_prefix="homodyne-write") as pool,
            plot_worker(own and run.plots and data.is_dense and data.n_phi >= 4) as spare,
        ):
            files = pool.submit(
                write_nlsq, folder, res, data, review.c2_fit, extra=review.quality["json"]
            )
            write_nlsq_quality(folder, review.quality, plot_q(data), run.plots)
            if run.plots and "q_consistency" in review.quality["json"]:
                write_q_consistency_plot(folder, review.quality["json"]["q_consistency"])
            if review.plots is not None:
                finish_fit_plots(review.plots)
            elif run.plots:
                write_fit_plots(
                    folder / "plots",
                    data,
                    review.c2_fit,
                    res.sigma,
                    max_display=run.max_display,
                    label="NLSQ",
                    worker=worker or spare,
                )
            files.result()  # re-raises a failed write here
        if worker is not None:
            worker.close()


def cmc_fit(run: RunConfig, data: Any, warm: Any, ui: UI, timings: Timings) -> Any:
    """Sample the posterior from the NLSQ warm start (which carries the model spec)."""
    import homodyne_cmc

    if not hasattr(homodyne_cmc, "fit_cmc"):
        raise ConfigError(
            "--method cmc needs homodyne_cmc.fit_cmc, which this installation "
            "does not provide yet; use --method nlsq"
        )
    cm_cfg = cmc_config(run, warn=ui.warn)  # priors travel in the spec, with the warm start
    if cm_cfg.cache_dir is None:  # finished shards survive an interrupted run
        cm_cfg = dataclasses.replace(cm_cfg, cache_dir=str(default_shard_cache()))
    freeze_heap()
    with _timed(timings, "cmc"), ui.phase("CMC sampling") as ph:
        return homodyne_cmc.fit_cmc(data, warm, cm_cfg, progress=shard_progress(ph))


def cmc_review(cres: Any, nlsq_curves: dict[str, Any], ui: UI) -> CMCReview:
    """Report the CMC run and its transport curves; its problems and diagnostics."""
    report_cmc(cres, ui)
    cmc_curves = cmc_quality(cres, ui)
    curves = {**nlsq_curves, "CMC": cmc_curves}
    if cmc_curves is not None:
        print_transport_table(curves, ui)
    problems = list(cmc_problems(cres))  # e.g. a prior-dominated parameter
    for problem in problems:
        ui.warn(problem)
    converged = getattr(cres, "converged", True) is not False
    if not converged:
        problems.append("CMC diagnostics failed (see cmc/diagnostics.json)")
    return CMCReview(cres, curves if cmc_curves is not None else None, tuple(problems), converged)


def write_cmc_stage(
    folder: Path, review: CMCReview, data: Any, run: RunConfig, ui: UI, timings: Timings
) -> None:
    """``cmc/`` results, the transport comparison and (``run.plots``) the CMC plots."""
    cres = review.result
    with _timed(timings, "write_cmc"), ui.phase("write CMC results"):
        cres.write(folder, data)
        if review.curves is not None:
            write_cmc_quality(folder, review.curves, plot_q(data), run.plots)
        if run.plots:
            write_cmc_plots(folder / "plots" / "cmc", data, cres, max_display=run.max_display)


def write_summary(
    job: JobResult,
    check: DataCheck,
    spec: Any,
    *,
    run: RunConfig,
    method: str,
    argv: list[str],
    timings: Timings,
) -> Path:
    """``summary.json`` of a job that ran to its end."""
    summary = {
        "timestamp": utc_now(),
        "status": job_status(job),
        "command": argv,
        "method": method,
        "mode": spec.mode,
        "convention": spec.convention,
        "seed": run.seed,
        "timing_s": timings,
        "data": provenance(job.data, job.file),
        "data_quality": check.quality.to_dict(),
        "nlsq": fit_brief(job.nlsq) if job.nlsq is not None else None,
        "cmc": cmc_brief(job.cmc),
        "problems": job.problems,
        "versions": versions(),
        "python": sys.version.split()[0],
        "config_file": run.source,
        "config": run.to_dict(),
        "spec": spec.to_dict(),
    }
    return atomic_write_json(job.folder / "summary.json", summary)


def _absorb(job: JobResult, stage: DataCheck | NLSQReview | CMCReview) -> None:
    job.problems.extend(stage.problems)
    if not getattr(stage, "converged", True):
        job.converged = False


def _nlsq_stages(
    run: RunConfig, job: JobResult, spec: Any, folder: Path, ui: UI, timings: Timings, **kw: Any
) -> NLSQReview:
    """Fit, review, write. With plots, matplotlib is imported and the plot worker started
    while the fit runs (the fit leaves a core and the GIL mostly free); the worker starts
    drawing as soon as the model matrices exist; before the fit it renders the background the
    heatmap pages share (it is idle while the fit runs)."""
    from .plots.worker import plot_worker, preload_plotting

    data = job.data
    imports = preload_plotting() if run.plots and data.is_dense else None
    kids = _children_cpu()
    with plot_worker(run.plots and data.is_dense and data.n_phi >= 4) as worker:
        prepare_fit_plots(data, max_display=run.max_display, worker=worker)
        job.nlsq = nlsq_fit(run, data, spec, ui, timings, **kw)
        if imports is not None:  # the fit's CPU time without that of the imports
            during_fit = not imports.is_alive()  # else part of it counts after the fit
            imports.join()
            timings["plot_imports_cpu"] = imports.cpu_s
            if during_fit:
                timings["nlsq_cpu"] -= imports.cpu_s
        with _timed(timings, "review_nlsq"):  # model matrices, goodness of fit, transport
            review = nlsq_review(job.nlsq, data, run, ui, folder=folder, worker=worker)
        write_nlsq_stage(folder, review, data, run, ui, timings, worker=worker)
    if worker is not None:  # all of it counts in write_nlsq_cpu (the worker ends there)
        timings["plot_worker_cpu"] = _children_cpu() - kids
    return review


def _children_cpu() -> float:
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def run_job(
    run: RunConfig,
    file: str,
    q: float | None,
    folder: Path,
    method: str,
    ui: UI,
    argv: list[str],
    start_writing: Callable[[JobResult], None] | None = None,
) -> JobResult:
    """Load one data set, fit it, write every output into ``folder``.

    ``start_writing`` (the job) is called once the data loaded, before anything is
    written: it creates the output folder and opens the run log.
    """
    spec = spec_from_run(run)  # the one model of the job: NLSQ fits it, CMC samples it
    job = JobResult(file=file, q_requested=q, folder=folder)
    timings: Timings = {}
    job.data = load_stage(run, file, q, ui, timings)
    if start_writing is not None:
        start_writing(job)
    folder.mkdir(parents=True, exist_ok=True)
    check = check_data(job.data, file, ui)
    _absorb(job, check)
    if spec.mode == "laminar_flow":
        ui.info(bin_width_note(spec))
    curves: dict[str, Any] = {}
    if method in ("nlsq", "both", "cmc"):
        review = _nlsq_stages(run, job, spec, folder, ui, timings, warm_start=method == "cmc")
        curves = review.curves
        _absorb(job, review)
    if method in ("cmc", "both"):
        job.cmc = cmc_fit(run, job.data, job.nlsq, ui, timings)
        cmc = cmc_review(job.cmc, curves, ui)
        _absorb(job, cmc)
        write_cmc_stage(folder, cmc, job.data, run, ui, timings)
    write_summary(job, check, spec, run=run, method=method, argv=argv, timings=timings)
    return job
