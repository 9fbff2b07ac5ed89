"""``homodyne config new``, ``homodyne config validate`` and ``homodyne config schema``."""

import json
import sys
from pathlib import Path

from ..config import load_config, render_template
from ..console import get_ui
from ..errors import ConfigError, OutputError, UsageError
from ..outputs import atomic_write_text
from ..qrings import q_text

__all__ = ["config_new", "config_schema_command", "config_validate"]


def _write(output: Path, text: str, force: bool) -> None:
    if output.exists() and not force:
        raise OutputError(f"{output} exists; pass --force to overwrite it")
    try:
        atomic_write_text(output, text)
    except OSError as exc:
        raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from None


def config_new(
    *,
    mode: str,
    output: Path | None,
    data_file: str | None,
    q: float | None,
    force: bool,
    schema: str | None = None,
) -> None:
    """Write (or print) the commented template of ``mode``.

    ``schema`` (a path or URL of the file ``homodyne config schema`` writes) adds the
    ``# yaml-language-server: $schema=...`` line editors read for completion and checking.
    """
    try:
        text = render_template(
            mode, file=data_file or "./data/sample_twotime.hdf", q=0.0054 if q is None else q
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if schema:
        text = f"# yaml-language-server: $schema={schema}\n{text}"
    if output is None:
        sys.stdout.write(text)
        return
    _write(output, text, force)
    get_ui().info(f"wrote {output} ({mode}); check it with: homodyne config validate {output}")


def config_schema_command(*, output: Path | None, force: bool) -> None:
    """Print or write the JSON Schema of the configuration file."""
    from ..config.schema_json import config_schema

    text = json.dumps(config_schema(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    _write(output, text, force)
    get_ui().info(
        f"wrote {output}; editors with the YAML language server use it when a config starts "
        f"with: # yaml-language-server: $schema={output}"
    )


def config_validate(*, file: Path, strict: bool, with_data: bool = False) -> None:
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
    # the priors of the bounds entries meet the CMC settings only here: check them now too
    from ..config import cmc_config

    if run.method in ("cmc", "both") or run.cmc is not None:
        cmc_config(run)
    missing = [f for f in run.files if not Path(f).exists()]
    ui.info(f"[green]valid[/green]: {file}")
    ui.info(f"  mode {run.mode}, convention {run.convention}, method {run.method}")
    ui.info(
        f"  data: {', '.join(run.files)}" + ("  [yellow](not found)[/yellow]" if missing else "")
    )
    qs = "; ".join(q_text(q) for q in run.q)
    if run.q_range is not None:
        qs = f"every ring in [{run.q_range[0]:g}, {run.q_range[1]:g}]"
    ui.info(
        f"  q: {qs} 1/A{' (fitted jointly)' if run.joint_q else ''}; "
        f"frames {run.start_frame}..{run.end_frame}; dt "
        f"{'from file' if run.dt is None else run.dt}"
    )
    ui.info(f"  angles: {'all' if run.phi_ranges is None else run.phi_ranges}")
    if run.phi_bin_width is not None:
        ui.info(f"  angular bin width: {run.phi_bin_width} deg (shear term averaged over it)")
    ui.info(f"  initial values: {run.initial or 'defaults / data estimates'}")
    if run.fixed:
        shown = {k: "start value" if v is None else v for k, v in run.fixed.items()}
        ui.info(f"  fixed parameters: {shown}")
    changed = {k: v for k, v in run.nlsq.to_dict().items() if run.key_path("nlsq", k)}
    ui.info(f"  nlsq settings: {changed or 'defaults'}")
    if run.warnings:
        ui.info(f"  {len(run.warnings)} warning(s) above")
    from ..data_checks import NEEDS_DATA, check_with_data

    if with_data:  # every check `run` makes before fitting (exit 3 on a problem)
        check_with_data(run, ui)
    else:
        ui.info(f"  {NEEDS_DATA}")
