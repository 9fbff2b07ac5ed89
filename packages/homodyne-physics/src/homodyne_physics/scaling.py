"""Per-angle scaling: an explicit linear map from a small vector to per-angle (contrast, offset).

Every mode is the same shape of map::

    contrast = fixed_contrast + A_c @ s[:k_c]
    offset   = fixed_offset   + A_o @ s[k_c:]

* ``individual``: A = identity (one free contrast and offset per angle);
* ``auto``: with n_phi >= 3 one shared pair (A = a column of ones), else ``individual``;
* ``constant``: no free entries, per-angle values fixed (from :func:`quantile_estimate`);
* ``fourier``: columns 1, cos(k phi), sin(k phi) for k = 1..K (needs n_phi >= 2K + 1).

**Several q rings** (a joint fit; ``ring``: the ring index of each angle): ``auto`` and
``fourier`` act per ring (block-diagonal designs, names suffixed ``@r<ring>``), ``individual``
and ``constant`` are per angle already.

**Age dependence** (``contrast_age_order``, ``offset_age_order``; 0 = constant in age): the
contrast (offset) of an angle at a point of age ``a = (t1 + t2)/2`` is
``sum_k C[phi, k] P_k(u)``, with ``P_k`` the Legendre polynomials and ``u`` the age mapped
from the data's age range onto [-1, 1] (for conditioning). Every order ``k`` carries its own
copy of the mode's design: the coefficients of order ``k`` are ``design @ s_k``, so the whole
scaling stays linear in ``s`` (order-major blocks: contrast orders 0..K_c, then offset orders
0..K_o). Order 0 is the age-averaged value that :meth:`ScalingMap.apply` returns.

Because c2 is linear in (contrast, offset), fitters can use the design matrices directly
(normal-equation blocks) instead of differentiating through the kernel.
"""

from dataclasses import dataclass, replace

import numpy as np

from .errors import ModeError
from .parameters import PARAMETERS

__all__ = ["SCALING_MODES", "ScalingMap", "legendre_basis", "make_scaling", "quantile_estimate"]

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
        Names of the entries of ``s`` (e.g. ``contrast[0]``, ``contrast``, ``contrast_cos1``;
        age coefficients ``contrast_age1[0]``, ``offset_age2``).
    contrast_age_order, offset_age_order
        Legendre order of the age dependence (0: constant in age).
    age_range
        ``(age_min, age_max)`` in s, mapped onto u in [-1, 1].
    ring
        Ring index of each angle (joint fits over several q rings), ``None`` for one ring.
    """

    mode: str
    requested_mode: str
    phi: np.ndarray
    design_contrast: np.ndarray
    design_offset: np.ndarray
    fixed_contrast: np.ndarray
    fixed_offset: np.ndarray
    names: tuple[str, ...]
    contrast_age_order: int = 0
    offset_age_order: int = 0
    age_range: tuple[float, float] = (0.0, 1.0)
    ring: np.ndarray | None = None

    @property
    def n_phi(self) -> int:
        """Number of angles."""
        return int(self.phi.shape[0])

    @property
    def ages(self) -> bool:
        """True when the contrast or the offset depends on age."""
        return bool(self.contrast_age_order or self.offset_age_order)

    @property
    def n_contrast(self) -> int:
        """Free entries of ``s`` that act on the contrast (all age orders)."""
        return int(self.design_contrast.shape[1]) * (self.contrast_age_order + 1)

    @property
    def n_params(self) -> int:
        """Length of ``s``."""
        return self.n_contrast + int(self.design_offset.shape[1]) * (self.offset_age_order + 1)

    def coefficients(self, s, xp=np):
        """Per-angle Legendre coefficients ``(C (n_phi, K_c + 1), O (n_phi, K_o + 1))``."""
        s = xp.asarray(s)
        out = []
        start = 0
        for design, fixed, order in (
            (self.design_contrast, self.fixed_contrast, self.contrast_age_order),
            (self.design_offset, self.fixed_offset, self.offset_age_order),
        ):
            k = design.shape[1]
            d = xp.asarray(design)
            cols = [xp.asarray(fixed) + d @ s[start : start + k]]
            cols += [d @ s[start + k * m : start + k * (m + 1)] for m in range(1, order + 1)]
            start += k * (order + 1)
            out.append(xp.stack(cols, axis=1))
        return out[0], out[1]

    def apply(self, s, xp=np):
        """Per-angle ``(contrast, offset)`` for scaling vector ``s`` (numpy or jax.numpy via xp);
        with an age dependence, the order-0 (age-averaged) values."""
        s = xp.asarray(s)
        if not self.ages:
            kc = self.n_contrast
            contrast = xp.asarray(self.fixed_contrast) + xp.asarray(self.design_contrast) @ s[:kc]
            offset = xp.asarray(self.fixed_offset) + xp.asarray(self.design_offset) @ s[kc:]
            return contrast, offset
        c, o = self.coefficients(s, xp)
        return c[:, 0], o[:, 0]

    def age_u(self, age, xp=np):
        """Ages (s) mapped onto u in [-1, 1] over :attr:`age_range`."""
        lo, hi = self.age_range
        span = hi - lo if hi > lo else 1.0
        return (xp.asarray(age) - lo) * (2.0 / span) - 1.0

    def at_age(self, s, age, xp=np):
        """Contrast and offset per angle at the given ages (s): two ``(n_phi, n_points)``
        arrays (works for any set of points, not only frame pairs)."""
        c, o = self.coefficients(s, xp)
        u = self.age_u(age, xp)
        order = max(self.contrast_age_order, self.offset_age_order)
        basis = legendre_basis(u, order, xp)  # (order + 1, n_points)
        return c @ basis[: c.shape[1]], o @ basis[: o.shape[1]]

    def coefficient_design(self) -> np.ndarray:
        """``T``, shape ``(n_phi, S, K_c + 1 + K_o + 1)``: maps the gradient with respect to
        the per-angle coefficients (contrast orders, then offset orders) to ``s``."""
        kc0, ko0 = self.design_contrast.shape[1], self.design_offset.shape[1]
        nc, no = self.contrast_age_order + 1, self.offset_age_order + 1
        t = np.zeros((self.n_phi, self.n_params, nc + no))
        for m in range(nc):
            t[:, m * kc0 : (m + 1) * kc0, m] = self.design_contrast
        base = self.n_contrast
        for m in range(no):
            t[:, base + m * ko0 : base + (m + 1) * ko0, nc + m] = self.design_offset
        return t

    def fit_vector(self, contrast, offset) -> np.ndarray:
        """Least-squares scaling vector reproducing per-angle values (exact when representable).

        ``contrast``/``offset``: per angle ``(n_phi,)`` (or a scalar), then the age coefficients
        of order >= 1 start at 0; or per-angle Legendre coefficients ``(n_phi, K + 1)`` (as
        :meth:`coefficients` returns), orders beyond this map's dropped, missing ones 0.
        """
        parts = []
        for design, fixed, target, order in (
            (self.design_contrast, self.fixed_contrast, contrast, self.contrast_age_order),
            (self.design_offset, self.fixed_offset, offset, self.offset_age_order),
        ):
            target = np.asarray(target, np.float64)
            cols = target.reshape(self.n_phi, -1) if target.ndim == 2 else None
            if cols is None:
                cols = np.broadcast_to(target, (self.n_phi,))[:, None]
            if not design.shape[1]:
                continue
            for m in range(order + 1):
                want = cols[:, m] if m < cols.shape[1] else np.zeros(self.n_phi)
                want = want - fixed if m == 0 else want
                sol, *_ = np.linalg.lstsq(design, want, rcond=None)
                parts.append(sol)
        return np.concatenate(parts) if parts else np.zeros(0)


def legendre_basis(u, order: int, xp=np):
    """Legendre polynomials ``P_0..P_order`` at ``u``: shape ``(order + 1, *u.shape)``."""
    u = xp.asarray(u)
    rows = [xp.ones_like(u)]
    if order >= 1:
        rows.append(u)
    for n in range(1, order):
        rows.append(((2 * n + 1) * u * rows[n] - n * rows[n - 1]) / (n + 1))
    return xp.stack(rows, axis=0)


def _with_ages(base: ScalingMap, contrast_order: int, offset_order: int, age_range):
    """``base`` with Legendre age orders added (names of the new blocks carry ``_age{k}``)."""
    for what, order in (("contrast_age_order", contrast_order), ("offset_age_order", offset_order)):
        if not 0 <= int(order) <= 3:
            raise ModeError(f"{what} must be an integer between 0 and 3, got {order!r}")
    if not (contrast_order or offset_order):
        return base
    if base.mode == "constant":
        raise ModeError(
            "contrast_age_order/offset_age_order need a fitted per-angle scaling; scaling mode "
            "'constant' holds contrast and offset fixed"
        )
    if age_range is None:
        raise ModeError("an age-dependent scaling needs the data's age range (age_range)")
    lo, hi = (float(v) for v in age_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi >= lo):
        raise ModeError(f"age_range must be finite with min <= max, got {age_range!r}")
    kc0 = base.design_contrast.shape[1]
    c_names, o_names = base.names[:kc0], base.names[kc0:]
    names = list(c_names)
    for k in range(1, contrast_order + 1):
        names += [n.replace("contrast", f"contrast_age{k}", 1) for n in c_names]
    names += list(o_names)
    for k in range(1, offset_order + 1):
        names += [n.replace("offset", f"offset_age{k}", 1) for n in o_names]
    return replace(
        base,
        names=tuple(names),
        contrast_age_order=int(contrast_order),
        offset_age_order=int(offset_order),
        age_range=(lo, hi),
    )


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
    contrast_age_order: int = 0,
    offset_age_order: int = 0,
    age_range=None,
    ring=None,
) -> ScalingMap:
    """Build the :class:`ScalingMap` of a scaling mode for the given angles (degrees).

    ``constant`` needs ``fixed_contrast``/``fixed_offset`` (per angle or scalar), typically
    from :func:`quantile_estimate`. ``contrast_age_order``/``offset_age_order`` (0-3) add a
    Legendre age dependence over ``age_range = (age_min, age_max)`` in s (not with
    ``constant``). ``ring`` (one integer per angle) makes ``auto`` and ``fourier`` act per q
    ring (a joint fit over several rings).
    """
    if ring is None or np.unique(np.asarray(ring)).size <= 1:
        base = _make_base(mode, phi, fourier_order, fixed_contrast, fixed_offset)
        if ring is not None:
            base = replace(base, ring=np.asarray(ring, np.int64).reshape(-1))
    else:
        base = _per_ring(mode, phi, fourier_order, fixed_contrast, fixed_offset, ring)
    return _with_ages(base, contrast_age_order, offset_age_order, age_range)


def _per_ring(mode, phi, fourier_order, fixed_contrast, fixed_offset, ring) -> ScalingMap:
    """Block-diagonal map: the mode's design for the angles of each ring (joint fits)."""
    phi = np.atleast_1d(np.asarray(phi, dtype=np.float64))
    ring = np.asarray(ring, np.int64).reshape(-1)
    if ring.shape != phi.shape:
        raise ModeError(f"ring must hold one index per angle ({phi.size}), got {ring.size}")
    n = phi.size
    fc = None if fixed_contrast is None else np.broadcast_to(fixed_contrast, (n,))
    fo = None if fixed_offset is None else np.broadcast_to(fixed_offset, (n,))
    blocks = []
    for r in np.unique(ring):
        sel = ring == r
        part = _make_base(
            mode,
            phi[sel],
            fourier_order,
            None if fc is None else fc[sel],
            None if fo is None else fo[sel],
        )
        blocks.append((r, sel, part))
    designs, names = [], {"contrast": [], "offset": []}
    for which in ("contrast", "offset"):
        cols = []
        for r, sel, part in blocks:
            d = getattr(part, f"design_{which}")
            full = np.zeros((n, d.shape[1]))
            full[sel] = d
            cols.append(full)
            kc = part.design_contrast.shape[1]
            own = part.names[:kc] if which == "contrast" else part.names[kc:]
            if part.mode == "individual":  # per angle: global angle indices
                idx = np.flatnonzero(sel)
                names[which] += [f"{which}[{a}]" for a in idx]
            else:
                names[which] += [f"{x}@r{r}" for x in own]
        designs.append(np.concatenate(cols, axis=1))
    fixed = [np.zeros(n), np.zeros(n)]
    for _, sel, part in blocks:
        fixed[0][sel], fixed[1][sel] = part.fixed_contrast, part.fixed_offset
    modes = {part.mode for _, _, part in blocks}
    resolved = modes.pop() if len(modes) == 1 else "auto"
    return ScalingMap(
        resolved,
        mode,
        phi,
        designs[0],
        designs[1],
        fixed[0],
        fixed[1],
        tuple(names["contrast"] + names["offset"]),
        ring=ring,
    )


def _make_base(mode, phi, fourier_order, fixed_contrast, fixed_offset) -> ScalingMap:
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
