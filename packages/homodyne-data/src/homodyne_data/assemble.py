"""Shared last step of every reader: read the selected matrices and build :class:`XPCSData`."""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .consistency import frame_range_warning
from .dataset import Provenance, XPCSData
from .errors import DataError, ShapeMismatchError
from .matrices import check_matrix_dataset, read_block
from .selection import frame_window, normalize_angle

__all__ = ["assemble", "jsonable"]


def jsonable(obj: Any) -> Any:
    """Tuples -> lists, numpy scalars -> Python scalars, recursively (for provenance/caches)."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def assemble(
    sources: Sequence[Any],
    names: Sequence[str],
    phi: np.ndarray,
    *,
    q: float,
    dt: float,
    start_frame: int,
    end_frame: int,
    nan_threshold: float,
    clip_frames: bool = False,
    file: str | None,
    layout: str,
    selection: Mapping[str, Any],
    q_available: Sequence[float],
    notes: list[str],
    metadata: dict[str, Any],
    warnings: Sequence[str] = (),
) -> XPCSData:
    """Read ``sources[k][window, window]`` for every selected bin into one float64 array.

    Parameters
    ----------
    sources
        h5py datasets or arrays, one ``(N, N)`` matrix per selected angle.
    names
        Dataset path (or array key) of each source, for messages.
    phi
        Angle of each source, degrees (normalised here to [-180, 180)).
    """
    sizes = []
    for src, name in zip(sources, names, strict=True):
        if not hasattr(src, "shape") or not hasattr(src, "dtype"):
            raise ShapeMismatchError("expected a dataset, found a group", file=file, dataset=name)
        sizes.append(check_matrix_dataset(src, file=file, dataset=name))
    if len(set(sizes)) > 1:
        k = next(i for i, s in enumerate(sizes) if s != sizes[0])
        raise ShapeMismatchError(
            f"matrix is {sizes[k]} x {sizes[k]} but {names[0]} is {sizes[0]} x {sizes[0]}; "
            "expected every selected bin to have the same frame count",
            file=file,
            dataset=names[k],
        )
    n_file = sizes[0]
    window = frame_window(
        n_file, start_frame, end_frame, clip=clip_frames, file=file, dataset=names[0]
    )
    clipped = frame_range_warning(end_frame, n_file)  # reached only with clip_frames
    warnings = [*warnings, *([clipped] if clipped else [])]
    n = window.stop - window.start
    c2 = np.empty((len(sources), n, n), dtype=np.float64)
    storages, nonfinite = [], []
    for k, (src, name) in enumerate(zip(sources, names, strict=True)):
        try:
            info = read_block(
                src, window, c2[k], nan_threshold=nan_threshold, file=file, dataset=name
            )
        except (OSError, RuntimeError) as exc:  # h5py read failures (corrupt chunks, filters)
            raise DataError(f"reading the matrix failed: {exc}", file=file, dataset=name) from exc
        storages.append(info["storage"])
        if info["n_nonfinite"]:
            nonfinite.append(f"{name}: {info['n_nonfinite']} NaN/inf values kept as NaN")
        if info["asymmetry"] > 1e-5:
            notes.append(
                f"{name}: full matrix not symmetric (max relative difference "
                f"{info['asymmetry']:.2g}); averaged with its transpose"
            )
    kinds = sorted(set(storages))
    if kinds == ["full"]:
        notes.append("matrices stored in full")
    else:
        notes.append(
            f"matrices stored as {'/'.join(kinds)} triangles: the other triangle filled by "
            "symmetry, the diagonal kept once"
        )
    notes.extend(nonfinite)
    frames = np.arange(window.start + 1, window.stop + 1, dtype=np.int64)
    metadata = {**metadata, "n_frames_file": n_file, "storage": "/".join(kinds)}
    return XPCSData(
        c2=c2,
        phi=normalize_angle(phi),
        q=q,
        dt=dt,
        frames=frames,
        metadata=metadata,
        provenance=Provenance(
            file=file,
            layout=layout,
            selection=jsonable({**selection, "frames": [int(frames[0]), int(frames[-1])]}),
            q_available=tuple(float(v) for v in q_available),
            notes=tuple(notes),
            warnings=tuple(warnings),
        ),
    )
