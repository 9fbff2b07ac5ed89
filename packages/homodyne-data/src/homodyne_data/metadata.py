"""Instrument and sample metadata of the APS files, and the time step dt derived from it.

Values are returned as plain Python scalars/strings (JSON-safe, so they can go into the cache
and into result files). A dataset's ``units`` attribute, when present, is kept as
``<key>_units``.
"""

import math
import re
from typing import Any

import h5py
import numpy as np

from .errors import InvalidTimeStepError, MissingTimeStepError

__all__ = [
    "METADATA_PATHS",
    "describe_value",
    "file_dt",
    "lookup",
    "natural_key",
    "read_metadata",
    "resolve_dt",
    "scalar",
]

# key -> candidate paths per layout (first present wins). Paths ending in "/<name>" inside a
# group may also be attributes of that group (checked by ``_lookup``).
METADATA_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "aps_u": {
        "frame_time": ("entry/instrument/detector_1/frame_time",),
        "count_time": ("entry/instrument/detector_1/count_time",),
        "avg_frame": ("xpcs/twotime/config/avg_frame", "xpcs/twotime/config/avg_frames"),
        "stride_frame": ("xpcs/twotime/config/stride_frame", "xpcs/twotime/config/stride_frames"),
        "begin_frame": ("xpcs/twotime/config/begin_frame",),
        "end_frame": ("xpcs/twotime/config/end_frame",),
        "detector_distance": ("entry/instrument/detector_1/distance",),
        "x_pixel_size": ("entry/instrument/detector_1/x_pixel_size",),
        "y_pixel_size": ("entry/instrument/detector_1/y_pixel_size",),
        "beam_center_x": ("entry/instrument/detector_1/beam_center_x",),
        "beam_center_y": ("entry/instrument/detector_1/beam_center_y",),
        "incident_energy": ("entry/instrument/incident_beam/incident_energy",),
        "sample_name": ("entry/sample/name", "entry/sample/sample_name"),
    },
    "aps_legacy": {
        "frame_time": (
            "measurement/instrument/detector/exposure_period",
            "measurement/instrument/detector/frame_time",
        ),
        "count_time": ("measurement/instrument/detector/exposure_time",),
        "avg_frame": ("xpcs/avg_frames", "xpcs/avg_frame"),
        "stride_frame": ("xpcs/stride_frames", "xpcs/stride_frame"),
        "begin_frame": ("xpcs/data_begin",),
        "end_frame": ("xpcs/data_end",),
        "detector_distance": ("measurement/instrument/detector/distance",),
        "x_pixel_size": ("measurement/instrument/detector/x_pixel_size",),
        "y_pixel_size": ("measurement/instrument/detector/y_pixel_size",),
        "beam_center_x": ("measurement/instrument/acquisition/beam_center_x",),
        "beam_center_y": ("measurement/instrument/acquisition/beam_center_y",),
        "incident_energy": ("measurement/instrument/source_begin/energy",),
        "sample_name": ("measurement/sample/name",),
    },
}
# Sample groups searched (name order) for temperature and rheometer shear rate.
_SAMPLE_GROUPS = {"aps_u": "entry/sample", "aps_legacy": "measurement/sample"}
_SAMPLE_WORDS = {"temperature": "temperature", "shear_rate": "shear_rate"}


def natural_key(name: str) -> tuple:
    """Sort key putting ``c2_2`` before ``c2_10`` (and equal to plain order for padded names)."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def scalar(value: Any) -> Any:
    """A stored value as a Python scalar or string (size-1 arrays unwrapped); None if not."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    arr = np.asarray(value)
    if arr.dtype.kind in "SO" and arr.size == 1:
        item = arr.reshape(-1)[0]
        return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
    if arr.dtype.kind == "U" and arr.size == 1:
        return str(arr.reshape(-1)[0])
    if arr.size != 1 or arr.dtype.kind not in "fiub":
        return None
    item = arr.reshape(-1)[0].item()
    if isinstance(item, float) and not math.isfinite(item):
        return None
    return item


def describe_value(value: Any) -> str:
    """What a stored value is, for messages: ``NaN``, ``text 'abc'``, ``array of shape (3,)``."""
    if isinstance(value, bytes | str) or np.asarray(value).dtype.kind in "SUO":
        text = scalar(value)
        return f"text {text!r}" if text is not None else f"text array of shape {np.shape(value)}"
    arr = np.asarray(value)
    if arr.size != 1:
        return f"array of shape {arr.shape}"
    item = arr.reshape(-1)[0]
    if arr.dtype.kind == "f" and np.isnan(item):
        return "NaN"
    if arr.dtype.kind == "f" and np.isinf(item):
        return f"{'-' if item < 0 else ''}inf"
    if arr.dtype.kind not in "fiub":
        return f"a value of dtype {arr.dtype}"
    return repr(item.item())


def lookup(f: h5py.File, path: str) -> tuple[Any, str | None, str | None] | None:
    """``(value, units, problem)`` at ``path`` (a dataset, or an attribute of its parent group).

    ``problem`` describes a value that is present but not a finite number or short text (NaN,
    a long array, ...); ``None`` when the value is usable or absent (then ``None`` returned).
    """
    obj = f.get(path)
    if isinstance(obj, h5py.Dataset):
        units = obj.attrs.get("units")
        units = scalar(units) if units is not None else None
        if obj.size > 16:  # never read a large array to describe it
            return None, units, f"array of shape {obj.shape}"
        raw = obj[()]
        val = scalar(raw)
        if val is None:
            return None, units, describe_value(raw)
        return val, units, None
    parent, _, name = path.rpartition("/")
    grp = f.get(parent) if parent else f
    if isinstance(grp, h5py.Group) and name in grp.attrs:
        val = scalar(grp.attrs[name])
        return (
            (val, None, None) if val is not None else (None, None, describe_value(grp.attrs[name]))
        )
    return None


def read_metadata(f: h5py.File, layout: str) -> dict[str, Any]:
    """Instrument/sample metadata of an open file, keyed by our names (absent keys omitted).

    Keys: frame_time (s), count_time (s), avg_frame, stride_frame, begin_frame, end_frame,
    detector_distance, x/y_pixel_size, beam_center_x/y, incident_energy (keV), sample_name,
    temperature, shear_rate; units strings as ``<key>_units`` when the file gives them.
    """
    meta: dict[str, Any] = {}
    for key, paths in METADATA_PATHS.get(layout, {}).items():
        for path in paths:
            found = lookup(f, path)
            if found is not None and found[2] is not None:
                meta[f"{key}_invalid"] = found[2]
                meta.setdefault("_paths", {})[key] = path
                break
            if found is not None:
                meta[key] = found[0]
                if found[1]:
                    meta[f"{key}_units"] = found[1]
                meta.setdefault("_paths", {})[key] = path
                break
    grp = f.get(_SAMPLE_GROUPS.get(layout, ""))
    if isinstance(grp, h5py.Group):
        names = sorted(grp.keys(), key=natural_key)
        for key, word in _SAMPLE_WORDS.items():
            for name in names:
                obj = grp.get(name)
                if word in name.lower() and isinstance(obj, h5py.Dataset):
                    found = lookup(f, f"{grp.name.strip('/')}/{name}")
                    if found is not None and isinstance(found[0], int | float):
                        meta[key] = found[0]
                        if found[1]:
                            meta[f"{key}_units"] = found[1]
                        meta.setdefault("_paths", {})[key] = f"{grp.name.strip('/')}/{name}"
                        break
    paths = meta.pop("_paths", {})
    if paths:
        meta["source_paths"] = ";".join(f"{k}={v}" for k, v in sorted(paths.items()))
    return meta


def _frame_time_problem(meta: dict[str, Any]) -> str | None:
    """What is wrong with the file's frame time (``None`` when usable or absent)."""
    if "frame_time_invalid" in meta:
        return f"frame_time is {meta['frame_time_invalid']}"
    value = meta.get("frame_time")
    if isinstance(value, str):
        return f"frame_time is text {value!r}"
    return None


def file_dt(meta: dict[str, Any]) -> tuple[float | None, str | None]:
    """dt implied by the file (frame_time x avg_frame x stride_frame, s) and what is wrong."""
    problem = _frame_time_problem(meta)
    frame_time = meta.get("frame_time")
    if problem is not None or not isinstance(frame_time, int | float):
        return None, problem
    units = meta.get("frame_time_units")
    factor = 1.0
    if units is not None:
        from .units import TIME_UNITS, normalize_units

        factor = TIME_UNITS.get(normalize_units(units), -1.0) or -1.0
        if factor < 0:
            return None, f"frame_time {frame_time!r} has units {units!r}; expected a time in s"
    avg = meta.get("avg_frame", 1) or 1
    stride = meta.get("stride_frame", 1) or 1
    for name, v in (("avg_frame", avg), ("stride_frame", stride)):
        if not isinstance(v, int | float) or v < 1:
            return None, f"{name} is {v!r}; expected a positive whole number"
    dt = float(frame_time) * factor * float(avg) * float(stride)
    if not (math.isfinite(dt) and dt > 0):
        return None, (
            f"frame_time {frame_time!r} x avg_frame {avg!r} x stride_frame {stride!r} = {dt!r} s "
            "is not a positive time step"
        )
    return dt, None


def resolve_dt(
    dt: float | None, meta: dict[str, Any], *, file: str | None, layout: str
) -> tuple[float, str]:
    """The time step of the two-time matrix and a note saying where it came from.

    A user-given ``dt`` wins (a note records a disagreement with the file). Otherwise
    ``dt = frame_time * avg_frame * stride_frame`` (missing factors count as 1; frame_time in
    the units of its ``units`` attribute, seconds when absent).
    """
    path = (
        meta.get("frame_time_path")
        or METADATA_PATHS.get(layout, {}).get("frame_time", ("frame_time",))[0]
    )
    from_file, problem = file_dt(meta)
    avg = meta.get("avg_frame", 1) or 1
    stride = meta.get("stride_frame", 1) or 1
    if dt is not None:
        dt = float(dt)
        if not (math.isfinite(dt) and dt > 0):
            raise InvalidTimeStepError(
                f"dt must be a positive number of seconds, got {dt!r}", file=file, dataset="dt"
            )
        note = f"dt = {dt:.6g} s (given)"
        if from_file is not None and abs(from_file - dt) > 1e-6 * dt:
            note += (
                f"; the file implies {from_file:.6g} s (frame_time x avg {avg} x stride {stride})"
            )
        elif problem is not None:
            note += f"; the file's {problem}"
        return dt, note
    if problem is not None:
        raise InvalidTimeStepError(
            f"{problem}; expected a positive number of seconds (fix the file or give dt)",
            file=file,
            dataset=path,
        )
    if from_file is None:
        raise MissingTimeStepError(
            "dt was not given and the file has no frame time; expected a positive number of "
            "seconds (give dt)",
            file=file,
            dataset=path,
        )
    return from_file, (
        f"dt = {from_file:.6g} s from the file (frame_time {meta['frame_time']:.6g} "
        f"{meta.get('frame_time_units') or 's'} x avg_frame {avg} x stride_frame {stride})"
    )
