"""``config validate --with-data``: every check ``run`` makes before fitting, without fitting.

For each data file and q ring of the configuration: the file exists, is a file and is
readable; its layout is known; the q ring is within tolerance; the phi ranges select angles;
the frame range lies inside the data; the NaN fraction is acceptable; c2 holds a signal; the
model matrices fit in memory. Every problem is reported, not only the first.
"""

import os
from pathlib import Path
from typing import Any

from homodyne_data.errors import DataError

from .qrings import load_joint, q_text

__all__ = ["DataCheckFailed", "NEEDS_DATA", "check_with_data"]

NEEDS_DATA = (
    "not checked without --with-data: data file readable, layout, q within tolerance of a "
    "ring, phi ranges selecting angles, frames inside the data, NaN fraction, signal present, "
    "memory for the model matrices"
)


class DataCheckFailed(DataError):
    """``config validate --with-data`` found problems with the data (exit 3)."""


def _file_problem(file: str) -> str | None:
    p = Path(file)
    if not p.exists():
        return f"data file not found: {file}"
    if p.is_dir():
        return f"data file {file} is a folder, expected an HDF5 (or .npy/.npz) file"
    if not os.access(p, os.R_OK):
        return f"data file {file} is not readable (permissions)"
    return None


def check_with_data(run: Any, ui: Any) -> list[str]:
    """Run the pre-fit checks of ``run`` on its data; print a line per (file, q).

    Raises
    ------
    DataCheckFailed
        Listing how many problems were found (each is printed with ``ui.error``).
    """
    from homodyne_data import load_data

    from .config import data_config
    from .errors import CLIError
    from .memory import check_model_memory
    from .signal_check import check_signal

    problems: list[str] = []
    for file in run.files:
        if (msg := _file_problem(file)) is not None:
            problems.append(msg)
            ui.error(msg)
            continue
        for q in run.q:
            label = file + (f" (q = {q_text(q)} 1/A)" if q is not None else "")
            try:
                if isinstance(q, tuple) or run.q_range is not None:
                    data = load_joint(run, file, q)
                else:
                    data = load_data(data_config(run, file, q))
                check_signal(data, file)
                check_model_memory(data)
            except (DataError, CLIError) as exc:
                problems.append(f"{label}: {exc}")
                ui.error(f"{label}: {exc}")
                continue
            ui.info(
                f"  data ok: {label}: {data.n_phi} angle(s), {data.n_t} frames "
                f"({int(data.frames[0])}..{int(data.frames[-1])}), q = {q_text(data.q)} 1/A, "
                f"dt = {data.dt:g} s"
            )
    if problems:
        n = len(problems)
        raise DataCheckFailed(
            f"{n} problem{'s' if n != 1 else ''} with the data; `run` would stop on "
            f"{'them' if n != 1 else 'it'} before fitting"
        )
    return problems
