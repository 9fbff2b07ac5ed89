"""The q-consistency stage of a joint fit: per-ring refits against the joint curves.

After a joint NLSQ fit (several q rings in one dataset) every ring is fitted alone
(:func:`homodyne_nlsq.q_consistency`); the record goes into ``nlsq/parameters.json`` (key
``q_consistency``), a short table and any warning to the console, and
``plots/q_consistency.png``.
"""

from pathlib import Path
from typing import Any

from .console import UI

__all__ = ["print_q_consistency", "q_consistency_record", "write_q_consistency_plot"]


def q_consistency_record(res: Any, data: Any, nlsq_config: Any, ui: UI) -> dict | None:
    """``QConsistency.to_dict()`` of a converged joint fit (None: one ring or no fit)."""
    from homodyne_nlsq import q_consistency

    if not getattr(data, "is_joint", False) or data.n_rings < 2 or not res.converged:
        return None
    with ui.phase(f"q-consistency: {data.n_rings} rings fitted alone"):
        qc = q_consistency(res, data, config=nlsq_config)
    record = qc.to_dict()
    print_q_consistency(record, ui)
    return record


def print_q_consistency(record: dict, ui: UI) -> None:
    """Per ring: its value of each curve at the middle reference age, chi2/dof and p."""
    from rich.table import Table

    keys = [k for k in ("D", "gamma_dot") if k in record["rings"]]
    mid = len(record["ages"]) // 2
    table = Table(title=f"q-consistency at t = {record['ages'][mid]:.4g} s (per ring vs joint)")
    for col in ("ring", "q (1/A)", *(f"{k}(t)" for k in keys), "chi2/dof", "p"):
        table.add_column(col, justify="right")
    joint = [f"{record['joint'][k][mid]:.4g} ± {record['joint_se'][k][mid]:.2g}" for k in keys]
    table.add_row("joint", "all", *joint, "", "")
    for r, q in enumerate(record["q"]):
        vals = [
            f"{record['rings'][k][r][mid]:.4g} ± {record['rings_se'][k][r][mid]:.2g}" for k in keys
        ]
        mark = " *" if r in record["outliers"] else ""
        chi = f"{record['chi2'][r]:.3g}/{record['dof'][r]}"
        table.add_row(f"{r}{mark}", f"{q:.5g}", *vals, chi, f"{record['p_value'][r]:.3g}")
    if ui.verbosity >= 0:
        ui.out.print(table)
    for w in record["warnings"]:
        ui.warn(f"q-consistency: {w}")
    if not record["warnings"]:
        ui.info("  q-consistency: the rings agree with the joint D(t) and gamma_dot(t)")


def write_q_consistency_plot(folder: Path, record: dict) -> Path:
    """``plots/q_consistency.png`` of the record."""
    from .plots import plot_q_consistency

    return plot_q_consistency(folder / "plots" / "q_consistency.png", record)
