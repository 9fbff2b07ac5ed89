"""A corrupted shard file in the shard cache is detected by its checksum and not loaded (the
driver then samples the shard again); issue 15, fault-injection acceptance."""

import logging
import zipfile

import numpy as np
import pytest


def _result(key="k" * 64):
    from homodyne_cmc.sampler import STAT_FIELDS, ShardResult

    rng = np.random.default_rng(0)
    stats = {k: rng.normal(size=(2, 5)) for k in STAT_FIELDS}
    return ShardResult(
        3,
        key,
        11,
        0,
        rng.normal(size=(2, 5, 3)),
        rng.normal(size=(2, 5, 3)),
        stats,
        np.zeros(2, np.int64),
        (0.5, 0.4),
        120,
    )


def _rewrite_member(path, member, transform):
    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    items[member] = transform(items[member])
    with zipfile.ZipFile(path, "w") as z:  # valid zip, consistent CRCs, wrong numbers
        for n, b in items.items():
            z.writestr(n, b)


def test_round_trip_and_corrupted_file_is_not_loaded(tmp_path, caplog):
    from homodyne_cmc.store import ShardStore

    store = ShardStore(tmp_path)
    res = _result()
    path = store.save(res)
    back = store.load(res.index, res.key)
    assert back is not None and back.source == "cache"
    np.testing.assert_array_equal(back.draws, res.draws)

    def flip(blob: bytes) -> bytes:  # one byte of the draws' data (after the .npy header)
        b = bytearray(blob)
        b[-9] ^= 0x40
        return bytes(b)

    _rewrite_member(path, "draws.npy", flip)
    with caplog.at_level(logging.WARNING, logger="homodyne_cmc"):
        assert store.load(res.index, res.key) is None
    assert "corrupted (checksum mismatch)" in caplog.text


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_truncated_or_garbage_file_is_not_loaded(tmp_path, damage):
    from homodyne_cmc.store import ShardStore

    store = ShardStore(tmp_path)
    res = _result()
    path = store.save(res)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2] if damage == "truncate" else b"\0" * len(blob))
    assert store.load(res.index, res.key) is None
    store.save(res)  # resampled result replaces it
    assert store.load(res.index, res.key) is not None
