"""Bare arrays: a ``.npy`` or ``.npz`` file holding ``(N, N)`` or ``(n_phi, N, N)`` matrices.

q, phi and dt come from the caller (``array_q``/``q``, ``array_phi``, ``dt``) or, for ``.npz``,
from arrays named ``q``/``phi``/``dt`` stored beside the matrices. Arrays are never unpickled;
``.npy`` files are memory-mapped so that only the selected frames are read.
"""

import zipfile
from typing import Any

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
from .selection import choose_q, select_angles

__all__ = ["MATRIX_KEYS", "load_array"]

MATRIX_KEYS = ("c2", "c2_exp", "c2_experimental", "two_time", "data")
_PHI_KEYS = ("phi", "phi_angles", "phi_deg")
_Q_KEYS = ("q", "wavevector_q", "q_value")


def _first(z: Any, keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        if k in z.files:
            return k, z[k]
    return None, None


def _read(cfg: DataConfig, kind: str) -> tuple[Any, str, dict[str, Any]]:
    file = cfg.file
    extras: dict[str, Any] = {}
    try:
        if kind == "npy":
            return np.load(file, mmap_mode="r", allow_pickle=False), "<npy array>", extras
        with np.load(file, allow_pickle=False) as z:
            key, arr = _first(z, MATRIX_KEYS)
            if key is None:
                if len(z.files) == 1:
                    key, arr = z.files[0], z[z.files[0]]
                else:
                    raise MissingDatasetError(
                        f"no matrix array found among {sorted(z.files)}; expected one of "
                        f"{', '.join(MATRIX_KEYS)} (or a single array)",
                        file=file,
                        dataset=MATRIX_KEYS[0],
                    )
            for name, keys in (("phi", _PHI_KEYS), ("q", _Q_KEYS), ("dt", ("dt",))):
                k, v = _first(z, keys)
                if k is not None:
                    extras[name] = (k, np.asarray(v, dtype=np.float64))
            return np.asarray(arr), key, extras
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


def load_array(
    cfg: DataConfig,
    selection: dict[str, Any],
    *,
    kind: str,
    array_q: float | None,
    array_phi,
) -> XPCSData:
    """Select data from a bare-array file (see module docstring)."""
    file = cfg.file
    arr, key, extras = _read(cfg, kind)
    if arr.dtype.kind not in "fiu":
        raise DatasetTypeError(
            f"expected real numbers, got dtype {arr.dtype}", file=file, dataset=key
        )
    if arr.ndim == 2:
        mats = [arr]
    elif arr.ndim == 3:
        mats = [arr[k] for k in range(arr.shape[0])]
    else:
        raise ShapeMismatchError(
            f"expected (N, N) or (n_phi, N, N) matrices, got shape {arr.shape}",
            file=file,
            dataset=key,
        )
    if array_phi is not None:
        phi, phi_src = (
            np.atleast_1d(np.asarray(array_phi, dtype=np.float64)).reshape(-1),
            "array_phi",
        )
    elif "phi" in extras:
        phi, phi_src = extras["phi"][1].reshape(-1), extras["phi"][0]
    else:
        raise MissingMetadataError(
            "a bare array carries no angles; give array_phi (degrees, one per matrix)",
            file=file,
            dataset="array_phi",
        )
    if phi.size != len(mats):
        raise ShapeMismatchError(
            f"{phi.size} angles for {len(mats)} matrices of shape {arr.shape}; expected one "
            "angle per matrix",
            file=file,
            dataset=phi_src,
        )
    if array_q is not None:
        q_arr, q_src = float(array_q), "array_q"
    elif "q" in extras and extras["q"][1].size == 1:
        q_arr, q_src = float(extras["q"][1].reshape(-1)[0]), extras["q"][0]
    elif cfg.q is not None:
        q_arr, q_src = float(cfg.q), "q"
    else:
        raise MissingMetadataError(
            "a bare array carries no q; give array_q (or q), 1/Angstrom",
            file=file,
            dataset="array_q",
        )
    if not (np.isfinite(q_arr) and q_arr > 0):
        raise MissingMetadataError(
            f"q must be a positive number, got {q_arr!r}", file=file, dataset=q_src
        )
    choice = choose_q([q_arr], cfg.q, cfg.q_tolerance, file=file, dataset=q_src)
    dt = cfg.dt
    notes = [
        f"{choice.note} (from {q_src})"
        if cfg.q is not None
        else f"q = {q_arr:.6g} 1/A (from {q_src})"
    ]
    if dt is None and "dt" in extras and extras["dt"][1].size == 1:
        dt = float(extras["dt"][1].reshape(-1)[0])
        if not (np.isfinite(dt) and dt > 0):
            raise MissingTimeStepError(
                f"stored dt {dt!r} is not a positive time", file=file, dataset="dt"
            )
        notes.append(f"dt = {dt:.6g} s (stored in the file)")
    elif dt is None:
        raise MissingTimeStepError(
            "a bare array carries no time step; give dt (s, positive)", file=file, dataset="dt"
        )
    else:
        notes.append(f"dt = {dt:.6g} s (given)")
    keep = select_angles(phi, cfg.phi_ranges, file=file, dataset=phi_src)
    names = [key if arr.ndim == 2 else f"{key}[{k}]" for k in keep]
    return assemble(
        [mats[k] for k in keep],
        names,
        phi[keep],
        q=q_arr,
        dt=float(dt),
        start_frame=cfg.start_frame,
        end_frame=cfg.end_frame,
        clip_frames=cfg.clip_frames,
        nan_threshold=cfg.nan_threshold,
        file=file,
        layout="array",
        selection={**selection, "q_used": q_arr, "dt_used": float(dt), "datasets": names},
        q_available=[q_arr],
        notes=notes,
        metadata={},
    )
