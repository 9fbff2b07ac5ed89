"""Metadata that disagrees with the data it describes.

Each check compares a count or value stated by the file's metadata with what the data
themselves hold, and returns a readable sentence naming both. Where the data's own count is
unambiguous (the size of the matrices) the reader trusts the data and reports a warning;
disagreements that leave the meaning open are errors raised by the readers themselves.
"""

from typing import Any

import h5py
import numpy as np

from .metadata import METADATA_PATHS, file_dt

__all__ = ["DELAY_LISTS", "frame_range_warning", "metadata_warnings"]

DELAY_LISTS = {"aps_u": "xpcs/twotime/delay_list"}


def _delay_step(ds: h5py.Dataset, path: str, dt: float | None) -> str | None:
    """The delay list's own time step against dt (both in seconds)."""
    if dt is None or ds.size < 2 or ds.dtype.kind not in "fiu":
        return None
    delays = np.asarray(ds[()], dtype=np.float64).reshape(-1)
    steps = np.diff(delays)
    if not np.all(np.isfinite(delays)):
        return f"{path} holds NaN/inf delays"
    if np.any(steps <= 0):
        return f"{path} is not increasing (step {steps[steps <= 0][0]:.6g} s)"
    step = float(np.median(steps))
    if abs(step - dt) > 1e-3 * dt:
        return f"{path} advances by {step:.6g} s per lag but dt is {dt:.6g} s"
    return None


def _delay_list(f: h5py.File, layout: str, n: int, dt: float | None) -> str | None:
    path = DELAY_LISTS.get(layout)
    ds = f.get(path) if path else None
    if not isinstance(ds, h5py.Dataset):
        return None
    size = int(ds.size)
    if size in (n - 1, n):
        return _delay_step(ds, path, dt)
    return (
        f"{path} holds {size} delays but the two-time matrices are {n} x {n} ({n - 1} lags); "
        "the matrices' own size is used"
    )


def _frame_config(meta: dict[str, Any], layout: str, n: int) -> str | None:
    begin, end = meta.get("begin_frame"), meta.get("end_frame")
    if not isinstance(end, int | float) or not isinstance(begin, int | float):
        return None
    avg = meta.get("avg_frame", 1) or 1
    stride = meta.get("stride_frame", 1) or 1
    if not all(isinstance(v, int | float) and v >= 1 for v in (avg, stride)):
        return None
    implied = int((end - begin + 1) // (avg * stride))
    if abs(implied - n) <= 1:
        return None
    where = METADATA_PATHS.get(layout, {}).get("end_frame", ("end_frame",))[0]
    return (
        f"{where} = {end:g} (begin {begin:g}, avg_frame {avg:g}, stride_frame {stride:g}) "
        f"implies {implied} two-time frames but the matrices hold {n}; the matrices' own size "
        "is used (check avg_frame/stride_frame: dt depends on them)"
    )


def metadata_warnings(
    f: h5py.File, layout: str, meta: dict[str, Any], n_frames: int, dt_given: float | None
) -> list[str]:
    """Every disagreement between an open file's metadata and its ``n_frames``-frame matrices."""
    implied, _ = file_dt(meta)
    dt = dt_given if dt_given is not None else implied
    found = (_delay_list(f, layout, n_frames, dt), _frame_config(meta, layout, n_frames))
    out = [w for w in found if w]
    if dt_given is not None:
        if implied is not None and abs(implied - dt_given) > 1e-6 * dt_given:
            out.append(
                f"the given dt {dt_given:.6g} s differs from the file's frame_time x avg_frame x "
                f"stride_frame = {implied:.6g} s; the given dt is used"
            )
    return out


def frame_range_warning(end_frame: int, n_frames: int) -> str | None:
    """A requested ``end_frame`` past the last frame of the matrices (it is clipped)."""
    if end_frame != -1 and end_frame > n_frames:
        return (
            f"end_frame {end_frame} is beyond the {n_frames} frames of the matrices; clipped to "
            f"{n_frames}"
        )
    return None


def _runs(idx: np.ndarray, limit: int) -> str:
    runs, start = [], idx[0]
    for a, b in zip(idx[:-1], idx[1:], strict=True):
        if b != a + 1:
            runs.append((start, a))
            start = b
    runs.append((start, idx[-1]))
    text = ", ".join(f"{a + 1}-{b + 1}" if a != b else f"{a + 1}" for a, b in runs[:limit])
    return text + (f" (+{len(runs) - limit} more ranges)" if len(runs) > limit else "")


def nan_locations(c: np.ndarray, limit: int = 3) -> str:
    """Where the NaN/inf values of a symmetric matrix are (upper triangle, t1 < t2): the frames
    (1-based in the selection) along t1 and t2, and the lags in frames."""
    n = c.shape[0]
    i, j = np.triu_indices(n, 1)
    bad = ~np.isfinite(c[i, j])
    if not bad.any():
        return "none"
    rows, cols, lags = np.unique(i[bad]), np.unique(j[bad]), np.unique((j - i)[bad])
    return (
        f"at t1 frames {_runs(rows, limit)}, t2 frames {_runs(cols, limit)}, lags "
        f"{lags[0]}-{lags[-1]} frames"
    )
