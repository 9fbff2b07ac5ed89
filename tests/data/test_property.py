"""Property test: random files and selections never give a wrong shape or an untyped error.

For each generated case the expected outcome is worked out independently (which ring, which
angles, which frames, or that the request must fail); the reader must either return exactly
that data or raise a :class:`homodyne_data.DataError`.
"""

import tempfile
from pathlib import Path

import h5py
import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import homodyne_data as hd


def norm(a: float) -> float:
    return ((a + 180.0) % 360.0) - 180.0


angle = st.floats(-400.0, 400.0, allow_nan=False).map(lambda x: round(x, 2))
case = st.fixed_dictionaries(
    {
        "layout": st.sampled_from(["aps_u", "aps_legacy", "npy"]),
        "n_q": st.integers(1, 3),
        "phi": st.lists(angle, min_size=1, max_size=5, unique_by=lambda x: round(norm(x), 1)),
        "n": st.one_of(st.integers(4, 12), st.integers(1, 12)),
        "storage": st.sampled_from(["upper", "lower", "full"]),
        "q_pick": st.one_of(
            st.sampled_from([0.003, 0.00305, 0.0058, 0.0091]),  # near a ring: mostly readable
            st.none(),
            st.floats(0.0005, 0.012, allow_nan=False),
        ),
        "ranges": st.one_of(st.none(), st.lists(st.tuples(angle, angle), min_size=1, max_size=3)),
        "start": st.one_of(st.integers(1, 3), st.integers(1, 14)),
        "end": st.one_of(st.just(-1), st.integers(3, 14), st.integers(1, 14)),
        "seed": st.integers(0, 2**16),
    }
)


def inside(p: float, ranges) -> bool:
    if ranges is None:
        return True
    for lo, hi in ranges:
        lo, hi = lo - 1e-9, hi + 1e-9
        if hi - lo >= 360.0:
            return True
        a, b = norm(lo), norm(hi)
        if (a <= b and a <= p <= b) or (a > b and (p >= a or p <= b)):
            return True
    return False


def expected_outcome(c):
    """(ring index, angle indices, frame slice) or None when the request must fail."""
    n_q = 1 if c["layout"] == "npy" else c["n_q"]
    rings = 0.003 * (np.arange(n_q) + 1)  # 33%+ apart: one ring within the 10% tolerance
    if c["q_pick"] is None:
        if n_q > 1:
            return None
        ring = 0
    else:
        ring = int(np.argmin(np.abs(rings - c["q_pick"])))
        if abs(rings[ring] - c["q_pick"]) > 0.1 * c["q_pick"]:
            return None
    if c["layout"] == "npy" and c["q_pick"] is None:
        ring = 0
    idx = [k for k, p in enumerate(c["phi"]) if inside(norm(p), c["ranges"])]
    if not idx:
        return None
    stop = c["n"] if c["end"] == -1 else min(c["end"], c["n"])
    if c["end"] != -1 and c["end"] < c["start"]:
        return None
    if c["end"] > c["n"]:  # past the data: an error (no silent clipping)
        return None
    if stop - c["start"] + 1 < 2:
        return None
    return ring, idx, slice(c["start"] - 1, stop)


def stored(m: np.ndarray, storage: str) -> np.ndarray:
    return {"upper": np.triu(m), "lower": np.tril(m), "full": m}[storage].astype(np.float32)


def write(c, path: Path):
    rng = np.random.default_rng(c["seed"])
    n_q = 1 if c["layout"] == "npy" else c["n_q"]
    n_phi, n = len(c["phi"]), c["n"]
    mats = rng.uniform(0.5, 1.5, (n_q, n_phi, n, n)).astype(np.float32).astype(np.float64)
    mats = np.triu(mats) + np.swapaxes(np.triu(mats, 1), -1, -2)  # symmetric, float32-exact
    q = 0.003 * (np.arange(n_q) + 1)
    if c["layout"] == "npy":
        np.save(path, np.stack([stored(m, c["storage"]) for m in mats[0]]))
        return mats
    with h5py.File(path, "w") as f:
        if c["layout"] == "aps_u":
            f["xpcs/qmap/dynamic_v_list_dim0"] = q
            f["xpcs/qmap/dynamic_v_list_dim1"] = np.array(c["phi"], dtype=np.float64)
            f["xpcs/twotime/processed_bins"] = np.arange(1, n_q * n_phi + 1)
            f["entry/instrument/detector_1/frame_time"] = 0.01
            grp = f.create_group("xpcs/twotime/correlation_map")
        else:
            f["xpcs/dqlist"] = np.repeat(q, n_phi).reshape(1, -1)
            f["xpcs/dphilist"] = np.tile(np.array(c["phi"], dtype=np.float64), n_q).reshape(1, -1)
            f["measurement/instrument/detector/exposure_period"] = 0.01
            grp = f.create_group("exchange/C2T_all")
        for r in range(n_q):
            for a in range(n_phi):
                grp[f"c2_{r * n_phi + a + 1:05d}"] = stored(mats[r, a], c["storage"])
    return mats


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case)
def test_reader_never_returns_a_wrong_shape_nor_an_untyped_error(c):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("c2.npy" if c["layout"] == "npy" else "c2.h5")
        mats = write(c, path)
        kwargs = dict(q=c["q_pick"], phi_ranges=c["ranges"], start_frame=c["start"])
        kwargs["end_frame"] = c["end"]
        if c["layout"] == "npy":
            kwargs.update(array_q=0.003, array_phi=c["phi"], dt=0.01)
        want = expected_outcome(c)
        try:
            data = hd.load(path, **kwargs)
        except hd.DataError as exc:
            assert want is None, f"unexpected {type(exc).__name__}: {exc}"
            event(f"{c['layout']}: {type(exc).__name__}")
            assert str(path) in str(exc)
            return
        assert want is not None, "expected a DataError"
        event(f"{c['layout']}: data read")
        ring, idx, window = want
        n_t = window.stop - window.start
        assert data.c2.shape == (len(idx), n_t, n_t)
        assert data.phi.shape == (len(idx),) and data.frames.shape == (n_t,)
        np.testing.assert_array_equal(data.frames, np.arange(window.start + 1, window.stop + 1))
        np.testing.assert_allclose(data.phi, [norm(c["phi"][k]) for k in idx], atol=1e-9)
        expected = mats[ring][idx][:, window, window]
        np.testing.assert_array_equal(data.c2, expected)
        assert data.flat().shape == (len(idx), n_t * (n_t - 1) // 2)
