"""NeXus NXxpcs two-time results (the contributed application definition ``NXxpcs``).

Layout read (paths relative to the NXentry group, found by content):

* ``twotime/two_time_corr_func``: one array ``(n_roi, N, N)`` (``storage_mode =
  one_array_q_first``), ``(N, N, n_roi)`` (``one_array_q_last``), or a group of ``(N, N)``
  datasets, one per roi in natural name order (``data_exchange_keys``). Its attributes:
  ``populated_elements`` (``all`` / ``upper_half`` / ``lower_half``, the half of the picture on
  either side of the t1 = t2 diagonal), ``time_origin_location`` (``upper_left``: row 0 is the
  first frame; ``lower_left``: the last row is), ``baseline_reference`` (1: values are c2; 0:
  values are c2 - 1, so 1 is added);
* ``instrument/masks/dynamic_q_list`` (one q per roi, ``units`` required) and
  ``dynamic_phi_list`` (one angle per roi; ``units`` read, degrees by default when the values
  make that unambiguous);
* the NXdetector group of ``instrument``: ``frame_time`` (s unless its ``units`` say otherwise)
  gives dt, plus ``count_time``, ``distance``, pixel sizes and beam centre; ``instrument/
  incident_beam/incident_energy``; ``sample/temperature``.
"""

from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from .errors import (
    DataConfigError,
    EmptyDatasetError,
    MissingDatasetError,
    MissingMetadataError,
    ShapeMismatchError,
)
from .matrices import storage_of
from .metadata import describe_value, natural_key, scalar
from .units import angle_in_degrees, q_in_inverse_angstrom, time_in_seconds, units_of

__all__ = ["NXMatrix", "NXTwoTime", "find_nxxpcs_entry", "nxxpcs_metadata", "read_nxxpcs"]

CORR = "twotime/two_time_corr_func"
_MODES = ("one_array_q_first", "one_array_q_last", "data_exchange_keys")


def _text_attr(obj: Any, name: str) -> str | None:
    if name not in obj.attrs:
        return None
    value = scalar(obj.attrs[name])
    return None if value is None else str(value).strip()


def find_nxxpcs_entry(f: h5py.File) -> str | None:
    """Name of the top-level group holding ``twotime/two_time_corr_func`` (NXxpcs first)."""
    found = []
    for name in sorted(f.keys(), key=natural_key):
        grp = f.get(name)
        if isinstance(grp, h5py.Group) and CORR in grp:
            definition = scalar(grp["definition"][()]) if "definition" in grp else None
            found.append((0 if str(definition).strip() == "NXxpcs" else 1, name))
    return min(found)[1] if found else None


@dataclass(frozen=True)
class NXTwoTime:
    """How the two-time array of an NXxpcs entry is stored, and its q/phi per roi."""

    path: str
    keys: tuple[str, ...] | None
    q_last: bool
    n_roi: int
    n_frames: int
    lower_origin: bool
    populated: str | None
    baseline: int
    q: np.ndarray
    phi: np.ndarray
    notes: tuple[str, ...]

    def source_name(self, k: int) -> str:
        """Readable path of roi ``k`` (0-based) for messages."""
        if self.keys is not None:
            return f"{self.path}/{self.keys[k]}"
        return f"{self.path}[{'..., ' if self.q_last else ''}{k}{'' if self.q_last else ', ...'}]"


def _mode(obj: Any, path: str, file: str) -> tuple[str, list[str]]:
    notes: list[str] = []
    mode = _text_attr(obj, "storage_mode")
    if isinstance(obj, h5py.Group):
        if mode not in (None, "data_exchange_keys"):
            raise ShapeMismatchError(
                f"storage_mode {mode!r} but {path} is a group of datasets; expected "
                "storage_mode = data_exchange_keys",
                file=file,
                dataset=path,
            )
        return "data_exchange_keys", notes
    shape = obj.shape
    if len(shape) == 2:
        return "one_matrix", notes
    if len(shape) != 3:
        raise ShapeMismatchError(
            f"expected (n_roi, N, N) or (N, N, n_roi), got shape {shape}", file=file, dataset=path
        )
    first, last = shape[1] == shape[2], shape[0] == shape[1]
    if mode is None:
        if first == last:
            raise MissingMetadataError(
                f"shape {shape} fits both (n_roi, N, N) and (N, N, n_roi); add the storage_mode "
                "attribute (one_array_q_first or one_array_q_last)",
                file=file,
                dataset=path,
            )
        mode = "one_array_q_first" if first else "one_array_q_last"
        notes.append(f"storage_mode absent: {mode} from the shape {shape}")
    if mode not in _MODES[:2]:
        raise DataConfigError(
            f"storage_mode {mode!r} for an array; expected one of {', '.join(_MODES)}",
            file=file,
            dataset=f"{path}@storage_mode",
        )
    if (mode == _MODES[0] and not first) or (mode == _MODES[1] and not last):
        raise ShapeMismatchError(
            f"storage_mode {mode} but shape {shape} is not "
            f"{'(n_roi, N, N)' if mode == _MODES[0] else '(N, N, n_roi)'}",
            file=file,
            dataset=path,
        )
    return mode, notes


def _attributes(obj: Any, path: str, file: str) -> tuple[bool, str | None, int, list[str]]:
    notes: list[str] = []
    origin = _text_attr(obj, "time_origin_location")
    if origin is None:
        notes.append("time_origin_location absent: upper_left (row 0 is the first frame)")
        origin = "upper_left"
    if origin not in ("upper_left", "lower_left"):
        raise DataConfigError(
            f"time_origin_location {origin!r}; expected upper_left or lower_left",
            file=file,
            dataset=f"{path}@time_origin_location",
        )
    populated = _text_attr(obj, "populated_elements")
    if populated not in (None, "all", "upper_half", "lower_half"):
        raise DataConfigError(
            f"populated_elements {populated!r}; expected all, upper_half or lower_half",
            file=file,
            dataset=f"{path}@populated_elements",
        )
    if "baseline_reference" not in obj.attrs:
        raise MissingMetadataError(
            "baseline_reference is absent (required by NXxpcs): the values could be c2 or "
            "c2 - 1; add the attribute baseline_reference = 1 (c2) or 0 (c2 - 1)",
            file=file,
            dataset=f"{path}@baseline_reference",
        )
    base = scalar(obj.attrs["baseline_reference"])
    if base not in (0, 1):
        raise DataConfigError(
            f"baseline_reference {describe_value(obj.attrs['baseline_reference'])}; expected "
            "0 (values are c2 - 1) or 1 (values are c2)",
            file=file,
            dataset=f"{path}@baseline_reference",
        )
    if base == 0:
        notes.append("baseline_reference = 0: 1 added to the stored c2 - 1")
    return origin == "lower_left", populated, int(base), notes


def _roi_lists(f: h5py.File, entry: str, n_roi: int, file: str) -> tuple[np.ndarray, ...]:
    masks = f"{entry}/instrument/masks"
    q_path, phi_path = f"{masks}/dynamic_q_list", f"{masks}/dynamic_phi_list"
    q_ds = f.get(q_path)
    if not isinstance(q_ds, h5py.Dataset):
        raise MissingDatasetError(
            "the q of each roi is needed (a 1-D list, units 1/A or 1/nm)",
            file=file,
            dataset=q_path,
        )
    raw = np.asarray(q_ds[()], dtype=np.float64)
    phi_raw = None
    if raw.ndim == 2 and raw.shape[1] == 2 and phi_path not in f:
        raw, phi_raw = raw[:, 0], raw[:, 1]  # (q, phi) tuples per roi
    raw = raw.reshape(-1)
    if raw.size != n_roi:
        raise ShapeMismatchError(
            f"{raw.size} q values for the {n_roi} rois of the two-time array {entry}/{CORR}; "
            "expected one q per roi",
            file=file,
            dataset=q_path,
        )
    q, q_note = q_in_inverse_angstrom(raw, units_of(q_ds), file=file, dataset=q_path)
    notes = [q_note] if q_note else []
    phi_ds = f.get(phi_path)
    if isinstance(phi_ds, h5py.Dataset):
        phi_raw = np.asarray(phi_ds[()], dtype=np.float64).reshape(-1)
        if phi_raw.size != n_roi:
            raise ShapeMismatchError(
                f"{phi_raw.size} angles for the {n_roi} rois of {entry}/{CORR}; expected one "
                "angle per roi",
                file=file,
                dataset=phi_path,
            )
    if phi_raw is None:
        notes.append(f"{phi_path} absent: every roi at phi = 0")
        return q, np.zeros(n_roi), tuple(notes)
    phi, phi_note = angle_in_degrees(
        phi_raw, units_of(phi_ds) if phi_ds is not None else None, file=file, dataset=phi_path
    )
    return q, phi, tuple(notes + ([phi_note] if phi_note else []))


def read_nxxpcs(f: h5py.File, entry: str, file: str) -> NXTwoTime:
    """Describe the two-time array of ``entry`` (reads attributes and the q/phi lists only)."""
    path = f"{entry}/{CORR}"
    obj = f[path]
    mode, notes = _mode(obj, path, file)
    keys = None
    if mode == "data_exchange_keys":
        keys = tuple(
            k for k in sorted(obj.keys(), key=natural_key) if isinstance(obj[k], h5py.Dataset)
        )
        if not keys:
            raise EmptyDatasetError("no two-time matrix in the group", file=file, dataset=path)
        n_roi, shape = len(keys), obj[keys[0]].shape
    else:
        shape = obj.shape
        n_roi = 1 if mode == "one_matrix" else shape[0 if mode == _MODES[0] else 2]
    n_frames = int(shape[-1] if mode != _MODES[1] else shape[0])
    if n_frames == 0 or n_roi == 0:
        raise EmptyDatasetError(f"empty two-time array (shape {shape})", file=file, dataset=path)
    lower, populated, baseline, more = _attributes(obj, path, file)
    q, phi, roi_notes = _roi_lists(f, entry, n_roi, file)
    return NXTwoTime(
        path=path,
        keys=keys,
        q_last=mode == _MODES[1],
        n_roi=n_roi,
        n_frames=n_frames,
        lower_origin=lower,
        populated=populated,
        baseline=baseline,
        q=q,
        phi=phi,
        notes=tuple(notes + more + list(roi_notes)),
    )


class NXMatrix:
    """Roi ``k`` of an NXxpcs two-time array as an ``(N, N)`` float64 matrix, t1 down the rows.

    Indexing with ``[window, window]`` reads only that block, turns a lower-left time origin
    into an upper-left one, adds 1 when the baseline is 0, and zeroes the half the file does
    not populate (so that the generic reader completes it by symmetry).
    """

    def __init__(self, f: h5py.File, info: NXTwoTime, k: int, file: str) -> None:
        self.info, self.k, self.file = info, k, file
        self.ds = f[info.path] if info.keys is None else f[info.path][info.keys[k]]
        n = info.n_frames
        self.shape = (n, n)
        self.dtype = np.dtype(np.float64) if self.ds.dtype.kind in "fiu" else self.ds.dtype

    def _raw(self, rows: slice, cols: slice) -> np.ndarray:
        ds = self.ds
        if ds.ndim == 2:
            return ds[rows, cols]
        return ds[rows, cols, self.k] if self.info.q_last else ds[self.k, rows, cols]

    def _half(self, block: np.ndarray) -> str:
        """Which triangle of the (t1, t2) block holds data: from the attribute, else content."""
        pop = self.info.populated
        if pop in (None, "all"):
            return storage_of(block) if pop is None else "full"
        upper_in_picture = pop == "upper_half"
        # above the t1 = t2 diagonal in the picture: t1 < t2 (upper-left origin), t1 > t2 (lower)
        half = "upper" if upper_in_picture != self.info.lower_origin else "lower"
        found = storage_of(block)
        if found != "full" and found != half and block.shape[0] > 1:
            tri = np.triu(block, 1) if half == "upper" else np.tril(block, -1)
            if not np.any((tri != 0) & np.isfinite(tri)):
                raise ShapeMismatchError(
                    f"populated_elements = {pop} (with time_origin_location = "
                    f"{'lower_left' if self.info.lower_origin else 'upper_left'}) but that half "
                    "holds no values and the other half does",
                    file=self.file,
                    dataset=self.info.source_name(self.k),
                )
        return half

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        rows, cols = key
        n = self.info.n_frames
        a, b, _ = rows.indices(n)
        if self.info.lower_origin:  # time t sits in stored row n - 1 - t
            block = np.asarray(self._raw(slice(n - b, n - a), cols))[::-1]
        else:
            block = np.asarray(self._raw(slice(a, b), cols))
        block = np.array(block, dtype=np.float64)
        half = self._half(block)
        if self.info.baseline == 0:
            block += 1.0
        if half == "upper":
            block[np.tril_indices(block.shape[0], -1)] = 0.0
        elif half == "lower":
            block[np.triu_indices(block.shape[0], 1)] = 0.0
        return block


def nxxpcs_metadata(f: h5py.File, entry: str, file: str) -> tuple[dict[str, Any], list[str]]:
    """Instrument/sample metadata of an NXxpcs entry; ``frame_time`` converted to seconds."""
    from .metadata import lookup

    meta: dict[str, Any] = {}
    notes: list[str] = []
    inst = f.get(f"{entry}/instrument")
    det_path = None
    if isinstance(inst, h5py.Group):
        for name in sorted(inst.keys(), key=natural_key):
            grp = inst.get(name)
            kind = _text_attr(grp, "NX_class") if isinstance(grp, h5py.Group) else None
            if isinstance(grp, h5py.Group) and (
                kind == "NXdetector" or name.startswith("detector")
            ):
                det_path = f"{entry}/instrument/{name}"
                break
    paths = {
        "incident_energy": f"{entry}/instrument/incident_beam/incident_energy",
        "temperature": f"{entry}/sample/temperature",
        "sample_name": f"{entry}/sample/name",
    }
    if det_path is not None:
        for key, name in (
            ("frame_time", "frame_time"),
            ("count_time", "count_time"),
            ("detector_distance", "distance"),
            ("x_pixel_size", "x_pixel_size"),
            ("y_pixel_size", "y_pixel_size"),
            ("beam_center_x", "beam_center_x"),
            ("beam_center_y", "beam_center_y"),
        ):
            paths[key] = f"{det_path}/{name}"
    meta["frame_time_path"] = paths.get("frame_time", f"{entry}/instrument/detector/frame_time")
    for key, path in paths.items():
        found = lookup(f, path)
        if found is None:
            continue
        value, units, bad = found
        if bad is not None:
            meta[f"{key}_invalid"] = bad
            continue
        meta[key] = value
        if units:
            meta[f"{key}_units"] = units
    if isinstance(meta.get("frame_time"), int | float):
        seconds, unit = time_in_seconds(
            meta["frame_time"],
            meta.get("frame_time_units"),
            file=file,
            dataset=meta["frame_time_path"],
            default="s",
        )
        if unit != "s":
            meta["frame_time_invalid"] = f"{meta['frame_time']} frames (a time in s is needed)"
            del meta["frame_time"]
        else:
            if meta.get("frame_time_units") not in (None, "s"):
                notes.append(
                    f"frame_time {meta['frame_time']} {meta['frame_time_units']} = {seconds:.6g} s"
                )
            elif "frame_time_units" not in meta:
                notes.append("frame_time has no units attribute: seconds (as NXxpcs states)")
            meta["frame_time"], meta["frame_time_units"] = seconds, "s"
    return meta, notes
