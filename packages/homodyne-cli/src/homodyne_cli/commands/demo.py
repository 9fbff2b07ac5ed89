"""``homodyne demo``: the whole pipeline on a simulated APS-U file, offline, in seconds."""

import math
import shutil
from pathlib import Path

from ..console import get_ui
from ..errors import AnalysisFailed, UsageError

__all__ = ["DEMO_START", "DEMO_TRUTH", "demo_command"]

# Realistic values for q = 0.0054 1/A, dt = 0.1 s: the correlation decays over a few seconds,
# diffusion slows slightly with age and the shear rate is ~1e-4 1/s (flow along phi0 = 4 deg).
DEMO_TRUTH = {
    "static": {"D0": 12000.0, "alpha": -0.25, "D_offset": 300.0},
    "laminar_flow": {
        "D0": 12000.0,
        "alpha": -0.25,
        "D_offset": 300.0,
        "gamma_dot_t0": 2.0e-4,
        "beta": 0.5,
        "gamma_dot_t_offset": 1.0e-5,
        "phi0": 4.0,
    },
}
# What a user would write as rough start values (factors of ~1.5-2 off, round numbers).
DEMO_START = {
    "static": {"D0": 8000.0, "alpha": 0.0, "D_offset": 100.0},
    "laminar_flow": {
        "D0": 8000.0,
        "alpha": 0.0,
        "D_offset": 100.0,
        "gamma_dot_t0": 1.0e-4,
        "beta": 0.3,
        "gamma_dot_t_offset": 0.0,
        "phi0": 0.0,
    },
}
DEMO_PHI = {"static": (0.0, 45.0, 90.0), "laminar_flow": (-30.0, 0.0, 30.0, 60.0, 90.0, 120.0)}
DEMO = {
    "q": 0.0054,
    "dt": 0.1,
    "n_frames": 200,
    "contrast": 0.25,
    "offset": 1.0,
    "noise": 0.01,
    "seed": 2,
}


def _demo_folder(requested: Path, overwrite: bool) -> Path:
    folder = requested.expanduser()
    if folder.exists() and any(folder.iterdir()):
        if overwrite:
            for name in (
                "demo_static.hdf",
                "demo_laminar_flow.hdf",
                "demo_static.yaml",
                "demo_laminar_flow.yaml",
                "results",
            ):
                p = folder / name
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        else:
            k = 2
            while (cand := folder.with_name(f"{folder.name}-run{k}")).exists():
                k += 1
            get_ui().warn(
                f"{folder} is not empty; writing the demo to {cand} (use --overwrite to replace it)"
            )
            folder = cand
    from ..outputs import prepare_output_dir

    prepare_output_dir(folder)  # creates it and checks that it is writable
    return folder


def demo_command(*, output_dir: Path, mode: str, overwrite: bool) -> None:
    """Simulate -> write APS-U file + config -> run the pipeline -> fitted vs true table."""
    from homodyne_data import simulate, write_aps_u
    from homodyne_physics import ModelSpec

    from ..config import load_config, render_template
    from ..outputs import atomic_write_text
    from ..pipeline import run_pipeline

    if mode not in DEMO_TRUTH:
        raise UsageError(f"--mode must be static or laminar_flow, got {mode!r}")
    ui = get_ui()
    folder = _demo_folder(output_dir, overwrite)
    data_file = folder / f"demo_{mode}.hdf"
    with ui.phase("simulate APS-U file"):
        sim = simulate(
            ModelSpec.create(mode),
            DEMO_TRUTH[mode],
            phi=DEMO_PHI[mode],
            q=DEMO["q"],
            dt=DEMO["dt"],
            n_frames=DEMO["n_frames"],
            contrast=DEMO["contrast"],
            offset=DEMO["offset"],
            noise=DEMO["noise"],
            seed=DEMO["seed"],
        )
        write_aps_u(data_file, sim)
    cfg_file = folder / f"demo_{mode}.yaml"
    atomic_write_text(
        cfg_file, render_template(mode, file=data_file.name, q=DEMO["q"], initial=DEMO_START[mode])
    )
    ui.info(
        f"wrote {data_file} ({len(DEMO_PHI[mode])} angles x {DEMO['n_frames']} frames, "
        f"noise {DEMO['noise']}) and the config {cfg_file}"
    )
    run = load_config(cfg_file)
    results_dir = folder / "results"
    failed: AnalysisFailed | None = None
    try:
        jobs = run_pipeline(
            run,
            output_dir=results_dir,
            ui=ui,
            argv=["homodyne", "run", "--config", str(cfg_file), "--output-dir", str(results_dir)],
        )
        res = jobs[0].nlsq
    except AnalysisFailed as exc:
        failed, res = exc, None
    if res is None:
        raise failed or AnalysisFailed("the demo fit produced no result")
    _print_comparison(res, sim.truth, ui)
    outside = [n for n in res.parameter_names if not _within(res, sim.truth, n)]
    ui.info(
        f"plots: {results_dir / 'plots'}  (transport.png, overview.png, c2_heatmaps_phi_*.png, "
        "lag_cuts.png, residuals.png, residual_structure.png); D(t) with bands in "
        f"{results_dir / 'nlsq' / 'transport.csv'}"
    )
    ui.info(f"rerun the fit yourself: homodyne run --config {cfg_file} --output-dir my_results")
    if failed is not None:
        raise failed
    if outside:
        raise AnalysisFailed(
            f"demo: {', '.join(outside)} more than 3 standard errors from the truth"
        )


def _within(res, truth, name: str) -> bool:
    err = res.errors[name]
    return err is not None and math.isfinite(err) and abs(res.values[name] - truth[name]) <= 3 * err


def _print_comparison(res, truth: dict, ui) -> None:
    from rich.table import Table

    table = Table(
        title=f"fitted vs true ({res.mode}; noise sigma from the residuals = {res.sigma:.3g})",
        caption="z = (fitted - true) / std. error; ok when |z| <= 3",
    )
    for col in ("parameter", "true", "fitted", "std. error", "z", ""):
        table.add_column(col, justify="right", no_wrap=True)
    for n in res.parameter_names:
        err = res.errors[n]
        z = (res.values[n] - truth[n]) / err if err and math.isfinite(err) else float("nan")
        ok = "[green]ok[/green]" if abs(z) <= 3 else "[red]> 3 sigma[/red]"
        table.add_row(n, f"{truth[n]:.6g}", f"{res.values[n]:.6g}", f"{err:.3g}", f"{z:+.2f}", ok)
    if ui.verbosity >= 0:
        ui.out.print(table)
