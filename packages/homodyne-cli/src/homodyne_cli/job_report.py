"""What one job tells the console and ``summary.json``: the fit lines, the CMC lines, the
data provenance and the short fit records (also used for the summary of a failed run)."""

import math
from pathlib import Path
from typing import Any

from .console import UI
from .outputs import file_sha256
from .qrings import q_json

__all__ = [
    "cmc_brief",
    "fit_brief",
    "provenance",
    "report_cmc",
    "report_nlsq",
    "shard_progress",
]


def provenance(data: Any, file: str) -> dict[str, Any]:
    """Where the job's data came from and what was selected (``summary.json`` ``data``)."""
    p = data.provenance
    if data.is_dense:
        size: dict[str, Any] = {
            "n_frames": data.n_t,
            "frames": [int(data.frames[0]), int(data.frames[-1])],
        }
    else:  # point sets: no frame grid; their points and time range
        size = {"n_points": data.n_points, "time_range_s": [float(data.t[0]), float(data.t[-1])]}
    return {
        "file": str(Path(file).resolve()),
        "sha256": file_sha256(file),
        "layout": p.layout,
        "selection": dict(p.selection),
        "q_used": q_json(data),
        "q_available": list(p.q_available),
        "notes": list(p.notes),
        "n_phi": data.n_phi,
        "phi": data.phi,
        **size,
        "dt": data.dt,
    }


def fit_brief(res: Any) -> dict[str, Any]:
    """The NLSQ result in short (``summary.json`` ``nlsq``)."""
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


def cmc_brief(cres: Any) -> Any:
    """The CMC result in short (``summary.json`` ``cmc``); ``None`` without one."""
    if cres is None:
        return None
    d = cres.to_dict() if hasattr(cres, "to_dict") else {}
    keep = {k: d[k] for k in ("parameters", "converged", "convergence", "timing") if k in d}
    keep = keep or d
    keep["resumed"] = bool(getattr(cres, "n_cached", 0))
    keep["shards_from_cache"] = int(getattr(cres, "n_cached", 0))
    return keep


def shard_progress(ph: Any):
    """CMC progress callback: shards done / running / failed and the ETA."""

    def report(p: Any) -> None:
        eta = f", ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
        text = f"shards {p.done}/{p.total} done, {p.running} running, {p.failed} failed{eta}"
        if p.last is not None or p.done + p.failed == p.total:
            ph.milestone(text)
        else:
            ph.update(text)

    return report


def report_cmc(cres: Any, ui: UI) -> None:
    """The CMC outcome: convergence, shards used or reused, one line per parameter."""
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


def report_nlsq(res: Any, ui: UI) -> None:
    """The NLSQ outcome: convergence, the noise level, one line per parameter."""
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
    mirror = getattr(res, "mirror_check", None) or {}
    if mirror.get("warning"):  # phi0 and its mirror image fit equally well
        ui.warn(mirror["warning"])
