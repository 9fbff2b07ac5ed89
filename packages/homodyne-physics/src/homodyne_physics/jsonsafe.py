"""Conversion of results to strictly valid JSON values (one implementation for every package)."""

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["json_safe"]


def json_safe(obj: Any) -> Any:
    """Convert to JSON-serialisable values; NaN and +-inf become ``None`` (valid JSON).

    numpy scalars and arrays become Python numbers and lists, mappings become dicts with string
    keys, sequences and sets become lists, paths become strings, and objects with a ``to_dict``
    method are converted through it.
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [json_safe(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "to_dict"):
        return json_safe(obj.to_dict())
    if hasattr(obj, "tolist"):
        return json_safe(obj.tolist())
    return str(obj)
