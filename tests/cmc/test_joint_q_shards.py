"""Shards of a joint dataset (issue 16): every shard holds every (ring, angle) row, so no shard
sees one ring only (shards split frame pairs, and each pair carries all rows)."""

import numpy as np

from homodyne_cmc.sharding import make_shards


def test_every_shard_sees_every_ring_and_angle_in_equal_share():
    n_rows, n_t = 6, 60  # 2 rings x 3 angles, stacked as join_rings stacks them
    i, j = np.triu_indices(n_t, 1)
    y = np.random.default_rng(0).normal(1.0, 0.01, (n_rows, i.size))
    y[4, ::7] = np.nan  # missing points of one (ring, angle) row stay out of the weights
    shards = make_shards(y, i, j, 4, seed=1)
    per_row = np.array([np.asarray(s.w).sum(axis=1) for s in shards])  # (n_shards, n_rows)
    assert per_row.shape == (4, n_rows)
    assert np.all(per_row > 0.8 * i.size / 4)  # every row in every shard, about a quarter each
    assert np.array_equal(per_row.sum(axis=0), np.isfinite(y).sum(axis=1))
    # the lags are spread alike: each shard's mean lag within 5 % of the data's
    lags = [np.average(s.j - s.i, weights=np.asarray(s.w)[0]) for s in shards]
    assert np.allclose(lags, np.mean(j - i), rtol=0.05), lags
