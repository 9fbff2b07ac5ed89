"""Shared steps of the point-set readers ((age, lag) grids, multi-tau two-time).

Both layouts store a q and an angle per region of interest (ROI) and values at (t1, t2) points;
the reader picks the ROIs of one q ring and the configured angles, applies the frame window as
a time window and builds :class:`XPCSData` with a :class:`PointSet`.
"""

from typing import Any

import h5py
import numpy as np

from .assemble import jsonable
from .config import DataConfig
from .dataset import Provenance, XPCSData
from .errors import EmptyFrameRangeError, MissingDatasetError, NonFiniteDataError
from .points import PointSet
from .selection import choose_q, normalize_angle, select_angles
from .units import angle_in_degrees, q_in_inverse_angstrom, time_in_seconds, units_of

__all__ = ["build_point_data", "read_roi_lists", "read_time_value", "select_rois"]


def read_roi_lists(
    f: h5py.File, q_path: str, phi_path: str | None, n_roi: int, file: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """q (1/A, from its ``units``) and phi (degrees) of every ROI; no phi list: 0 for all."""
    notes: list[str] = []
    obj = f.get(q_path)
    if not isinstance(obj, h5py.Dataset):
        raise MissingDatasetError("the q of each ROI is missing", file=file, dataset=q_path)
    q, note = q_in_inverse_angstrom(
        np.asarray(obj[()], np.float64).reshape(-1), units_of(obj), file=file, dataset=q_path
    )
    notes += [note] if note else []
    if phi_path is not None and isinstance(f.get(phi_path), h5py.Dataset):
        raw = np.asarray(f[phi_path][()], np.float64).reshape(-1)
        phi, note = angle_in_degrees(raw, units_of(f[phi_path]), file=file, dataset=phi_path)
        notes += [note] if note else []
    else:
        phi = np.zeros(q.size)
        notes.append(f"no angle list ({phi_path}): every ROI taken at phi = 0 deg")
    for name, arr, path in (("q", q, q_path), ("phi", phi, phi_path or q_path)):
        if arr.size != n_roi:
            raise MissingDatasetError(
                f"{arr.size} {name} values for {n_roi} ROIs of the correlation data",
                file=file,
                dataset=path,
            )
    return q, phi, notes


def read_time_value(f: h5py.File, path: str, file: str) -> float | None:
    """A scalar time in s from ``path`` (its ``units``, default s), or ``None`` if absent."""
    obj = f.get(path)
    if not isinstance(obj, h5py.Dataset):
        return None
    value = float(np.asarray(obj[()], np.float64).reshape(-1)[0])
    sec, unit = time_in_seconds(value, units_of(obj), file=file, dataset=path, default="s")
    if unit != "s" or not (np.isfinite(sec) and sec > 0):
        raise MissingDatasetError(
            f"expected a positive time in s, got {value!r} {unit}", file=file, dataset=path
        )
    return sec


def select_rois(
    q: np.ndarray, phi: np.ndarray, cfg: DataConfig, *, file: str, q_path: str, phi_path: str
) -> tuple[np.ndarray, float, list[str]]:
    """ROIs of the ring nearest the requested q, filtered by the configured angle ranges."""
    rings = np.unique(q)
    choice = choose_q(rings, cfg.q, cfg.q_tolerance, file=file, dataset=q_path)
    pos = np.flatnonzero(q == rings[choice.ring])
    keep = select_angles(phi[pos], cfg.phi_ranges, file=file, dataset=phi_path)
    return pos[keep], choice.q_used, [choice.note]


def _time_window(points: PointSet, cfg: DataConfig, dt: float, file: str) -> PointSet:
    """Keep the points inside the frames ``start_frame .. end_frame`` (frame n at t = n dt)."""
    if cfg.start_frame == 1 and cfg.end_frame == -1:
        return points
    lo = (cfg.start_frame - 0.5) * dt
    hi = np.inf if cfg.end_frame == -1 else (cfg.end_frame + 0.5) * dt
    keep = (points.t1 >= lo) & (points.t2 <= hi)
    if not keep.any():
        raise EmptyFrameRangeError(
            f"no point lies within frames {cfg.start_frame}..{cfg.end_frame} "
            f"(t in [{lo:.6g}, {hi:.6g}] s)",
            file=file,
            dataset="/",
        )
    level = None if points.level is None else points.level[keep]
    return PointSet.from_times(
        points.t1[keep],
        points.t2[keep],
        points.values[:, keep],
        points.weights[:, keep],
        kind=points.kind,
        level=level,
    )


def build_point_data(
    points: PointSet,
    phi: np.ndarray,
    *,
    q: float,
    dt: float,
    cfg: DataConfig,
    layout: str,
    selection: dict[str, Any],
    q_available: np.ndarray,
    notes: list[str],
    metadata: dict[str, Any],
) -> XPCSData:
    """The selected point set as :class:`XPCSData` (time window applied, NaN-only points
    dropped, every value checked)."""
    file = cfg.file
    points = _time_window(points, cfg, dt, file)
    finite = np.isfinite(points.values)
    if not finite.any():
        raise NonFiniteDataError("no finite value among the selected points", file=file)
    if np.isinf(points.values).any():
        raise NonFiniteDataError("the correlation values hold +-inf", file=file)
    return XPCSData.from_points(
        points,
        normalize_angle(phi),
        q=q,
        dt=dt,
        metadata=metadata,
        provenance=Provenance(
            file=file,
            layout=layout,
            selection=jsonable({**selection, "q_used": q, "dt_used": dt}),
            q_available=tuple(float(v) for v in np.unique(q_available)),
            notes=tuple(n for n in notes if n),
        ),
    )


def point_summary(f: h5py.File, file: str, layout: str) -> dict[str, Any]:
    """What :func:`homodyne_data.inspect_file` shows of a point-set file, read without loading
    the values: ``q``, ``phi``, ``bins``, ``n_frames``, ``dt``, ``storage`` and ``notes``."""
    from .agelag import find_agelag
    from .multitau import MULTITAU_GROUP

    if layout == "agelag":
        base = find_agelag(f)
        assert base is not None
        tt = f[f"{base}/twotime/ttcf"]
        n_roi = int(tt.shape[0]) if tt.ndim == 3 else 1
        q_path, phi_path, data_path = f"{base}/parameters/q", f"{base}/parameters/phi", tt.name
        ft_path = f"{base}/parameters/frame_time"
        storage = f"(age, lag) grid: {tt.shape[-2]} ages x {tt.shape[-1]} lags per ROI"
        n_values = int(tt.shape[-2] * tt.shape[-1])
    else:
        g = f[MULTITAU_GROUP]
        levels = sorted(k for k in g if k.startswith("level_"))
        q_path, phi_path = f"{MULTITAU_GROUP}/q", f"{MULTITAU_GROUP}/phi"
        n_roi = int(np.size(f[q_path])) if isinstance(f.get(q_path), h5py.Dataset) else 0
        data_path, ft_path = MULTITAU_GROUP, f"{MULTITAU_GROUP}/frame_time"
        n_values = sum(int(np.size(g[f"{k}/t1"])) for k in levels if f"{k}/t1" in g)
        storage = f"multi-tau two-time: {len(levels)} levels"
    q, phi, notes = read_roi_lists(f, q_path, phi_path, n_roi, file)
    dt = read_time_value(f, ft_path, file)
    bins = tuple(
        {
            "id": k + 1,
            "q": float(q[k]),
            "phi": float(normalize_angle(phi[k : k + 1])[0]),
            "dataset": data_path,
        }
        for k in range(n_roi)
    )
    notes = [*notes, f"point set: {n_values} (t1, t2) values per ROI, no full matrices"]
    return {
        "q": tuple(float(v) for v in np.unique(q)),
        "phi": tuple(float(v) for v in normalize_angle(np.unique(phi))),
        "bins": bins,
        "n_frames": 0,
        "dt": dt,
        "storage": storage,
        "notes": tuple(n for n in notes if n),
    }
