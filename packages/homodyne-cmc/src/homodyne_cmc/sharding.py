"""Random, angle-balanced shards of the (t1 < t2) points, and the choice of their number.

A shard is a random subset of the frame pairs (i < j) taken at **every** angle, so each shard
sees every angle in the same proportion and the costly per-pair work (one gather from each
integral table and one ``exp``) is shared by all angles of the pair. All shards have the same
shape (the last ones padded with masked points), so a worker compiles the sampler once.
Missing data (NaN) are masked, never dropped from the layout.
"""

import hashlib
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Shard", "choose_num_shards", "data_fingerprint", "make_shards"]


@dataclass(frozen=True, eq=False)
class Shard:
    """One shard's arrays (numpy, picklable).

    Attributes
    ----------
    index
        Shard id, 0-based.
    y
        Data at the shard's points, shape ``(n_phi, m)``; padded/missing entries are 0.
    w
        Residual multiplier: 1.0 for a real point (point sets: the square root of its
        likelihood weight) and 0.0 for padding or NaN, shape ``(n_phi, m)``.
    i, j
        Frame indices of the shard's pairs, shape ``(m,)``, int32.
    """

    index: int
    y: np.ndarray
    w: np.ndarray
    i: np.ndarray
    j: np.ndarray

    @property
    def n_points(self) -> int:
        """Number of real (unmasked) points."""
        return int((self.w > 0).sum())

    def fingerprint(self) -> str:
        """sha256 of the shard's arrays (part of the resume key)."""
        h = hashlib.sha256()
        for arr in (self.y, self.w, self.i, self.j):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


def data_fingerprint(*arrays, extra: str = "") -> str:
    """sha256 over arrays (bytes, shapes, dtypes) and a text, for resume keys."""
    h = hashlib.sha256()
    for arr in arrays:
        arr = np.ascontiguousarray(np.asarray(arr))
        h.update(str((arr.shape, arr.dtype.str)).encode())
        h.update(arr.tobytes())
    h.update(extra.encode())
    return h.hexdigest()


def choose_num_shards(
    n_points: int,
    n_params: int,
    workers: int,
    *,
    min_points_per_shard: int = 20_000,
    max_points_per_shard: int | None = None,
    requested: int | None = None,
) -> tuple[int, str]:
    """Number of shards and the reason, from the data size, parameter count and workers.

    Rules (measured, see the package README): the total sampling work is proportional to the
    number of points whatever the shard count, so there is no speed gain in more shards than
    workers, while small shards make every weakly identified parameter prior-dominated and
    the sub-posteriors non-Gaussian (the consensus combination is then biased). So:

    * the shard count is a multiple of ``workers`` (no idle worker in the last round),
    * as few rounds as allowed by ``max_points_per_shard`` (default ``2e5 * max(1, 10 /
      n_params)`` points, which bounds memory and time per task), and
    * never shards below ``max(min_points_per_shard, 2000 * n_params)`` points: then fewer
      shards (down to one, i.e. plain NUTS on all data).

    A ``requested`` count is honoured (capped so every shard keeps at least one point per
    angle pair).
    """
    if requested is not None:
        return max(1, int(requested)), "requested in the configuration"
    floor = max(int(min_points_per_shard), 2000 * int(n_params))
    cap = int(max_points_per_shard or 200_000 * max(1.0, 10.0 / max(n_params, 1)))
    cap = max(cap, floor)
    workers = max(1, int(workers))
    rounds = max(1, math.ceil(n_points / (workers * cap)))
    count = workers * rounds
    if n_points / count < floor:
        count = max(1, n_points // floor)
        return count, (
            f"{count} shard(s) of >= {floor} points: fewer than {workers} workers x "
            f"{floor} points available"
        )
    return count, (
        f"{workers} worker(s) x {rounds} round(s), {n_points // count} points per shard (<= {cap})"
    )


def make_shards(y, i, j, n_shards: int, seed: int, wt=None) -> list[Shard]:
    """Split the points into ``n_shards`` random, angle-balanced, equally shaped shards.

    Parameters
    ----------
    y
        Data at the fitted points, shape ``(n_phi, n_pairs)`` (NaN = missing).
    i, j
        Frame indices of the pairs, shape ``(n_pairs,)``.
    n_shards
        Number of shards (>= 1, <= n_pairs).
    seed
        Seed of the random permutation of the pairs.
    wt
        Likelihood weight of each point, ``(n_phi, n_pairs)`` (point sets), or ``None``.
    """
    y = np.asarray(y, np.float64)
    i = np.asarray(i, np.int32)
    j = np.asarray(j, np.int32)
    n_pairs = i.shape[0]
    n_shards = int(min(max(1, n_shards), n_pairs))
    perm = np.random.default_rng(np.random.SeedSequence([seed, 0xC3C])).permutation(n_pairs)
    m = -(-n_pairs // n_shards)
    shards = []
    for s, part in enumerate(np.array_split(perm, n_shards)):
        part = np.sort(part)
        pad = m - part.shape[0]
        ys = y[:, part]
        ws = np.isfinite(ys).astype(np.float64)
        if wt is not None:
            ws = ws * np.sqrt(np.asarray(wt, np.float64)[:, part])
        ys = np.where(ws > 0, ys, 0.0)
        ii, jj = i[part], j[part]
        if pad:
            ys = np.pad(ys, ((0, 0), (0, pad)))
            ws = np.pad(ws, ((0, 0), (0, pad)))
            ii = np.pad(ii, (0, pad), constant_values=i[0])
            jj = np.pad(jj, (0, pad), constant_values=j[0])
        for arr in (ys, ws, ii, jj):
            arr.setflags(write=False)
        shards.append(Shard(s, ys, ws, ii, jj))
    return shards
