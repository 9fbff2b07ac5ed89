"""What CMC does differently for point-set data ((age, lag) grids, multi-tau two-time).

Each point carries a likelihood weight (a 1/variance multiplier); the shards carry its square
root as the residual multiplier of :func:`homodyne_physics.gaussian_loglik`, so ``sigma`` is
the noise of a unit-weight point, as in the NLSQ fit.
"""

import numpy as np

from homodyne_data import XPCSData

__all__ = ["point_set_noise_level"]


def point_set_noise_level(data: XPCSData) -> float:
    """Model-free noise sd of a unit-weight point of point-set data: the median over the
    angles of :meth:`homodyne_data.PointSet.noise_level`."""
    ps = data.points
    assert ps is not None
    per_angle = np.array([ps.noise_level(k) for k in range(data.n_phi)])
    per_angle = per_angle[np.isfinite(per_angle)]
    return float(np.median(per_angle)) if per_angle.size else float("nan")
