"""``homodyne plot-data``: data-only plots of the selected data (no fit)."""

from pathlib import Path
from typing import Any

from ..console import get_ui
from ..outputs import prepare_output_dir
from ..qrings import single_rings
from .run import resolve_run_config

__all__ = ["plot_data_command"]


def plot_data_command(
    *,
    config: Path | None,
    data_file: list[Path] | None,
    output_dir: Path,
    overwrite: bool,
    array_opts: dict[str, Any] | None = None,
) -> None:
    """Load each data set of the config and write its data plots under ``output_dir/plots``.

    ``array_opts``: ``q`` (list), ``phi`` (``--phi`` strings) and ``dt`` from the command line
    (bare arrays need all three; ``q`` and ``dt`` also select the ring / time step of any file).
    """
    from homodyne_data import diagonal_corrected, load_data

    from ..config import data_config
    from ..plots import plot_data_all
    from .array_options import with_array_options

    ui = get_ui()
    run = resolve_run_config({"config": config, "data_file": data_file, **(array_opts or {})})
    for issue in run.warnings:
        ui.warn(str(issue))
    root, note = prepare_output_dir(output_dir, overwrite=overwrite)
    if note:
        ui.warn(note)
    jobs = [(f, q) for f in run.files for q in single_rings(run, f)]  # joint rings: one by one
    for file, q in jobs:
        with ui.phase(f"load {Path(file).name}"):
            data = load_data(with_array_options(data_config(run, file, q), run))
        for warning in data.provenance.warnings:
            ui.warn(f"data: {warning}")
        sub = root / "plots" if len(jobs) == 1 else root / f"{Path(file).stem}_q{data.q:.5g}"
        with ui.phase("data plots"):
            paths = plot_data_all(
                sub if len(jobs) == 1 else sub / "plots",
                t=data.t,
                c2=diagonal_corrected(data.c2),
                phi=data.phi,
                q=data.q,
                max_display=run.max_display,
            )
        ui.info(f"{len(paths)} plots in {paths[0].parent}")
