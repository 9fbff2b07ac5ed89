"""q rings on the command line: text, JSON values and the joint load of several rings.

A job's q is ``None`` (the file's only ring), one float (one ring) or a tuple of floats (the
rings fitted jointly, ``--q a --q b --joint-q``); with ``q_range`` in the config the job's q is
``None`` and the rings are those of the file inside the range. A joint dataset's ``data.q`` is
one q per angle: these helpers print the ring list instead of a single number.
"""

from typing import Any

import numpy as np

__all__ = ["angle_pages", "load_joint", "page_q", "plot_q", "q_json", "q_text", "single_rings"]


def q_text(q: Any, digits: int = 5) -> str:
    """``'0.0054'`` for one ring, ``'rings 0.003, 0.0054'`` for several (data.q or job q)."""
    if q is None:
        return "file default"
    arr = np.atleast_1d(np.asarray(q, dtype=np.float64))
    rings = list(dict.fromkeys(arr.tolist()))
    if np.ndim(q) == 0 or len(rings) == 1:
        return f"{rings[0]:.{digits}g}"
    return "rings " + ", ".join(f"{v:.{digits}g}" for v in rings)


def q_json(data: Any) -> float | list[float]:
    """``data.q`` for a JSON file: a float for one ring, the ring list for a joint dataset."""
    if getattr(data, "is_joint", False):
        return [float(v) for v in data.q_rings]
    return float(data.q)


def plot_q(data: Any) -> float | None:
    """The q a plot title shows: one ring's q, ``None`` for a joint dataset (titles skip it)."""
    return None if getattr(data, "is_joint", False) else float(data.q)


def angle_pages(data: Any, prefix: str) -> list[str]:
    """One PNG name per angle: ``{prefix}_phi_+010.00deg.png``; a joint dataset's names carry
    the ring (``{prefix}_r1_q0.006_phi_...``), so equal angles of two rings do not overwrite
    each other and a folder listing groups the pages by ring."""
    phi = np.asarray(data.phi, np.float64)
    if not getattr(data, "is_joint", False):
        return [f"{prefix}_phi_{p:+07.2f}deg.png" for p in phi]
    ring, q = np.asarray(data.ring), data.q_per_angle
    return [
        f"{prefix}_r{int(r)}_q{float(v):.5g}_phi_{p:+07.2f}deg.png"
        for r, v, p in zip(ring, q, phi, strict=True)
    ]


def page_q(data: Any) -> float | np.ndarray | None:
    """The q each per-angle page shows: one ring's q, or the q of each angle (joint)."""
    if getattr(data, "is_joint", False):
        return np.asarray(data.q_per_angle, np.float64)
    return plot_q(data)


def single_rings(run: Any, file: str) -> list[float | None]:
    """The rings of ``file`` one by one (a joint job's rings, or those inside ``run.q_range``)."""
    from homodyne_data import inspect_file, ring_values

    if run.q_range is not None:
        rings = inspect_file(file).q
        return ring_values(rings, q_range=run.q_range, tolerance=run.q_tolerance, file=file)
    return [v for q in run.q for v in (q if isinstance(q, tuple) else (q,))]


def load_joint(run: Any, file: str, q: tuple[float, ...] | None) -> Any:
    """The joint dataset of ``file``: rings ``q`` (or those inside ``run.q_range``)."""
    from homodyne_data import inspect_file, join_rings, load_data, ring_values

    from .commands.array_options import with_array_options
    from .config.typed import data_config

    rings = ring_values(
        inspect_file(file).q,
        q=list(q) if q is not None else None,
        q_range=run.q_range if q is None else None,
        tolerance=run.q_tolerance,
        file=file,
    )
    parts = [load_data(with_array_options(data_config(run, file, v), run)) for v in rings]
    return join_rings(parts) if len(parts) > 1 else parts[0]
