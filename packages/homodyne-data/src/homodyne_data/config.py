"""The data section of a run configuration: :class:`DataConfig`."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from .errors import DataConfigError, DataError, EmptyFrameRangeError, InvalidTimeStepError

__all__ = ["DataConfig", "normalize_phi_ranges"]


def _number(value: Any, key: str, *, positive: bool = False, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataConfigError(f"expected a number, got {value!r}", dataset=key)
    out = float(value)
    if not math.isfinite(out):
        raise DataConfigError(f"expected a finite number, got {value!r}", dataset=key)
    if positive and out <= 0:
        raise DataConfigError(f"expected a positive number, got {value!r}", dataset=key)
    return out


def _integer(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise DataConfigError(f"expected an integer frame number, got {value!r}", dataset=key)
    return int(value)


def normalize_phi_ranges(
    ranges: Any, key: str = "phi_ranges", file: str | None = None
) -> tuple[tuple[float, float], ...] | None:
    """Validate phi ranges: ``None`` (all angles) or a sequence of ``(min, max)`` in degrees.

    Accepts pairs as sequences or mappings with ``min_angle``/``max_angle`` (homodyne 2.x
    ``phi_filtering.target_ranges``). ``min > max`` is kept as given: it means a range that
    wraps through +-180 deg.
    """
    if ranges is None:
        return None
    if isinstance(ranges, str | bytes) or not isinstance(ranges, Sequence):
        raise DataConfigError(
            f"expected a list of [min, max] angle pairs in degrees, got {ranges!r}",
            file=file,
            dataset=key,
        )
    out = []
    for n, item in enumerate(ranges):
        sub = f"{key}[{n}]"
        if isinstance(item, Mapping):
            if "min_angle" not in item or "max_angle" not in item:
                raise DataConfigError(
                    f"expected keys min_angle and max_angle, got {sorted(item)}",
                    file=file,
                    dataset=sub,
                )
            pair = (item["min_angle"], item["max_angle"])
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes) and len(item) == 2:
            pair = (item[0], item[1])
        else:
            raise DataConfigError(
                f"expected a [min, max] pair of angles in degrees, got {item!r}",
                file=file,
                dataset=sub,
            )
        lo = _number(pair[0], f"{sub}.min")
        hi = _number(pair[1], f"{sub}.max")
        out.append((lo, hi))
    if not out:
        raise DataConfigError(
            "an empty list selects no angle; use None (no filtering) to keep all angles",
            file=file,
            dataset=key,
        )
    return tuple(out)


@dataclass(frozen=True)
class DataConfig:
    """What to read and how to select it.

    Attributes
    ----------
    file
        Path of the data file (HDF5 APS-U / APS legacy, or .npy/.npz bare arrays).
    q
        Requested wavevector, 1/Angstrom; ``None`` = the only ring of the file.
    phi_ranges
        Angle ranges ``((min, max), ...)`` in degrees, or ``None`` for all angles. ``min > max``
        wraps through +-180 deg.
    start_frame, end_frame
        1-based inclusive frame range; ``end_frame = -1`` means the last frame.
    dt
        Time between frames of the two-time matrix, s; ``None`` = from the file metadata.
    q_tolerance
        Largest accepted relative distance between the requested q and the ring used.
    nan_threshold
        Largest accepted fraction of non-finite values in a selected matrix.
    cache_dir
        Directory of the selection cache; ``None`` disables caching.
    """

    file: str
    q: float | None = None
    phi_ranges: tuple[tuple[float, float], ...] | None = None
    start_frame: int = 1
    end_frame: int = -1
    dt: float | None = None
    q_tolerance: float = 0.1
    nan_threshold: float = 0.05
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.file, str) and not hasattr(self.file, "__fspath__"):
            raise DataConfigError(f"expected a file path, got {self.file!r}", dataset="file")
        object.__setattr__(self, "file", str(self.file))
        if not self.file:
            raise DataConfigError("expected a file path, got an empty string", dataset="file")
        object.__setattr__(self, "q", _number(self.q, "q", positive=True, allow_none=True))
        object.__setattr__(self, "phi_ranges", normalize_phi_ranges(self.phi_ranges))
        start = _integer(self.start_frame, "start_frame")
        end = _integer(self.end_frame, "end_frame")
        if start < 1:
            raise DataConfigError(
                f"frames are 1-based: expected >= 1, got {start}", dataset="start_frame"
            )
        if end == 0 or end < -1:
            raise DataConfigError(
                f"expected a 1-based frame number or -1 (last frame), got {end}",
                dataset="end_frame",
            )
        if end != -1 and end < start:
            raise EmptyFrameRangeError(
                f"end_frame {end} is before start_frame {start}", dataset="end_frame"
            )
        object.__setattr__(self, "start_frame", start)
        object.__setattr__(self, "end_frame", end)
        try:
            dt = _number(self.dt, "dt", positive=True, allow_none=True)
        except DataConfigError as exc:
            raise InvalidTimeStepError(exc.what + " (s per frame)", dataset="dt") from None
        object.__setattr__(self, "dt", dt)
        tol = _number(self.q_tolerance, "q_tolerance")
        if tol < 0:
            raise DataConfigError(f"expected >= 0, got {tol}", dataset="q_tolerance")
        object.__setattr__(self, "q_tolerance", tol)
        thr = _number(self.nan_threshold, "nan_threshold")
        if not 0.0 <= thr <= 1.0:
            raise DataConfigError(
                f"expected a fraction in [0, 1], got {thr}", dataset="nan_threshold"
            )
        object.__setattr__(self, "nan_threshold", thr)
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", str(self.cache_dir))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str = "data") -> "DataConfig":
        """Build from a mapping of the field names; unknown keys raise :class:`DataConfigError`."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise DataConfigError(
                f"unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(names))}",
                dataset=path,
            )
        if "file" not in d:
            raise DataConfigError("the data file path is required", dataset=f"{path}.file")
        try:
            return cls(**dict(d))
        except DataError as exc:
            raise type(exc)(exc.what, dataset=f"{path}.{exc.dataset}") from None

    def selection(self) -> dict[str, Any]:
        """Keyword arguments of :func:`homodyne_data.load` (everything but the file)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "file"}
