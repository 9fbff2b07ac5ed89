"""Atomic writes: readable like a plain open() (umask), all-or-nothing, no temp file left."""

import os
import stat

import numpy as np
import pytest

from homodyne_physics import atomic_path, atomic_write_bytes


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_new_files_get_the_mode_a_plain_open_would_give(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "a.json", b"{}")
        with open(tmp_path / "plain.json", "w") as fh:
            fh.write("{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.json") == _mode(tmp_path / "plain.json") == 0o666 & ~umask


def test_replacing_a_file_keeps_its_mode_and_content_is_complete(tmp_path):
    target = tmp_path / "r.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"new content" and _mode(target) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "keep.npz"
    np.savez(target, x=np.arange(3))
    before = target.read_bytes()
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("disk full")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.npz"]


def test_temporary_keeps_the_suffix_so_numpy_writes_where_told(tmp_path):
    target = tmp_path / "sub" / "draws.npz"  # missing folder is created
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith(".npz")
        np.savez(tmp, x=np.ones(4))  # would append .npz to any other name
    np.testing.assert_array_equal(np.load(target)["x"], np.ones(4))
    assert sorted(p.name for p in target.parent.iterdir()) == ["draws.npz"]
