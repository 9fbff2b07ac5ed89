"""The data section of a run configuration: :class:`DataSelection` and :class:`DataConfig`.

Declared once with pydantic (see :mod:`homodyne_physics.settings`): every field carries its
type, default, constraint and unit; ``YAML_KEYS`` says where a homodyne 2.x file keeps each one.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field
from pydantic.dataclasses import dataclass

from .errors import DataConfigError, DataError, EmptyFrameRangeError, InvalidTimeStepError
from .settings import (
    Integer,
    Number,
    describe_errors,
    format_path,
    own_error,
    raise_as,
    settings_config,
)
from .units import array_phi_values, array_q_value, axis_order_value

__all__ = ["DataConfig", "DataSelection", "normalize_phi_ranges"]


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


def _as_error(cls: Any, exc: Any) -> DataError:
    """A pydantic error -> the data error naming the key (``dt`` -> InvalidTimeStepError)."""
    inner = own_error(exc)
    if isinstance(inner, DataError):
        return inner
    loc, msg = describe_errors(cls, exc)[0]
    key = format_path("", loc)
    if key == "dt":
        return InvalidTimeStepError(msg + " (s per frame)", dataset=key)
    return DataConfigError(msg, dataset=key)


def _phi_ranges_in(value: Any) -> Any:
    return normalize_phi_ranges(value)


def _file_in(value: Any) -> Any:
    if hasattr(value, "__fspath__"):
        value = str(value.__fspath__())
    if not isinstance(value, str):
        raise DataConfigError(f"expected a file path, got {value!r}", dataset="file")
    if not value:
        raise DataConfigError("expected a file path, got an empty string", dataset="file")
    return value


def _optional_path(value: Any) -> Any:
    return str(value.__fspath__()) if hasattr(value, "__fspath__") else value


PhiRanges = Annotated[tuple[tuple[float, float], ...] | None, BeforeValidator(_phi_ranges_in)]


@raise_as(_as_error)
@dataclass(frozen=True, config=settings_config())
class DataSelection:
    """How to select the data of a file (everything but the file and the q ring).

    Attributes
    ----------
    phi_ranges
        Angle ranges ``((min, max), ...)`` in degrees, or ``None`` for all angles. ``min > max``
        wraps through +-180 deg.
    start_frame, end_frame
        1-based inclusive frame range; ``end_frame = -1`` means the last frame.
    clip_frames
        Accept an ``end_frame`` past the last frame of the data and use the frames up to the
        last one (default False: such a request is an error naming both numbers).
    dt
        Time between frames of the two-time matrix, s; ``None`` = from the file metadata.
    q_tolerance
        Largest accepted relative distance between the requested q and the ring used.
    nan_threshold
        Largest accepted fraction of non-finite values in a selected matrix.
    cache_dir
        Directory of the selection cache; ``None`` disables caching.
    array_q, array_phi
        Bare arrays only: q of the matrices (1/A, or ``"<number> 1/nm"``) and the angle of each
        matrix (degrees, or ``"<number> rad"``); YAML ``experimental_data.array_q/array_phi``.
    axis_order
        Bare 3-D stacks: ``'phi_first'`` ``(n_phi, N, N)`` or ``'phi_last'`` ``(N, N, n_phi)``;
        ``None`` = from the shape when unambiguous (YAML ``experimental_data.axis_order``).
    """

    phi_ranges: PhiRanges = Field(
        None, description="angle ranges [[min, max], ...] in degrees; null keeps every angle"
    )
    start_frame: Integer = Field(1, ge=1, description="first frame, 1-based")
    end_frame: Integer = Field(-1, description="last frame, 1-based inclusive; -1 = the last")
    dt: Number | None = Field(
        None, gt=0, description="time between frames, s; null = from the file metadata"
    )
    q_tolerance: Number = Field(
        0.1, ge=0, description="largest relative distance between requested and used q"
    )
    nan_threshold: Number = Field(
        0.05, ge=0, le=1, description="largest fraction of non-finite values in a matrix"
    )
    cache_dir: Annotated[str | None, BeforeValidator(_optional_path)] = Field(
        None, description="folder of the selection cache; null disables caching"
    )
    clip_frames: bool = Field(
        False,
        description="accept an end_frame past the data and stop at the last frame "
        "(false: such a request is an error naming both numbers)",
    )
    array_q: Annotated[float | None, BeforeValidator(array_q_value)] = Field(
        None, description="bare arrays: q of the matrices, 1/A (or '0.1 1/nm')"
    )
    array_phi: Annotated[tuple[float, ...] | None, BeforeValidator(array_phi_values)] = Field(
        None, description="bare arrays: angle of each matrix, degrees (or '1.57 rad')"
    )
    axis_order: Annotated[str | None, BeforeValidator(axis_order_value)] = Field(
        None, description="bare 3-D stacks: phi_first (n_phi, N, N) or phi_last (N, N, n_phi)"
    )

    # where a homodyne 2.x YAML file keeps these settings (the first key present wins)
    YAML_KEYS: ClassVar[dict[str, str]] = {
        "analyzer_parameters.dt": "dt",
        "analyzer_parameters.start_frame": "start_frame",
        "analyzer_parameters.end_frame": "end_frame",
        "analyzer_parameters.clip_frames": "clip_frames",
        "experimental_data.q_tolerance": "q_tolerance",
        "experimental_data.nan_threshold": "nan_threshold",
        "experimental_data.cache_file_path": "cache_dir",
        "experimental_data.array_q": "array_q",
        "experimental_data.array_phi": "array_phi",
        "experimental_data.axis_order": "axis_order",
    }
    YAML_LEGACY: ClassVar[dict[str, str]] = {
        "analyzer_parameters.temporal": "",
        "analyzer_parameters.computational": "",
        "experimental_data.cache_filename_template": "'cache_filename_template' is replaced by "
        "a cache keyed by file identity and selection; ignored",
        "experimental_data.cache_compression": "",
        "experimental_data.phi_angles_path": "",
        "experimental_data.phi_angles_file": "",
        "phi_filtering.fallback_to_all_angles": "",
        "phi_filtering.algorithm": "",
        "phi_filtering.tolerance": "",
        "phi_filtering.quality_control": "",
    }
    YAML_INFO: ClassVar[tuple[str, ...]] = (
        "experimental_data.data_type",
        "experimental_data.file_format",
        "experimental_data.exchange_key",
    )

    def __post_init__(self) -> None:
        end = self.end_frame
        if end == 0 or end < -1:
            raise DataConfigError(
                f"must be -1 (last frame) or a 1-based frame >= 1, got {end}", dataset="end_frame"
            )
        if end != -1 and end < self.start_frame:
            raise EmptyFrameRangeError(
                f"end_frame {end} is before start_frame {self.start_frame}", dataset="end_frame"
            )

    def selection(self) -> dict[str, Any]:
        """Keyword arguments of :func:`homodyne_data.load` (everything but the file)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "file"}


@raise_as(_as_error)
@dataclass(frozen=True, kw_only=True, config=settings_config())
class DataConfig(DataSelection):
    """What to read and how to select it: a :class:`DataSelection` plus the file and q ring.

    Attributes
    ----------
    file
        Path of the data file (HDF5 APS-U / APS legacy, or .npy/.npz bare arrays).
    q
        Requested wavevector, 1/Angstrom; ``None`` = the only ring of the file.
    """

    file: Annotated[str, BeforeValidator(_file_in)] = Field(description="data file path")
    q: Number | None = Field(
        None, gt=0, description="wavevector, 1/Angstrom; null = the only ring of the file"
    )

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

    @classmethod
    def for_file(cls, selection: DataSelection, file: str, q: float | None) -> "DataConfig":
        """The configuration of one file and q ring under a shared ``selection``."""
        return cls(file=file, q=q, **selection.selection())
