"""What is in a data file, without reading the matrices: :func:`inspect_file` -> FileSummary."""

import os
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from .arrays import MATRIX_KEYS
from .assemble import jsonable
from .errors import MissingTimeStepError, NotHDF5Error
from .layouts import detect_layout, index_bins
from .matrices import storage_of
from .metadata import read_metadata, resolve_dt
from .reader import file_kind
from .selection import normalize_angle

__all__ = ["FileSummary", "inspect_file"]

_PROBE = 32  # side of the corner block read to tell half from full storage


@dataclass(frozen=True)
class FileSummary:
    """Content of a data file.

    Attributes
    ----------
    file, layout
        Path and ``'aps_u'`` / ``'aps_legacy'`` / ``'array'``.
    q
        q of every ring (APS-U: all rings of the q map; legacy: distinct bin q), 1/Angstrom.
    phi
        Angles of the file, degrees (APS-U: the phi list of the q map; legacy: every bin).
    bins
        One dict per matrix: ``id``, ``q``, ``phi``, ``dataset``.
    n_frames
        Frames (rows) of the matrices (of the first one).
    dt
        Time step from the metadata, s (``None`` when the file does not give it).
    storage
        ``'upper'``/``'lower'``/``'full'`` from a probe of the first matrix.
    metadata
        Instrument/sample metadata.
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
        )


def _summary_hdf5(file: str) -> FileSummary:
    try:
        f = h5py.File(file, "r")
    except OSError as exc:
        raise NotHDF5Error(f"cannot be opened as HDF5: {exc}", file=file, dataset="/") from exc
    with f:
        layout = detect_layout(f, file)
        index = index_bins(f, file, layout)
        meta = read_metadata(f, layout)
        notes = []
        try:
            dt, note = resolve_dt(None, meta, file=file, layout=layout)
            notes.append(note)
        except MissingTimeStepError as exc:
            dt = None
            notes.append(exc.what)
        first = f.get(index.paths[0])
        n_frames, storage = 0, "unknown"
        if isinstance(first, h5py.Dataset) and first.ndim == 2:
            n_frames = int(first.shape[0])
            m = min(_PROBE, n_frames)
            storage = storage_of(np.asarray(first[:m, :m], dtype=np.float64))
        if layout == "aps_u":
            phi = f[index.phi_path][()].reshape(-1)
        else:
            phi = index.phi
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
        )


def _summary_array(file: str, kind: str) -> FileSummary:
    if kind == "npy":
        arr = np.load(file, mmap_mode="r", allow_pickle=False)
        shape, keys = arr.shape, ["<npy array>"]
    else:
        with np.load(file, allow_pickle=False) as z:
            keys = list(z.files)
            key = next((k for k in MATRIX_KEYS if k in keys), keys[0] if keys else None)
            shape = z[key].shape if key is not None else ()
    n = int(shape[-1]) if shape else 0
    n_mat = int(shape[0]) if len(shape) == 3 else 1
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
        notes=("bare array: q, phi and dt must be given when loading",),
    )


def inspect_file(path: str | os.PathLike) -> FileSummary:
    """Summarise a data file (layout, q rings, angles, bins, frames, dt, metadata).

    Only coordinate arrays, metadata and a small corner of the first matrix are read.
    """
    file = os.fspath(path)
    kind = file_kind(file)
    if kind == "hdf5":
        return _summary_hdf5(file)
    return _summary_array(file, kind)
