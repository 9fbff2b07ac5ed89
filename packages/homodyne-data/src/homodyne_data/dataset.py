"""The one data container every layer above works on: :class:`XPCSData`."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np

from homodyne_physics import pair_indices

from .errors import ShapeMismatchError

__all__ = ["Provenance", "XPCSData"]


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
    """Selected two-time correlation data of one q ring.

    Attributes
    ----------
    c2
        Full symmetric matrices, shape ``(n_phi, n_t, n_t)``, float64. NaN marks missing values.
    phi
        Azimuthal angle of each matrix, degrees, shape ``(n_phi,)``.
    q
        Wavevector the physics uses, 1/Angstrom.
    dt
        Time between frames of the matrix, s.
    frames
        1-based frame numbers of the file for each row/column, shape ``(n_t,)``.
    metadata
        Instrument and sample metadata found in the file (frame_time, detector distance, ...).
    provenance
        :class:`Provenance`.
    """

    c2: np.ndarray
    phi: np.ndarray
    q: float
    dt: float
    frames: np.ndarray
    metadata: Mapping[str, Any] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=lambda: Provenance(None, "array"))

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
        for arr in (c2, phi, frames):
            arr.setflags(write=False)
        object.__setattr__(self, "c2", c2)
        object.__setattr__(self, "phi", phi)
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "q", float(self.q))
        object.__setattr__(self, "dt", float(self.dt))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

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
        """Time of each selected frame, s: ``frames * dt`` (age since acquisition start)."""
        return self.frames.astype(np.float64) * self.dt

    def pairs(self, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Upper-triangle index pairs ``(i, j)``, ``first <= i < j`` (see ``pair_indices``)."""
        return pair_indices(self.n_t, first)

    def flat(self, first: int = 0) -> np.ndarray:
        """c2 at the fitted points ``(i < j)``, shape ``(n_phi, n_pairs)``, cached per ``first``."""
        return self._flat_cache(first)

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
        return (self.frames[j] - self.frames[i]).astype(np.float64) * self.dt
