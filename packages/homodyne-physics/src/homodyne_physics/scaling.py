"""Per-angle scaling: an explicit linear map from a small vector to per-angle (contrast, offset).

Every mode is the same shape of map::

    contrast = fixed_contrast + A_c @ s[:k_c]
    offset   = fixed_offset   + A_o @ s[k_c:]

* ``individual``: A = identity (one free contrast and offset per angle);
* ``auto``: with n_phi >= 3 one shared pair (A = a column of ones), else ``individual``;
* ``constant``: no free entries, per-angle values fixed (from :func:`quantile_estimate`);
* ``fourier``: columns 1, cos(k phi), sin(k phi) for k = 1..K (needs n_phi >= 2K + 1).

Because c2 is linear in (contrast, offset), fitters can use the design matrices directly
(normal-equation blocks) instead of differentiating through the kernel.
"""

from dataclasses import dataclass

import numpy as np

from .errors import ModeError
from .parameters import PARAMETERS

__all__ = ["SCALING_MODES", "ScalingMap", "make_scaling", "quantile_estimate"]

SCALING_MODES = ("individual", "auto", "constant", "fourier")


@dataclass(frozen=True, eq=False)
class ScalingMap:
    """Linear map from the scaling vector ``s`` to per-angle contrast and offset.

    Attributes
    ----------
    mode
        Resolved mode (``auto`` with fewer than 3 angles resolves to ``individual``).
    requested_mode
        The mode that was asked for.
    phi
        Angles in degrees, shape ``(n_phi,)``.
    design_contrast, design_offset
        Design matrices ``(n_phi, k_c)`` and ``(n_phi, k_o)``.
    fixed_contrast, fixed_offset
        Constant parts, shape ``(n_phi,)``.
    names
        Names of the entries of ``s`` (e.g. ``contrast[0]``, ``contrast``, ``contrast_cos1``).
    """

    mode: str
    requested_mode: str
    phi: np.ndarray
    design_contrast: np.ndarray
    design_offset: np.ndarray
    fixed_contrast: np.ndarray
    fixed_offset: np.ndarray
    names: tuple[str, ...]

    @property
    def n_phi(self) -> int:
        """Number of angles."""
        return int(self.phi.shape[0])

    @property
    def n_contrast(self) -> int:
        """Free entries of ``s`` that act on the contrast."""
        return int(self.design_contrast.shape[1])

    @property
    def n_params(self) -> int:
        """Length of ``s``."""
        return self.n_contrast + int(self.design_offset.shape[1])

    def apply(self, s, xp=np):
        """Per-angle ``(contrast, offset)`` for scaling vector ``s`` (numpy or jax.numpy via xp)."""
        s = xp.asarray(s)
        kc = self.n_contrast
        contrast = xp.asarray(self.fixed_contrast) + xp.asarray(self.design_contrast) @ s[:kc]
        offset = xp.asarray(self.fixed_offset) + xp.asarray(self.design_offset) @ s[kc:]
        return contrast, offset

    def fit_vector(self, contrast, offset) -> np.ndarray:
        """Least-squares scaling vector reproducing per-angle values (exact when representable)."""
        contrast = np.broadcast_to(np.asarray(contrast, np.float64), (self.n_phi,))
        offset = np.broadcast_to(np.asarray(offset, np.float64), (self.n_phi,))
        parts = []
        for design, fixed, target in (
            (self.design_contrast, self.fixed_contrast, contrast),
            (self.design_offset, self.fixed_offset, offset),
        ):
            if design.shape[1]:
                sol, *_ = np.linalg.lstsq(design, target - fixed, rcond=None)
                parts.append(sol)
        return np.concatenate(parts) if parts else np.zeros(0)


def _fourier_design(phi_deg: np.ndarray, order: int) -> np.ndarray:
    rad = np.deg2rad(phi_deg)
    cols = [np.ones_like(rad)]
    for k in range(1, order + 1):
        cols += [np.cos(k * rad), np.sin(k * rad)]
    return np.stack(cols, axis=1)


def make_scaling(
    mode: str,
    phi,
    *,
    fourier_order: int = 2,
    fixed_contrast=None,
    fixed_offset=None,
) -> ScalingMap:
    """Build the :class:`ScalingMap` of a scaling mode for the given angles (degrees).

    ``constant`` needs ``fixed_contrast``/``fixed_offset`` (per angle or scalar), typically
    from :func:`quantile_estimate`.
    """
    phi = np.atleast_1d(np.asarray(phi, dtype=np.float64))
    n = phi.shape[0]
    if n == 0:
        raise ModeError("per-angle scaling needs at least one angle")
    if mode not in SCALING_MODES:
        raise ModeError(
            f"unknown scaling mode {mode!r}; expected one of {', '.join(SCALING_MODES)}"
        )
    resolved = mode
    if mode == "auto":
        resolved = "auto" if n >= 3 else "individual"
    zeros = np.zeros(n)
    if resolved == "individual":
        eye = np.eye(n)
        names = tuple(f"contrast[{a}]" for a in range(n)) + tuple(f"offset[{a}]" for a in range(n))
        return ScalingMap(resolved, mode, phi, eye, eye.copy(), zeros, zeros.copy(), names)
    if resolved == "auto":
        ones = np.ones((n, 1))
        return ScalingMap(
            resolved, mode, phi, ones, ones.copy(), zeros, zeros.copy(), ("contrast", "offset")
        )
    if resolved == "constant":
        if fixed_contrast is None or fixed_offset is None:
            raise ModeError("scaling mode 'constant' needs fixed per-angle contrast and offset")
        fc = np.broadcast_to(np.asarray(fixed_contrast, np.float64), (n,)).copy()
        fo = np.broadcast_to(np.asarray(fixed_offset, np.float64), (n,)).copy()
        empty = np.zeros((n, 0))
        return ScalingMap(resolved, mode, phi, empty, empty.copy(), fc, fo, ())
    # fourier
    if fourier_order < 1:
        raise ModeError(f"fourier_order must be >= 1, got {fourier_order}")
    if n < 2 * fourier_order + 1:
        raise ModeError(
            f"scaling mode 'fourier' of order {fourier_order} needs at least "
            f"{2 * fourier_order + 1} angles, got {n}"
        )
    design = _fourier_design(phi, fourier_order)
    terms = ["c0"] + [f"{f}{k}" for k in range(1, fourier_order + 1) for f in ("cos", "sin")]
    names = tuple(f"contrast_{x}" for x in terms) + tuple(f"offset_{x}" for x in terms)
    return ScalingMap(resolved, mode, phi, design, design.copy(), zeros, zeros.copy(), names)


def quantile_estimate(c2, lag, *, min_points: int = 100, min_region: int = 10):
    """Per-angle (contrast, offset) starting values from quantiles of the data.

    Per angle: offset = 10th percentile of c2 over points with lag >= the 80th percentile of
    lags; contrast = 90th percentile of c2 over lags <= the 20th percentile, minus the offset;
    both clipped to the registry bounds. Angles with fewer than ``min_points`` finite points
    (or regions smaller than ``min_region``) get the bound mid-points.

    Parameters
    ----------
    c2
        Data at the fitted points, shape ``(n_phi, n_points)`` (NaN allowed).
    lag
        Lag |t2 - t1| of each point, shape ``(n_points,)`` or ``(n_phi, n_points)``.

    Returns
    -------
    (contrast, offset)
        numpy arrays of shape ``(n_phi,)``.
    """
    c2 = np.atleast_2d(np.asarray(c2, dtype=np.float64))
    lag = np.broadcast_to(np.asarray(lag, dtype=np.float64), c2.shape)
    c_lo, c_hi = PARAMETERS["contrast"].bounds
    o_lo, o_hi = PARAMETERS["offset"].bounds
    contrast = np.full(c2.shape[0], 0.5 * (c_lo + c_hi))
    offset = np.full(c2.shape[0], 0.5 * (o_lo + o_hi))
    for a in range(c2.shape[0]):
        ok = np.isfinite(c2[a])
        if ok.sum() < min_points:
            continue
        vals, lags = c2[a][ok], lag[a][ok]
        far = lags >= np.percentile(lags, 80)
        near = lags <= np.percentile(lags, 20)
        if far.sum() < min_region or near.sum() < min_region:
            continue
        off = float(np.clip(np.percentile(vals[far], 10), o_lo, o_hi))
        top = float(np.percentile(vals[near], 90))
        offset[a] = off
        contrast[a] = float(np.clip(top - off, c_lo, c_hi))
    return contrast, offset
