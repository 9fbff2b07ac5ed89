"""The release tooling lives in scripts/ (not a package): make its modules importable.

``mini_repo`` is a throwaway git repository shaped like the workspace (five packages with a
pyproject.toml, CHANGELOG.md and src/), for the tag and CHANGELOG logic.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = str(ROOT / "scripts")
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)

NAMES = ["homodyne-physics", "homodyne-data", "homodyne-nlsq", "homodyne-cmc", "homodyne-cli"]
MINI_CHANGELOG = "# Changelog\n\n## [Unreleased]\n\n- First work.\n\n## [0.1.0] - 2026-11-25\n"


def _git(repo, *args):
    out = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _commit(repo, message):
    _git(repo, "add", "--all")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qm", message)


@pytest.fixture
def git():
    """``git(repo, *args)`` -> stdout; ``git.commit(repo, message)`` commits everything."""
    _git.commit = _commit
    return _git


@pytest.fixture
def mini_repo(tmp_path):
    repo = tmp_path / "repo"
    for k, name in enumerate(NAMES):
        pkg = repo / "packages" / name
        (pkg / "src").mkdir(parents=True)
        deps = "".join(f'    "{d}>=0.1.0,<0.2",\n' for d in NAMES[:k])
        head = f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = [\n'
        (pkg / "pyproject.toml").write_text(head + deps + "]\n")
        (pkg / "CHANGELOG.md").write_text(MINI_CHANGELOG)
        (pkg / "src" / "mod.py").write_text(textwrap.dedent("x = 1\n"))
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _commit(repo, "start")
    return repo
