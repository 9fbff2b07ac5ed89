"""Validate each section of a document with its own settings class; report with YAML lines.

The settings classes (``RunSettings``, ``DataSelection``, ``NLSQConfig``, ``CMCConfig``) check
types, ranges and allowed values; this module only feeds them the values :func:`.layout.walk`
found and turns every problem into a :class:`ConfigIssue` with the YAML key path and line, or
with the command-line flag when the value came from one.
"""

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from homodyne_data.settings import describe_errors, own_error

from .layout import ConfigIssue, Found
from .yamlio import KeyPath, LoadedYAML

__all__ = ["Override", "Reporter", "build"]


@dataclass(frozen=True)
class Override:
    """A command-line value that replaces one config key (``path`` as in the YAML)."""

    path: KeyPath
    value: Any
    flag: str

    def shown(self) -> str:
        """``--end-frame -5``; lists as ``--q 0.005 0.006``."""
        value = self.value
        if isinstance(value, list | tuple):
            value = " ".join(str(v) for v in value)
        return self.flag if isinstance(value, bool) else f"{self.flag} {value}"


@dataclass
class Reporter:
    """Collects the issues of one document, naming flags for command-line values."""

    doc: LoadedYAML
    overrides: list[Override] = field(default_factory=list)
    issues: list[ConfigIssue] = field(default_factory=list)

    def add(self, level: str, path: KeyPath, message: str) -> None:
        path = tuple(path)
        flag = None
        for ov in self.overrides:
            if path[: len(ov.path)] == tuple(ov.path):
                flag = ov.shown()
        line = None if flag else self.doc.line(path)
        self.issues.append(ConfigIssue(level, path, line, message, self.doc.source, flag))

    def error(self, path: KeyPath, message: str) -> None:
        self.add("error", path, message)

    def warn(self, path: KeyPath, message: str) -> None:
        self.add("warning", path, message)

    @property
    def errors(self) -> list[ConfigIssue]:
        return [i for i in self.issues if i.level == "error"]


def _where(found: Found, loc: tuple, root: KeyPath) -> KeyPath:
    if loc and loc[0] in found.values:
        return tuple(found.values[loc[0]][1]) + tuple(loc[1:])
    return tuple(root) + tuple(loc)


def _own(exc: ValidationError) -> tuple[tuple, str] | None:
    """A check of the class itself (``__post_init__``): its key and message."""
    inner = own_error(exc)
    if inner is None:
        return None
    key = getattr(inner, "dataset", None)
    text = getattr(inner, "what", None)
    if key is None:
        key, _, text = str(inner).partition(": ")
    return tuple(str(key).split(".")), text or str(inner)


def build(cls: Any, found: Found, root: KeyPath, rep: Reporter, **extra: Any) -> Any | None:
    """Validate the values of one section; every problem goes to ``rep``; None when invalid.

    ``extra`` supplies values the section did not find in the document (e.g. the run's seed).
    """
    data = {name: value for name, (value, _path) in found.values.items()}
    for name, value in extra.items():
        data.setdefault(name, value)
    try:
        return cls.__pydantic_validator__.validate_python(data)
    except ValidationError as exc:
        own = _own(exc)
        if own is not None:
            loc, text = own
            rep.error(_where(found, loc, root), text)
            return None
        for loc, message in describe_errors(cls, exc):
            path = _where(found, loc, root)
            if message.startswith("unknown key"):  # name the key inside its section
                message = f"unknown key {path[-1]!r}{message[len('unknown key') :]}"
                rep.error(path[:-1], message)
            else:
                rep.error(path, message)
        return None
