"""CI check of the package CHANGELOGs.

1. Each is Keep a Changelog shaped and has a ``## [X.Y.Z] - date`` section for the version in
   its pyproject.toml (scripts/changelog.py says what is checked).
2. A package whose sources (``src/``, ``pyproject.toml``) changed since its last release tag
   ``homodyne-<pkg>-vX.Y.Z`` has at least one entry under ``## [Unreleased]``. Before a
   package's first tag the comparison is with the repository's first commit (said in the output).
   Uncommitted changes count too, so the check means the same locally and in CI.

    uv run python scripts/check_changelogs.py      # exit 1 with one line per problem
"""

from __future__ import annotations

import sys
from pathlib import Path

import changelog
from workspace import ORDER, Package, ReleaseError, git, last_tag, load_packages

SOURCES = ("src", "pyproject.toml")


def baseline(root: Path, package: Package) -> tuple[str, str]:
    """(git revision, description) that the package's sources are compared with."""
    found = last_tag(root, package)
    if found is not None:
        return found[0], f"its last release tag {found[0]}"
    first = git(root, "rev-list", "--max-parents=0", "HEAD").split()[-1]
    return first, f"the first commit {first[:10]} (no {package.tag_prefix}* tag yet)"


def changed_sources(root: Path, package: Package, revision: str) -> list[str]:
    rel = package.directory.relative_to(root)
    paths = [str(rel / s) for s in SOURCES]
    return git(root, "diff", "--name-only", revision, "--", *paths).split()


def check(root: Path) -> tuple[list[str], list[str]]:
    """(problems, notes) for every package; the check passes when problems is empty."""
    if git(root, "rev-parse", "--is-shallow-repository") == "true":
        raise ReleaseError(
            f"{root} is a shallow clone: tags and the first commit are missing "
            "(git fetch --unshallow --tags)"
        )
    problems, notes = [], []
    for name, package in load_packages(root).items():
        try:
            text = package.changelog.read_text()
        except OSError as exc:
            problems.append(f"{package.changelog}: cannot read ({exc})")
            continue
        problems += [f"{package.changelog}: {p}" for p in changelog.problems(text, package.version)]
        revision, described = baseline(root, package)
        changed = changed_sources(root, package, revision)
        if not changed:
            notes.append(f"{name}: sources unchanged since {described}")
        elif changelog.UNRELEASED not in text or not changelog.has_unreleased_entries(text):
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            shown = ", ".join(changed[:3]) + more
            problems.append(
                f"{package.changelog}: {len(changed)} source file(s) changed since {described} "
                f"({shown}) but [Unreleased] has no entry: say what changed for users"
            )
        else:
            notes.append(
                f"{name}: {len(changed)} source file(s) changed since {described}; "
                "[Unreleased] has entries"
            )
    return problems, notes


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[1]
    try:
        problems, notes = check(root)
    except ReleaseError as exc:
        print(f"check_changelogs: {exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(note)
    for problem in problems:
        print(f"ERROR {problem}", file=sys.stderr)
    verdict = f"{len(problems)} problem(s)" if problems else "ok"
    print(f"{len(ORDER)} CHANGELOGs checked: {verdict}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
