"""Building blocks of the typed settings of every homodyne package (pydantic v2).

Each package declares its configuration once, as a frozen pydantic dataclass whose fields carry
their type, default, constraint and unit (in the ``Field`` description). This module holds what
they share:

* value types with the rules a YAML configuration needs: :data:`Number` (finite, ``true`` is not
  a number, YAML 1.1's ``1e-8`` text is read as a number), :data:`Integer` (no fractions, no
  booleans) and :data:`Flag` (only ``true``/``false``);
* :func:`settings_config`, the pydantic configuration of a settings class (unknown keys
  refused, values checked on construction and on :func:`dataclasses.replace`);
* :func:`describe_errors`, which turns a :class:`pydantic.ValidationError` into
  ``(key path, message)`` pairs written for people (``must be > 0, got -1``, ``must be one of
  ...; did you mean ...?``), the same for every package;
* :func:`raise_as`, a class decorator making the constructor raise the package's own error
  class (a :class:`HomodyneError`) instead of pydantic's, with every problem in one message.

Classes may declare, as class variables, where their fields sit in a homodyne 2.x YAML file:
``YAML_KEYS`` (dotted YAML path -> field name; the first key present wins), ``YAML_LEGACY``
(2.x keys accepted but not implemented -> why) and ``YAML_INFO`` (descriptive keys, accepted).
The command line reads these tables; nothing here reads YAML.
"""

import difflib
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, Strict, ValidationError

__all__ = [
    "Flag",
    "Integer",
    "Number",
    "PositiveNumber",
    "describe_errors",
    "expected_of",
    "format_path",
    "kind_of",
    "own_error",
    "raise_as",
    "settings_config",
    "suggest",
]


def _number_in(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {kind_of(value)} {value!r}")
    if isinstance(value, str):
        try:  # YAML 1.1 reads '1e-8' (no dot) as text
            return float(value)
        except ValueError:
            return value
    return value


def _integer_in(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {kind_of(value)} {value!r}")
    return value


Number = Annotated[float, BeforeValidator(_number_in), Field(allow_inf_nan=False)]
"""A finite float; ints are widened, ``true``/``false`` refused, numeric text accepted."""

PositiveNumber = Annotated[float, BeforeValidator(_number_in), Field(allow_inf_nan=False, gt=0)]
"""A finite float > 0 (usable inside lists, where a separate ``Field(gt=0)`` is not)."""

Integer = Annotated[int, BeforeValidator(_integer_in)]
"""An int; ``2.0`` is accepted as 2, ``2.5`` and ``true`` are refused."""

Flag = Annotated[bool, Strict()]
"""Only ``true`` or ``false`` (no ``"yes"``, no 1)."""


def settings_config(**extra: Any) -> ConfigDict:
    """The pydantic configuration shared by every settings class."""
    return ConfigDict(
        extra="forbid",
        arbitrary_types_allowed=True,
        revalidate_instances="always",
        validate_default=False,
        **extra,
    )


def kind_of(value: Any) -> str:
    """Plain-words type of a YAML value (``text``, ``number``, ``mapping`` ...)."""
    if value is None:
        return "null"
    names = {bool: "boolean", int: "integer", float: "number", str: "text", list: "list"}
    names.update({dict: "mapping", tuple: "list"})
    return names.get(type(value), type(value).__name__)


def suggest(name: str, choices) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


_TYPE_NOUNS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "text",
    "list": "a list",
    "tuple": "a list",
    "dict": "a mapping",
    "dataclass": "a mapping",
    "model": "a mapping",
    "is_instance": "a mapping",
}
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def _sub_class(cls: Any, loc: tuple) -> Any:
    """The settings class reached by following ``loc`` through dataclass fields."""
    import dataclasses
    import typing

    for part in loc:
        fields = (
            {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        )
        if part not in fields:
            return None
        kind = fields[part].type
        args = [a for a in typing.get_args(kind) if dataclasses.is_dataclass(a)]
        cls = kind if dataclasses.is_dataclass(kind) else (args[0] if args else None)
    return cls


def expected_of(cls: Any, name: str) -> str | None:
    """The ``expected`` phrase a field declares (``Field(json_schema_extra={'expected': ..})``)."""
    import dataclasses

    if not dataclasses.is_dataclass(cls):
        return None
    info = getattr(cls, "__pydantic_fields__", {}).get(name)
    extra = getattr(info, "json_schema_extra", None) if info is not None else None
    return extra.get("expected") if isinstance(extra, dict) else None


def _message(cls: Any, err: dict) -> tuple[tuple, str]:
    loc = tuple(err["loc"])
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    got = f"got {kind_of(value)} {value!r}" if value is not None else "got null"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        parent = _sub_class(cls, loc[:-1])
        import dataclasses

        known = [f.name for f in dataclasses.fields(parent)] if parent else []
        return loc, f"unknown key{suggest(str(loc[-1]), known)}"
    if kind == "missing" or kind == "missing_argument":
        return loc, "required"
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        text = getattr(error, "what", None) or str(error or err["msg"])
        return loc, text
    if kind == "literal_error":
        choices = [
            c.strip().strip("'\"") for c in ctx.get("expected", "").replace(" or ", ", ").split(",")
        ]
        choices = [c for c in choices if c]
        hint = suggest(str(value), choices) if isinstance(value, str) else ""
        return loc, f"must be one of {', '.join(choices)}; got {value!r}{hint}"
    owner = _sub_class(cls, loc[:-1]) if loc else None
    phrase = expected_of(owner, loc[-1]) if owner is not None and loc else None
    if phrase:
        return loc, f"expected {phrase}, got {value!r}"
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        return loc, f"must be {sign} {ctx.get(key)}, got {value!r}"
    if kind == "finite_number":
        return loc, f"must be finite, got {value!r}"
    stem = kind.split("_")[0]
    if stem in _TYPE_NOUNS:
        return loc, f"expected {_TYPE_NOUNS[stem]}, {got}"
    return loc, str(err["msg"])


def _plain_loc(loc: tuple) -> tuple:
    """Drop pydantic's union-member tags (``tuple[str, ...]``, ``function-after[...]``)."""
    tags = ("float", "int", "str", "bool", "none", "list", "dict", "tuple", "nullable")
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or "(" in p or p in tags)))


def describe_errors(cls: Any, exc: ValidationError) -> list[tuple[tuple, str]]:
    """Every error of ``exc`` as ``(key path, message)``; the key path is pydantic's ``loc``.

    A value that fits no member of a union (``list or mapping``) gives one message naming what
    each member expects; a member that matched the shape but not a value wins.
    """
    found: dict[tuple, list[str]] = {}
    for err in exc.errors(include_url=False):
        loc, msg = _message(cls, err)
        found.setdefault(_plain_loc(loc), []).append(msg)
    deeper = [loc for loc in found if any(o[: len(loc)] == loc and o != loc for o in found)]
    out = []
    for loc, messages in found.items():
        if loc in deeper:
            continue
        if len(messages) > 1 and all(", got " in m and m.startswith("expected ") for m in messages):
            wanted = dict.fromkeys(m.split(", got ")[0].removeprefix("expected ") for m in messages)
            messages = [f"expected {' or '.join(wanted)}, got {messages[0].split(', got ', 1)[1]}"]
        out.append((loc, messages[0]))
    return out


def format_path(prefix: str, loc: tuple) -> str:
    """``'optimization.nlsq'``, ``('dask', 'cores')`` -> ``'optimization.nlsq.dask.cores'``."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out


def raise_as(error: Callable[[Any, ValidationError], Exception]):
    """Class decorator: the constructor raises ``error(cls, exc)`` instead of pydantic's error.

    ``error`` turns the :class:`pydantic.ValidationError` into the package's own error class
    (usually with :func:`describe_errors`), so a direct ``Settings(x=-1)`` or
    :func:`dataclasses.replace` reports like the rest of the package.
    """

    def decorate(cls):
        init = cls.__init__

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            try:
                init(self, *args, **kwargs)
            except ValidationError as exc:
                raise error(cls, exc) from None

        __init__.__doc__ = init.__doc__
        cls.__init__ = __init__
        return cls

    return decorate


def own_error(exc: ValidationError) -> Exception | None:
    """The package error a validator or ``__post_init__`` raised inside ``exc``, if any."""
    from homodyne_physics import HomodyneError

    for err in exc.errors(include_url=False):
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, HomodyneError):
            return inner
    return None
