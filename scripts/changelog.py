"""Read, check and edit the package CHANGELOG.md files (Keep a Changelog 1.1 layout).

Layout every package follows::

    # Changelog
    <free text>
    ## [Unreleased]
    ### Added | Changed | Fixed | ... (optional subsections, bullets, tables)
    ## [X.Y.Z] - YYYY-MM-DD
    ...

Used by scripts/release.py, scripts/check_changelogs.py and tests/release.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import Counter
from dataclasses import dataclass

TITLE = "# Changelog"
UNRELEASED = "## [Unreleased]"
VERSION_HEADING = re.compile(r"^## \[(\d+)\.(\d+)\.(\d+)\] - (\d{4}-\d{2}-\d{2})$")
# A genuine entry may repeat a few times over many releases ("- Requires homodyne-physics ...");
# the broken nlsq CHANGELOG repeated each of its lines 2,615 times.
MAX_REPEATS = 20


@dataclass(frozen=True)
class Section:
    heading: str  # the "## ..." line
    start: int  # index of the heading line
    end: int  # index one past the section's last line
    version: tuple[int, int, int] | None  # None for [Unreleased]
    date: _dt.date | None


def _sections(lines: list[str]) -> list[Section]:
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    out = []
    for k, i in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        m = VERSION_HEADING.match(lines[i])
        version = date = None
        if m:
            version = tuple(int(g) for g in m.group(1, 2, 3))
            try:
                date = _dt.date.fromisoformat(m.group(4))
            except ValueError:
                date = None
        out.append(Section(lines[i], i, end, version, date))
    return out


def parse_version(text: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text.strip())
    if not m:
        raise ValueError(f"expected a version X.Y.Z, got {text!r}")
    return tuple(int(g) for g in m.groups())


def problems(text: str, version: str | None = None) -> list[str]:
    """Everything wrong with a CHANGELOG's layout; empty when it is well-formed.

    With ``version`` (the one in pyproject.toml) it must also have a ``## [version] - date``
    section.
    """
    lines = text.splitlines()
    found = []
    if not lines or lines[0] != TITLE:
        found.append(f"the first line must be {TITLE!r}, found {lines[0] if lines else ''!r}")
    sections = _sections(lines)
    if not sections or sections[0].heading != UNRELEASED:
        found.append(f"the first '## ' section must be {UNRELEASED!r}")
    seen = []
    for s in sections[1:]:
        if s.heading == UNRELEASED:
            found.append(f"line {s.start + 1}: a second {UNRELEASED!r} section")
        elif s.version is None:
            found.append(
                f"line {s.start + 1}: {s.heading!r} is not '## [X.Y.Z] - YYYY-MM-DD' "
                "(or '## [Unreleased]')"
            )
        elif s.date is None:
            found.append(f"line {s.start + 1}: {s.heading!r} has no valid date")
        else:
            seen.append(s)
    for newer, older in zip(seen, seen[1:], strict=False):
        if not (newer.version > older.version and newer.date >= older.date):
            found.append(
                f"line {older.start + 1}: versions must go from newest to oldest "
                f"({newer.heading!r} above {older.heading!r})"
            )
    if version is not None:
        wanted = parse_version(version)
        if not any(s.version == wanted for s in seen):
            found.append(f"no '## [{version}] - YYYY-MM-DD' section for the pyproject.toml version")
    counts = Counter(line for line in lines if line.strip() and not line.startswith("#"))
    for line, n in counts.most_common():
        if n <= MAX_REPEATS:
            break
        found.append(f"line repeated {n} times (a corrupted edit?): {line[:70]!r}")
    return found


def unreleased_body(text: str) -> list[str]:
    """The lines of the [Unreleased] section (without its heading), stripped of blank edges."""
    lines = text.splitlines()
    section = next((s for s in _sections(lines) if s.heading == UNRELEASED), None)
    if section is None:
        raise ValueError(f"no {UNRELEASED!r} section")
    body = lines[section.start + 1 : section.end]
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    return body


def has_unreleased_entries(text: str) -> bool:
    """True when [Unreleased] lists at least one change (a bullet or a paragraph)."""
    return any(line.strip() and not line.startswith("#") for line in unreleased_body(text))


def release(text: str, version: str, date: _dt.date) -> str:
    """Move the [Unreleased] entries under ``## [version] - date``; leave [Unreleased] empty."""
    parse_version(version)
    if not has_unreleased_entries(text):
        raise ValueError(f"{UNRELEASED} has no entries: nothing to release as {version}")
    lines = text.splitlines()
    section = next(s for s in _sections(lines) if s.heading == UNRELEASED)
    body = unreleased_body(text)
    new = [UNRELEASED, "", f"## [{version}] - {date.isoformat()}", "", *body, ""]
    out = lines[: section.start] + new + lines[section.end :]
    return "\n".join(out).rstrip("\n") + "\n"


def add_unreleased_entry(text: str, kind: str, entry: str) -> str:
    """Add ``- entry`` under ``### kind`` in [Unreleased] (creating the subsection if needed)."""
    lines = text.splitlines()
    section = next((s for s in _sections(lines) if s.heading == UNRELEASED), None)
    if section is None:
        raise ValueError(f"no {UNRELEASED!r} section")
    sub = f"### {kind}"
    body_idx = range(section.start + 1, section.end)
    at = next((i for i in body_idx if lines[i] == sub), None)
    if at is None:
        end = section.end
        while end > section.start + 1 and not lines[end - 1].strip():
            end -= 1
        lines[end:end] = ["", sub, f"- {entry}"]
    else:
        end = at + 1
        while end < section.end and lines[end].strip() and not lines[end].startswith("#"):
            end += 1
        lines.insert(end, f"- {entry}")
    return "\n".join(lines).rstrip("\n") + "\n"
