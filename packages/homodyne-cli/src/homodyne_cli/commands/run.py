"""``homodyne run`` (and the 2.x form ``homodyne --config X --method M --output-dir D``)."""

import dataclasses
from pathlib import Path
from typing import Any

from ..config import Override, load_config
from ..console import get_ui
from ..errors import UsageError

__all__ = ["build_overrides", "parse_assignments", "parse_fix", "run_command"]

_LEGACY_INITIAL = {
    "initial_d0": "D0",
    "initial_alpha": "alpha",
    "initial_d_offset": "D_offset",
    "initial_gamma_dot_t0": "gamma_dot_t0",
    "initial_beta": "beta",
    "initial_gamma_dot_offset": "gamma_dot_t_offset",
    "initial_phi0": "phi0",
}
DEFAULT_CONFIG = Path("homodyne_config.yaml")


def parse_assignments(items: list[str] | None, flag: str) -> dict[str, float]:
    """``['D0=1000', 'alpha=0.2']`` -> ``{'D0': 1000.0, 'alpha': 0.2}``."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise UsageError(f"{flag} expects NAME=NUMBER, got {item!r}") from None
    return out


def parse_fix(items: list[str] | None) -> dict[str, float | None]:
    """``['alpha=0', 'phi0']`` -> ``{'alpha': 0.0, 'phi0': None}`` (None: at its start value)."""
    out: dict[str, float | None] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not name.strip():
            raise UsageError(f"--fix expects NAME or NAME=NUMBER, got {item!r}")
        try:
            out[name.strip()] = float(value) if sep else None
        except ValueError:
            raise UsageError(f"--fix expects NAME or NAME=NUMBER, got {item!r}") from None
    return out


def _phi_ranges(items: list[str]) -> list[dict[str, float]]:
    out = []
    for item in items:
        parts = item.replace(":", ",").split(",")
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError:
            raise UsageError(f"--phi-range expects MIN,MAX in degrees, got {item!r}") from None
        out.append({"min_angle": lo, "max_angle": hi})
    return out


def build_overrides(opts: dict[str, Any]) -> list[Override]:
    """Command-line options -> config overrides (key paths as in the YAML)."""
    ov: list[Override] = []
    mode = opts.get("mode")
    if opts.get("static_mode") and opts.get("laminar_flow"):
        raise UsageError("--static-mode and --laminar-flow exclude each other")
    if opts.get("static_mode"):
        mode = "static"
    if opts.get("laminar_flow"):
        mode = "laminar_flow"
    if mode:
        ov.append(Override(("analysis_mode",), mode, "--mode"))
    simple = {
        "convention": (("convention",), "--convention"),
        "start_frame": (("analyzer_parameters", "start_frame"), "--start-frame"),
        "end_frame": (("analyzer_parameters", "end_frame"), "--end-frame"),
        "dt": (("analyzer_parameters", "dt"), "--dt"),
        "seed": (("seed",), "--seed"),
        "max_iterations": (("optimization", "nlsq", "max_iterations"), "--max-iterations"),
        "sigma": (("optimization", "nlsq", "sigma"), "--sigma"),
        "method": (("optimization", "method"), "--method"),
    }
    for key, (path, flag) in simple.items():
        if opts.get(key) is not None:
            ov.append(Override(path, opts[key], flag))
    if opts.get("q"):
        ov.append(
            Override(
                ("analyzer_parameters", "scattering", "wavevector_q"),
                [float(x) for x in opts["q"]],
                "--q",
            )
        )
    if opts.get("q_range"):
        scattering = ("analyzer_parameters", "scattering")
        lo, hi = (float(v) for v in opts["q_range"])
        ov.append(Override((*scattering, "q_range"), [lo, hi], "--q-range"))
        if not opts.get("q"):  # the range replaces the config's ring list
            ov.append(Override((*scattering, "wavevector_q"), None, "--q-range"))
    if opts.get("joint_q"):
        ov.append(Override(("analyzer_parameters", "scattering", "joint_q"), True, "--joint-q"))
    if opts.get("phi_range"):
        ov.append(
            Override(
                ("phi_filtering",),
                {"enabled": True, "target_ranges": _phi_ranges(opts["phi_range"])},
                "--phi-range",
            )
        )
    if opts.get("data_file"):
        ov.append(
            Override(
                ("experimental_data", "file_paths"),
                [str(p) for p in opts["data_file"]],
                "--data-file",
            )
        )
    if opts.get("no_plots"):
        ov.append(Override(("plots", "enabled"), False, "--no-plots"))
    return ov


def _initial_overrides(opts: dict[str, Any]) -> dict[str, float]:
    values = parse_assignments(opts.get("initial"), "--initial")
    for key, name in _LEGACY_INITIAL.items():
        if opts.get(key) is not None:
            values[name] = float(opts[key])
    if "D0" in values and values["D0"] <= 0:
        raise UsageError(f"--initial D0 must be > 0, got {values['D0']}")
    return values


def resolve_run_config(opts: dict[str, Any]):
    """Load the config named by ``--config`` (or the 2.x default file) with the overrides."""
    config = opts.get("config")
    if config is None and DEFAULT_CONFIG.exists():
        config = DEFAULT_CONFIG
    if config is None and not opts.get("data_file"):
        raise UsageError(
            "no configuration: pass --config FILE (write one with `homodyne config "
            "new`), or at least --data-file FILE"
        )
    overrides = build_overrides(opts)
    for item in opts.get("data_file") or []:
        if not Path(item).exists():
            from homodyne_data import DataFileNotFoundError

            raise DataFileNotFoundError(f"data file not found: {item} (from --data-file)")
    run = load_config(
        config,
        overrides=overrides,
        strict=bool(opts.get("strict")),
        fix=parse_fix(opts.get("fix")),
    )
    if opts.get("phi"):  # bare arrays: applied per file by array_options.with_array_options
        from .array_options import parse_phi

        run.overrides["--phi"] = parse_phi(opts["phi"])
    extra = _initial_overrides(opts)
    if extra:
        from homodyne_physics import canonical_name, parameter_names

        names = parameter_names(run.mode)
        init = dict(run.initial or {})
        for key, value in extra.items():
            canon = canonical_name(key)
            if canon not in names:
                raise UsageError(
                    f"--initial {key}: not a parameter of mode {run.mode!r} ({', '.join(names)})"
                )
            init[canon] = value
        run = dataclasses.replace(run, initial=init, overrides=run.overrides | {"--initial": extra})
    return run


def run_command(**opts: Any) -> None:
    """Body of ``homodyne run``."""
    from ..pipeline import run_pipeline

    method = opts.get("method")
    if method is not None and method not in ("nlsq", "cmc", "both"):
        raise UsageError(f"--method must be nlsq, cmc or both, got {method!r}")
    from homodyne_physics import CONVENTIONS

    if opts.get("convention") not in (None, *CONVENTIONS):
        raise UsageError(
            f"--convention must be one of {', '.join(CONVENTIONS)}, got {opts['convention']!r}"
        )
    run = dataclasses.replace(resolve_run_config(opts), threads=opts.get("threads"))
    if opts.get("clip_frames"):  # an end frame past the data is clipped instead of an error
        run = dataclasses.replace(run, data=dataclasses.replace(run.data, clip_frames=True))
    run_pipeline(
        run,
        output_dir=opts["output_dir"],
        method=run.method,
        overwrite=bool(opts.get("overwrite")),
        ui=get_ui(),
    )
