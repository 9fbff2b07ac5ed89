"""``homodyne check``: is this installation ready (versions, float64, devices, extras)?"""

import importlib.util
import json

from ..console import get_ui
from ..outputs import json_safe, versions

__all__ = ["check_command", "environment_report"]

_EXTRAS = (
    "nlsq",
    "numpyro",
    "arviz_base",
    "arviz_stats",
    "dask_jobqueue",
    "dask",
    "distributed",
    "h5py",
    "matplotlib",
)


def environment_report() -> dict:
    """Versions, float64 state, JAX backend and devices, optional modules present."""
    import jax
    import jax.numpy as jnp

    devices = [
        {"id": d.id, "platform": d.platform, "kind": getattr(d, "device_kind", "")}
        for d in jax.devices()
    ]
    x = jnp.ones(3)
    return {
        "versions": versions(),
        "float64": bool(jax.config.jax_enable_x64) and x.dtype == jnp.float64,
        "jax_backend": jax.default_backend(),
        "devices": devices,
        "gpu": any(d["platform"] in ("gpu", "cuda", "rocm") for d in devices),
        "extras": {m: importlib.util.find_spec(m) is not None for m in _EXTRAS},
    }


def check_command(*, as_json: bool) -> None:
    """Print the environment report; exit 1 when something required is missing."""
    rep = environment_report()
    ui = get_ui()
    if as_json:
        ui.out.print_json(json.dumps(json_safe(rep)))
    else:
        from rich.table import Table

        t = Table(title="homodyne check", show_header=False)
        for name, ver in rep["versions"].items():
            t.add_row(name, ver or "[red]not installed[/red]")
        t.add_row("float64", "[green]on[/green]" if rep["float64"] else "[red]off[/red]")
        t.add_row("JAX backend", rep["jax_backend"])
        t.add_row(
            "devices", ", ".join(f"{d['platform']}:{d['id']} {d['kind']}" for d in rep["devices"])
        )
        t.add_row(
            "optional", ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in rep["extras"].items())
        )
        ui.out.print(t)
    required = ["homodyne-physics", "homodyne-data", "homodyne-nlsq", "homodyne-cli"]
    if not rep["float64"] or any(rep["versions"][p] is None for p in required):
        from ..errors import AnalysisFailed

        raise AnalysisFailed("installation check failed (float64 off or a package missing)")
