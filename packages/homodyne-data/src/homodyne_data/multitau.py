"""Multi-tau two-time data: the coarsening scheme, its file layout, reader, writer, simulator.

The scheme (levels of coarsened frames; see the package README, "Multi-tau two-time layout"):
level ``k`` averages non-overlapping groups of ``2^k`` consecutive frames; group ``u`` of
level ``k`` holds frames ``u 2^k .. (u + 1) 2^k - 1`` (counted from the first frame) and sits
at the mean time of its frames. Each level keeps the pairs of groups ``(u, u + d)`` for the
group lags ``d = 1 .. 2m - 1`` at level 0 and ``d = m .. 2m - 1`` above, so the lags covered in
frames double from level to level (``m``: lags per level, ``per_level``). A value at level
``k`` is the mean of c2 over the ``2^k x 2^k`` frame pairs of its two groups, so its noise
variance is 1/4^k that of one frame pair: its weight is ``4^k``. The number of values grows as
O(N m) instead of the O(N^2) of full matrices.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from homodyne_physics import ModelSpec, c2_at_times, float64

from .config import DataConfig
from .dataset import Provenance, XPCSData
from .errors import DataConfigError, MissingDatasetError, ShapeMismatchError
from .metadata import natural_key
from .pointio import build_point_data, read_roi_lists, read_time_value, select_rois
from .points import PointSet
from .selection import normalize_angle
from .synthetic import _per_angle, truth_vector

__all__ = [
    "MULTITAU_GROUP",
    "MultitauSimulation",
    "coarsen_multitau",
    "load_multitau",
    "multitau_pairs",
    "simulate_multitau",
    "write_multitau",
]

MULTITAU_GROUP = "multitau_twotime"


def multitau_pairs(n_frames: int, levels: int, per_level: int = 8) -> list[tuple[int, np.ndarray]]:
    """``[(k, (u, d) pairs)]`` of each level: group index ``u`` and group lag ``d`` of every
    value, shape ``(n_k, 2)`` (levels with no complete pair are left out)."""
    if levels < 1 or per_level < 1 or n_frames < 2:
        raise DataConfigError(
            f"multi-tau needs levels >= 1, per_level >= 1 and >= 2 frames; got {levels}, "
            f"{per_level}, {n_frames}",
            dataset="multitau",
        )
    out = []
    for k in range(levels):
        n_groups = n_frames >> k
        lags = np.arange(1 if k == 0 else per_level, 2 * per_level)
        lags = lags[lags < n_groups]
        if lags.size == 0:
            break
        u = np.concatenate([np.arange(n_groups - d) for d in lags])
        d = np.concatenate([np.full(n_groups - d, d) for d in lags])
        out.append((k, np.stack([u, d], axis=1)))
    return out


def _centre_times(first_time: float, dt: float, k: int, u: np.ndarray) -> np.ndarray:
    size = 1 << k
    return first_time + (u * size + 0.5 * (size - 1)) * dt


def coarsen_multitau(data: XPCSData, levels: int = 4, per_level: int = 8) -> XPCSData:
    """Multi-tau two-time point set of dense data (block means of its matrices)."""
    if not data.is_dense:
        raise DataConfigError("coarsen_multitau needs dense matrices", dataset="data")
    c2 = data.c2
    n = data.n_t
    t1s, t2s, vals, wts, lvl = [], [], [], [], []
    for k, ud in multitau_pairs(n, levels, per_level):
        size = 1 << k
        n_groups = n // size
        blocks = c2[:, : n_groups * size, : n_groups * size].reshape(
            c2.shape[0], n_groups, size, n_groups, size
        )
        means = blocks.mean(axis=(2, 4))  # (n_phi, n_groups, n_groups)
        u, d = ud[:, 0], ud[:, 1]
        vals.append(means[:, u, u + d])
        t1s.append(_centre_times(data.t[0], data.dt, k, u))
        t2s.append(_centre_times(data.t[0], data.dt, k, u + d))
        wts.append(np.full(u.size, float(size * size)))
        lvl.append(np.full(u.size, k))
    points = PointSet.from_times(
        np.concatenate(t1s),
        np.concatenate(t2s),
        np.concatenate(vals, axis=1),
        np.concatenate(wts),
        kind="multitau",
        level=np.concatenate(lvl),
    )
    prov = data.provenance
    return XPCSData.from_points(
        points,
        data.phi,
        data.q,
        data.dt,
        metadata={**data.metadata, "multitau_levels": levels, "multitau_per_level": per_level},
        provenance=Provenance(
            prov.file,
            prov.layout,
            {**prov.selection, "multitau_levels": levels, "multitau_per_level": per_level},
            prov.q_available,
            (*prov.notes, f"coarsened to multi-tau two-time ({levels} levels, m = {per_level})"),
            prov.warnings,
        ),
    )


@dataclass(frozen=True, eq=False)
class MultitauSimulation:
    """Simulated multi-tau two-time data and the truth (``truth`` as :class:`Simulation`)."""

    data: XPCSData
    truth: dict[str, float]
    theta: np.ndarray
    settings: dict[str, Any]


def simulate_multitau(
    spec: ModelSpec | str,
    params: Mapping[str, float] | None = None,
    *,
    phi: Sequence[float] = (0.0,),
    q: float = 0.0054,
    dt: float = 0.1,
    n_frames: int = 20000,
    levels: int = 11,
    per_level: int = 8,
    contrast: float = 0.3,
    offset: float = 1.0,
    noise: float = 0.01,
    seed: int = 0,
) -> MultitauSimulation:
    """Multi-tau two-time data straight from the kernel, without full matrices (O(N) memory).

    Each value is the model at its two group times plus Gaussian noise of standard deviation
    ``noise / 2^k`` (the mean of ``4^k`` independent frame pairs of noise ``noise``); frames
    ``1 .. n_frames`` at ``t = frame * dt``. Physical convention only.
    """
    spec = spec if isinstance(spec, ModelSpec) else ModelSpec.create(spec)
    model = spec.model(q, dt)
    theta = truth_vector(spec, params)
    phi_arr = normalize_angle(np.atleast_1d(np.asarray(phi, np.float64)))
    c_arr = _per_angle(contrast, phi_arr.size, "contrast")
    o_arr = _per_angle(offset, phi_arr.size, "offset")
    rng = np.random.default_rng(seed)
    t1s, t2s, wts, lvl = [], [], [], []
    for k, ud in multitau_pairs(n_frames, levels, per_level):
        u, d = ud[:, 0], ud[:, 1]
        t1s.append(_centre_times(dt, dt, k, u))
        t2s.append(_centre_times(dt, dt, k, u + d))
        wts.append(np.full(u.size, float(4**k)))
        lvl.append(np.full(u.size, k))
    t1, t2, w = np.concatenate(t1s), np.concatenate(t2s), np.concatenate(wts)
    with float64():
        clean = np.asarray(c2_at_times(model, theta, c_arr, o_arr, t1, t2, phi_arr))
    values = clean + rng.standard_normal(clean.shape) * (noise / np.sqrt(w))[None]
    points = PointSet.from_times(t1, t2, values, w, kind="multitau", level=np.concatenate(lvl))
    truth = {n: float(v) for n, v in zip(spec.names, theta, strict=True)}
    truth.update({"contrast": float(np.mean(c_arr)), "offset": float(np.mean(o_arr))})
    settings = {"q": q, "dt": dt, "n_frames": n_frames, "levels": levels, "noise": noise}
    settings.update({"per_level": per_level, "seed": seed, "spec": spec.to_dict()})
    data = XPCSData.from_points(
        points,
        phi_arr,
        q,
        dt,
        metadata={"frame_time": dt, "multitau_levels": levels, "multitau_per_level": per_level},
        provenance=Provenance(None, "simulated", settings, (q,), ("simulated multi-tau",)),
    )
    return MultitauSimulation(data, truth, np.asarray(theta), settings)


def write_multitau(path, data: XPCSData, *, overwrite: bool = False):
    """Write multi-tau point-set data (from :func:`coarsen_multitau` or
    :func:`simulate_multitau`) in the multi-tau two-time layout of the README, atomically."""
    from .writers import INVENTED_ATTR, atomic_h5

    pts = data.points
    if pts is None or pts.kind != "multitau" or pts.level is None:
        raise DataConfigError("expected multi-tau point-set data", dataset="data")
    frame_time = data.metadata.get("frame_time")
    invented = []
    if not isinstance(frame_time, int | float) or frame_time <= 0:
        frame_time = data.dt
        why = "not in the data's metadata: the data's dt"
        invented.append(
            {"path": f"{MULTITAU_GROUP}/frame_time", "value": data.dt, "reason": why}
            | {"key": "frame_time"}
        )

    def fill(f: h5py.File) -> None:
        g = f.create_group(MULTITAU_GROUP)
        g.attrs["scheme"] = "multi-tau two-time"
        g.attrs["per_level"] = int(data.metadata.get("multitau_per_level", 8))
        g.create_dataset("q", data=np.full(data.n_phi, data.q)).attrs["units"] = "1/A"
        g.create_dataset("phi", data=data.phi).attrs["units"] = "deg"
        g.create_dataset("frame_time", data=float(frame_time)).attrs["units"] = "s"
        for k in np.unique(pts.level):
            sel = pts.level == k
            lg = g.create_group(f"level_{int(k):02d}")
            lg.attrs["level"] = int(k)
            lg.attrs["group_frames"] = 1 << int(k)
            lg.create_dataset("t1", data=pts.t1[sel]).attrs["units"] = "s"
            lg.create_dataset("t2", data=pts.t2[sel]).attrs["units"] = "s"
            lg.create_dataset("c2", data=pts.values[:, sel])
            lg.create_dataset("weight", data=pts.weights[:, sel])
        if invented:
            import json

            f.attrs[INVENTED_ATTR] = json.dumps(invented, default=float)

    return atomic_h5(path, fill, overwrite)


def is_multitau(f: h5py.File) -> bool:
    """True when the file holds the multi-tau two-time group with at least one level."""
    g = f.get(MULTITAU_GROUP)
    return isinstance(g, h5py.Group) and any(k.startswith("level_") for k in g)


def _level(f: h5py.File, path: str, n_roi: int, file: str) -> tuple[np.ndarray, ...]:
    g = f[path]
    arrays = {}
    for name in ("t1", "t2", "c2"):
        if not isinstance(g.get(name), h5py.Dataset):
            raise MissingDatasetError(
                "a multi-tau level needs t1, t2 and c2", file=file, dataset=f"{path}/{name}"
            )
        arrays[name] = np.asarray(g[name][()], np.float64)
    t1, t2, c2 = arrays["t1"].reshape(-1), arrays["t2"].reshape(-1), arrays["c2"]
    if c2.ndim == 1:
        c2 = c2[None]
    if c2.shape != (n_roi, t1.size) or t2.shape != t1.shape:
        raise ShapeMismatchError(
            f"c2 {c2.shape} must be (n_roi={n_roi}, n_points={t1.size}) with t2 {t2.shape} "
            "matching t1",
            file=file,
            dataset=f"{path}/c2",
        )
    k = int(g.attrs["level"]) if "level" in g.attrs else int(path.rsplit("_", 1)[-1])
    if isinstance(g.get("weight"), h5py.Dataset):
        w = np.broadcast_to(np.asarray(g["weight"][()], np.float64), c2.shape)
    else:
        w = np.full(c2.shape, float(4**k))
    return t1, t2, c2, w, np.full(t1.size, k)


def load_multitau(f: h5py.File, cfg: DataConfig, selection: dict[str, Any]) -> XPCSData:
    """Read the multi-tau two-time layout and select one q ring and the configured angles."""
    file = cfg.file
    g = f[MULTITAU_GROUP]
    q_path, phi_path = f"{MULTITAU_GROUP}/q", f"{MULTITAU_GROUP}/phi"
    n_roi = int(np.size(f[q_path])) if isinstance(f.get(q_path), h5py.Dataset) else 0
    q, phi, notes = read_roi_lists(f, q_path, phi_path, n_roi, file)
    pos, q_used, more = select_rois(q, phi, cfg, file=file, q_path=q_path, phi_path=phi_path)
    names = sorted((k for k in g if k.startswith("level_")), key=natural_key)
    parts = [_level(f, f"{MULTITAU_GROUP}/{k}", n_roi, file) for k in names]
    t1, t2, c2, w, lvl = (np.concatenate(p, axis=-1) for p in zip(*parts, strict=True))
    frame_time = read_time_value(f, f"{MULTITAU_GROUP}/frame_time", file)
    dt = cfg.dt if cfg.dt is not None else frame_time
    if dt is None:
        raise MissingDatasetError(
            "no frame time: give dt in the configuration",
            file=file,
            dataset=f"{MULTITAU_GROUP}/frame_time",
        )
    points = PointSet.from_times(t1, t2, c2[pos], w[pos], kind="multitau", level=lvl)
    notes = [*notes, *more, f"multi-tau two-time: {len(names)} levels, {t1.size} points per ROI"]
    return build_point_data(
        points,
        phi[pos],
        q=q_used,
        dt=float(dt),
        cfg=cfg,
        layout="multitau",
        selection={**selection, "rois": pos.tolist()},
        q_available=q,
        notes=notes,
        metadata={"frame_time": frame_time, "multitau_levels": len(names)},
    )
