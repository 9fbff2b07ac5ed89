"""The finite angular bin of a correlator: width checks and the Gauss-Legendre nodes of the
bin average (numpy only; the average itself is :func:`homodyne_physics.kernel.shear_shape`)."""

import numpy as np

from .errors import ModeError


def check_bin_width(width, what: str):
    """None (point evaluation), a width in [0, 180) degrees, or a tuple of them (one per
    angle); 0 or all-zero -> None. ``what`` names the setting in the error."""
    if width is None:
        return None
    try:
        arr = np.asarray(width, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.asarray([np.nan])
    if arr.ndim > 1 or arr.size == 0 or not np.all(np.isfinite(arr) & (arr >= 0) & (arr < 180)):
        raise ModeError(
            f"{what} must be None, a width in [0, 180) degrees or one per angle, got {width!r}"
        )
    if not np.any(arr > 0):
        return None
    return float(arr) if arr.ndim == 0 else tuple(float(v) for v in arr)


def bin_nodes(width, nodes: int, ndim: int):
    """``(cos d, sin d, weights)`` of ``nodes`` Gauss-Legendre offsets ``d`` (radians) across a
    bin of ``width`` degrees, weights summing to 1. Scalar width: shapes ``(nodes,)``; per-angle
    widths: ``cos``/``sin`` shaped ``(n_phi, 1, ..., 1, nodes)`` (``ndim - 1`` ones) to broadcast
    against per-point arrays of ``ndim`` dimensions with a trailing node axis."""
    u, wts = np.polynomial.legendre.leggauss(int(nodes))
    half = np.deg2rad(np.asarray(width, np.float64)) / 2.0
    if half.ndim:
        half = half.reshape((-1,) + (1,) * (ndim - 1) + (1,))
    d = half * u
    return np.cos(d), np.sin(d), 0.5 * wts
