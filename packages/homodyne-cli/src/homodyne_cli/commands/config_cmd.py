"""``homodyne config new`` and ``homodyne config validate``."""

import sys
from pathlib import Path

from ..config import load_config, render_template
from ..console import get_ui
from ..errors import ConfigError, OutputError, UsageError
from ..outputs import atomic_write_text

__all__ = ["config_new", "config_validate"]


def config_new(
    *, mode: str, output: Path | None, data_file: str | None, q: float | None, force: bool
) -> None:
    """Write (or print) the commented template of ``mode``."""
    try:
        text = render_template(
            mode, file=data_file or "./data/sample_twotime.hdf", q=0.0054 if q is None else q
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if output is None:
        sys.stdout.write(text)
        return
    if output.exists() and not force:
        raise OutputError(f"{output} exists; pass --force to overwrite it")
    try:
        atomic_write_text(output, text)
    except OSError as exc:
        raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from None
    get_ui().info(f"wrote {output} ({mode}); check it with: homodyne config validate {output}")


def config_validate(*, file: Path, strict: bool) -> None:
    """Print every problem of a configuration; exit 2 if any error (or warning with strict)."""
    ui = get_ui()
    try:
        run = load_config(file, strict=strict)
    except ConfigError as exc:
        if exc.issues:
            for issue in exc.issues:
                (ui.error if issue.level == "error" or strict else ui.warn)(str(issue))
            n = sum(1 for i in exc.issues if i.level == "error" or strict)
            raise ConfigError(f"{file}: {n} problem{'s' if n != 1 else ''}; not valid") from None
        raise
    for issue in run.warnings:
        ui.warn(str(issue))
    # The typed settings of the lower packages check their own values (e.g. the Dask section),
    # so build them here too: a typo must show now, not after the NLSQ fit of a CMC run.
    from ..config import cmc_config, nlsq_config

    nlsq_config(run)
    if run.method in ("cmc", "both") or any(k != "seed" for k in run.cmc):
        cmc_config(run, warn=ui.warn)
    missing = [f for f in run.files if not Path(f).exists()]
    ui.info(f"[green]valid[/green]: {file}")
    ui.info(f"  mode {run.mode}, convention {run.convention}, method {run.method}")
    ui.info(
        f"  data: {', '.join(run.files)}" + ("  [yellow](not found)[/yellow]" if missing else "")
    )
    ui.info(
        f"  q: {', '.join('file default' if q is None else f'{q:g}' for q in run.q)} 1/A; "
        f"frames {run.start_frame}..{run.end_frame}; dt "
        f"{'from file' if run.dt is None else run.dt}"
    )
    ui.info(f"  angles: {'all' if run.phi_ranges is None else run.phi_ranges}")
    ui.info(f"  initial values: {run.initial or 'defaults / data estimates'}")
    ui.info(f"  nlsq settings: {run.nlsq}")
    if run.warnings:
        ui.info(f"  {len(run.warnings)} warning(s) above")
