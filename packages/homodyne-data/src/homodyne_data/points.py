"""Two-time data as a set of (t1, t2) points: :class:`PointSet`.

Layouts that do not store full N x N matrices ((age, lag) grids, multi-tau two-time) give, per
angle, values at arbitrary pairs of times ``t1 < t2`` and a weight for each value (how many frame
pairs or pixels it averages: a 1/variance multiplier in the likelihood). The pairs are stored as
indices into one sorted vector of distinct times, the same shape of problem the fitters build
from dense matrices (a 1-D time table and index pairs), so one kernel serves both.
"""

from dataclasses import dataclass

import numpy as np

from .errors import ShapeMismatchError

__all__ = ["PointSet"]

POINT_KINDS = ("agelag", "multitau", "points")


@dataclass(frozen=True, eq=False)
class PointSet:
    """Values at (t1, t2) points for every angle.

    Attributes
    ----------
    t
        Distinct times, s, sorted, shape ``(n_times,)``.
    i, j
        Indices into ``t`` of each point, ``t[i] < t[j]``, int32, shape ``(n_points,)``.
    values
        c2 at each point for each angle, ``(n_phi, n_points)``; NaN marks a missing value.
    weights
        Likelihood weight of each value (1/variance multiplier), ``(n_phi, n_points)``, >= 0.
    kind
        ``'agelag'``, ``'multitau'`` or ``'points'``.
    level
        Multi-tau level of each point (level k averages 2^k frames per axis), ``(n_points,)``;
        ``None`` for other kinds.
    """

    t: np.ndarray
    i: np.ndarray
    j: np.ndarray
    values: np.ndarray
    weights: np.ndarray
    kind: str = "points"
    level: np.ndarray | None = None

    def __post_init__(self) -> None:
        t = np.asarray(self.t, np.float64)
        i = np.asarray(self.i, np.int32)
        j = np.asarray(self.j, np.int32)
        values = np.asarray(self.values, np.float64)
        if values.ndim == 1:
            values = values[None]
        weights = np.broadcast_to(np.asarray(self.weights, np.float64), values.shape).copy()
        if self.kind not in POINT_KINDS:
            raise ShapeMismatchError(f"point-set kind {self.kind!r} not one of {POINT_KINDS}")
        if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
            raise ShapeMismatchError("point-set times must be finite, sorted and distinct")
        if i.shape != j.shape or i.ndim != 1 or values.shape[1:] != i.shape:
            raise ShapeMismatchError(
                f"point set: i {i.shape}, j {j.shape} and values {values.shape} must describe the "
                "same points (values shaped (n_phi, n_points))"
            )
        if i.size and (i.min() < 0 or j.max() >= t.size or np.any(i >= j)):
            raise ShapeMismatchError("point-set indices must satisfy 0 <= i < j < len(t)")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ShapeMismatchError("point-set weights must be finite and >= 0")
        level = None if self.level is None else np.asarray(self.level, np.int32)
        if level is not None and level.shape != i.shape:
            raise ShapeMismatchError(f"point-set level {level.shape} does not match {i.shape}")
        for arr in (t, i, j, values, weights) + (() if level is None else (level,)):
            arr.setflags(write=False)
        for name, arr in (("t", t), ("i", i), ("j", j), ("values", values)):
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "level", level)

    @classmethod
    def from_times(cls, t1, t2, values, weights=1.0, *, kind="points", level=None) -> "PointSet":
        """A point set from the times of each point, s (``t1 < t2``; swapped pairs are
        reordered, since c2 is symmetric; equal times, the diagonal, are refused)."""
        t1 = np.asarray(t1, np.float64).reshape(-1)
        t2 = np.asarray(t2, np.float64).reshape(-1)
        if t1.shape != t2.shape:
            raise ShapeMismatchError(f"t1 {t1.shape} and t2 {t2.shape} differ in shape")
        if np.any(t1 == t2):
            raise ShapeMismatchError(
                f"{int(np.sum(t1 == t2))} point(s) have t1 == t2 (the diagonal, which is not "
                "fitted); drop them"
            )
        lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
        t, inv = np.unique(np.concatenate([lo, hi]), return_inverse=True)
        return cls(t, inv[: lo.size], inv[lo.size :], values, weights, kind=kind, level=level)

    @property
    def t1(self) -> np.ndarray:
        """Earlier time of each point, s."""
        return self.t[self.i]

    @property
    def t2(self) -> np.ndarray:
        """Later time of each point, s."""
        return self.t[self.j]

    @property
    def age(self) -> np.ndarray:
        """Mean time ``(t1 + t2)/2`` of each point, s (the age axis of plots)."""
        return 0.5 * (self.t1 + self.t2)

    @property
    def lag(self) -> np.ndarray:
        """``t2 - t1`` of each point, s."""
        return self.t2 - self.t1

    @property
    def n_points(self) -> int:
        """Number of points per angle."""
        return int(self.i.size)

    def noise_level(self, angle: int) -> float:
        """Model-free noise sd of a unit-weight point of one angle.

        Points are ordered by (weight, lag, t1); neighbours with the same weight and lag
        differ only in age, where the model is smooth, so ``sqrt(w) (y_{k+1} - y_k)`` has
        variance ``2 sigma^2``; the median absolute deviation (x 1.4826) keeps it robust.
        NaN when fewer than 10 such differences exist.
        """
        w = self.weights[angle]
        lag = self.lag
        order = np.lexsort((self.t1, np.round(lag, 12), w))
        lag, y, w = lag[order], self.values[angle, order], w[order]
        same = (np.abs(lag[1:] - lag[:-1]) <= 1e-9 * np.abs(lag[1:])) & (w[1:] == w[:-1])
        diff = (y[1:] - y[:-1]) * np.sqrt(w[1:])
        diff = diff[same & np.isfinite(diff) & (w[1:] > 0)]
        if diff.size < 10:
            return float("nan")
        return float(1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(2.0))

    def select(self, angles) -> "PointSet":
        """The same points for a subset of the angles (index array or boolean mask)."""
        return PointSet(
            self.t,
            self.i,
            self.j,
            self.values[angles],
            self.weights[angles],
            kind=self.kind,
            level=self.level,
        )
