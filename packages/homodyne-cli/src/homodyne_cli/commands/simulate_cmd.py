"""``homodyne simulate``: write a genuine HDF5 file from the physics kernel."""

from pathlib import Path
from typing import Any

from ..console import get_ui
from ..errors import OutputError, UsageError
from .run import parse_assignments

__all__ = ["simulate_command"]


def simulate_command(**o: Any) -> None:
    """Simulate, write the file (APS-U or legacy layout) and optionally a config next to it."""
    from homodyne_data import simulate, write_aps_legacy, write_aps_u

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
    sim = simulate(
        o["mode"],
        params or None,
        phi=phi,
        q=o["q"],
        dt=o["dt"],
        n_frames=o["n_frames"],
        contrast=o["contrast"],
        offset=o["offset"],
        noise=o["noise"],
        seed=o["seed"],
        convention=o["convention"],
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = write_aps_u if o["layout"] == "aps_u" else write_aps_legacy
    writer(out, sim)
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
        atomic_write_text(cfg, render_template(o["mode"], file=out.name, q=o["q"], dt=o["dt"]))
        ui.info(f"wrote {cfg}")
