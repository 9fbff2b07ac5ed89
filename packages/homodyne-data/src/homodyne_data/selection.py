"""Selection rules shared by every reader: q ring, phi ranges, frame range; diagonal correction.

All functions are pure numpy and raise :mod:`homodyne_data.errors` exceptions naming the file and
the dataset the values came from.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import EmptyFrameRangeError, NoAnglesSelectedError, SelectionError

__all__ = [
    "QChoice",
    "choose_q",
    "diagonal_corrected",
    "frame_window",
    "normalize_angle",
    "select_angles",
]


def normalize_angle(phi) -> np.ndarray:
    """Map angles (degrees) to ``[-180, 180)``; float64 array of the same shape."""
    phi = np.asarray(phi, dtype=np.float64)
    out = np.mod(phi + 180.0, 360.0) - 180.0
    # mod of a tiny negative number can round to exactly 360 -> 180; fold it back.
    out = np.where(out >= 180.0, out - 360.0, out)
    # angles already in range are returned bit for bit (the mod above can round them)
    return np.where((phi >= -180.0) & (phi < 180.0), phi, out)


def _in_range(phi: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi - lo >= 360.0:
        return np.ones(phi.shape, dtype=bool)
    a, b = float(normalize_angle(lo)), float(normalize_angle(hi))
    if a <= b:
        return (phi >= a) & (phi <= b)
    return (phi >= a) | (phi <= b)  # wraps through +-180


def select_angles(
    phi,
    ranges: Sequence[tuple[float, float]] | None,
    *,
    file: str | None = None,
    dataset: str | None = None,
    tol: float = 1e-9,
) -> np.ndarray:
    """Indices of the angles inside ANY of ``ranges`` (inclusive, degrees).

    Angles and range ends are normalised to ``[-180, 180)``; a range whose ``min > max`` (after
    normalisation) wraps through +-180; a range at least 360 deg wide keeps everything.

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices into ``phi``.

    Raises
    ------
    NoAnglesSelectedError
        If no angle is kept.
    """
    phi_n = normalize_angle(phi)
    if ranges is None:
        return np.arange(phi_n.shape[0], dtype=np.int64)
    keep = np.zeros(phi_n.shape, dtype=bool)
    for lo, hi in ranges:
        keep |= _in_range(phi_n, float(lo) - tol, float(hi) + tol)
    idx = np.flatnonzero(keep).astype(np.int64)
    if idx.size == 0:
        shown = ", ".join(f"{p:g}" for p in phi_n[:40])
        more = " ..." if phi_n.size > 40 else ""
        raise NoAnglesSelectedError(
            f"no angle lies inside the phi ranges {list(map(tuple, ranges))} deg; the angles of "
            f"the selected q ring are [{shown}{more}] deg (normalised to [-180, 180))",
            file=file,
            dataset=dataset,
        )
    return idx


@dataclass(frozen=True)
class QChoice:
    """Result of :func:`choose_q`.

    Attributes
    ----------
    ring
        Index into the unique ring values of the chosen ring.
    q_used
        q value the physics uses, 1/Angstrom.
    note
        One sentence saying what was requested and what is used.
    """

    ring: int
    q_used: float
    note: str


def choose_q(
    rings,
    q: float | None,
    tolerance: float,
    *,
    file: str | None = None,
    dataset: str | None = None,
) -> QChoice:
    """Choose the ring whose q is nearest to ``q`` (relative distance at most ``tolerance``).

    Parameters
    ----------
    rings
        q value of each ring, 1/Angstrom, shape ``(n_rings,)``.
    q
        Requested q; ``None`` is accepted only when the file holds one ring.
    tolerance
        Largest accepted ``|q_ring - q| / q``.
    """
    rings = np.atleast_1d(np.asarray(rings, dtype=np.float64))
    listed = ", ".join(f"{v:.6g}" for v in rings[:50]) + (" ..." if rings.size > 50 else "")
    if rings.size == 0:
        raise SelectionError(
            "the file holds no q ring with two-time data", file=file, dataset=dataset
        )
    if q is None:
        if rings.size > 1:
            raise SelectionError(
                f"the file holds {rings.size} q rings ([{listed}] 1/A); give q to choose one",
                file=file,
                dataset=dataset,
            )
        return QChoice(0, float(rings[0]), f"q = {rings[0]:.6g} 1/A (the only ring in the file)")
    dist = np.abs(rings - q)
    k = int(np.nanargmin(dist))
    rel = float(dist[k] / q)
    if not rel <= tolerance:
        raise SelectionError(
            f"no q ring within {100 * tolerance:g}% of the requested q = {q:.6g} 1/A; nearest is "
            f"{rings[k]:.6g} 1/A ({100 * rel:.3g}% away); rings in the file: [{listed}] 1/A",
            file=file,
            dataset=dataset,
        )
    note = (
        f"q requested {q:.6g} 1/A; the physics uses q = {rings[k]:.6g} 1/A of the nearest ring "
        f"({100 * rel:.3g}% away, tolerance {100 * tolerance:g}%)"
    )
    return QChoice(k, float(rings[k]), note)


def frame_window(
    n_frames: int,
    start_frame: int = 1,
    end_frame: int = -1,
    *,
    clip: bool = False,
    file: str | None = None,
    dataset: str | None = None,
) -> slice:
    """0-based slice of the matrix rows for a 1-based inclusive frame range (-1 = last frame).

    An ``end_frame`` past the last frame is an error naming both numbers, unless ``clip``
    (then the range ends at the last frame). At least two frames must remain.
    """
    n_frames = int(n_frames)
    stop = n_frames if end_frame == -1 else min(int(end_frame), n_frames)
    start = int(start_frame)
    if start < 1 or (end_frame != -1 and end_frame < 1):
        raise EmptyFrameRangeError(
            f"frames are 1-based: start_frame={start_frame}, end_frame={end_frame}",
            file=file,
            dataset=dataset,
        )
    if end_frame != -1 and int(end_frame) > n_frames and not clip:
        raise EmptyFrameRangeError(
            f"end_frame {end_frame} is past the last frame of the data ({n_frames} frames); "
            f"use end_frame <= {n_frames} or -1 (last frame), or allow clipping "
            "(clip_frames: true / --clip-frames) to use the frames up to the last one",
            file=file,
            dataset=dataset,
        )
    if stop - start + 1 < 2:
        raise EmptyFrameRangeError(
            f"frames {start_frame}..{end_frame} leave {max(stop - start + 1, 0)} frame(s) of the "
            f"{n_frames} in the file; at least 2 are needed (1-based, inclusive, -1 = last)",
            file=file,
            dataset=dataset,
        )
    return slice(start - 1, stop)


def diagonal_corrected(c2) -> np.ndarray:
    """Replace the self-correlation spike on the diagonal by its off-diagonal neighbours.

    With ``s_i = (C[i, i+1] + C[i+1, i]) / 2``: ``d_0 = s_0``, ``d_{N-1} = s_{N-2}`` and
    ``d_i = (s_{i-1} + s_i) / 2``. For display and estimators only; fits exclude the diagonal.

    Parameters
    ----------
    c2
        Matrices of shape ``(..., N, N)``; not modified.

    Returns
    -------
    numpy.ndarray
        A float64 copy with the corrected diagonal.
    """
    out = np.array(c2, dtype=np.float64, copy=True)
    n = out.shape[-1]
    if out.ndim < 2 or out.shape[-2] != n:
        raise SelectionError(f"expected square matrices (..., N, N), got shape {out.shape}")
    if n < 2:
        return out
    k = np.arange(n - 1)
    s = 0.5 * (out[..., k, k + 1] + out[..., k + 1, k])
    d = np.empty(out.shape[:-1], dtype=np.float64)
    d[..., 0] = s[..., 0]
    d[..., -1] = s[..., -1]
    if n > 2:
        d[..., 1:-1] = 0.5 * (s[..., :-1] + s[..., 1:])
    idx = np.arange(n)
    out[..., idx, idx] = d
    return out
