"""``homodyne inspect FILE``: what a data file holds, every problem found, and its quality.

Uses :func:`homodyne_data.diagnose`, which opens broken files and lists every problem instead
of stopping at the first. Exit code 3 (data error) when a problem was found.
"""

import json
from pathlib import Path
from typing import Any

from ..console import get_ui
from ..errors import EXIT_DATA
from ..outputs import json_safe

__all__ = ["inspect_command"]

_SHOWN = 24  # list items shown before "... (n more)"


def _listing(values, fmt: str = "{:.6g}") -> str:
    vals = [fmt.format(v) for v in values]
    more = len(vals) - _SHOWN
    return ", ".join(vals[:_SHOWN]) + (f" ... ({more} more)" if more > 0 else "") or "-"


def _file_table(summary, data, placeholder: bool) -> Any:
    from rich.table import Table

    t = Table(title=str(summary.file), show_header=True)
    for col in ("", "value", "units"):
        t.add_column(col)
    t.add_row("layout", summary.layout, "")
    if summary.layout in ("agelag", "multitau"):
        t.add_row("point sets", f"{len(summary.bins)} ROIs of (t1, t2) values", "")
    else:
        t.add_row("matrices", f"{len(summary.bins)} of {summary.n_frames} x {summary.n_frames}", "")
    t.add_row("storage", summary.storage, "")
    t.add_row("q rings", _listing(summary.q), "1/A")
    t.add_row("phi", _listing(summary.phi, "{:g}"), "deg")
    t.add_row("dt (file)", "-" if summary.dt is None else f"{summary.dt:.6g}", "s")
    if data is not None:
        t.add_row("q used", f"{data.q:.6g}", "1/A")
        used = "- (matrices examined with dt = 1)" if placeholder else f"{data.dt:.6g}"
        t.add_row("dt used", used, "s")
        if data.is_dense:
            t.add_row("frames used", f"{data.frames[0]}..{data.frames[-1]} ({data.n_t})", "")
        else:
            span = f"t {data.t[0]:.6g}..{data.t[-1]:.6g} s"
            t.add_row("points used", f"{data.n_points} per angle ({span})", "")
    meta = summary.metadata
    for key in sorted(
        k for k in meta if not k.endswith(("_units", "_path")) and k != "source_paths"
    ):
        value = meta[key]
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        t.add_row(
            key, text if len(text) <= 80 else text[:77] + "...", str(meta.get(f"{key}_units", ""))
        )
    return t


def _quality_table(report: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title="quality per angle")
    for col in ("phi (deg)", "NaN %", "noise", "contrast", "offset", "SNR"):
        t.add_column(col, justify="right")
    for row in report.get("angles", []):
        cells = [row["phi"], None if row["nan_fraction"] is None else 100 * row["nan_fraction"]]
        cells += [row["noise"], row["contrast"], row["offset"], row["snr"]]
        t.add_row(*("-" if v is None else f"{v:.4g}" for v in cells))
    return t


def _problem_table(problems) -> Any:
    from rich.table import Table

    t = Table(title=f"{len(problems)} problem(s)")
    for col in ("severity", "kind", "where", "what"):
        t.add_column(col)
    for p in problems:
        t.add_row(p.severity, p.kind, p.dataset or "", p.what)
    return t


def _invented_table(items) -> Any:
    from rich.table import Table

    t = Table(title="values the writer of this file invented (not measured)")
    for col in ("dataset", "value", "why"):
        t.add_column(col)
    for i in items:
        t.add_row(str(i.get("path")), str(i.get("value")), str(i.get("reason")))
    return t


def inspect_command(
    *,
    file: Path,
    as_json: bool,
    q: float | None,
    phi: list[str] | None = None,
    dt: float | None = None,
) -> None:
    """Print the file summary, every problem and the quality report; exit 3 on problems."""
    import typer

    from homodyne_data import DataFileNotFoundError, diagnose

    from .array_options import parse_phi

    if not file.exists():
        raise DataFileNotFoundError(f"data file not found: {file}")
    diag = diagnose(str(file), q=q, dt=dt, array_phi=parse_phi(phi))
    summary, data = diag.summary, diag.data
    report = diag.quality.to_dict() if diag.quality is not None else None
    ui = get_ui()
    if as_json:
        payload = {
            "file": summary.to_dict() if summary is not None else {"file": str(file)},
            "quality": report,
            "quality_q": None if data is None else data.q,
            "ok": diag.ok,
            "problems": [p.to_dict() for p in diag.problems],
            "notes": list(diag.notes),
        }
        ui.out.print_json(json.dumps(json_safe(payload)))
    else:
        if summary is not None:
            placeholder = summary.dt is None and dt is None and summary.layout != "array"
            ui.out.print(_file_table(summary, data, placeholder))
            if summary.invented:
                ui.out.print(_invented_table(summary.invented))
        if report is not None:
            ui.out.print(_quality_table(report))
            for flag in report.get("flags", []):
                ui.warn(flag)
        for note in diag.notes:
            ui.detail(note)
        if diag.problems:
            ui.out.print(_problem_table(diag.problems))
        else:
            ui.info("no problem found")
    if diag.problems:
        raise typer.Exit(EXIT_DATA)
