"""The one data container every layer above works on: :class:`XPCSData`."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np

from homodyne_physics import pair_indices

from .errors import ShapeMismatchError
from .points import PointSet

__all__ = ["PointSet", "Provenance", "XPCSData"]


@dataclass(frozen=True)
class Provenance:
    """Where the data came from and how it was selected.

    Attributes
    ----------
    file
        Path of the source file (``None`` for in-memory / simulated data).
    layout
        ``'aps_u'``, ``'aps_legacy'``, ``'nxxpcs'``, ``'array'`` or ``'simulated'``.
    selection
        Every selection parameter that produced the data (q request, phi ranges, frames, ...).
    q_available
        All q values found in the file, 1/Angstrom.
    notes
        Human-readable remarks (which q ring was used and why, dt source, ...).
    warnings
        Disagreements between the file's metadata and its data, or between a request and the
        data, that the reader resolved (by trusting the data's own count) and a user should see.
    """

    file: str | None
    layout: str
    selection: Mapping[str, Any] = field(default_factory=dict)
    q_available: tuple[float, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class XPCSData:
    """Selected two-time correlation data of one q ring: dense matrices or a point set.

    Dense data hold full matrices in ``c2``. Point-set data (an (age, lag) grid, multi-tau
    levels, any (t1, t2) points; build with :meth:`from_points`) hold a :class:`PointSet` in
    ``points``, an empty ``c2`` of shape ``(n_phi, 0, 0)`` and no frames; :meth:`pairs`,
    :meth:`flat`, :meth:`weights`, :attr:`t` and :attr:`lag` serve both kinds, so a fitter that
    uses only them fits either.

    Attributes
    ----------
    c2
        Full symmetric matrices, shape ``(n_phi, n_t, n_t)``, float64. NaN marks missing values.
        Point sets: shape ``(n_phi, 0, 0)``.
    phi
        Azimuthal angle of each matrix, degrees, shape ``(n_phi,)``.
    q
        Wavevector the physics uses, 1/Angstrom: a float for one ring; for a joint dataset of
        several rings (:func:`homodyne_data.join_rings`) a read-only array, one q per angle.
    dt
        Time between frames of the matrix, s.
    frames
        1-based frame numbers of the file for each row/column, shape ``(n_t,)``.
    metadata
        Instrument and sample metadata found in the file (frame_time, detector distance, ...).
    provenance
        :class:`Provenance`.
    points
        The :class:`PointSet` of point-set data, ``None`` for dense matrices.
    ring
        Ring index of each angle (``0..n_rings-1``, rings in the order of :attr:`q_rings`);
        ``None`` for one ring.
    """

    c2: np.ndarray
    phi: np.ndarray
    q: float | np.ndarray
    dt: float
    frames: np.ndarray
    metadata: Mapping[str, Any] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=lambda: Provenance(None, "array"))
    points: PointSet | None = None
    ring: np.ndarray | None = None

    def __post_init__(self) -> None:
        c2 = np.asarray(self.c2, dtype=np.float64)
        phi = np.atleast_1d(np.asarray(self.phi, dtype=np.float64))
        frames = np.atleast_1d(np.asarray(self.frames, dtype=np.int64))
        if c2.ndim != 3 or c2.shape[1] != c2.shape[2]:
            raise ShapeMismatchError(f"c2 must have shape (n_phi, n_t, n_t), got {c2.shape}")
        if phi.shape != (c2.shape[0],) or frames.shape != (c2.shape[1],):
            raise ShapeMismatchError(
                f"phi {phi.shape} / frames {frames.shape} do not match c2 {c2.shape}"
            )
        if self.points is not None:
            if c2.shape[1] != 0 or frames.size != 0:
                raise ShapeMismatchError(
                    f"point-set data hold no matrices or frames, got c2 {c2.shape} and "
                    f"{frames.size} frames (build them with XPCSData.from_points)"
                )
            if self.points.values.shape[0] != c2.shape[0]:
                raise ShapeMismatchError(
                    f"the point set holds {self.points.values.shape[0]} angles but phi has "
                    f"{phi.size}"
                )
        for arr in (c2, phi, frames):
            arr.setflags(write=False)
        object.__setattr__(self, "c2", c2)
        object.__setattr__(self, "phi", phi)
        object.__setattr__(self, "frames", frames)
        self._set_q()
        object.__setattr__(self, "dt", float(self.dt))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def _set_q(self) -> None:
        q = np.asarray(self.q, dtype=np.float64)
        if self.ring is None and q.ndim == 0:
            object.__setattr__(self, "q", float(q))
            return
        n_phi = self.c2.shape[0]
        q = np.broadcast_to(q, (n_phi,)).copy() if q.ndim == 0 else q
        if q.shape != (n_phi,):
            raise ShapeMismatchError(
                f"q must be a number or one value per angle ({n_phi}), got {q.shape}"
            )
        rings = dict.fromkeys(q.tolist())
        order = {v: k for k, v in enumerate(rings)}
        ring = np.array([order[v] for v in q.tolist()], np.int64)
        if self.ring is not None and not np.array_equal(np.asarray(self.ring), ring):
            raise ShapeMismatchError(
                "ring must number the distinct q values in order of first appearance "
                f"({ring.tolist()}), got {np.asarray(self.ring).tolist()}"
            )
        for arr in (q, ring):
            arr.setflags(write=False)
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "ring", ring)

    @property
    def is_joint(self) -> bool:
        """True for several q rings in one dataset (q per angle)."""
        return self.ring is not None

    @property
    def n_rings(self) -> int:
        """Number of q rings (1 unless joint)."""
        return len(self.q_rings)

    @property
    def q_rings(self) -> tuple[float, ...]:
        """q of each ring, 1/Angstrom, in ring order."""
        if self.ring is None:
            return (float(self.q),)
        return tuple(dict.fromkeys(float(v) for v in self.q))

    @property
    def q_per_angle(self) -> np.ndarray:
        """q of each angle, shape ``(n_phi,)``."""
        return np.broadcast_to(np.asarray(self.q, np.float64), (self.n_phi,))

    @classmethod
    def from_points(
        cls,
        points: PointSet,
        phi,
        q: float,
        dt: float,
        metadata: Mapping[str, Any] | None = None,
        provenance: Provenance | None = None,
    ) -> "XPCSData":
        """Point-set data: ``points`` for the angles ``phi`` (degrees).

        ``dt`` is the frame time of the measurement, s (the unit of time steps in notes and
        plots; the physical convention does not use it).
        """
        phi = np.atleast_1d(np.asarray(phi, dtype=np.float64))
        return cls(
            c2=np.empty((phi.size, 0, 0)),
            phi=phi,
            q=q,
            dt=dt,
            frames=np.empty(0, np.int64),
            metadata=metadata or {},
            provenance=provenance or Provenance(None, points.kind),
            points=points,
        )

    @property
    def is_dense(self) -> bool:
        """True for full matrices, False for a point set."""
        return self.points is None

    @property
    def n_points(self) -> int:
        """Number of (t1 < t2) points per angle that a fit uses (first = 0)."""
        return int(self.pairs(0)[0].size)

    @property
    def n_phi(self) -> int:
        """Number of angles."""
        return int(self.c2.shape[0])

    @property
    def n_t(self) -> int:
        """Number of frames (rows of each matrix)."""
        return int(self.c2.shape[1])

    @property
    def t(self) -> np.ndarray:
        """Time of each selected frame, s: ``frames * dt`` (age since acquisition start).

        Point sets: the distinct times of their points (``points.t``), which ``pairs`` index.
        """
        if self.points is not None:
            return self.points.t
        return self.frames.astype(np.float64) * self.dt

    def pairs(self, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Index pairs ``(i, j)`` into :attr:`t` with ``t[i] < t[j]``.

        Dense: the upper triangle with ``first <= i < j`` (see ``pair_indices``). Point sets:
        their points (``first`` must be 0: a point set has no grid to drop a first frame of).
        """
        if self.points is not None:
            _no_first(first)
            return self.points.i, self.points.j
        return pair_indices(self.n_t, first)

    def flat(self, first: int = 0) -> np.ndarray:
        """c2 at the fitted points ``(i < j)``, shape ``(n_phi, n_pairs)``, cached per ``first``."""
        if self.points is not None:
            _no_first(first)
            return self.points.values
        return self._flat_cache(first)

    def weights(self, first: int = 0) -> np.ndarray | None:
        """Likelihood weights (1/variance multipliers) of the points of :meth:`flat`, shape
        ``(n_phi, n_pairs)``; ``None`` for dense matrices (every point weighs 1)."""
        if self.points is not None:
            _no_first(first)
            return self.points.weights
        return None

    def _flat_cache(self, first: int) -> np.ndarray:
        cache = self.__dict__.setdefault("_flat", {})
        if first not in cache:
            i, j = self.pairs(first)
            out = self.c2[:, i, j]
            out.setflags(write=False)
            cache[first] = out
        return cache[first]

    @cached_property
    def lag(self) -> np.ndarray:
        """|t2 - t1| at the fitted points (first = 0), s, shape ``(n_pairs,)``."""
        i, j = self.pairs(0)
        if self.points is not None:
            return self.points.t[j] - self.points.t[i]
        return (self.frames[j] - self.frames[i]).astype(np.float64) * self.dt


def _no_first(first: int) -> None:
    if first != 0:
        raise ShapeMismatchError(
            f"point-set data have no frame grid: cannot drop the first {first} frame(s) (the "
            "homodyne2 convention is defined on a full matrix grid only; use the physical "
            "convention)"
        )
