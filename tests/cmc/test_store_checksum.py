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


def test_execution_resamples_a_corrupted_shard_and_stores_the_new_result(tmp_path, caplog):
    """The driver (stages.execute) does not load a corrupted shard file: it logs the checksum
    mismatch, sends that shard (and only it) to the backend and replaces the file."""
    from types import SimpleNamespace

    from homodyne_cmc import CMCConfig
    from homodyne_cmc.sharding import Shard
    from homodyne_cmc.stages import execute
    from homodyne_cmc.store import ShardStore

    rng = np.random.default_rng(1)
    shards = [
        Shard(k, rng.normal(size=8), np.ones(8), np.arange(8), np.arange(8)) for k in range(3)
    ]
    plan = SimpleNamespace(
        shards=shards,
        common=None,
        run_key="run",
        settings=SimpleNamespace(space=SimpleNamespace(dim=3)),
    )
    cfg = CMCConfig(num_chains=2, cache_dir=str(tmp_path), seed=7)

    class Backend:
        name = "fake"
        sampled: list[int] = []

        def run(self, tasks, on_result, on_error):
            for task in tasks:
                self.sampled.append(task.shard.index)
                on_result(_result_for(task))

    def _result_for(task):
        base = _result(task.key)
        return type(base)(**{**base.__dict__, "index": task.shard.index, "seed": task.seed})

    first = execute(plan, cfg, lambda n: Backend())
    assert Backend.sampled == [0, 1, 2] and first.n_cached == 0
    store = ShardStore(tmp_path)
    key1 = first.results[1].key
    path = store.path(1, key1)
    _rewrite_member(path, "udraws.npy", lambda b: b[:-8] + bytes(8))  # zeros: wrong numbers
    Backend.sampled = []
    with caplog.at_level(logging.WARNING, logger="homodyne_cmc"):
        again = execute(plan, cfg, lambda n: Backend())
    assert f"shard cache file {path} is corrupted (checksum mismatch)" in caplog.text
    assert Backend.sampled == [1]  # recomputed; shards 0 and 2 come from the cache
    assert again.n_cached == 2 and again.results[1].source != "cache"
    assert again.results[0].source == "cache" and again.results[2].source == "cache"
    back = store.load(1, key1)  # the resampled result replaced the corrupted file
    assert back is not None and back.source == "cache"
    np.testing.assert_array_equal(back.udraws, again.results[1].udraws)
