"""Entry points :func:`load` and :func:`load_data`: file -> selected :class:`XPCSData`.

The file kind is detected from its first bytes (HDF5 signature, NumPy ``.npy`` magic, zip
archive for ``.npz``), the HDF5 layout from the datasets it contains. Files are opened
read-only; only the selected bins and frames are read.
"""

import os
from typing import Any

import h5py
import numpy as np

from .agelag import load_agelag
from .arrays import load_array
from .assemble import assemble, jsonable
from .cache import cache_key, cache_path, read_cache, write_cache
from .config import DataConfig
from .consistency import metadata_warnings
from .dataset import XPCSData
from .errors import DataError, DataFileNotFoundError, NotHDF5Error, SelectionError
from .layouts import BinIndex, detect_layout, index_bins
from .metadata import read_metadata, resolve_dt
from .multitau import load_multitau
from .nexus import NXMatrix, nxxpcs_metadata
from .selection import choose_q, normalize_angle, select_angles
from .writers import invented_values

__all__ = ["file_kind", "load", "load_data"]


def file_kind(file: str) -> str:
    """``'hdf5'``, ``'npy'`` or ``'npz'`` from the content; raises for anything else."""
    if not os.path.exists(file):
        raise DataFileNotFoundError("no such file", file=file, dataset="/")
    if not os.path.isfile(file):
        raise DataFileNotFoundError("not a regular file (a directory?)", file=file, dataset="/")
    try:
        with open(file, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise DataFileNotFoundError(
            f"cannot be read: {exc.strerror}", file=file, dataset="/"
        ) from exc
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if h5py.is_hdf5(file):
        return "hdf5"
    raise NotHDF5Error(
        f"not an HDF5 file (first bytes {head!r}); expected an APS-U, APS legacy or NXxpcs "
        "HDF5 results file, or a .npy/.npz array",
        file=file,
        dataset="/",
    )


def _choose_bins(
    index: BinIndex, cfg: DataConfig, file: str
) -> tuple[np.ndarray, float, list[str]]:
    """Positions (into ``index``) of the bins of the chosen q ring, q used, notes."""
    notes: list[str] = []
    if index.layout == "aps_u":
        rings = np.unique(index.ring)
        choice = choose_q(
            index.q_rings[rings], cfg.q, cfg.q_tolerance, file=file, dataset=index.q_path
        )
        ring = rings[choice.ring]
        pos = np.flatnonzero(index.ring == ring)
        pos = pos[np.argsort(index.bin_id[pos], kind="stable")]
        notes.append(f"{choice.note} (q index {int(ring)} of {index.q_path})")
        return pos, choice.q_used, notes
    # legacy: every bin has its own q; take the bins within tolerance of the nearest one,
    # one per angle (the nearest in q), and use their mean q.
    q = index.q
    if cfg.q is None:
        ref = float(np.median(q))
        phi_all = np.round(normalize_angle(index.phi), 6)
        repeated = np.unique(phi_all).size < phi_all.size
        if repeated or not np.all(np.abs(q - ref) <= cfg.q_tolerance * ref):
            listed = ", ".join(f"{v:.6g}" for v in index.q_rings[:50])
            raise SelectionError(
                f"the bins lie on several q rings (q values [{listed}] 1/A"
                f"{', angles repeat' if repeated else ''}); give q to choose one",
                file=file,
                dataset=index.q_path,
            )
        q_star = request = ref
    else:
        q_star = choose_q(
            index.q_rings, cfg.q, cfg.q_tolerance, file=file, dataset=index.q_path
        ).q_used
        request = cfg.q
    within = np.flatnonzero(np.abs(q - q_star) <= cfg.q_tolerance * request)
    phi_n = np.round(normalize_angle(index.phi[within]), 6)
    keep: dict[float, int] = {}
    for p, b in zip(phi_n, within, strict=True):
        if p not in keep or abs(q[b] - q_star) < abs(q[keep[p]] - q_star):
            keep[p] = int(b)
    pos = np.array(sorted(keep.values()), dtype=np.int64)
    dropped = within.size - pos.size
    lo, hi = float(q[pos].min()), float(q[pos].max())
    q_used = lo if lo == hi else float(np.mean(q[pos]))
    what = "requested" if cfg.q is not None else "not given;"
    notes.append(
        f"q {what} {'' if cfg.q is None else f'{cfg.q:.6g} 1/A; '}the physics uses q = "
        f"{q_used:.6g} 1/A, the mean of {pos.size} bins with q in [{lo:.6g}, {hi:.6g}] "
        f"(within {100 * cfg.q_tolerance:g}% of the nearest bin q {q_star:.6g})"
    )
    if dropped:
        notes.append(
            f"{dropped} bin(s) within the q tolerance repeat an angle of the ring (another ring); "
            "the bin nearest in q was kept for each angle"
        )
    return pos, q_used, notes


def _sources(f: h5py.File, index: BinIndex, pos: np.ndarray, file: str) -> list[Any]:
    if index.layout == "nxxpcs":
        return [NXMatrix(f, index.nx, int(p), file) for p in pos]
    return [f.get(index.paths[p]) for p in pos]


def _first_size(f: h5py.File, index: BinIndex) -> int | None:
    if index.nx is not None:
        return int(index.nx.n_frames)
    first = f.get(index.paths[0])
    return int(first.shape[-1]) if isinstance(first, h5py.Dataset) and first.ndim == 2 else None


def _load_hdf5(cfg: DataConfig, selection: dict[str, Any], array_q, array_phi) -> XPCSData:
    file = cfg.file
    try:
        f = h5py.File(file, "r")
    except OSError as exc:
        raise NotHDF5Error(f"cannot be opened as HDF5: {exc}", file=file, dataset="/") from exc
    with f:
        layout = detect_layout(f, file)
        if layout == "array":
            return load_array(
                cfg, selection, kind="hdf5", array_q=array_q, array_phi=array_phi, h5=f
            )
        if layout in ("agelag", "multitau"):  # point sets, not matrices
            return (load_agelag if layout == "agelag" else load_multitau)(f, cfg, selection)
        index = index_bins(f, file, layout)
        pos, q_used, notes = _choose_bins(index, cfg, file)
        keep = select_angles(index.phi[pos], cfg.phi_ranges, file=file, dataset=index.phi_path)
        pos = pos[keep]
        if layout == "nxxpcs":
            meta, meta_notes = nxxpcs_metadata(f, f"{index.maps_path.split('/')[0]}", file)
            notes.extend([*index.nx.notes, *meta_notes])
        else:
            meta = read_metadata(f, layout)
        invented = sorted({str(i["key"]) for i in invented_values(f) if "key" in i})
        if invented:  # values a writer made up: a later writer must not pass them off as real
            meta["invented_keys"] = ",".join(invented)
        dt, dt_note = resolve_dt(cfg.dt, meta, file=file, layout=layout)
        notes.append(dt_note)
        n = _first_size(f, index)
        warnings = metadata_warnings(f, layout, meta, n, cfg.dt) if n else []
        names = [index.paths[p] for p in pos]
        selection = {
            **selection,
            "q_used": q_used,
            "dt_used": dt,
            "bins": [int(index.bin_id[p]) for p in pos],
            "datasets": names,
        }
        return assemble(
            _sources(f, index, pos, file),
            names,
            index.phi[pos],
            q=q_used,
            dt=dt,
            start_frame=cfg.start_frame,
            end_frame=cfg.end_frame,
            clip_frames=cfg.clip_frames,
            nan_threshold=cfg.nan_threshold,
            file=file,
            layout=layout,
            selection=selection,
            q_available=index.q_rings,
            notes=notes,
            metadata=meta,
            warnings=warnings,
        )


def load_data(config: DataConfig, *, array_q: float | None = None, array_phi=None) -> XPCSData:
    """Load and select the data described by ``config`` (see :func:`load`)."""
    file = config.file
    kind = file_kind(file)
    array_q = config.array_q if array_q is None else array_q
    array_phi = config.array_phi if array_phi is None else array_phi
    selection = jsonable(
        {
            **config.selection(),
            "array_q": array_q,
            "array_phi": None if array_phi is None else np.atleast_1d(array_phi).astype(float),
        }
    )
    selection.pop("cache_dir", None)
    key = path = None
    if config.cache_dir is not None:
        key = cache_key(file, selection)
        path = cache_path(config.cache_dir, file, key)
        cached = read_cache(path, key)
        if cached is not None:
            return cached
    if kind == "hdf5":
        data = _load_hdf5(config, selection, array_q, array_phi)
    else:
        data = load_array(config, selection, kind=kind, array_q=array_q, array_phi=array_phi)
    if path is not None and key is not None:
        write_cache(path, key, data)
    return data


def load(
    path: str | os.PathLike,
    *,
    q: float | None = None,
    phi_ranges=None,
    start_frame: int = 1,
    end_frame: int = -1,
    clip_frames: bool = False,
    dt: float | None = None,
    q_tolerance: float = 0.1,
    nan_threshold: float = 0.05,
    cache_dir: str | os.PathLike | None = None,
    array_q: float | None = None,
    array_phi=None,
    axis_order: str | None = None,
) -> XPCSData:
    """Read an XPCS two-time file and select one q ring, angles and frames.

    Parameters
    ----------
    path
        APS-U, APS legacy or NeXus NXxpcs HDF5 results file (layout detected from content),
        or a bare array (``.npy``, ``.npz`` or a plain HDF5 dataset) of shape ``(N, N)``,
        ``(n_phi, N, N)`` or ``(N, N, n_phi)``.
    q
        Requested wavevector, 1/Angstrom: the nearest ring within ``q_tolerance`` (relative)
        is used; which q the physics uses is stated in ``provenance.notes`` and is ``data.q``.
        ``None``: the file must hold one ring.
    phi_ranges
        ``[(min, max), ...]`` degrees; keep angles inside any range (normalised to
        [-180, 180); ``min > max`` wraps through +-180). ``None`` keeps all.
    start_frame, end_frame
        1-based inclusive frame range of the matrices; ``-1`` = last frame.
    clip_frames
        Accept an ``end_frame`` past the data and stop at the last frame (default: error).
    dt
        Time step of the matrices, s. ``None``: frame_time x avg_frame x stride_frame from the
        file.
    q_tolerance
        Largest relative distance between requested and used q.
    nan_threshold
        Largest accepted fraction of NaN/inf values per selected matrix.
    cache_dir
        Directory for the selection cache (``None``: no cache).
    array_q, array_phi
        For bare arrays: q of the array (1/Angstrom) and the angle of each matrix (degrees).
    axis_order
        For bare 3-D stacks: ``'phi_first'`` or ``'phi_last'`` (``None``: from the shape).

    Returns
    -------
    XPCSData
        ``c2`` of shape ``(n_phi, n_t, n_t)`` float64, full symmetric.

    Raises
    ------
    DataError
        A subclass naming the file and dataset for every problem (see ``homodyne_data.errors``).
    """
    file = os.fspath(path)
    try:
        cfg = DataConfig(
            file=file,
            q=q,
            phi_ranges=phi_ranges,
            start_frame=start_frame,
            end_frame=end_frame,
            clip_frames=clip_frames,
            dt=dt,
            q_tolerance=q_tolerance,
            nan_threshold=nan_threshold,
            cache_dir=None if cache_dir is None else os.fspath(cache_dir),
            axis_order=axis_order,
        )
    except DataError as exc:  # config validation: name the file as well
        raise type(exc)(exc.what, file=file, dataset=exc.dataset) from None
    return load_data(cfg, array_q=array_q, array_phi=array_phi)
