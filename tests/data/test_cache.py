"""The selection cache: keyed by file identity and every selection parameter, never pickled."""

import logging
import os
import zipfile

import numpy as np
import pytest

import homodyne_data as hd


def cache_files(d):
    return sorted(p for p in os.listdir(d) if p.endswith(".homodyne-cache.npz"))


def same(a: hd.XPCSData, b: hd.XPCSData) -> None:
    np.testing.assert_array_equal(a.c2, b.c2)
    np.testing.assert_array_equal(a.phi, b.phi)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert (a.q, a.dt) == (b.q, b.dt)
    assert dict(a.metadata) == dict(b.metadata)
    assert dict(a.provenance.selection) == dict(b.provenance.selection)
    assert a.provenance.q_available == b.provenance.q_available


def test_hit_returns_identical_data(small_aps_u, tmp_path, caplog):
    path, _ = small_aps_u
    cdir = tmp_path / "cache"
    fresh = hd.load(path, q=0.004, start_frame=2, cache_dir=cdir)
    assert len(cache_files(cdir)) == 1
    with caplog.at_level(logging.INFO, logger="homodyne_data.cache"):
        again = hd.load(path, q=0.004, start_frame=2, cache_dir=cdir)
    assert any("using cache" in r.message for r in caplog.records)
    same(fresh, again)
    assert again.provenance.notes[-1].startswith("read from cache")
    # stored without pickles: loads with allow_pickle=False and holds only plain arrays
    (name,) = cache_files(cdir)
    with np.load(cdir / name, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_every_selection_parameter_is_part_of_the_key(small_aps_u, tmp_path):
    path, _ = small_aps_u
    cdir = tmp_path / "cache"
    variants = [
        {"q": 0.004},
        {"q": 0.006},
        {"q": 0.004, "phi_ranges": [(-70, 10)]},
        {"q": 0.004, "start_frame": 2},
        {"q": 0.004, "end_frame": 5},
        {"q": 0.004, "dt": 0.5},
        {"q": 0.004, "q_tolerance": 0.2},
        {"q": 0.004, "nan_threshold": 0.5},
    ]
    results = [hd.load(path, cache_dir=cdir, **v) for v in variants]
    assert len(cache_files(cdir)) == len(variants)
    for v, r in zip(variants, results, strict=True):
        same(r, hd.load(path, cache_dir=cdir, **v))  # each hit is its own selection
        same(r, hd.load(path, **v))  # and equals an uncached read


def test_changed_or_other_file_is_never_served_from_cache(tmp_path, hand):
    cdir = tmp_path / "cache"
    a = {1: hand.sym_matrix(6, 1)}
    b = {1: hand.sym_matrix(6, 2)}
    p1 = hand.aps_u(tmp_path / "one.h5", a, [0.005], [0.0])
    p2 = hand.aps_u(tmp_path / "two.h5", b, [0.005], [0.0])
    d1 = hd.load(p1, cache_dir=cdir)
    d2 = hd.load(p2, cache_dir=cdir)  # same selection, another file
    np.testing.assert_array_equal(d2.c2[0], b[1])
    # rewrite the first file with other content (size/mtime change): the cache is not used
    hand.aps_u(tmp_path / "one.h5", b, [0.005], [0.0])
    st = os.stat(p1)
    os.utime(p1, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    d1b = hd.load(p1, cache_dir=cdir)
    np.testing.assert_array_equal(d1b.c2[0], b[1])
    assert not np.array_equal(d1.c2, d1b.c2)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_key", "pickle"])
def test_corrupt_or_mismatched_cache_is_ignored_and_rebuilt(small_aps_u, tmp_path, caplog, damage):
    path, _ = small_aps_u
    cdir = tmp_path / "cache"
    fresh = hd.load(path, q=0.004, cache_dir=cdir)
    (name,) = cache_files(cdir)
    target = cdir / name
    if damage == "garbage":
        target.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:200])
    elif damage == "wrong_key":
        with np.load(target, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["key"] = np.str_("0" * 64)
        arrays["c2"] = arrays["c2"] * 2.0
        with open(target, "wb") as fh:
            np.savez(fh, **arrays)
    else:  # an object array: loading it would need unpickling, which we refuse
        with np.load(target, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["c2"] = np.array([{"evil": 1}], dtype=object)
        with open(target, "wb") as fh:
            np.savez(fh, **arrays)  # numpy pickles the object array
        with zipfile.ZipFile(target) as zf:
            assert "c2.npy" in zf.namelist()
    with caplog.at_level(logging.WARNING, logger="homodyne_data.cache"):
        again = hd.load(path, q=0.004, cache_dir=cdir)
    assert any("ignoring cache" in r.message for r in caplog.records)
    same(fresh, again)
    assert not again.provenance.notes[-1].startswith("read from cache")
    # rebuilt: the next read is a clean hit
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="homodyne_data.cache"):
        third = hd.load(path, q=0.004, cache_dir=cdir)
    assert not caplog.records
    same(fresh, third)


def test_unwritable_cache_dir_only_logs(small_aps_u, tmp_path, caplog):
    path, _ = small_aps_u
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    with caplog.at_level(logging.WARNING, logger="homodyne_data.cache"):
        data = hd.load(path, q=0.004, cache_dir=blocker / "sub")
    assert data.n_phi == 3
    assert any("could not write cache" in r.message for r in caplog.records)
