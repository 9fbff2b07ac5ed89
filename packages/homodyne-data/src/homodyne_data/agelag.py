"""(age, lag) two-time grids, ESRF ID02 / ID10 style: reader, writer and conversion.

Layout (see the package README, "(age, lag) two-time grids"): in a top-level ``entry_*``
group, ``correlations/<key>/twotime/ttcf`` shaped ``(n_roi, n_age, n_lag)`` with the 1-D
``age`` and ``lag`` axes beside it (s unless their ``units`` say otherwise; lags may be
log-spaced, so the grid is neither square nor uniform) and ``correlations/<key>/parameters/q``
(one per ROI, with ``units``); optional ``parameters/phi`` (per ROI), ``parameters/frame_time``
and ``twotime/weight`` (broadcastable to ttcf). ``age`` is the time of the earlier frame of
each pair counted from the first frame (age 0 = frame 1); an ``age`` attribute
``reference = 'centre'`` says it is the mean time of the pair instead. A value at (age a,
lag l) is c2 at ``t1 = a + frame_time``, ``t2 = t1 + l`` (frame n sits at n frame_time).
"""

from typing import Any

import h5py
import numpy as np

from .config import DataConfig
from .dataset import XPCSData
from .errors import DataConfigError, MissingDatasetError, ShapeMismatchError
from .metadata import natural_key
from .pointio import build_point_data, read_roi_lists, read_time_value, select_rois
from .points import PointSet
from .units import time_in_seconds, units_of

__all__ = ["agelag_grid", "find_agelag", "load_agelag", "write_agelag"]


def find_agelag(f: h5py.File) -> str | None:
    """Path of the first ``<entry>/correlations/<key>`` group holding ``twotime/ttcf``."""
    for entry in sorted(f, key=natural_key):
        corr = f.get(f"{entry}/correlations")
        if not isinstance(corr, h5py.Group):
            continue
        for key in sorted(corr, key=natural_key):
            if isinstance(corr.get(f"{key}/twotime/ttcf"), h5py.Dataset):
                return f"{entry}/correlations/{key}"
    return None


def _axis(f: h5py.File, path: str, frame_time: float | None, file: str) -> np.ndarray:
    obj = f.get(path)
    if not isinstance(obj, h5py.Dataset):
        raise MissingDatasetError("the (age, lag) grid needs this axis", file=file, dataset=path)
    arr = np.asarray(obj[()], np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise ShapeMismatchError("the axis holds NaN/inf", file=file, dataset=path)
    factor, unit = time_in_seconds(1.0, units_of(obj), file=file, dataset=path, default="s")
    if unit == "frames":
        if frame_time is None:
            raise MissingDatasetError(
                "the axis is in frames but the file has no parameters/frame_time; give dt",
                file=file,
                dataset=path,
            )
        factor = frame_time
    return arr * factor


def agelag_grid(
    age: np.ndarray, lag: np.ndarray, ttcf: np.ndarray, weight, frame_time: float, centre: bool
) -> PointSet:
    """Point set of an (age, lag) grid (zero lags and NaN-only points dropped)."""
    a, l = np.meshgrid(age, lag, indexing="ij")
    t1 = (a - 0.5 * l if centre else a) + frame_time
    t2 = t1 + l
    values = ttcf.reshape(ttcf.shape[0], -1)
    w = np.broadcast_to(np.asarray(weight, np.float64), ttcf.shape).reshape(values.shape)
    keep = (l.reshape(-1) != 0) & np.isfinite(values).any(axis=0)
    return PointSet.from_times(
        t1.reshape(-1)[keep], t2.reshape(-1)[keep], values[:, keep], w[:, keep], kind="agelag"
    )


def load_agelag(f: h5py.File, cfg: DataConfig, selection: dict[str, Any]) -> XPCSData:
    """Read an (age, lag) grid and select one q ring and the configured angles."""
    file = cfg.file
    base = find_agelag(f)
    assert base is not None
    tt = f[f"{base}/twotime/ttcf"]
    if tt.ndim == 2:
        ttcf = np.asarray(tt[()], np.float64)[None]
    elif tt.ndim == 3:
        ttcf = np.asarray(tt[()], np.float64)
    else:
        raise ShapeMismatchError(
            f"ttcf must be (n_roi, n_age, n_lag), got shape {tt.shape}", file=file, dataset=tt.name
        )
    frame_time = read_time_value(f, f"{base}/parameters/frame_time", file)
    age = _axis(f, f"{base}/twotime/age", frame_time, file)
    lag = _axis(f, f"{base}/twotime/lag", frame_time, file)
    if ttcf.shape[1:] != (age.size, lag.size):
        raise ShapeMismatchError(
            f"ttcf {ttcf.shape} does not match age ({age.size}) x lag ({lag.size}); expected "
            "(n_roi, n_age, n_lag)",
            file=file,
            dataset=tt.name,
        )
    q_path, phi_path = f"{base}/parameters/q", f"{base}/parameters/phi"
    q, phi, notes = read_roi_lists(f, q_path, phi_path, ttcf.shape[0], file)
    pos, q_used, more = select_rois(q, phi, cfg, file=file, q_path=q_path, phi_path=phi_path)
    dt = cfg.dt if cfg.dt is not None else frame_time
    if dt is None:
        positive = lag[lag > 0]
        if positive.size == 0:
            raise MissingDatasetError("no positive lag", file=file, dataset=f"{base}/twotime/lag")
        dt = float(positive.min())
        notes.append(f"no parameters/frame_time: the smallest lag {dt:.6g} s is taken as dt")
    w_obj = f.get(f"{base}/twotime/weight")
    weight = np.asarray(w_obj[()], np.float64) if isinstance(w_obj, h5py.Dataset) else 1.0
    if np.ndim(weight) == 3:
        weight = weight[pos]
    ref = f[f"{base}/twotime/age"].attrs.get("reference", "start")
    ref = ref.decode() if isinstance(ref, bytes) else str(ref)
    centre = ref.lower() in ("centre", "center", "mean")
    points = agelag_grid(age, lag, ttcf[pos], weight, float(dt), centre)
    notes = [
        *notes,
        *more,
        f"(age, lag) grid {base}: {age.size} ages x {lag.size} lags, age = "
        f"{'mean time' if centre else 'earlier time'} of each pair, frame 1 at t = dt",
    ]
    return build_point_data(
        points,
        phi[pos],
        q=q_used,
        dt=float(dt),
        cfg=cfg,
        layout="agelag",
        selection={**selection, "rois": pos.tolist(), "group": base},
        q_available=q,
        notes=notes,
        metadata={"frame_time": frame_time} if frame_time is not None else {},
    )


def _log_lags(n_frames: int, n_lags: int) -> np.ndarray:
    raw = np.logspace(0.0, np.log10(max(n_frames - 1, 1)), n_lags)
    return np.unique(np.round(raw).astype(np.int64))


def write_agelag(
    path,
    data: XPCSData,
    *,
    n_lags: int = 24,
    lags_frames=None,
    age_step: int = 1,
    key: str = "default",
    overwrite: bool = False,
):
    """Write dense data as an (age, lag) grid, atomically: ages every ``age_step`` frames,
    log-spaced integer lags (``n_lags`` of them, or ``lags_frames``); values past the last
    frame are NaN. q is written in 1/nm, as ESRF files do."""
    from .writers import Invented, as_data, atomic_h5

    data = as_data(data)
    n = data.n_t
    lags = _log_lags(n, n_lags) if lags_frames is None else np.asarray(lags_frames, np.int64)
    if lags.size == 0 or lags.min() < 1 or lags.max() >= n:
        raise DataConfigError(f"lags must lie in 1..{n - 1} frames", dataset="lags_frames")
    ages = np.arange(0, n - 1, max(int(age_step), 1))
    j = ages[:, None] + lags[None, :]
    inside = j < n
    ttcf = np.full((data.n_phi, ages.size, lags.size), np.nan)
    a_idx = np.broadcast_to(ages[:, None], j.shape)[inside]
    ttcf[:, inside] = data.c2[:, a_idx, j[inside]]
    inv = Invented(data)  # nothing is invented: every value written comes from the data

    def fill(f: h5py.File) -> None:
        base = f.create_group(f"entry_0000/correlations/{key}")
        tt = base.create_group("twotime")
        tt.create_dataset("ttcf", data=ttcf.astype(np.float32))
        tt.create_dataset("age", data=ages * data.dt).attrs.update({"units": "s"})
        tt.create_dataset("lag", data=lags * data.dt).attrs.update({"units": "s"})
        par = base.create_group("parameters")
        par.create_dataset("q", data=np.full(data.n_phi, data.q * 10.0)).attrs["units"] = "nm^-1"
        par.create_dataset("phi", data=data.phi).attrs["units"] = "deg"
        par.create_dataset("frame_time", data=float(data.dt)).attrs["units"] = "s"
        inv.write(f)

    return atomic_h5(path, fill, overwrite)
