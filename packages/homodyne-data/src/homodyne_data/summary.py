"""What is in a data file, without reading the matrices: :func:`inspect_file` -> FileSummary."""

import os
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from .arrays import MATRIX_KEYS
from .assemble import jsonable
from .errors import InvalidTimeStepError, NotHDF5Error
from .layouts import bare_h5_array, detect_layout, index_bins, with_units
from .matrices import storage_of
from .metadata import read_metadata, resolve_dt
from .nexus import NXMatrix, nxxpcs_metadata
from .pointio import point_summary
from .reader import file_kind
from .selection import normalize_angle
from .writers import invented_values

__all__ = ["FileSummary", "inspect_file"]

_PROBE = 32  # side of the corner block read to tell half from full storage
UNITS = {"q": "1/A", "phi": "deg", "dt": "s"}


@dataclass(frozen=True)
class FileSummary:
    """Content of a data file.

    Attributes
    ----------
    file, layout
        Path and ``'aps_u'`` / ``'aps_legacy'`` / ``'nxxpcs'`` / ``'agelag'`` /
        ``'multitau'`` / ``'array'``.
    q
        q of every ring (APS-U: all rings of the q map; legacy: distinct bin q), 1/Angstrom.
    phi
        Angles of the file, degrees (APS-U: the phi list of the q map; legacy: every bin).
    bins
        One dict per matrix: ``id``, ``q``, ``phi``, ``dataset``.
    n_frames
        Frames (rows) of the matrices (of the first one); 0 for point sets.
    dt
        Time step from the metadata, s (``None`` when the file does not give it).
    storage
        ``'upper'``/``'lower'``/``'full'`` from a probe of the first matrix.
    metadata
        Instrument/sample metadata.
    notes
        Where dt came from, how the layout's attributes were read, ...
    dt_problem, dt_source
        Why the file gives no usable dt (``None`` when it does, or for bare arrays), and the
        dataset concerned.
    invented
        Values the writer of the file filled in without being given them (``homodyne_invented``
        attribute of files written by homodyne): ``{"path", "value", "reason"}``.
    units
        Units of ``q``, ``phi`` and ``dt`` as reported (values are converted on reading).
    """

    file: str
    layout: str
    q: tuple[float, ...]
    phi: tuple[float, ...]
    bins: tuple[dict[str, Any], ...]
    n_frames: int
    dt: float | None
    storage: str
    metadata: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    dt_problem: str | None = None
    dt_source: str | None = None
    invented: tuple[dict[str, Any], ...] = ()
    units: dict[str, str] = field(default_factory=lambda: dict(UNITS))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return jsonable(
            {
                "file": self.file,
                "layout": self.layout,
                "q": list(self.q),
                "phi": list(self.phi),
                "n_bins": len(self.bins),
                "bins": list(self.bins),
                "n_frames": self.n_frames,
                "dt": self.dt,
                "storage": self.storage,
                "metadata": dict(self.metadata),
                "notes": list(self.notes),
                "dt_problem": self.dt_problem,
                "dt_source": self.dt_source,
                "invented": list(self.invented),
                "units": dict(self.units),
            }
        )

    def describe(self) -> str:
        """A few readable lines."""
        qs = ", ".join(f"{v:.5g}" for v in self.q[:12]) + (" ..." if len(self.q) > 12 else "")
        ps = ", ".join(f"{v:g}" for v in self.phi[:24]) + (" ..." if len(self.phi) > 24 else "")
        dt = "not in file" if self.dt is None else f"{self.dt:.6g} s"
        return "\n".join(
            [
                f"{self.file}: {self.layout}, {len(self.bins)} two-time matrices of "
                f"{self.n_frames} x {self.n_frames} ({self.storage} storage)",
                f"q rings (1/A): {qs}",
                f"phi (deg): {ps}",
                f"dt: {dt}",
            ]
            + [f"note: {n}" for n in self.notes]
            + [f"invented by the writer: {i.get('path')} = {i.get('value')}" for i in self.invented]
        )


def _first_matrix(f: h5py.File, index) -> tuple[int, str]:
    """Frames and storage of the first matrix, from a small corner block."""
    if index.nx is not None:
        n = int(index.nx.n_frames)
        m = min(_PROBE, n)
        nx = index.nx
        block = NXMatrix(f, nx, 0, f.filename)[slice(0, m), slice(0, m)]
        mode = "keys" if nx.keys is not None else "q last" if nx.q_last else "q first"
        origin = "lower_left" if nx.lower_origin else "upper_left"
        stored = nx.populated or "half/all from content"
        return n, (
            f"{storage_of(block)} after reading (stored: {stored}, {mode}, {origin} origin, "
            f"baseline {nx.baseline})"
        )
    first = f.get(index.paths[0])
    if isinstance(first, h5py.Dataset) and first.ndim == 2:
        n = int(first.shape[0])
        m = min(_PROBE, n)
        return n, storage_of(np.asarray(first[:m, :m], dtype=np.float64))
    return 0, "unknown"


def _summary_hdf5(file: str, f: h5py.File) -> FileSummary:
    layout = detect_layout(f, file)
    if layout == "array":
        return _summary_array(file, "hdf5", f)
    if layout in ("agelag", "multitau"):  # point sets: no matrices to probe
        info = point_summary(f, file, layout)
        return FileSummary(file=file, layout=layout, invented=tuple(invented_values(f)), **info)
    index = index_bins(f, file, layout)
    notes: list[str] = []
    if layout == "nxxpcs":
        meta, more = nxxpcs_metadata(f, index.maps_path.split("/")[0], file)
        notes.extend([*index.nx.notes, *more])
    else:
        meta = read_metadata(f, layout)
    dt, dt_problem, dt_source = None, None, None
    try:
        dt, note = resolve_dt(None, meta, file=file, layout=layout)
        notes.append(note)
    except InvalidTimeStepError as exc:
        dt_problem, dt_source = exc.what, exc.dataset
        notes.append(exc.what)
    n_frames, storage = _first_matrix(f, index)
    phi = index.phi
    if layout == "aps_u":
        phi = with_units(f, index.phi_path, f[index.phi_path][()].reshape(-1), "phi", file)
    bins = tuple(
        {"id": int(b), "q": float(q), "phi": float(p), "dataset": path}
        for b, q, p, path in zip(
            index.bin_id, index.q, normalize_angle(index.phi), index.paths, strict=True
        )
    )
    return FileSummary(
        file=file,
        layout=layout,
        q=tuple(float(v) for v in index.q_rings),
        phi=tuple(float(v) for v in normalize_angle(phi)),
        bins=bins,
        n_frames=n_frames,
        dt=dt,
        storage=storage,
        metadata=meta,
        notes=tuple(notes),
        dt_problem=dt_problem,
        dt_source=dt_source,
        invented=tuple(invented_values(f)),
    )


def _summary_array(file: str, kind: str, h5: h5py.File | None = None) -> FileSummary:
    if h5 is not None:
        key = bare_h5_array(h5)
        shape, keys = tuple(h5[key].shape), [key, *sorted(k for k in h5 if k != key)]
    elif kind == "npy":
        arr = np.load(file, mmap_mode="r", allow_pickle=False)
        shape, keys = arr.shape, ["<npy array>"]
    else:
        with np.load(file, allow_pickle=False) as z:
            keys = list(z.files)
            key = next((k for k in MATRIX_KEYS if k in keys), keys[0] if keys else None)
            shape = z[key].shape if key is not None else ()
    n = int(shape[-1] if len(shape) != 3 or shape[1] == shape[2] else shape[0]) if shape else 0
    n_mat = 1 if len(shape) != 3 else int(shape[0] if shape[1] == shape[2] else shape[2])
    return FileSummary(
        file=file,
        layout="array",
        q=(),
        phi=(),
        bins=tuple({"id": k + 1, "q": None, "phi": None, "dataset": keys[0]} for k in range(n_mat)),
        n_frames=n,
        dt=None,
        storage="unknown",
        metadata={"arrays": ",".join(keys), "shape": "x".join(map(str, shape))},
        notes=("bare array: q, phi and dt are given when loading (or stored beside it)",),
        invented=tuple(invented_values(h5)) if h5 is not None else (),
    )


def inspect_file(path: str | os.PathLike) -> FileSummary:
    """Summarise a data file (layout, q rings, angles, bins, frames, dt, metadata).

    Only coordinate arrays, metadata and a small corner of the first matrix are read.
    """
    file = os.fspath(path)
    kind = file_kind(file)
    if kind != "hdf5":
        return _summary_array(file, kind)
    try:
        f = h5py.File(file, "r")
    except OSError as exc:
        raise NotHDF5Error(f"cannot be opened as HDF5: {exc}", file=file, dataset="/") from exc
    with f:
        return _summary_hdf5(file, f)
