"""The ``homodyne`` command: a typer app whose commands import their work lazily.

Nothing heavy (JAX, numpy, matplotlib, h5py) is imported at module level, so ``homodyne
--help`` answers quickly. Errors become one message and an exit code (see :mod:`.errors`).
"""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import run_options as ro

__all__ = ["app", "console", "main"]

app = typer.Typer(
    name="homodyne",
    help="XPCS two-time correlation analysis: fit transport coefficient D(t) and shear rate "
    "gamma_dot(t) to c2(phi, t1, t2).\n\n"
    "Start with [bold]homodyne demo[/bold]; fit your data with "
    "[bold]homodyne run --config X.yaml[/bold] (homodyne 2.x configs work as they are).",
    rich_markup_mode="rich",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    help="Write a configuration template, check a configuration, or write its JSON Schema.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(config_app, name="config")

_STATE = {"verbosity": 0}

Verbose = Annotated[
    int,
    typer.Option("--verbose", "-v", count=True, help="More output (-vv: debug; shows tracebacks)."),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Errors only.")]


def _set_verbosity(verbose: int = 0, quiet: bool = False) -> int:
    if verbose and quiet:
        raise typer.BadParameter("use either -v or -q, not both")
    v = max(_STATE["verbosity"], verbose) if not quiet else -1
    _STATE["verbosity"] = v
    from .console import UI, set_ui

    set_ui(UI(v))
    return v


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"homodyne {version('homodyne-cli')}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Verbose = 0,
    quiet: Quiet = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Global options."""
    _STATE["verbosity"] = -1 if quiet else verbose


def _jax_setup(threads: int | None = None) -> None:
    """The CLI owns its process: limit CPU threads if asked, then switch JAX to float64."""
    if threads is not None:
        if threads < 1:
            raise typer.BadParameter(f"--threads {threads}: must be >= 1")
        cpus = sorted(os.sched_getaffinity(0))[:threads] if hasattr(os, "sched_getaffinity") else []
        if cpus:
            os.sched_setaffinity(0, cpus)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    import jax

    from .heap import freeze_heap

    jax.config.update("jax_enable_x64", True)
    _compilation_cache(jax)
    freeze_heap()  # JAX's modules: later imports and stages do not scan them again


# Size bound of the persistent compilation cache. A bound turns on JAX's LRU eviction, which
# serialises reads and writes of the cache folder through a file lock (the `filelock`
# package), so several homodyne processes can share one folder safely.
_CACHE_MAX_BYTES = 2 * 2**30


def compilation_cache_dir() -> Path | None:
    """Folder of the CLI's persistent JAX compilation cache, or None when switched off.

    ``$HOMODYNE_JAX_CACHE`` if set (``off``, ``0`` or empty: no cache), else
    ``$XDG_CACHE_HOME/homodyne/jax`` (``~/.cache/homodyne/jax``), the folder the CMC workers
    already use.
    """
    env = os.environ.get("HOMODYNE_JAX_CACHE")
    if env is not None:
        return None if env.strip().lower() in ("", "0", "off", "none", "false") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "homodyne" / "jax"


def _compilation_cache(jax) -> None:
    """Persist compiled programs so that a second run of the same shapes skips compilation."""
    folder = compilation_cache_dir()
    if folder is None or jax.config.jax_compilation_cache_dir:
        return  # switched off, or the user configured JAX's cache already
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: run without the cache
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_compilation_cache_max_size", _CACHE_MAX_BYTES)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    from homodyne_physics.programs import set_program_cache

    set_program_cache(folder / "programs")  # the fit's programs, loaded without tracing


# ------------------------------------------------------------------------------------------ run
@app.command("run")
def run_cmd(
    config: ro.ConfigOpt = None,
    method: ro.MethodOpt = None,
    output_dir: ro.OutputDirOpt = Path("homodyne_results"),
    data_file: ro.DataFileOpt = None,
    mode: ro.ModeOpt = None,
    static_mode: ro.StaticModeOpt = False,
    laminar_flow: ro.LaminarFlowOpt = False,
    convention: ro.ConventionOpt = None,
    q: ro.QOpt = None,
    joint_q: ro.JointQOpt = False,
    q_range: ro.QRangeOpt = None,
    phi_range: ro.PhiRangeOpt = None,
    start_frame: ro.StartFrameOpt = None,
    end_frame: ro.EndFrameOpt = None,
    clip_frames: ro.ClipFramesOpt = False,
    dt: ro.DtOpt = None,
    phi: ro.PhiOpt = None,
    initial: ro.InitialOpt = None,
    initial_d0: ro.InitialD0Opt = None,
    initial_alpha: ro.InitialAlphaOpt = None,
    initial_d_offset: ro.InitialDOffsetOpt = None,
    initial_gamma_dot_t0: ro.InitialGammaDotT0Opt = None,
    initial_beta: ro.InitialBetaOpt = None,
    initial_gamma_dot_offset: ro.InitialGammaDotOffsetOpt = None,
    initial_phi0: ro.InitialPhi0Opt = None,
    fix: ro.FixOpt = None,
    max_iterations: ro.MaxIterationsOpt = None,
    sigma: ro.SigmaOpt = None,
    seed: ro.SeedOpt = None,
    threads: ro.ThreadsOpt = None,
    overwrite: ro.OverwriteOpt = False,
    no_plots: ro.NoPlotsOpt = False,
    strict: ro.StrictOpt = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Fit data described by a YAML configuration (also: [bold]homodyne --config X.yaml[/bold])."""
    _set_verbosity(verbose, quiet)
    _jax_setup(threads)
    from .commands.run import run_command

    run_command(**{k: v for k, v in locals().items() if k not in ("verbose", "quiet")})


# ----------------------------------------------------------------------------------------- demo
@app.command("demo")
def demo_cmd(
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o")] = Path("homodyne_demo"),
    mode: Annotated[str, typer.Option("--mode", help="static | laminar_flow.")] = "laminar_flow",
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Simulate an APS-U file, write a config next to it, fit it and compare with the truth."""
    _set_verbosity(verbose, quiet)
    _jax_setup()
    from .commands.demo import demo_command

    demo_command(output_dir=output_dir, mode=mode, overwrite=overwrite)


# --------------------------------------------------------------------------------------- config
@config_app.command("new")
def config_new_cmd(
    mode: Annotated[str, typer.Option("--mode", help="static | laminar_flow.")] = "static",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: print to stdout)."),
    ] = None,
    data_file: Annotated[str | None, typer.Option("--data-file")] = None,
    q: Annotated[float | None, typer.Option("--q")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            help="Path or URL of the JSON Schema (from `homodyne config schema`): adds the "
            "'# yaml-language-server: $schema=...' line editors read.",
        ),
    ] = None,
) -> None:
    """Write a commented configuration template."""
    from .commands.config_cmd import config_new

    config_new(mode=mode, output=output, data_file=data_file, q=q, force=force, schema=schema)


@config_app.command("schema")
def config_schema_cmd(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: print to stdout)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the JSON Schema of the configuration (editor completion and checking)."""
    from .commands.config_cmd import config_schema_command

    config_schema_command(output=output, force=force)


@config_app.command("validate")
def config_validate_cmd(
    file: Annotated[Path, typer.Argument(help="YAML configuration to check.")],
    strict: Annotated[bool, typer.Option("--strict", help="Warnings are errors.")] = False,
    with_data: Annotated[
        bool,
        typer.Option(
            "--with-data",
            help="Also open the data and run every check `run` makes before fitting.",
        ),
    ] = False,
) -> None:
    """Check a configuration: every problem at once, with key paths and line numbers."""
    from .commands.config_cmd import config_validate

    if with_data:
        _jax_setup()
    config_validate(file=file, strict=strict, with_data=with_data)


# -------------------------------------------------------------------------------------- inspect
@app.command("inspect")
def inspect_cmd(
    file: Annotated[Path, typer.Argument(help="Data file (APS-U, legacy, NXxpcs, bare array).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    q: Annotated[
        float | None, typer.Option("--q", help="q ring (1/A) to examine; bare arrays: their q.")
    ] = None,
    phi: Annotated[list[str] | None, typer.Option("--phi", help=ro.PHI_HELP)] = None,
    dt: Annotated[float | None, typer.Option("--dt", help="Seconds between frames.")] = None,
) -> None:
    """List every problem of a data file, with layout, q, phi, frames, dt (units) and quality.

    Exit code 3 when problems were found.
    """
    _jax_setup()
    from .commands.inspect_cmd import inspect_command

    inspect_command(file=file, as_json=as_json, q=q, phi=phi, dt=dt)


# ------------------------------------------------------------------------------------ plot-data
@app.command("plot-data")
def plot_data_cmd(
    config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
    data_file: Annotated[list[Path] | None, typer.Option("--data-file", "-d")] = None,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o")] = Path("homodyne_results"),
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
    q: Annotated[float | None, typer.Option("--q", help="q ring in 1/A; bare arrays: q.")] = None,
    phi: Annotated[list[str] | None, typer.Option("--phi", help=ro.PHI_HELP)] = None,
    dt: Annotated[float | None, typer.Option("--dt", help="Seconds between frames.")] = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Data-only plots (heatmaps, overview, lag profiles) of the selected data."""
    _set_verbosity(verbose, quiet)
    _jax_setup()
    from .commands.plot_data import plot_data_command

    plot_data_command(
        config=config,
        data_file=data_file,
        output_dir=output_dir,
        overwrite=overwrite,
        array_opts={"q": [q] if q is not None else None, "phi": phi, "dt": dt},
    )


# ------------------------------------------------------------------------------------- simulate
@app.command("simulate")
def simulate_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="HDF5 file to write.")],
    mode: Annotated[str, typer.Option("--mode")] = "static",
    param: Annotated[list[str] | None, typer.Option("--param", help="NAME=VALUE (repeat).")] = None,
    phi: Annotated[str, typer.Option("--phi", help="Angles in degrees, comma separated.")] = "0",
    q: Annotated[float, typer.Option("--q", help="1/A.")] = 0.0054,
    dt: Annotated[float, typer.Option("--dt", help="s.")] = 0.1,
    n_frames: Annotated[int, typer.Option("--n-frames")] = 200,
    contrast: Annotated[float, typer.Option("--contrast")] = 0.3,
    offset: Annotated[float, typer.Option("--offset")] = 1.0,
    noise: Annotated[float, typer.Option("--noise")] = 0.01,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    layout: Annotated[str, typer.Option("--layout", help="aps_u | aps_legacy.")] = "aps_u",
    convention: Annotated[str, typer.Option("--convention")] = "physical",
    write_config: Annotated[
        bool, typer.Option("--write-config", help="Also write a matching config next to the file.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Simulate two-time data with the physics kernel and write a genuine HDF5 file."""
    _jax_setup()
    from .commands.simulate_cmd import simulate_command

    simulate_command(**locals())


# ---------------------------------------------------------------------------------------- check
@app.command("check")
def check_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Versions, float64, JAX devices (CPU/GPU), h5py and optional extras."""
    _jax_setup()
    from .commands.check import check_command

    check_command(as_json=as_json)


# ----------------------------------------------------------------------------------------- main
_SUBCOMMANDS = {"run", "demo", "config", "inspect", "plot-data", "simulate", "check"}
_ROOT_ONLY = {"--help", "-h", "--version", "--install-completion", "--show-completion"}


def _rewrite_legacy(args: list[str]) -> list[str]:
    """Map the homodyne 2.x forms onto subcommands.

    ``homodyne --config X --method nlsq`` -> ``homodyne run --config X --method nlsq``;
    ``homodyne --plot-experimental-data --config X`` -> ``homodyne plot-data --config X``.
    """
    if not args or any(a in _SUBCOMMANDS for a in args) or any(a in _ROOT_ONLY for a in args):
        return args
    if "--plot-experimental-data" in args:
        rest = [a for a in args if a != "--plot-experimental-data"]
        return ["plot-data", *rest]
    if any(a.startswith("-") for a in args):
        return ["run", *args]
    return args


def _light_help_imports() -> None:
    """Keep help output fast: typer's rich help module imports ``rich.markdown`` (for the
    markdown markup mode, unused here) and ``rich.traceback`` (for pretty exceptions, disabled
    here) at import time, and rich's ``:emoji:`` table (the help has no emoji codes); in a
    help-only process placeholders stand in for them (~0.2 s)."""
    import types

    placeholders = (
        ("rich.markdown", "Markdown", type("Markdown", (), {})),
        ("rich.traceback", "Traceback", type("Traceback", (), {})),
        ("rich._emoji_codes", "EMOJI", {}),
    )
    for name, attr, value in placeholders:
        if name not in sys.modules:
            module = types.ModuleType(name, "placeholder: not needed to print help")
            setattr(module, attr, value)
            sys.modules[name] = module


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``homodyne`` console script; exits with the documented codes.

    Usage errors of the parser (typer's own click, or click for typer < 0.29) carry their
    ``exit_code`` (2) and are reported as one line, like every other error.
    """
    args = _rewrite_legacy(list(sys.argv[1:] if argv is None else argv))
    if not args or "--help" in args or "-h" in args:
        _light_help_imports()
    import warnings

    def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        from .console import get_ui

        get_ui().warn(f"{category.__name__}: {message}")

    warnings.showwarning = _show_warning
    interrupted = _watch_ctrl_c()
    command = typer.main.get_command(app)
    _plain_flags(command)
    try:
        rv = command.main(args=args, prog_name="homodyne", standalone_mode=False)
        if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
            # typer turns Ctrl-C into an exit code (130) in non-standalone mode
            if rv == 130:
                typer.echo("interrupted", err=True)
            sys.exit(rv)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except BaseException as exc:  # one clear message, a traceback only with -v
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help is already shown
            sys.exit(0)
        if interrupted():  # a Ctrl-C turned into another error (e.g. inside an import)
            typer.echo("interrupted", err=True)
            sys.exit(130)
        from .errors import exit_code_for

        code = exit_code_for(exc)
        _report(exc, code)
        sys.exit(code)
    if interrupted():  # the KeyboardInterrupt was swallowed (raised inside a gc callback)
        typer.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(0)


def console() -> None:
    """Entry point of the ``homodyne`` console script and ``python -m homodyne_cli``: :func:`main`,
    then the process ends without the interpreter's teardown.

    Once the results are written and committed, tearing down a process that ran JAX (its
    backends and thread pools, arrays of several hundred MB, thousands of modules) took about
    0.3 s, a noticeable share of a short run. The streams and log handlers are flushed
    first; the shortcut is skipped (a normal exit) while a child process other than
    multiprocessing's resource tracker is alive, so that nothing is ever left behind.
    The process is marked as the command's own (:func:`homodyne_cli.heap.own_process`).
    """
    from .heap import own_process

    own_process()
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:  # main() always exits; kept for safety
        code = 0
    if not isinstance(code, int):  # sys.exit("message") / sys.exit(None), as Python does
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    if _children_alive():
        sys.exit(code)
    _fast_exit(code)


def _children_alive() -> bool:
    """Whether a child process of this one is running (multiprocessing's resource tracker
    aside: it ends by itself when this process has gone). True when it cannot be told."""
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    skip = getattr(getattr(tracker, "_resource_tracker", None), "_pid", None)
    try:
        kids = {
            int(pid)
            for task in Path("/proc/self/task").iterdir()
            for pid in (task / "children").read_text().split()
        }
    except (OSError, ValueError):
        return True
    return bool(kids - {skip})


def _fast_exit(code: int) -> None:
    """Flush what this process has written (streams, log handlers, multiprocessing's
    finalizers) and end it at once."""
    import logging

    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        mp_util._exit_function()  # runs the finalizers (shared-memory locks: unregistered)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _plain_flags(command) -> None:
    """On/off flags take no value: show none in the help (typer would print ``<bool>``)."""
    for param in command.params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub)


def _watch_ctrl_c():
    """Remember every SIGINT while still raising KeyboardInterrupt as usual.

    Python ignores an exception raised in a garbage-collection callback (JAX installs one), so a
    Ctrl-C landing there would be lost and the run would finish with exit 0. The flag makes the
    command exit 130 all the same. A SIGINT that was ignored when we started (a background job)
    stays ignored.
    """
    import signal

    seen = []
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return lambda: False

    def handler(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    default_hook = sys.unraisablehook

    def unraisable(info) -> None:  # no traceback for the swallowed Ctrl-C itself
        if not isinstance(info.exc_value, KeyboardInterrupt):
            default_hook(info)

    signal.signal(signal.SIGINT, handler)
    sys.unraisablehook = unraisable
    return lambda: bool(seen)


def _report(exc: BaseException, code: int) -> None:
    from .console import get_ui

    ui = get_ui()
    if _STATE["verbosity"] >= 1:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    msg = str(exc) or type(exc).__name__
    from .errors import AnalysisFailed

    if code == 1 and not isinstance(exc, AnalysisFailed):
        msg = f"internal error ({type(exc).__name__}): {msg}; rerun with -v for the traceback"
    ui.error(msg)
