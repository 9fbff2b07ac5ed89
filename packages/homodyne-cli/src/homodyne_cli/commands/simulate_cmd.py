"""``homodyne simulate``: write a genuine HDF5 file from the physics kernel."""

import os
from pathlib import Path
from typing import Any

from ..console import get_ui
from ..errors import OutputError, UsageError
from .run import parse_assignments

__all__ = ["simulate_command"]


def simulate_command(**o: Any) -> None:
    """Simulate, write the file (APS-U or legacy layout) and optionally a config next to it."""
    from homodyne_data import simulate, write_aps_legacy, write_aps_u
    from homodyne_physics import ModelSpec

    from ..config import render_template
    from ..outputs import atomic_write_text

    out: Path = o["output"]
    if out.exists() and not o["force"]:
        raise OutputError(f"{out} exists; pass --force to overwrite it")
    if o["layout"] not in ("aps_u", "aps_legacy"):
        raise UsageError(f"--layout must be aps_u or aps_legacy, got {o['layout']!r}")
    try:
        phi = [float(x) for x in str(o["phi"]).split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--phi expects comma-separated degrees, got {o['phi']!r}") from None
    params = parse_assignments(o.get("param"), "--param")
    _check_size(len(phi), int(o["n_frames"]))
    _check_output(out)
    spec = ModelSpec.create(o["mode"], convention=o["convention"])
    sim = simulate(
        spec,
        params or None,
        phi=phi,
        q=o["q"],
        dt=o["dt"],
        n_frames=o["n_frames"],
        contrast=o["contrast"],
        offset=o["offset"],
        noise=o["noise"],
        seed=o["seed"],
    )
    writer = write_aps_u if o["layout"] == "aps_u" else write_aps_legacy
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        writer(out, sim)
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
    ui = get_ui()
    ui.info(f"wrote {out} ({o['layout']}, {len(phi)} angles, {o['n_frames']} frames)")
    ui.info(
        "truth: "
        + ", ".join(
            f"{k} = {v:.6g}"
            for k, v in sim.truth.items()
            if not k.startswith(("contrast_", "offset_"))
        )
    )
    if o.get("write_config"):
        cfg = out.with_suffix(".yaml")
        text = render_template(o["mode"], file=out.name, q=o["q"], dt=o["dt"])
        atomic_write_text(cfg, _with_convention(text, spec.convention))
        ui.info(f"wrote {cfg}")


def _check_size(n_phi: int, n_frames: int) -> None:
    """Refuse sizes this machine cannot hold, before anything is allocated."""
    from ..memory import SIMULATE_COPIES, c2_bytes, check_memory

    if n_frames < 2:
        raise UsageError(f"--n-frames must be >= 2, got {n_frames}")
    if n_phi < 1:
        raise UsageError("--phi must name at least one angle")
    check_memory(
        f"simulate: {n_phi} angle(s) x {n_frames} x {n_frames} frames",
        c2_bytes(n_phi, n_frames, SIMULATE_COPIES),
        "use fewer --n-frames or angles",
    )


def _check_output(out: Path) -> None:
    """An output that cannot be written is an output error (exit 2), found before the work."""
    from ..outputs import _nearest_existing

    base = _nearest_existing(out.parent)
    if out.exists() and out.is_dir():
        raise OutputError(f"cannot write {out}: it is a folder")
    if not base.is_dir():
        raise OutputError(f"cannot write {out}: {base} is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {out}: {base} is not writable")


def _with_convention(text: str, convention: str) -> str:
    """The template with its ``convention:`` line set to the convention simulated with."""
    import re

    new, n = re.subn(
        r"^convention:[ \t]*\S+", f"convention: {convention}", text, count=1, flags=re.M
    )
    return new if n else f"convention: {convention}\n" + text
