"""On-disk store of finished shards, so that an interrupted run resumes where it stopped.

Each finished shard is written at once, atomically (temporary file in the same folder, then
``os.replace``), as ``shard-<index>-<key>.npz``. The key (sha256) covers the data, the shard's
points, the model, the priors, the whitening, the sampler settings and the seed, so a rerun
of the same command finds exactly the shards it would have sampled and nothing else.
"""

import os
from pathlib import Path

import numpy as np

from homodyne_physics import atomic_path

from .sampler import STAT_FIELDS, ShardResult

__all__ = ["ShardStore"]


class ShardStore:
    """Folder of finished shard results keyed by their resume key."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, index: int, key: str) -> Path:
        """File of a shard result."""
        return self.folder / f"shard-{index:04d}-{key[:24]}.npz"

    def save(self, result: ShardResult) -> Path:
        """Write a shard result atomically and return its path."""
        target = self.path(result.index, result.key)
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                draws=result.draws,
                udraws=result.udraws,
                warmup_divergences=result.warmup_divergences,
                chain_seconds=np.asarray(result.chain_seconds, np.float64),
                meta=np.array(
                    [result.index, result.seed, result.attempt, result.n_points], np.int64
                ),
                key=np.array(result.key),
                **{f"stat_{k}": v for k, v in result.stats.items()},
            )
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
        except (OSError, KeyError, ValueError):
            return None
