"""Read a YAML file into plain Python objects and remember the line of every key.

PyYAML's composer keeps a ``start_mark`` on every node. We compose the document once, record
``key path -> line`` from the node tree, then construct the plain objects with the safe
constructor (never arbitrary Python objects).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

__all__ = ["KeyPath", "LoadedYAML", "format_path", "load_yaml", "parse_yaml"]

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    """``('a', 'b', 0, 'c')`` -> ``'a.b[0].c'``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<top level>"


@dataclass
class LoadedYAML:
    """A parsed YAML document with the source line of every key.

    Attributes
    ----------
    data
        The document as dicts, lists and scalars (``{}`` for an empty file).
    lines
        ``key path -> 1-based line`` for every mapping key and sequence item.
    source
        File name used in messages.
    """

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    source: str = "<string>"

    def line(self, path: KeyPath) -> int | None:
        """Line of ``path`` or of its closest recorded parent (None if nothing is recorded)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _record(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{source}:{line}: key {format_path(path + (key,))!r} appears twice "
                    f"(first on line {seen[key]})"
                )
            seen[key] = line
            lines[path + (key,)] = line
            _record(value_node, path + (key,), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            _record(item, path + (index,), lines, source)


def parse_yaml(text: str, source: str = "<string>") -> LoadedYAML:
    """Parse YAML text; syntax errors become :class:`ConfigError` with the line number."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        ctx = exc.context_mark
        if exc.context and ctx is not None and (mark is None or ctx.line != mark.line):
            problem += f" ({exc.context} that starts on line {ctx.line + 1})"
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML syntax error: {exc}") from None
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _record(node, (), lines, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}:1: the configuration must be a YAML mapping (key: value), "
            f"got a {type(data).__name__}"
        )
    return LoadedYAML(data=data, lines=lines, source=source)


def load_yaml(path: str | Path) -> LoadedYAML:
    """Read and parse a YAML configuration file.

    Raises
    ------
    ConfigError
        When the file does not exist, cannot be read, or is not valid YAML (with line number).
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"configuration file not found: {p}")
    if p.is_dir():
        raise ConfigError(f"configuration path is a folder, expected a YAML file: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration file {p}: {exc}") from None
    return parse_yaml(text, source=str(p))
