"""Helpers for the homodyne-data tests: hand-written HDF5 files (plain h5py, not our writer)."""

import h5py
import numpy as np
import pytest


def sym_matrix(n: int, seed: int, base: float = 1.0) -> np.ndarray:
    """A symmetric float32-exact test matrix with a distinct diagonal (so halving shows)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.0, 0.5, (n, n)).astype(np.float32).astype(np.float64)
    m = np.triu(a) + np.triu(a, 1).T
    m[np.diag_indices(n)] = 1.375 + np.arange(n) / 64.0  # exactly representable in float32
    return m + base - 1.0


def write_aps_u_by_hand(
    path,
    mats: dict[int, np.ndarray],
    q: np.ndarray,
    phi: np.ndarray,
    *,
    keys: list[str] | None = None,
    frame_time: float | None = 0.002,
    avg: int | None = 3,
    stride: int | None = 2,
    half: bool = True,
    extra=None,
) -> str:
    """APS-U file with the given matrices (bin id -> full matrix), stored as upper halves."""
    bins = np.array(sorted(mats), dtype=np.int64)
    keys = keys or [f"c2_{b:05d}" for b in bins]
    with h5py.File(path, "w") as f:
        f["xpcs/qmap/dynamic_v_list_dim0"] = np.asarray(q, dtype=np.float64)
        f["xpcs/qmap/dynamic_v_list_dim1"] = np.asarray(phi, dtype=np.float64)
        f["xpcs/twotime/processed_bins"] = bins
        grp = f.create_group("xpcs/twotime/correlation_map")
        for key, b in zip(keys, bins, strict=True):
            m = mats[int(b)].astype(np.float32)
            grp[key] = np.triu(m) if half else m
        cfg = f.create_group("xpcs/twotime/config")
        if avg is not None:
            cfg["avg_frame"] = avg
        if stride is not None:
            cfg["stride_frame"] = stride
        if frame_time is not None:
            f["entry/instrument/detector_1/frame_time"] = frame_time
        f["entry/instrument/detector_1/distance"] = 8.0
        f["entry/instrument/incident_beam/incident_energy"] = 10.9
        f["entry/sample/temperature_set"] = 298.5
        f["entry/sample/rheometer_shear_rate"] = 0.25
        if extra is not None:
            extra(f)
    return str(path)


def write_legacy_by_hand(
    path,
    mats: list[np.ndarray],
    q: np.ndarray,
    phi: np.ndarray,
    *,
    keys: list[str] | None = None,
    exposure: float | None = 0.01,
    half: bool = True,
    extra=None,
) -> str:
    """APS legacy file: dqlist/dphilist of shape (1, N) and upper-half matrices in C2T_all."""
    keys = keys or [f"C2T_{k + 1:03d}" for k in range(len(mats))]
    with h5py.File(path, "w") as f:
        f["xpcs/dqlist"] = np.asarray(q, dtype=np.float64).reshape(1, -1)
        f["xpcs/dphilist"] = np.asarray(phi, dtype=np.float64).reshape(1, -1)
        grp = f.create_group("exchange/C2T_all")
        for key, m in zip(keys, mats, strict=True):
            m = m.astype(np.float32)
            grp[key] = np.triu(m) if half else m
        if exposure is not None:
            f["measurement/instrument/detector/exposure_period"] = exposure
        f["measurement/instrument/source_begin/energy"] = 7.35
        if extra is not None:
            extra(f)
    return str(path)


@pytest.fixture
def small_aps_u(tmp_path):
    """A valid 2 q x 3 phi APS-U file with bins 1..6, N = 6; returns (path, mats)."""
    mats = {b: sym_matrix(6, b) for b in range(1, 7)}
    path = write_aps_u_by_hand(
        tmp_path / "small_apsu.hdf", mats, q=[0.004, 0.006], phi=[-60.0, 0.0, 60.0]
    )
    return path, mats


@pytest.fixture
def small_legacy(tmp_path):
    """A valid legacy file: 3 bins at q = 0.0054, N = 6; returns (path, mats)."""
    mats = [sym_matrix(6, 10 + k) for k in range(3)]
    path = write_legacy_by_hand(
        tmp_path / "small_legacy.hdf", mats, q=[0.0054] * 3, phi=[10.0, 100.0, -170.0]
    )
    return path, mats


@pytest.fixture
def hand():
    """The hand-writing helpers (test modules cannot import conftest under importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        sym_matrix=sym_matrix, aps_u=write_aps_u_by_hand, legacy=write_legacy_by_hand
    )
