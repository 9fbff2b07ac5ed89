"""What CMC does differently for point-set data ((age, lag) grids, multi-tau two-time).

Each point carries a likelihood weight (a 1/variance multiplier); the shards carry its square
root as the residual multiplier of :func:`homodyne_physics.gaussian_loglik`, so ``sigma`` is
the noise of a unit-weight point, as in the NLSQ fit.
"""

import numpy as np

from homodyne_data import XPCSData

__all__ = ["point_set_noise_level"]


def point_set_noise_level(data: XPCSData) -> float:
    """Model-free noise sd of a unit-weight point of point-set data.

    Points are ordered by (weight, lag, t1); neighbours with the same weight and lag differ
    only in age, where the model is smooth, so ``sqrt(w) (y_{k+1} - y_k)`` has variance
    ``2 sigma^2``; the median absolute deviation (x 1.4826) keeps the estimate robust.
    """
    ps = data.points
    assert ps is not None
    w0 = ps.weights[0]
    order = np.lexsort((ps.t1, np.round(ps.lag, 12), w0))
    lag = ps.lag[order]
    y = ps.values[:, order]
    w = ps.weights[:, order]
    same = (np.abs(lag[1:] - lag[:-1]) <= 1e-9 * np.abs(lag[1:])) & (w[:, 1:] == w[:, :-1])
    diff = (y[:, 1:] - y[:, :-1]) * np.sqrt(w[:, 1:])
    diff = diff[same & np.isfinite(diff) & (w[:, 1:] > 0)]
    if diff.size < 10:
        return float("nan")
    mad = np.median(np.abs(diff - np.median(diff)))
    return float(1.4826 * mad / np.sqrt(2.0))
