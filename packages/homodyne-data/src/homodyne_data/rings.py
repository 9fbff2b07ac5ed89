"""Several q rings as one dataset: the angles of every ring concatenated, each with its q.

A joint fit shares D(t) and gamma_dot(t) between rings (they are properties of the sample)
while contrast and offset stay per (ring, angle). The joint dataset is an ordinary
:class:`XPCSData` whose ``q`` holds one value per angle and whose ``ring`` numbers the rings;
every fitter that builds its model from ``data.q`` fits it unchanged.

* :func:`join_rings` - concatenate single-ring datasets (same frames and dt);
* :func:`split_rings` - the single-ring datasets back (per-ring fits, plots per ring);
* :func:`ring_values` - choose rings from a file's list by q values or a q range;
* :func:`load_rings` - read the chosen rings of a file and join them.
"""

import os
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .dataset import XPCSData
from .errors import SelectionError

__all__ = ["join_rings", "load_rings", "ring_values", "split_rings"]


def join_rings(datasets: Sequence[XPCSData]) -> XPCSData:
    """One dataset holding the angles of every ring, in the order given.

    All datasets must be dense single-ring data with the same frames and dt (they come from
    one file and one frame selection); each ring keeps its angles and its own q.
    """
    parts = list(datasets)
    if not parts:
        raise SelectionError("join_rings needs at least one dataset")
    first = parts[0]
    for k, d in enumerate(parts):
        where = f"ring {k} (q = {np.ravel(d.q)[0]:.6g} 1/A)"
        if d.is_joint:
            raise SelectionError(f"join_rings: {where} is already a joint dataset")
        if not d.is_dense:
            raise SelectionError(f"join_rings: {where} is a point set; only full matrices join")
        if d.dt != first.dt or not np.array_equal(d.frames, first.frames):
            raise SelectionError(
                f"join_rings: {where} has frames {d.frames[0]}..{d.frames[-1]} "
                f"(n = {d.n_t}), dt = {d.dt:g} s; ring 0 has {first.frames[0]}.."
                f"{first.frames[-1]} (n = {first.n_t}), dt = {first.dt:g} s: rings must share "
                "the frame selection"
            )
    qs = [float(d.q) for d in parts]
    if len(set(qs)) != len(qs):
        raise SelectionError(f"join_rings: the same q ring appears twice ({qs})")
    q = np.concatenate([np.full(d.n_phi, float(d.q)) for d in parts])
    prov = first.provenance
    notes = tuple(n for d in parts for n in d.provenance.notes)
    warnings = tuple(w for d in parts for w in d.provenance.warnings)
    selection = dict(prov.selection) | {"q": qs, "joint_q": True}
    return XPCSData(
        c2=np.concatenate([d.c2 for d in parts]),
        phi=np.concatenate([d.phi for d in parts]),
        q=q,
        dt=first.dt,
        frames=first.frames,
        metadata=dict(first.metadata),
        provenance=replace(prov, selection=selection, notes=notes, warnings=warnings),
        ring=np.repeat(np.arange(len(parts)), [d.n_phi for d in parts]),
    )


def split_rings(data: XPCSData) -> list[XPCSData]:
    """The single-ring datasets of a joint dataset (``[data]`` for one ring)."""
    if not data.is_joint:
        return [data]
    out = []
    for r, q in enumerate(data.q_rings):
        sel = data.ring == r
        prov = data.provenance
        out.append(
            XPCSData(
                c2=data.c2[sel],
                phi=data.phi[sel],
                q=q,
                dt=data.dt,
                frames=data.frames,
                metadata=dict(data.metadata),
                provenance=replace(prov, selection=dict(prov.selection) | {"q": q, "ring": r}),
            )
        )
    return out


def ring_values(
    available,
    *,
    q: Sequence[float] | None = None,
    q_range: tuple[float, float] | None = None,
    tolerance: float = 0.1,
    file: str | None = None,
) -> list[float]:
    """The rings of ``available`` (q of each ring of a file) picked by ``q`` or ``q_range``.

    ``q``: requested values, each matched to the nearest ring within ``tolerance`` (relative);
    ``q_range``: every ring with ``min <= q <= max``. Exactly one of the two.
    """
    rings = np.unique(np.asarray(available, np.float64).ravel())
    if (q is None) == (q_range is None):
        raise SelectionError("give either q values or a q_range to choose rings", file=file)
    if q_range is not None:
        lo, hi = (float(v) for v in q_range)
        chosen = rings[(rings >= lo) & (rings <= hi)]
        if chosen.size == 0:
            listed = ", ".join(f"{v:.6g}" for v in rings)
            raise SelectionError(
                f"no q ring inside q_range [{lo:.6g}, {hi:.6g}] 1/A; the file holds [{listed}]",
                file=file,
            )
        return [float(v) for v in chosen]
    out = []
    for want in q:
        k = int(np.argmin(np.abs(rings - want)))
        if abs(rings[k] - want) > tolerance * abs(want):
            raise SelectionError(
                f"no q ring within {100 * tolerance:g}% of the requested q = {want:.6g} 1/A; "
                f"nearest is {rings[k]:.6g}",
                file=file,
            )
        if float(rings[k]) in out:
            raise SelectionError(f"q = {want:.6g} 1/A picks ring {rings[k]:.6g} twice", file=file)
        out.append(float(rings[k]))
    return out


def load_rings(
    path: str | os.PathLike,
    *,
    q: Sequence[float] | None = None,
    q_range: tuple[float, float] | None = None,
    q_tolerance: float = 0.1,
    **kwargs,
) -> XPCSData:
    """Read several q rings of one file into a joint dataset (see :func:`join_rings`).

    ``q`` (values) or ``q_range`` (``(min, max)``, 1/Angstrom) choose the rings among those
    the file holds; the other keywords are those of :func:`homodyne_data.load` and apply to
    every ring.
    """
    from .reader import load
    from .summary import inspect_file

    file = os.fspath(path)
    rings = ring_values(
        inspect_file(file).q, q=q, q_range=q_range, tolerance=q_tolerance, file=file
    )
    parts = [load(file, q=v, q_tolerance=q_tolerance, **kwargs) for v in rings]
    joint = join_rings(parts)
    sel = dict(joint.provenance.selection) | {"q_request": list(q) if q is not None else None}
    if q_range is not None:
        sel["q_range"] = [float(v) for v in q_range]
    return replace(joint, provenance=replace(joint.provenance, selection=sel))
