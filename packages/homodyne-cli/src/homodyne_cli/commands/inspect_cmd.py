"""``homodyne inspect FILE``: what a data file holds, and a quality report."""

import json
from pathlib import Path

from ..console import get_ui
from ..outputs import json_safe

__all__ = ["inspect_command"]


def inspect_command(*, file: Path, as_json: bool, q: float | None) -> None:
    """Print the file summary and the quality report of one q ring."""
    from homodyne_data import DataFileNotFoundError, inspect_file, load, quality_report

    if not file.exists():
        raise DataFileNotFoundError(f"data file not found: {file}")
    summary = inspect_file(str(file)).to_dict()
    ring = q
    qs = summary.get("q_values") or summary.get("q") or []
    if ring is None and isinstance(qs, list | tuple) and len(qs) > 1:
        ring = float(qs[0])
    data = load(str(file), q=ring)
    report = quality_report(data).to_dict()
    ui = get_ui()
    if as_json:
        ui.out.print_json(
            json.dumps(json_safe({"file": summary, "quality": report, "quality_q": data.q}))
        )
        return
    from rich.table import Table

    table = Table(title=str(file), show_header=False)
    for key, value in summary.items():
        text = str(json_safe(value))
        table.add_row(str(key), text if len(text) < 400 else text[:400] + " ...")
    ui.out.print(table)
    ui.out.print(f"quality report (q = {data.q:.5g} 1/A, {data.n_phi} angles, {data.n_t} frames):")
    qt = Table()
    angles = report.get("angles") or report.get("per_angle")
    if isinstance(angles, list) and angles and isinstance(angles[0], dict):
        for col in angles[0]:
            qt.add_column(str(col))
        for row in angles:
            qt.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
        ui.out.print(qt)
    else:
        ui.out.print_json(json.dumps(json_safe(report)))
    for flag in report.get("flags", []):
        ui.warn(flag)
