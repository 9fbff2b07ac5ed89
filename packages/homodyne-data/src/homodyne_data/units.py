"""Units of q, angles and times: read ``units`` attributes and convert to 1/A, degrees, seconds.

The internal units of homodyne-data are 1/Angstrom for q, degrees for angles and seconds for
times (or frames, when a file states its times in frames). A value whose units cannot be
recognised is refused with a message naming the attribute; a value without units is refused
where a wrong guess would go unnoticed (q: 1/A and 1/nm differ by a factor of ten and both
give plausible numbers).
"""

import math
import re
from typing import Any

import numpy as np

from .errors import DataConfigError, MissingMetadataError

__all__ = [
    "ANGLE_UNITS",
    "Q_UNITS",
    "TIME_UNITS",
    "angle_in_degrees",
    "array_phi_values",
    "array_q_value",
    "axis_order_value",
    "normalize_units",
    "parse_quantity",
    "q_in_inverse_angstrom",
    "time_in_seconds",
    "units_of",
]

# factor converting a value in the given units to the internal unit
Q_UNITS = {"1/a": 1.0, "a^-1": 1.0, "a-1": 1.0, "1/nm": 0.1, "nm^-1": 0.1, "nm-1": 0.1}
Q_UNITS.update({"1/m": 1e-10, "m^-1": 1e-10, "m-1": 1e-10})
ANGLE_UNITS = {"deg": 1.0, "degree": 1.0, "degrees": 1.0, "rad": 180.0 / math.pi}
ANGLE_UNITS.update({"radian": 180.0 / math.pi, "radians": 180.0 / math.pi})
TIME_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3, "us": 1e-6}
TIME_UNITS.update({"ns": 1e-9, "min": 60.0, "frame": None, "frames": None})


def normalize_units(units: Any) -> str:
    """Lower-case spelling without spaces; Angstrom/micro signs and words folded."""
    if isinstance(units, bytes):
        units = units.decode("utf-8", "replace")
    text = str(np.asarray(units).reshape(-1)[0] if not isinstance(units, str) else units)
    text = text.strip().lower().replace(" ", "").replace("**", "^")
    for a, b in (("\u00c5", "a"), ("\u212b", "a"), ("\u00b5", "u"), ("\u03bc", "u")):
        text = text.replace(a.lower(), b).replace(a, b)
    text = re.sub(r"angstroms?", "a", text)
    text = re.sub(r"nanometers?|nanometres?", "nm", text)
    text = text.replace("\u00b0", "deg")
    return text


def units_of(obj: Any) -> str | None:
    """The ``units`` attribute of an h5py object as text (``None`` if absent or empty)."""
    attrs = getattr(obj, "attrs", None)
    if attrs is None or "units" not in attrs:
        return None
    raw = attrs["units"]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    text = str(np.asarray(raw).reshape(-1)[0]) if not isinstance(raw, str) else raw
    return text.strip() or None


def _factor(table: dict, units: str, what: str, *, file, dataset) -> float | None:
    key = normalize_units(units)
    if key not in table:
        raise DataConfigError(
            f"units {units!r} of {what} not recognised; expected one of "
            f"{', '.join(sorted({k for k in table if '^' not in k and '-' not in k}))}",
            file=file,
            dataset=dataset,
        )
    return table[key]


def q_in_inverse_angstrom(
    values: Any, units: str | None, *, file: str | None, dataset: str
) -> tuple[np.ndarray, str]:
    """q values converted to 1/A, and a note; refuses values without units."""
    arr = np.asarray(values, dtype=np.float64)
    if units is None:
        raise MissingMetadataError(
            "q has no units attribute, and 1/A and 1/nm give equally plausible numbers; add "
            f"a units attribute ('1/A' or '1/nm') to {dataset}",
            file=file,
            dataset=dataset,
        )
    factor = _factor(Q_UNITS, units, "q", file=file, dataset=dataset)
    assert factor is not None
    note = "" if factor == 1.0 else f"q converted from {units} to 1/A"
    return arr * factor, note


def angle_in_degrees(
    values: Any, units: str | None, *, file: str | None, dataset: str
) -> tuple[np.ndarray, str]:
    """Angles in degrees, and a note.

    Without units: values beyond 2 pi can only be degrees; all zero is the same in both; any
    other list is refused (add ``units = 'deg'`` or ``'rad'``).
    """
    arr = np.asarray(values, dtype=np.float64)
    if units is None:
        big = np.nanmax(np.abs(arr)) if arr.size else 0.0
        if big > 2 * math.pi or big == 0.0:
            return arr, "" if big == 0.0 else f"angles in {dataset} have no units: degrees"
        raise MissingMetadataError(
            f"angles {arr[:6].tolist()} have no units attribute and all lie within 2 pi, so "
            f"degrees and radians are both plausible; add a units attribute ('deg' or 'rad') "
            f"to {dataset}",
            file=file,
            dataset=dataset,
        )
    factor = _factor(ANGLE_UNITS, units, "angles", file=file, dataset=dataset)
    assert factor is not None
    return arr * factor, "" if factor == 1.0 else f"angles converted from {units} to degrees"


def time_in_seconds(
    value: Any, units: str | None, *, file: str | None, dataset: str, default: str | None = None
) -> tuple[float, str]:
    """A time step in seconds (or in frames when the units say frames), and its unit name.

    ``units=None`` uses ``default`` (a layout whose definition states the unit), else refuses.
    """
    if units is None and default is None:
        raise MissingMetadataError(
            f"time {value!r} has no units attribute; add one ('s', 'ms', 'us' or 'frames') to "
            f"{dataset}",
            file=file,
            dataset=dataset,
        )
    used = units if units is not None else default
    factor = _factor(TIME_UNITS, str(used), "time", file=file, dataset=dataset)
    if factor is None:
        return float(value), "frames"
    return float(value) * factor, "s"


_QUANTITY = re.compile(r"^\s*([-+0-9.eE]+)\s*(.*)$")


def parse_quantity(value: Any, kind: str, key: str) -> float:
    """A configuration value as a number in the internal unit.

    ``value`` is a number (already in 1/A, degrees or s) or a string ``"<number> <units>"``
    such as ``"0.1 1/nm"``, ``"1.57 rad"`` or ``"5 ms"``. ``kind``: ``'q'``, ``'angle'`` or
    ``'time'``.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise DataConfigError(
            f"expected a number or '<number> <units>', got {value!r}", dataset=key
        )
    m = _QUANTITY.match(value)
    try:
        number = float(m.group(1)) if m else float("nan")
    except ValueError:
        number = float("nan")
    if not m or math.isnan(number):
        raise DataConfigError(f"expected '<number> <units>', got {value!r}", dataset=key)
    units = m.group(2).strip()
    if not units:
        return number
    table = {"q": Q_UNITS, "angle": ANGLE_UNITS, "time": TIME_UNITS}[kind]
    factor = _factor(table, units, kind, file=None, dataset=key)
    if factor is None:
        raise DataConfigError(
            f"{value!r}: a time step in frames is the default (give dt = 1 for frame units)",
            dataset=key,
        )
    return number * factor


def _positive(value: float, key: str) -> float:
    if not (math.isfinite(value) and value > 0):
        raise DataConfigError(f"expected a positive number, got {value!r}", dataset=key)
    return value


def array_q_value(value: Any) -> float | None:
    """Config ``array_q``: ``None``, a number in 1/A or ``"<number> 1/nm"`` -> 1/A."""
    if value is None:
        return None
    return _positive(parse_quantity(value, "q", "array_q"), "array_q")


def array_phi_values(value: Any) -> tuple[float, ...] | None:
    """Config ``array_phi``: ``None``, an angle or a list (degrees, or ``"<n> rad"``) -> deg."""
    if value is None:
        return None
    items = [value] if isinstance(value, str | int | float) else value
    if isinstance(items, np.ndarray):
        items = items.reshape(-1).tolist()
    if isinstance(items, bytes) or not hasattr(items, "__len__") or len(items) == 0:
        raise DataConfigError(
            f"expected an angle or a list of angles (degrees), got {value!r}", dataset="array_phi"
        )
    out = []
    for k, v in enumerate(items):
        deg = parse_quantity(v, "angle", f"array_phi[{k}]")
        if not math.isfinite(deg):
            raise DataConfigError(f"expected a finite angle, got {v!r}", dataset=f"array_phi[{k}]")
        out.append(deg)
    return tuple(out)


def axis_order_value(value: Any) -> str | None:
    """Config ``axis_order``: ``None``, ``'phi_first'`` or ``'phi_last'``."""
    if value not in (None, "phi_first", "phi_last"):
        raise DataConfigError(
            f"expected 'phi_first' ((n_phi, N, N)) or 'phi_last' ((N, N, n_phi)), got {value!r}",
            dataset="axis_order",
        )
    return value
