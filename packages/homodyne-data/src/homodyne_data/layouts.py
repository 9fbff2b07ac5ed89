"""Detect the layout of an APS HDF5 file from its content and index its two-time bins.

Two layouts (``shared/reference/formats.md``):

* ``aps_u`` (boost_corr): ``xpcs/qmap/dynamic_v_list_dim0`` (q), ``dynamic_v_list_dim1`` (phi),
  ``xpcs/twotime/processed_bins`` (1-based bin ids; bin b -> q index (b-1)//n_phi, phi index
  (b-1)%n_phi) and one matrix per processed bin in ``xpcs/twotime/correlation_map``;
* ``aps_legacy`` (xpcs-eigen): ``xpcs/dqlist``, ``xpcs/dphilist`` (q, phi of each bin) and one
  matrix per bin in ``exchange/C2T_all``.

Matrices are matched to bins by position after ordering the dataset names naturally (any
names are accepted). Indexing reads only the small coordinate arrays, never a matrix.
"""

from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from .agelag import find_agelag
from .errors import (
    EmptyDatasetError,
    MissingDatasetError,
    ShapeMismatchError,
    UnknownLayoutError,
)
from .metadata import natural_key
from .multitau import MULTITAU_GROUP, is_multitau
from .nexus import CORR, find_nxxpcs_entry, read_nxxpcs
from .units import angle_in_degrees, q_in_inverse_angstrom, units_of

__all__ = [
    "APS_LEGACY",
    "APS_U",
    "BinIndex",
    "bare_h5_array",
    "detect_layout",
    "index_bins",
    "with_units",
]

BARE_KEYS = ("c2", "c2_exp", "c2_experimental", "two_time", "data", "g12b")

APS_U = {
    "q": "xpcs/qmap/dynamic_v_list_dim0",
    "phi": "xpcs/qmap/dynamic_v_list_dim1",
    "bins": "xpcs/twotime/processed_bins",
    "maps": ("xpcs/twotime/correlation_map", "xpcs/twotime/c2_half"),
}
APS_LEGACY = {"q": "xpcs/dqlist", "phi": "xpcs/dphilist", "maps": ("exchange/C2T_all",)}


@dataclass(frozen=True)
class BinIndex:
    """The two-time bins of a file.

    Attributes
    ----------
    layout
        ``'aps_u'`` or ``'aps_legacy'``.
    q, phi
        q (1/Angstrom) and phi (degrees, as stored) of each bin with a matrix, ``(n_bins,)``.
    ring
        Ring index of each bin (APS-U: q index; legacy: -1, rings are formed at selection).
    bin_id
        APS-U: 1-based dynamic bin id; legacy: 1-based position in the key list.
    paths
        Dataset path of each bin's matrix.
    q_rings
        q of every ring in the file (APS-U: all of dim0; legacy: distinct dqlist values).
    q_path, phi_path, maps_path
        Where q, phi and the matrices were found.
    """

    layout: str
    q: np.ndarray
    phi: np.ndarray
    ring: np.ndarray
    bin_id: np.ndarray
    paths: tuple[str, ...]
    q_rings: np.ndarray
    q_path: str
    phi_path: str
    maps_path: str
    nx: Any = None


def _has(f: h5py.File, path: str, kind=h5py.Dataset) -> bool:
    return isinstance(f.get(path), kind)


def bare_h5_array(f: h5py.File) -> str | None:
    """Name of the matrix dataset of a bare HDF5 array file (top level), or ``None``.

    A top-level dataset named like a matrix (``c2``, ``data``, ``g12b``, ...) or the only
    top-level dataset of 2 or 3 dimensions.
    """
    cands = [k for k in f if isinstance(f[k], h5py.Dataset) and f[k].ndim in (2, 3)]
    named = [k for k in BARE_KEYS if k in cands]
    if named:
        return named[0]
    return cands[0] if len(cands) == 1 else None


def detect_layout(f: h5py.File, file: str) -> str:
    """``'aps_u'``, ``'aps_legacy'``, ``'nxxpcs'``, ``'agelag'`` (an (age, lag) grid),
    ``'multitau'`` (multi-tau two-time) or ``'array'`` (a bare HDF5 array) from the file
    content; :class:`UnknownLayoutError` else. The last two hold point sets, not matrices."""
    if any(_has(f, p, h5py.Group) for p in APS_U["maps"]) or _has(f, APS_U["q"]):
        return "aps_u"
    if _has(f, APS_LEGACY["maps"][0], h5py.Group) or _has(f, APS_LEGACY["q"]):
        return "aps_legacy"
    if find_nxxpcs_entry(f) is not None:
        return "nxxpcs"
    if find_agelag(f) is not None:
        return "agelag"
    if is_multitau(f):
        return "multitau"
    if bare_h5_array(f) is not None:
        return "array"
    if isinstance(f.get("xpcs/multitau"), h5py.Group):
        raise MissingDatasetError(
            "the file holds only one-time (multitau) results; two-time matrices are needed",
            file=file,
            dataset=APS_U["maps"][0],
        )
    top = sorted(f.keys())
    raise UnknownLayoutError(
        f"unknown HDF5 layout (top-level entries: {top}); expected APS-U ({APS_U['q']}, "
        f"{APS_U['maps'][0]}), APS legacy ({APS_LEGACY['q']}, {APS_LEGACY['maps'][0]}), NeXus "
        f"NXxpcs (<entry>/{CORR}), an (age, lag) grid (entry_0000/correlations/<key>/twotime/"
        f"ttcf), multi-tau two-time ({MULTITAU_GROUP}/level_*) or a bare array (a top-level "
        "2-D/3-D dataset such as c2)",
        file=file,
        dataset="/",
    )


def _vector(f: h5py.File, path: str, file: str) -> np.ndarray:
    obj = f.get(path)
    if obj is None:
        raise MissingDatasetError("required dataset is missing", file=file, dataset=path)
    if not isinstance(obj, h5py.Dataset):
        raise MissingDatasetError("expected a dataset, found a group", file=file, dataset=path)
    if obj.size == 0:
        raise EmptyDatasetError("dataset is empty", file=file, dataset=path)
    if obj.dtype.kind not in "fiu":
        raise ShapeMismatchError(
            f"expected numbers, got dtype {obj.dtype}", file=file, dataset=path
        )
    arr = np.asarray(obj[()], dtype=np.float64)
    if arr.ndim > 1 and sum(d > 1 for d in arr.shape) > 1:
        raise ShapeMismatchError(
            f"expected a 1-D list (or shape (1, N)), got shape {arr.shape}", file=file, dataset=path
        )
    arr = arr.reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise ShapeMismatchError("holds NaN/inf coordinates", file=file, dataset=path)
    return arr


def _matrix_group(f: h5py.File, candidates: tuple[str, ...], file: str) -> tuple[str, list[str]]:
    for path in candidates:
        grp = f.get(path)
        if isinstance(grp, h5py.Group):
            keys = sorted(grp.keys(), key=natural_key)
            if not keys:
                raise EmptyDatasetError(
                    "the group of two-time matrices is empty", file=file, dataset=path
                )
            return path, keys
        if grp is not None:
            raise MissingDatasetError(
                "expected a group of two-time matrices, found a dataset", file=file, dataset=path
            )
    raise MissingDatasetError(
        "the group of two-time matrices is missing", file=file, dataset=candidates[0]
    )


def with_units(f: h5py.File, path: str, arr: np.ndarray, kind: str, file: str) -> np.ndarray:
    """Convert a q or phi list by its ``units`` attribute; no attribute: the layout's 1/A, deg."""
    units = units_of(f[path])
    if units is None:
        return arr
    convert = q_in_inverse_angstrom if kind == "q" else angle_in_degrees
    return convert(arr, units, file=file, dataset=path)[0]


def _index_aps_u(f: h5py.File, file: str) -> BinIndex:
    q_all = with_units(f, APS_U["q"], _vector(f, APS_U["q"], file), "q", file)
    phi_all = with_units(f, APS_U["phi"], _vector(f, APS_U["phi"], file), "phi", file)
    maps_path, keys = _matrix_group(f, APS_U["maps"], file)
    bins = _vector(f, APS_U["bins"], file)
    if not np.all(bins == np.round(bins)):
        raise ShapeMismatchError(
            f"bin ids must be integers, got {bins[:8]}", file=file, dataset=APS_U["bins"]
        )
    bins = bins.astype(np.int64)
    n_q, n_phi = q_all.size, phi_all.size
    if len(keys) != bins.size:
        raise ShapeMismatchError(
            f"{bins.size} processed bins but {len(keys)} matrices in {maps_path}; expected one "
            "matrix per processed bin",
            file=file,
            dataset=APS_U["bins"],
        )
    bad = bins[(bins < 1) | (bins > n_q * n_phi)]
    if bad.size:
        raise ShapeMismatchError(
            f"bin ids {bad[:8].tolist()} outside 1..{n_q * n_phi} (= {n_q} q x {n_phi} phi of "
            f"{APS_U['q']} and {APS_U['phi']})",
            file=file,
            dataset=APS_U["bins"],
        )
    if np.unique(bins).size != bins.size:
        raise ShapeMismatchError("bin ids are repeated", file=file, dataset=APS_U["bins"])
    ring = (bins - 1) // n_phi
    return BinIndex(
        layout="aps_u",
        q=q_all[ring],
        phi=phi_all[(bins - 1) % n_phi],
        ring=ring,
        bin_id=bins,
        paths=tuple(f"{maps_path}/{k}" for k in keys),
        q_rings=q_all,
        q_path=APS_U["q"],
        phi_path=APS_U["phi"],
        maps_path=maps_path,
    )


def _index_legacy(f: h5py.File, file: str) -> BinIndex:
    q = with_units(f, APS_LEGACY["q"], _vector(f, APS_LEGACY["q"], file), "q", file)
    phi = with_units(f, APS_LEGACY["phi"], _vector(f, APS_LEGACY["phi"], file), "phi", file)
    if q.size != phi.size:
        raise ShapeMismatchError(
            f"{q.size} q values but {phi.size} phi values in {APS_LEGACY['phi']}; expected one "
            "(q, phi) pair per bin",
            file=file,
            dataset=APS_LEGACY["q"],
        )
    maps_path, keys = _matrix_group(f, APS_LEGACY["maps"], file)
    if len(keys) != q.size:
        raise ShapeMismatchError(
            f"{q.size} bins in {APS_LEGACY['q']} but {len(keys)} matrices; expected one matrix "
            "per bin (matched by name order)",
            file=file,
            dataset=maps_path,
        )
    return BinIndex(
        layout="aps_legacy",
        q=q,
        phi=phi,
        ring=np.full(q.size, -1, dtype=np.int64),
        bin_id=np.arange(1, q.size + 1, dtype=np.int64),
        paths=tuple(f"{maps_path}/{k}" for k in keys),
        q_rings=np.unique(q),
        q_path=APS_LEGACY["q"],
        phi_path=APS_LEGACY["phi"],
        maps_path=maps_path,
    )


def _index_nxxpcs(f: h5py.File, file: str) -> BinIndex:
    entry = find_nxxpcs_entry(f)
    assert entry is not None
    info = read_nxxpcs(f, entry, file)
    n = info.n_roi
    masks = f"{entry}/instrument/masks"
    return BinIndex(
        layout="nxxpcs",
        q=info.q,
        phi=info.phi,
        ring=np.full(n, -1, dtype=np.int64),
        bin_id=np.arange(1, n + 1, dtype=np.int64),
        paths=tuple(info.source_name(k) for k in range(n)),
        q_rings=np.unique(info.q),
        q_path=f"{masks}/dynamic_q_list",
        phi_path=f"{masks}/dynamic_phi_list",
        maps_path=info.path,
        nx=info,
    )


def index_bins(f: h5py.File, file: str, layout: str) -> BinIndex:
    """Index the bins of an open file of the given layout (not ``'array'``)."""
    if layout == "nxxpcs":
        return _index_nxxpcs(f, file)
    return _index_aps_u(f, file) if layout == "aps_u" else _index_legacy(f, file)
