"""``--phi`` (and, through the config, ``--q`` and ``--dt``) for bare arrays on the command line.

A bare ``.npy``/``.npz``/HDF5 array carries no q, angles or time step. ``--q`` and ``--dt``
already reach the data layer (the q ring and the time step); ``--phi`` gives the angle of each
matrix. It is kept in ``run.overrides['--phi']`` and applied to each data file's
``DataConfig`` by :func:`with_array_options`.
"""

from dataclasses import replace
from typing import Any

from ..errors import UsageError

__all__ = ["parse_phi", "with_array_options"]


def parse_phi(items: list[str] | None) -> tuple[float, ...] | None:
    """``['0,90']`` or ``['0', '90']`` -> ``(0.0, 90.0)`` degrees; ``None`` when not given."""
    if not items:
        return None
    from homodyne_data import DataError
    from homodyne_data.units import array_phi_values

    parts = [p.strip() for item in items for p in str(item).split(",") if p.strip()]
    values: list[Any] = []
    for p in parts:
        try:
            values.append(float(p))
        except ValueError:
            values.append(p)  # '<number> <units>'
    try:
        return array_phi_values(values)
    except DataError as exc:
        raise UsageError(f"--phi: {exc.what} (from {' '.join(items)!r})") from None


def with_array_options(cfg: Any, run: Any) -> Any:
    """``cfg`` (a ``DataConfig``) with the ``--phi`` angles of ``run`` (unchanged if none)."""
    phi = (getattr(run, "overrides", None) or {}).get("--phi")
    return cfg if phi is None else replace(cfg, array_phi=tuple(phi))
