"""Write data in the real APS layouts (APS-U and APS legacy): half matrices, float32, metadata.

NeXus NXxpcs files: :mod:`homodyne_data.nexus_writer` (same helpers).

Files are written to a temporary file beside the target and moved into place with
``os.replace``, so a reader never sees a half-written file.

Every value a writer fills in without being given it (instrument geometry of simulated data or
data without that metadata, a made-up q-map, count time = frame time, simulated extra q rings,
...) is listed in the root attribute ``homodyne_invented``: a JSON list of ``{"path", "value",
"reason"}``; :func:`invented_values` reads it back.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from homodyne_physics import atomic_path

from .dataset import XPCSData
from .errors import DataConfigError, DataError
from .selection import normalize_angle
from .synthetic import DEFAULT_INSTRUMENT, Simulation, simulate

__all__ = ["INVENTED_ATTR", "invented_values", "write_aps_legacy", "write_aps_u"]

INVENTED_ATTR = "homodyne_invented"

ROI_SIZE = 64  # side of the small dynamic ROI map written into APS-U files


def as_data(obj: Simulation | XPCSData) -> XPCSData:
    data = obj.data if isinstance(obj, Simulation) else obj
    if not isinstance(data, XPCSData):
        raise DataConfigError(
            f"expected a Simulation or XPCSData, got {type(obj).__name__}", dataset="sim_or_data"
        )
    if data.frames[0] != 1 or np.any(np.diff(data.frames) != 1):
        raise DataConfigError(
            f"a file stores frames 1..N; these data hold frames {data.frames[0]}..{data.frames[-1]}"
            " (simulate with start_frame=1, or select frames after reading)",
            dataset="frames",
        )
    return data


def atomic_h5(path: str | os.PathLike, fill: Callable[[h5py.File], None], overwrite: bool) -> Path:
    target = Path(path)
    if target.exists() and not overwrite:
        raise DataError(
            "file exists (pass overwrite=True to replace it)", file=str(target), dataset="/"
        )
    with atomic_path(target) as tmp, h5py.File(tmp, "w") as f:
        fill(f)
    return target


def _half32(c2: np.ndarray, storage: str) -> np.ndarray:
    m = np.asarray(c2, dtype=np.float32)
    return np.triu(m) if storage == "half" else m


def _g2_from_c2(c2: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """One-time g2 at the given lags (frames): mean of each diagonal of the two-time matrix."""
    return np.array([np.nanmean(np.diagonal(c2, int(k))) for k in lags])


class Invented:
    """Collects the values a writer fills in without being given them."""

    def __init__(self, data: XPCSData) -> None:
        self.data = data
        self.items: list[dict[str, Any]] = []

    def add(self, path: str, value: Any, reason: str, key: str | None = None) -> Any:
        shown = value if isinstance(value, int | float | str) else f"array {np.shape(value)}"
        item = {"path": path, "value": shown, "reason": reason}
        self.items.append(item if key is None else {**item, "key": key})
        return value

    def meta(self, key: str, path: str, default: Any = None) -> Any:
        """``data.metadata[key]``, else the default instrument value (recorded as invented)."""
        simulated = self.data.provenance.layout == "simulated"
        inherited = key in str(self.data.metadata.get("invented_keys", "")).split(",")
        if key in self.data.metadata and inherited:
            why = "invented by the writer of the source file (listed in its homodyne_invented)"
            return self.add(path, self.data.metadata[key], why, key)
        if key in self.data.metadata and not (simulated and key in DEFAULT_INSTRUMENT):
            return self.data.metadata[key]
        value = DEFAULT_INSTRUMENT.get(key, default)
        why = (
            "simulated data: default instrument of homodyne_data.synthetic"
            if simulated
            else f"not in the data's metadata ({key}); default instrument value"
        )
        return self.add(path, value, why, key)

    def write(self, f: h5py.File) -> None:
        f.attrs[INVENTED_ATTR] = json.dumps(self.items, default=float)


def _frames_factor(given: int | None, name: str, data: XPCSData, inv: Invented) -> int:
    """avg_frame/stride_frame: given, else the data's metadata, else 1 (invented)."""
    if given is not None:
        return int(given)
    stored = data.metadata.get(name)
    if isinstance(stored, int) and stored >= 1:
        return stored
    return inv.add(f"xpcs/twotime/config/{name}", 1, "not given: 1")


def invented_values(f: h5py.File) -> list[dict[str, Any]]:
    """The ``homodyne_invented`` list of an open file (empty when absent or unreadable)."""
    raw = f.attrs.get(INVENTED_ATTR)
    if raw is None:
        return []
    try:
        items = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except ValueError:
        return [{"path": "/", "value": str(raw)[:80], "reason": f"unreadable {INVENTED_ATTR}"}]
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def simulation_attr(obj: Simulation | XPCSData) -> str | None:
    if isinstance(obj, Simulation):
        return json.dumps(obj.settings, default=float)
    return None


def write_aps_u(
    path: str | os.PathLike,
    sim_or_data: Simulation | XPCSData,
    *,
    n_q: int = 1,
    q_index: int = 0,
    q_step: float = 0.25,
    storage: str = "half",
    avg_frame: int | None = None,
    stride_frame: int | None = None,
    key_format: str = "c2_{:05d}",
    compression: str | None = None,
    temperature: float | None = None,
    shear_rate: float | None = None,
    overwrite: bool = True,
) -> Path:
    """Write an APS-U (boost_corr) results file.

    Parameters
    ----------
    path
        Target file.
    sim_or_data
        The data of one q ring (frames must be 1..N).
    n_q, q_index, q_step
        Rings in the file; the data go to ring ``q_index``, ring k has
        ``q * (1 + q_step * (k - q_index))``. Other rings need a :class:`Simulation`: they are
        simulated with the same parameters at their own q (seed + k).
    storage
        ``'half'`` (upper triangle, lower zero, as boost_corr) or ``'full'``.
    avg_frame, stride_frame
        Stored in ``xpcs/twotime/config``; ``frame_time = dt / (avg_frame * stride_frame)``.
        ``None``: the data's metadata value, else 1 (recorded as invented).
    key_format
        Names of the matrices in ``xpcs/twotime/correlation_map`` (formatted with the bin id).
    compression
        h5py compression of the matrices (``None``, ``'gzip'``, ``'lzf'``).
    temperature, shear_rate
        Optional sample values (K, 1/s) written under ``entry/sample``.
    """
    data = as_data(sim_or_data)
    q_rings = _aps_u_rings(data, sim_or_data, storage, n_q, q_index, q_step)
    inv = Invented(data)
    avg_frame = _frames_factor(avg_frame, "avg_frame", data, inv)
    stride_frame = _frames_factor(stride_frame, "stride_frame", data, inv)
    frame_time = data.dt / (avg_frame * stride_frame)
    layout = _TwoTimeLayout(storage, key_format, compression, avg_frame, stride_frame)

    def ring_c2(k: int) -> np.ndarray:
        if k == q_index:
            return data.c2
        inv.add(
            f"xpcs/twotime/correlation_map (bins {k * data.n_phi + 1}..{(k + 1) * data.n_phi})",
            float(q_rings[k]),
            "simulated ring at this q: only the data's own ring was given",
        )
        return _simulated_ring(sim_or_data, float(q_rings[k]), k)

    def fill(f: h5py.File) -> None:
        f.attrs["format"] = "APS-U XPCS results (boost_corr layout)"
        sim_attr = simulation_attr(sim_or_data)
        if sim_attr:
            f.attrs["homodyne_simulation"] = sim_attr
        _write_qmap(f.create_group("xpcs/qmap"), data, q_rings, inv)
        _write_twotime(f, data, len(q_rings), ring_c2, layout)
        where = "entry/instrument/detector_1"
        count_reason = "not given: = frame_time"
        write_detector(f.create_group(where), where, data, frame_time, count_reason, inv)
        write_energy(f.create_group("entry/instrument/incident_beam"), "entry/instrument", inv)
        _write_aps_u_sample(f.create_group("entry/sample"), data, temperature, shear_rate)
        inv.write(f)

    return atomic_h5(path, fill, overwrite)


def _aps_u_rings(data: XPCSData, sim_or_data, storage: str, n_q, q_index, q_step) -> np.ndarray:
    """The q of every ring of the file (the data's ring is ``q_index``), settings checked."""
    if storage not in ("half", "full"):
        raise DataConfigError(f"expected 'half' or 'full', got {storage!r}", dataset="storage")
    if not (isinstance(n_q, int) and n_q >= 1 and 0 <= q_index < n_q):
        raise DataConfigError(
            f"expected n_q >= 1 and 0 <= q_index < n_q, got {n_q}, {q_index}", dataset="n_q"
        )
    if n_q > 1 and not isinstance(sim_or_data, Simulation):
        raise DataConfigError("extra q rings are simulated: pass a Simulation", dataset="n_q")
    q_rings = data.q * (1.0 + q_step * (np.arange(n_q) - q_index))
    if np.any(q_rings <= 0):
        raise DataConfigError(
            f"q_step {q_step} gives non-positive ring q {q_rings}", dataset="q_step"
        )
    return q_rings


def _simulated_ring(sim: Simulation, q: float, k: int) -> np.ndarray:
    """c2 of ring ``k`` at ``q``: the simulation's spec and truth, its own seed."""
    s = sim.settings
    other = simulate(
        sim.spec if sim.spec is not None else s["mode"],
        {n: sim.truth[n] for n in sim.model.parameter_names},
        phi=sim.data.phi,
        q=q,
        dt=s["dt"],
        n_frames=s["n_frames"],
        contrast=sim.contrast,
        offset=sim.offset,
        noise=s["noise"],
        lag_noise=s["lag_noise"],
        seed=s["seed"] + 1000 * (k + 1),
    )
    return other.data.c2


def roi_grid() -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets ``(yy, xx)`` from the centre of the small made-up ROI map."""
    yy, xx = np.mgrid[0:ROI_SIZE, 0:ROI_SIZE] - (ROI_SIZE - 1) / 2.0
    return yy, xx


def nearest_angle(yy: np.ndarray, xx: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Index of the data angle nearest each pixel's azimuth."""
    ang = np.degrees(np.arctan2(yy, xx))
    return np.argmin(np.abs(normalize_angle(ang[..., None] - phi)), axis=-1)


def _write_qmap(qm: h5py.Group, data: XPCSData, q_rings: np.ndarray, inv: Invented) -> None:
    """``xpcs/qmap``: ring q and angles with units, a made-up ROI map (rings x angles), mask."""
    n_q = len(q_rings)
    qm.create_dataset("dynamic_v_list_dim0", data=q_rings).attrs["units"] = "1/A"
    qm.create_dataset("dynamic_v_list_dim1", data=data.phi).attrs["units"] = "deg"
    qm.create_dataset("map_names", data=np.array([b"q", b"phi"]))
    qm.create_dataset("map_units", data=np.array([b"1/A", b"deg"]))
    yy, xx = roi_grid()
    radius = np.hypot(xx, yy)
    q_idx = np.minimum((radius / (radius.max() + 1e-9) * n_q).astype(np.int64), n_q - 1)
    p_idx = nearest_angle(yy, xx, data.phi)
    roi = (q_idx * data.n_phi + p_idx + 1).astype(np.int32)
    qm.create_dataset("dynamic_roi_map", data=roi)
    qm.create_dataset("mask", data=np.ones((ROI_SIZE, ROI_SIZE), dtype=np.int8))
    inv.add(
        "xpcs/qmap/dynamic_roi_map",
        f"{ROI_SIZE} x {ROI_SIZE} map",
        "made up: rings by radius and angles by azimuth, no detector geometry behind it",
    )
    inv.add("xpcs/qmap/mask", f"{ROI_SIZE} x {ROI_SIZE} ones", "made up: every pixel valid")


@dataclass(frozen=True)
class _TwoTimeLayout:
    """How the matrices are stored (half/full, key names, compression) and the frame config."""

    storage: str
    key_format: str
    compression: str | None
    avg_frame: int
    stride_frame: int


def _write_twotime(f: h5py.File, data: XPCSData, n_q: int, ring_c2, layout) -> None:
    """``xpcs/twotime`` (bins, config, matrices, one-time g2) and ``xpcs/multitau``."""
    n_phi, n_t = data.n_phi, data.n_t
    tt = f.create_group("xpcs/twotime")
    bins = np.arange(1, n_q * n_phi + 1, dtype=np.int64)
    tt.create_dataset("processed_bins", data=bins)
    cfg = tt.create_group("config")
    for name, val in (
        ("avg_frame", layout.avg_frame),
        ("stride_frame", layout.stride_frame),
        ("begin_frame", 1),
        ("end_frame", n_t * layout.avg_frame * layout.stride_frame),
    ):
        cfg.create_dataset(name, data=np.int64(val))
    cmap = tt.create_group("correlation_map")
    lags = np.arange(1, n_t)
    g2 = np.empty((lags.size, bins.size), dtype=np.float64)
    for k in range(n_q):
        c2 = ring_c2(k)
        for a in range(n_phi):
            b = k * n_phi + a + 1
            cmap.create_dataset(
                layout.key_format.format(b),
                data=_half32(c2[a], layout.storage),
                compression=layout.compression,
            )
            g2[:, b - 1] = _g2_from_c2(c2[a], lags)
    tt.create_dataset("delay_list", data=lags * data.dt).attrs["units"] = "s"
    tt.create_dataset("normalized_g2", data=g2)
    mt = f.create_group("xpcs/multitau")
    ml = np.unique(np.round(np.geomspace(1, max(n_t - 1, 1), 32)).astype(np.int64))
    mt.create_dataset("delay_list", data=ml * data.dt).attrs["units"] = "s"
    mt.create_dataset("normalized_g2", data=g2[ml - 1])


_GEOMETRY = (
    ("distance", "detector_distance", "m"),
    ("x_pixel_size", "x_pixel_size", "m"),
    ("y_pixel_size", "y_pixel_size", "m"),
    ("beam_center_x", "beam_center_x", "pixel"),
    ("beam_center_y", "beam_center_y", "pixel"),
)


def write_detector(
    det: h5py.Group, where: str, data: XPCSData, frame_time: float, count_reason: str, inv
) -> None:
    """Frame and count time (s) and the detector geometry with units (APS-U and NXxpcs)."""
    det.create_dataset("frame_time", data=frame_time).attrs["units"] = "s"
    count = data.metadata.get("count_time")
    if not isinstance(count, int | float):
        count = inv.add(f"{where}/count_time", frame_time, count_reason)
    det.create_dataset("count_time", data=count).attrs["units"] = "s"
    for name, key, units in _GEOMETRY:
        value = inv.meta(key, f"{where}/{name}")
        det.create_dataset(name, data=float(value)).attrs["units"] = units


def write_energy(beam: h5py.Group, where: str, inv: Invented) -> None:
    """``<where>/incident_beam/incident_energy`` in keV."""
    energy = inv.meta("incident_energy", f"{where}/incident_beam/incident_energy")
    beam.create_dataset("incident_energy", data=float(energy)).attrs["units"] = "keV"


def _write_aps_u_sample(sample: h5py.Group, data: XPCSData, temperature, shear_rate) -> None:
    temp = temperature if temperature is not None else data.metadata.get("temperature")
    if temp is not None:
        sample.create_dataset("temperature", data=float(temp)).attrs["units"] = "K"
    rate = shear_rate if shear_rate is not None else data.metadata.get("shear_rate")
    if rate is not None:
        sample.create_dataset("rheometer_shear_rate", data=float(rate)).attrs["units"] = "1/s"


def write_aps_legacy(
    path: str | os.PathLike,
    sim_or_data: Simulation | XPCSData,
    *,
    storage: str = "half",
    key_format: str = "c2_{:05d}",
    temperature: float | None = None,
    overwrite: bool = True,
) -> Path:
    """Write an APS legacy (xpcs-eigen) results file holding the data's q ring.

    ``xpcs/dqlist`` and ``xpcs/dphilist`` have shape ``(1, n_phi)``; matrices go to
    ``exchange/C2T_all/<key>`` as float32 upper triangles (``storage='half'``) or in full.
    """
    data = as_data(sim_or_data)
    if storage not in ("half", "full"):
        raise DataConfigError(f"expected 'half' or 'full', got {storage!r}", dataset="storage")
    n_phi, n_t = data.n_phi, data.n_t
    inv = Invented(data)

    def fill(f: h5py.File) -> None:
        f.attrs["format"] = "APS legacy XPCS results (xpcs-eigen layout)"
        sim_attr = simulation_attr(sim_or_data)
        if sim_attr:
            f.attrs["homodyne_simulation"] = sim_attr
        x = f.create_group("xpcs")
        x.create_dataset("dqlist", data=np.full((1, n_phi), data.q))
        x.create_dataset("dphilist", data=data.phi.reshape(1, n_phi))
        for name in ("avg_frames", "stride_frames"):
            x.create_dataset(name, data=np.int64(1))
            inv.add(f"xpcs/{name}", 1, "not given: 1 (dt written as the exposure period)")
        x.create_dataset("data_begin", data=np.int64(1))
        x.create_dataset("data_end", data=np.int64(n_t))
        ex = f.create_group("exchange")
        grp = ex.create_group("C2T_all")
        lags = np.arange(1, n_t)
        g2 = np.empty((n_phi, lags.size))
        for a in range(n_phi):
            grp.create_dataset(key_format.format(a + 1), data=_half32(data.c2[a], storage))
            g2[a] = _g2_from_c2(data.c2[a], lags)
        ex.create_dataset("tau", data=(lags * data.dt).reshape(1, -1))
        ex.create_dataset("g2full", data=g2.T)
        det = f.create_group("measurement/instrument/detector")
        det.create_dataset("exposure_period", data=data.dt)
        count = data.metadata.get("count_time")
        if not isinstance(count, int | float):
            count = inv.add(
                "measurement/instrument/detector/exposure_time", data.dt, "not given: = dt"
            )
        det.create_dataset("exposure_time", data=count)
        for name, key in (
            ("distance", "detector_distance"),
            ("x_pixel_size", "x_pixel_size"),
            ("y_pixel_size", "y_pixel_size"),
        ):
            value = inv.meta(key, f"measurement/instrument/detector/{name}")
            det.create_dataset(name, data=float(value))
        src = f.create_group("measurement/instrument/source_begin")
        energy = inv.meta("incident_energy", "measurement/instrument/source_begin/energy")
        src.create_dataset("energy", data=float(energy))
        sample = f.create_group("measurement/sample")
        temp = temperature if temperature is not None else data.metadata.get("temperature")
        if temp is not None:
            sample.create_dataset("temperature_A", data=float(temp))
        inv.write(f)

    return atomic_h5(path, fill, overwrite)
