"""The workspace's packages, their internal version ranges, release tags and git/uv helpers.

Shared by scripts/release.py and scripts/check_changelogs.py. Standard library only.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

# Bottom to top: each package may depend only on packages to its left.
ORDER = ("homodyne-physics", "homodyne-data", "homodyne-nlsq", "homodyne-cmc", "homodyne-cli")
TEST_DIRS = {
    "homodyne-physics": "tests/physics",
    "homodyne-data": "tests/data",
    "homodyne-nlsq": "tests/nlsq",
    "homodyne-cmc": "tests/cmc",
    "homodyne-cli": "tests/cli",
}
# The house form of an internal requirement: "homodyne-physics>=0.1.0,<0.2".
RANGE = re.compile(r"^(homodyne-[a-z]+)>=(\d+\.\d+\.\d+),<(\d+(?:\.\d+)?)$")

Version = tuple[int, int, int]


class ReleaseError(RuntimeError):
    """A release step cannot go on; the message says what to fix."""


def parse_version(text: str) -> Version:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text.strip())
    if not m:
        raise ReleaseError(f"expected a version X.Y.Z, got {text!r}")
    return tuple(int(g) for g in m.groups())


def fmt(version: Version) -> str:
    return ".".join(str(v) for v in version)


def next_breaking(version: Version) -> str:
    """The first version SemVer lets break the API of ``version``: 0.3 for 0.2.x, 2 for 1.x."""
    major, minor, _ = version
    return f"0.{minor + 1}" if major == 0 else str(major + 1)


def house_range(version: Version) -> str:
    return f">={fmt(version)},<{next_breaking(version)}"


def _upper(text: str) -> Version:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


@dataclass(frozen=True)
class Package:
    name: str
    directory: Path  # packages/<name>
    version: str
    requires: dict[str, str]  # internal dependency -> the full requirement string

    @property
    def scope(self) -> str:
        return self.name.removeprefix("homodyne-")

    @property
    def pyproject(self) -> Path:
        return self.directory / "pyproject.toml"

    @property
    def changelog(self) -> Path:
        return self.directory / "CHANGELOG.md"

    @property
    def tag_prefix(self) -> str:
        return f"{self.name}-v"


def load_packages(root: Path) -> dict[str, Package]:
    out = {}
    for name in ORDER:
        directory = root / "packages" / name
        path = directory / "pyproject.toml"
        try:
            project = tomllib.loads(path.read_text())["project"]
        except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
            raise ReleaseError(f"{path}: cannot read [project] ({exc})") from exc
        requires = {}
        for req in project.get("dependencies", []):
            dep = re.split(r"[<>=!~ ;\[]", req, maxsplit=1)[0]
            if dep in ORDER:
                requires[dep] = req.replace(" ", "")
        out[name] = Package(name, directory, project["version"], requires)
    return out


def below(packages: dict[str, Package], name: str) -> list[str]:
    """Every internal package ``name`` needs, directly or not, bottom first."""
    seen: set[str] = set()
    todo = list(packages[name].requires)
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(packages[dep].requires)
    return [n for n in ORDER if n in seen]


def range_allows(requirement: str, version: Version, where: Path) -> bool:
    m = RANGE.match(requirement)
    if not m:
        raise ReleaseError(
            f"{where}: internal requirement {requirement!r} is not in the form "
            "'homodyne-x>=A.B.C,<D.E' that the release script maintains"
        )
    return parse_version(m.group(2)) <= version < _upper(m.group(3))


def set_requirement(pyproject: Path, old: str, new: str) -> None:
    """Replace one dependency string in a pyproject.toml (text edit: keeps the layout)."""
    text = pyproject.read_text()
    quoted = f'"{old}"'
    if text.count(quoted) != 1:
        raise ReleaseError(f"{pyproject}: expected {quoted} exactly once in dependencies")
    pyproject.write_text(text.replace(quoted, f'"{new}"'))


def run(cmd: list[str], cwd: Path, *, capture: bool = False, env: dict | None = None) -> str:
    """Run a command, echoing it; raise ReleaseError naming the command when it fails."""
    print("+", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=cwd, text=True, env=env, capture_output=capture, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip()[-2000:] if capture else ""
        raise ReleaseError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{detail}")
    return proc.stdout if capture else ""


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, text=True, capture_output=True, check=False)
    if proc.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed in {root}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def last_tag(root: Path, package: Package) -> tuple[str, Version] | None:
    """The newest ``homodyne-<pkg>-vX.Y.Z`` tag in the repository, or None."""
    tags = []
    for tag in git(root, "tag", "--list", f"{package.tag_prefix}*").split():
        m = re.fullmatch(re.escape(package.tag_prefix) + r"(\d+\.\d+\.\d+)", tag)
        if m:
            tags.append((parse_version(m.group(1)), tag))
    if not tags:
        return None
    version, tag = max(tags)
    return tag, version


def eprint(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)
