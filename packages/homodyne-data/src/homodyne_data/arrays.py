"""Bare arrays: ``.npy``, ``.npz`` or a plain HDF5 file holding two-time matrices.

Shapes: ``(N, N)``, ``(n_phi, N, N)`` or ``(N, N, n_phi)`` (pyCHX ``g12b``; ``axis_order =
'phi_last'``, detected from the shape when unambiguous). q, phi and dt come from the caller
(``array_q``/``q``, ``array_phi``, ``dt``) or from arrays stored beside the matrices (``q``,
``phi``, ``dt``); in HDF5 their ``units`` attributes are read (q in 1/A or 1/nm, angles in
degrees or radians, dt in s, ms, us or frames) and a stored q or dt without units is refused.
``.npz`` cannot carry units: stored values there are 1/A, degrees and seconds. Arrays are never
unpickled; ``.npy`` files are memory-mapped and HDF5 datasets sliced, so only the selected
frames are read.
"""

import zipfile
from typing import Any

import h5py
import numpy as np

from .assemble import assemble
from .config import DataConfig
from .dataset import XPCSData
from .errors import (
    DataError,
    DatasetTypeError,
    MissingDatasetError,
    MissingMetadataError,
    MissingTimeStepError,
    NotHDF5Error,
    ShapeMismatchError,
)
from .layouts import bare_h5_array
from .selection import choose_q, select_angles
from .units import angle_in_degrees, q_in_inverse_angstrom, time_in_seconds, units_of

__all__ = ["MATRIX_KEYS", "StackSlice", "load_array", "stack_axis"]

MATRIX_KEYS = ("c2", "c2_exp", "c2_experimental", "two_time", "data", "g12b")
_PHI_KEYS = ("phi", "phi_angles", "phi_deg")
_Q_KEYS = ("q", "wavevector_q", "q_value")


class StackSlice:
    """Matrix ``k`` of a ``(N, N, n)`` stack, read lazily as ``[rows, cols]``."""

    def __init__(self, stack: Any, k: int) -> None:
        self.stack, self.k = stack, k
        self.shape = tuple(stack.shape[:2])
        self.dtype = stack.dtype

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        return np.asarray(self.stack[key[0], key[1], self.k])


def stack_axis(shape: tuple[int, ...], axis_order: str | None, *, file, dataset) -> str:
    """``'single'``, ``'phi_first'`` or ``'phi_last'`` for an array of ``shape``."""
    if len(shape) == 2:
        return "single"
    if len(shape) != 3:
        raise ShapeMismatchError(
            f"expected (N, N), (n_phi, N, N) or (N, N, n_phi) matrices, got shape {shape}",
            file=file,
            dataset=dataset,
        )
    first, last = shape[1] == shape[2], shape[0] == shape[1]
    if axis_order is None:
        if first and last:
            raise MissingMetadataError(
                f"shape {shape} fits both (n_phi, N, N) and (N, N, n_phi); give axis_order "
                "('phi_first' or 'phi_last')",
                file=file,
                dataset=dataset,
            )
        axis_order = "phi_first" if first else "phi_last" if last else None
    if (axis_order == "phi_first" and not first) or (axis_order == "phi_last" and not last):
        raise ShapeMismatchError(
            f"shape {shape} is not "
            f"{'(n_phi, N, N)' if axis_order == 'phi_first' else '(N, N, n_phi)'}"
            f" (axis_order {axis_order!r})",
            file=file,
            dataset=dataset,
        )
    if axis_order is None:
        raise ShapeMismatchError(
            f"shape {shape} holds no square matrices along any axis order",
            file=file,
            dataset=dataset,
        )
    return axis_order


def _first(z: Any, keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        if k in z.files:
            return k, z[k]
    return None, None


def _read_npz(file: str) -> tuple[Any, str, dict[str, Any]]:
    extras: dict[str, Any] = {}
    with np.load(file, allow_pickle=False) as z:
        key, arr = _first(z, MATRIX_KEYS)
        if key is None:
            if len(z.files) != 1:
                raise MissingDatasetError(
                    f"no matrix array found among {sorted(z.files)}; expected one of "
                    f"{', '.join(MATRIX_KEYS)} (or a single array)",
                    file=file,
                    dataset=MATRIX_KEYS[0],
                )
            key, arr = z.files[0], z[z.files[0]]
        for name, keys in (("phi", _PHI_KEYS), ("q", _Q_KEYS), ("dt", ("dt",))):
            k, v = _first(z, keys)
            if k is not None:
                extras[name] = (k, np.asarray(v, dtype=np.float64).reshape(-1), "")
        return np.asarray(arr), key, extras


def _read(cfg: DataConfig, kind: str) -> tuple[Any, str, dict[str, Any]]:
    file = cfg.file
    try:
        if kind == "npy":
            return np.load(file, mmap_mode="r", allow_pickle=False), "<npy array>", {}
        return _read_npz(file)
    except DataError:
        raise
    except ValueError as exc:  # object arrays (pickles) are refused here
        raise DatasetTypeError(
            f"cannot be read without unpickling ({exc}); expected plain numeric arrays",
            file=file,
            dataset="/",
        ) from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise NotHDF5Error(f"not a readable .npy/.npz file: {exc}", file=file, dataset="/") from exc


def _read_h5(f: h5py.File, file: str) -> tuple[Any, str, dict[str, Any]]:
    """Matrix dataset and the q/phi/dt stored beside it, converted by their units."""
    key = bare_h5_array(f)
    assert key is not None
    extras: dict[str, Any] = {}
    for name, keys in (("phi", _PHI_KEYS), ("q", _Q_KEYS), ("dt", ("dt", "frame_time"))):
        k = next((k for k in keys if isinstance(f.get(k), h5py.Dataset)), None)
        if k is None:
            continue
        raw = np.asarray(f[k][()], dtype=np.float64).reshape(-1)
        units = units_of(f[k])
        if name == "q":
            values, note = q_in_inverse_angstrom(raw, units, file=file, dataset=k)
        elif name == "phi":
            values, note = angle_in_degrees(raw, units, file=file, dataset=k)
        else:
            seconds, unit = time_in_seconds(raw[0], units, file=file, dataset=k)
            values = np.array([seconds])
            note = "times in frames (dt = 1 frame)" if unit == "frames" else ""
        extras[name] = (k, values, note)
    return f[key], key, extras


def _angles(array_phi, extras, n_mats: int, shape, file) -> tuple[np.ndarray, str]:
    if array_phi is not None:
        phi, src = np.atleast_1d(np.asarray(array_phi, dtype=np.float64)).reshape(-1), "array_phi"
    elif "phi" in extras:
        phi, src = extras["phi"][1], extras["phi"][0]
    else:
        raise MissingMetadataError(
            "a bare array carries no angles; give array_phi (degrees, one per matrix; "
            "--phi on the command line)",
            file=file,
            dataset="array_phi",
        )
    if phi.size != n_mats:
        raise ShapeMismatchError(
            f"{phi.size} angles for {n_mats} matrices of shape {tuple(shape)}; expected one "
            "angle per matrix",
            file=file,
            dataset=src,
        )
    return phi, src


def _wavevector(array_q, extras, cfg: DataConfig) -> tuple[float, str]:
    if array_q is not None:
        q, src = float(array_q), "array_q"
    elif "q" in extras and extras["q"][1].size == 1:
        q, src = float(extras["q"][1][0]), extras["q"][0]
    elif cfg.q is not None:
        q, src = float(cfg.q), "q"
    else:
        raise MissingMetadataError(
            "a bare array carries no q; give array_q (or q), 1/Angstrom (--q on the command line)",
            file=cfg.file,
            dataset="array_q",
        )
    if not (np.isfinite(q) and q > 0):
        raise MissingMetadataError(
            f"q must be a positive number, got {q!r}", file=cfg.file, dataset=src
        )
    return q, src


def _time_step(cfg: DataConfig, extras) -> tuple[float, str]:
    if cfg.dt is not None:
        return float(cfg.dt), f"dt = {cfg.dt:.6g} s (given)"
    if "dt" in extras and extras["dt"][1].size == 1:
        dt = float(extras["dt"][1][0])
        if not (np.isfinite(dt) and dt > 0):
            raise MissingTimeStepError(
                f"stored dt {dt!r} is not a positive time", file=cfg.file, dataset=extras["dt"][0]
            )
        unit = "frames" if extras["dt"][2] else "s"
        return dt, f"dt = {dt:.6g} {unit} (stored in the file as {extras['dt'][0]})"
    raise MissingTimeStepError(
        "a bare array carries no time step; give dt (s, positive; --dt on the command line)",
        file=cfg.file,
        dataset="dt",
    )


def load_array(
    cfg: DataConfig,
    selection: dict[str, Any],
    *,
    kind: str,
    array_q: float | None,
    array_phi,
    h5: h5py.File | None = None,
) -> XPCSData:
    """Select data from a bare-array file (see module docstring); ``h5``: the open HDF5 file."""
    file = cfg.file
    arr, key, extras = _read_h5(h5, file) if h5 is not None else _read(cfg, kind)
    if arr.dtype.kind not in "fiu":
        raise DatasetTypeError(
            f"expected real numbers, got dtype {arr.dtype}", file=file, dataset=key
        )
    order = stack_axis(tuple(arr.shape), cfg.axis_order, file=file, dataset=key)
    n_mats = 1 if order == "single" else arr.shape[0 if order == "phi_first" else 2]
    phi, phi_src = _angles(array_phi, extras, n_mats, arr.shape, file)
    q_arr, q_src = _wavevector(array_q, extras, cfg)
    choice = choose_q([q_arr], cfg.q, cfg.q_tolerance, file=file, dataset=q_src)
    notes = [
        f"{choice.note} (from {q_src})"
        if cfg.q is not None
        else f"q = {q_arr:.6g} 1/A (from {q_src})"
    ]
    notes += [e[2] for e in extras.values() if e[2]]
    dt, dt_note = _time_step(cfg, extras)
    notes.append(dt_note)
    if order != "single":
        notes.append(f"stack of shape {tuple(arr.shape)} read as {order}")
    keep = select_angles(phi, cfg.phi_ranges, file=file, dataset=phi_src)
    if order == "single":
        sources, names = [arr], [key]
    elif order == "phi_first":
        sources, names = [arr[k] for k in keep], [f"{key}[{k}]" for k in keep]
    else:
        sources, names = [StackSlice(arr, k) for k in keep], [f"{key}[..., {k}]" for k in keep]
    return assemble(
        sources,
        names,
        phi[keep],
        q=q_arr,
        dt=dt,
        start_frame=cfg.start_frame,
        end_frame=cfg.end_frame,
        clip_frames=cfg.clip_frames,
        nan_threshold=cfg.nan_threshold,
        file=file,
        layout="array",
        selection={**selection, "q_used": q_arr, "dt_used": dt, "datasets": names},
        q_available=[q_arr],
        notes=notes,
        metadata={},
    )
