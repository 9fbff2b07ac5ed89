"""Building blocks of the configuration schema and the checker that walks a document.

A schema is a tree of :class:`Section` (a mapping with known keys), :class:`ListOf` (a list of
sections), :class:`Value` (a typed leaf), :class:`Legacy` (a homodyne 2.x key we accept but do
not implement: one warning naming it) and :class:`Info` (descriptive, kept for the record).
:func:`check` collects every problem in one pass, with key paths and line numbers.
"""

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .yamlio import KeyPath, LoadedYAML, format_path

__all__ = ["ConfigIssue", "Info", "Legacy", "ListOf", "Section", "Value", "check"]


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration.

    Attributes
    ----------
    level
        ``'error'`` (the run is refused) or ``'warning'`` (reported, run continues).
    path
        Key path, e.g. ``('optimization', 'nlsq', 'max_iterations')``.
    line
        1-based line in the YAML file (None for defaults and command-line overrides).
    message
        What is wrong and what was expected.
    """

    level: str
    path: KeyPath
    line: int | None
    message: str
    source: str = "<config>"

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {format_path(self.path)}: {self.message}"


@dataclass(frozen=True)
class Value:
    """A typed leaf.

    ``kind`` is one of ``float``, ``int``, ``bool``, ``str``, ``floats`` (list of numbers),
    ``strs`` (list of strings), ``float_or_floats``, ``int_or_auto``, ``any``.
    ``choices`` limits strings; ``check`` returns an error text or None; ``nullable`` allows
    ``null``.
    """

    kind: str
    doc: str = ""
    choices: tuple[str, ...] = ()
    check: Callable[[Any], str | None] | None = None
    nullable: bool = False


@dataclass(frozen=True)
class Legacy:
    """A homodyne 2.x key that we accept but do not implement (warned once by name)."""

    why: str = "not implemented in homodyne 3; ignored"


@dataclass(frozen=True)
class Info:
    """A descriptive key (documentation only): accepted and kept in the resolved config."""


@dataclass(frozen=True)
class Section:
    """A mapping with known keys; ``extra`` accepts any further key (free-form sections)."""

    keys: Mapping[str, Any] = field(default_factory=dict)
    doc: str = ""
    extra: bool = False


@dataclass(frozen=True)
class ListOf:
    """A list whose items follow ``item`` (a Section or a Value)."""

    item: Any
    nullable: bool = False


def positive(v: Any) -> str | None:
    """Check helper: strictly positive."""
    return None if v > 0 else f"must be > 0, got {v!r}"


def non_negative(v: Any) -> str | None:
    """Check helper: >= 0."""
    return None if v >= 0 else f"must be >= 0, got {v!r}"


def fraction(v: Any) -> str | None:
    """Check helper: in [0, 1]."""
    return None if 0 <= v <= 1 else f"must be within [0, 1], got {v!r}"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "text",
        list: "list",
        dict: "mapping",
    }.get(type(v), type(v).__name__)


def _check_value(spec: Value, v: Any) -> str | None:
    if v is None:
        return None if spec.nullable else "must not be null"
    k = spec.kind
    if k == "any":
        return None
    if k == "float":
        if isinstance(v, str):
            try:  # YAML 1.1 reads '1e-8' (no dot) as text; accept it as a number
                v = float(v)
            except ValueError:
                return f"expected a number, got {_type_name(v)} {v!r}"
        if not _is_number(v):
            return f"expected a number, got {_type_name(v)} {v!r}"
        if not math.isfinite(float(v)):
            return f"must be finite, got {v!r}"
    elif k == "int":
        if not (isinstance(v, int) and not isinstance(v, bool)):
            return f"expected an integer, got {_type_name(v)} {v!r}"
    elif k == "int_or_auto":
        if v == "auto":
            return None
        if not (isinstance(v, int) and not isinstance(v, bool)):
            return f"expected an integer or 'auto', got {_type_name(v)} {v!r}"
    elif k == "bool":
        if not isinstance(v, bool):
            return f"expected true or false, got {_type_name(v)} {v!r}"
    elif k == "str":
        if not isinstance(v, str):
            return f"expected text, got {_type_name(v)} {v!r}"
        if spec.choices and v not in spec.choices:
            close = difflib.get_close_matches(v, spec.choices, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"must be one of {', '.join(spec.choices)}; got {v!r}{hint}"
    elif k in ("floats", "float_or_floats"):
        items = v if isinstance(v, list) else ([v] if k == "float_or_floats" else None)
        if items is None:
            return f"expected a list of numbers, got {_type_name(v)} {v!r}"
        for x in items:
            if not _is_number(x):
                return f"expected numbers, got {_type_name(x)} {x!r}"
        if spec.check:
            for x in items:
                err = spec.check(x)
                if err:
                    return err
        return None
    elif k == "strs":
        items = v if isinstance(v, list) else None
        if items is None or not all(isinstance(x, str) for x in items):
            return f"expected a list of text values, got {v!r}"
    if spec.check:
        return spec.check(float(v) if k == "float" else v)
    return None


def check(doc: LoadedYAML, schema: Section) -> list[ConfigIssue]:
    """Validate ``doc`` against ``schema``; return every issue (errors and warnings).

    Unknown keys give a warning with the closest known key; 2.x keys we do not implement give
    one warning each; wrong types or values give errors.
    """
    issues: list[ConfigIssue] = []

    def issue(level: str, path: KeyPath, msg: str) -> None:
        issues.append(ConfigIssue(level, path, doc.line(path), msg, doc.source))

    def walk(spec: Any, value: Any, path: KeyPath) -> None:
        if isinstance(spec, Info):
            return
        if isinstance(spec, Legacy):
            issue("warning", path, f"homodyne 2.x key {spec.why}")
            return
        if isinstance(spec, Value):
            err = _check_value(spec, value)
            if err:
                issue("error", path, err)
            return
        if isinstance(spec, ListOf):
            if value is None and spec.nullable:
                return
            if not isinstance(value, list):
                issue("error", path, f"expected a list, got {_type_name(value)} {value!r}")
                return
            for index, item in enumerate(value):
                walk(spec.item, item, path + (index,))
            return
        if isinstance(spec, Section):
            if value is None:
                return
            if not isinstance(value, dict):
                issue(
                    "error", path, f"expected a mapping of keys, got {_type_name(value)} {value!r}"
                )
                return
            for key, sub in value.items():
                key_s = str(key)
                if key_s in spec.keys:
                    walk(spec.keys[key_s], sub, path + (key_s,))
                elif not spec.extra:
                    close = difflib.get_close_matches(key_s, list(spec.keys), n=1, cutoff=0.6)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    issue("warning", path + (key_s,), f"unknown key {key_s!r}, ignored{hint}")
            return
        raise TypeError(f"bad schema node at {format_path(path)}: {spec!r}")  # pragma: no cover

    walk(schema, doc.data, ())
    return issues
