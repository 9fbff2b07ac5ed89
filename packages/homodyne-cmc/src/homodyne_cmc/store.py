"""On-disk store of finished shards, so that an interrupted run resumes where it stopped.

Each finished shard is written at once, atomically (temporary file in the same folder, then
``os.replace``), as ``shard-<index>-<key>.npz``, with a SHA-256 of its arrays: a file whose
contents do not match (a corrupted or truncated file) is not loaded but sampled again. The
key (sha256) covers the data, the shard's points, the model, the priors, the whitening, the
sampler settings and the seed, so a rerun of the same command finds exactly the shards it
would have sampled and nothing else.
"""

import hashlib
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from homodyne_physics import atomic_path

from .sampler import STAT_FIELDS, ShardResult

__all__ = ["ShardStore"]

log = logging.getLogger("homodyne_cmc")


class ShardStore:
    """Folder of finished shard results keyed by their resume key."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, index: int, key: str) -> Path:
        """File of a shard result."""
        return self.folder / f"shard-{index:04d}-{key[:24]}.npz"

    def save(self, result: ShardResult) -> Path:
        """Write a shard result atomically, with a SHA-256 of its contents, and return its
        path."""
        target = self.path(result.index, result.key)
        arrays = {
            "draws": np.asarray(result.draws),
            "udraws": np.asarray(result.udraws),
            "warmup_divergences": np.asarray(result.warmup_divergences),
            "chain_seconds": np.asarray(result.chain_seconds, np.float64),
            "meta": np.array(
                [result.index, result.seed, result.attempt, result.n_points], np.int64
            ),
            "key": np.array(result.key),
            **{f"stat_{k}": np.asarray(v) for k, v in result.stats.items()},
        }
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, checksum=np.array(_checksum(arrays)), **arrays)
        return target

    def load(self, index: int, key: str) -> ShardResult | None:
        """The stored result of a shard, or None when absent or unreadable."""
        target = self.path(index, key)
        if not target.is_file():
            return None
        try:
            with np.load(target) as f:
                if str(f["key"]) != key:
                    return None
                arrays = {name: f[name] for name in f.files if name != "checksum"}
                if "checksum" not in f.files or str(f["checksum"]) != _checksum(arrays):
                    log.warning(
                        "shard cache file %s is corrupted (checksum mismatch): "
                        "the shard is sampled again",
                        target,
                    )
                    return None
                meta = f["meta"]
                stats = {k: f[f"stat_{k}"] for k in STAT_FIELDS}
                return ShardResult(
                    int(meta[0]),
                    key,
                    int(meta[1]),
                    int(meta[2]),
                    f["draws"],
                    f["udraws"],
                    stats,
                    f["warmup_divergences"],
                    tuple(float(v) for v in f["chain_seconds"]),
                    int(meta[3]),
                    source="cache",
                )
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            log.warning(
                "shard cache file %s is unreadable (%s): the shard is sampled again", target, exc
            )
            return None


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``arrays`` (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
