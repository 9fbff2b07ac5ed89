"""The outcome of a run: its status word, the last line of ``homodyne.log`` and the
``summary.json`` of a run that failed or was interrupted after its data loaded.

Status words (``summary.json`` ``status``, and the log's last line ``outcome: ...``):

==================  =========================================================
ok                  every fit converged and passed its gates
not converged       NLSQ did not converge
quality gate        a fit converged but failed a quality gate
diagnostics failed  CMC ran but its convergence diagnostics failed
no signal           c2 flat within the noise at every angle
prior-dominated     CMC converged, but a parameter's posterior is (nearly) its prior
error               the run stopped on an error (the message follows)
interrupted         Ctrl-C / SIGINT / SIGTERM
==================  =========================================================
"""

import sys
from pathlib import Path
from typing import Any

__all__ = ["failure_status", "job_status", "outcome_line", "write_failure_summary"]


def job_status(job: Any) -> str:
    """Status word of a job that ran to its end."""
    cmc = getattr(job, "cmc", None)
    if cmc is not None and getattr(cmc, "converged", True) is False:
        return "diagnostics failed"
    problems = list(getattr(job, "problems", []) or [])
    if any(p.startswith("no signal") for p in problems):
        return "no signal"
    if any(p.startswith("CMC: ") and "prior-dominated" in p for p in problems):
        return "prior-dominated"
    nlsq = getattr(job, "nlsq", None)
    if nlsq is not None and not nlsq.converged:
        return "not converged"
    if problems:
        return "quality gate"
    return "ok"


def failure_status(exc: BaseException) -> str:
    """``interrupted`` for Ctrl-C, otherwise ``error``."""
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"


def outcome_line(status: str, message: str = "") -> str:
    """The last line of the run log, e.g. ``outcome: error: data file not found``."""
    return f"outcome: {status}" + (f": {message}" if message else "")


def write_failure_summary(
    folder: Path,
    job: Any,
    *,
    run: Any,
    method: str,
    argv: list[str],
    status: str,
    message: str,
) -> Path | None:
    """``summary.json`` of a job that stopped early (its data loaded): status, error message,
    data provenance and whatever fit finished before the stop. Never raises."""
    from .job_report import fit_brief, provenance
    from .outputs import atomic_write_json, utc_now, versions

    data = getattr(job, "data", None)
    if data is None:
        return None
    summary: dict[str, Any] = {
        "timestamp": utc_now(),
        "status": status,
        "error": message or None,
        "command": argv,
        "method": method,
        "mode": run.mode,
        "convention": run.convention,
        "seed": run.seed,
        "nlsq": None,
        "cmc": None,
        "problems": list(getattr(job, "problems", []) or []),
        "versions": versions(),
        "python": sys.version.split()[0],
        "config_file": run.source,
    }
    try:
        summary["data"] = provenance(data, job.file)
        if getattr(job, "nlsq", None) is not None:
            summary["nlsq"] = fit_brief(job.nlsq)
        summary["config"] = run.to_dict()
    except Exception as exc:  # the summary of a failure must not fail the report
        summary.setdefault("notes", []).append(f"summary incomplete: {exc}")
    try:
        return atomic_write_json(folder / "summary.json", summary)
    except OSError:
        return None
