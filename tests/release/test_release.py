"""scripts/release.py: refusals (fast, on a mini repository) and the full dry run (slow)."""

import datetime as dt
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import changelog
import pytest
import workspace

import release

ROOT = Path(__file__).resolve().parents[2]


def test_check_ready_refuses_what_cannot_be_released(mini_repo, git):
    pkgs = workspace.load_packages(mini_repo)
    data = pkgs["homodyne-data"]
    release.check_ready(mini_repo, data, "homodyne-data-v0.2.0", dry_run=False)  # all fine

    git(mini_repo, "tag", "homodyne-data-v0.2.0")
    with pytest.raises(workspace.ReleaseError, match="tag homodyne-data-v0.2.0 exists already"):
        release.check_ready(mini_repo, data, "homodyne-data-v0.2.0", dry_run=True)

    text = data.changelog.read_text().replace("- First work.\n\n", "")
    data.changelog.write_text(text)
    with pytest.raises(workspace.ReleaseError, match="working tree|git status is not clean"):
        release.check_ready(mini_repo, data, "homodyne-data-v0.3.0", dry_run=False)
    with pytest.raises(workspace.ReleaseError, match=r"\[Unreleased\] section is empty"):
        release.check_ready(mini_repo, data, "homodyne-data-v0.3.0", dry_run=True)

    data.changelog.write_text(text.replace("## [0.1.0] - 2026-11-25", "## 0.1.0"))
    with pytest.raises(workspace.ReleaseError, match="homodyne-data/CHANGELOG.md"):
        release.check_ready(mini_repo, data, "homodyne-data-v0.3.0", dry_run=True)


def _git(repo, *args):
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.slow
def test_dry_run_releases_physics_minor_on_a_clone(tmp_path):
    """The acceptance run: bump, CHANGELOG, ranges, lock, wheels tested in a clean venv."""
    clone = tmp_path / "clone"
    _git(ROOT, "clone", "--quiet", str(ROOT), str(clone))
    _git(clone, "checkout", "--quiet", _git(ROOT, "rev-parse", "HEAD"))
    pyproject = clone / "packages/homodyne-physics/pyproject.toml"
    before = pyproject.read_text()
    major, minor, _ = workspace.parse_version(tomllib.loads(before)["project"]["version"])
    new = f"{major}.{minor + 1}.0"
    work = tmp_path / "work"
    cmd = [sys.executable, "scripts/release.py", "homodyne-physics", "--bump", "minor"]
    cmd += ["--dry-run", "--workdir", str(work), "--pytest-args", "-q -x"]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    proc = subprocess.run(cmd, cwd=clone, capture_output=True, text=True, env=env, timeout=1500)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f"would create tag homodyne-physics-v{new}" in out
    assert " passed" in out and " failed" not in out
    assert f"clean venv: homodyne_physics {new} from the wheel" in out

    # the clone the script ran from is untouched, and no tag was made anywhere
    assert _git(clone, "status", "--porcelain") == ""
    assert pyproject.read_text() == before
    copy = work / "checkout"
    for repo in (clone, copy):
        assert f"homodyne-physics-v{new}" not in _git(repo, "tag", "--list")

    # the throwaway copy holds the release commit: version, CHANGELOG, ranges, lock, artefacts
    pkgs = workspace.load_packages(copy)
    assert pkgs["homodyne-physics"].version == new
    text = pkgs["homodyne-physics"].changelog.read_text()
    assert changelog.problems(text, new) == []
    assert f"## [{new}] - {dt.date.today().isoformat()}" in text
    assert not changelog.has_unreleased_entries(text)
    for name in ("homodyne-data", "homodyne-nlsq", "homodyne-cmc", "homodyne-cli"):
        req = pkgs[name].requires["homodyne-physics"]
        assert workspace.range_allows(req, workspace.parse_version(new), pkgs[name].pyproject)
        assert f"Requires `{req}`" in pkgs[name].changelog.read_text()
    lock = tomllib.loads((copy / "uv.lock").read_text())
    assert {p["name"]: p["version"] for p in lock["package"]}["homodyne-physics"] == new
    subject = _git(copy, "log", "-1", "--format=%s")
    assert subject == f"chore(physics): release homodyne-physics {new}"
    dist = copy / "dist" / f"homodyne-physics-{new}"
    assert (dist / f"homodyne_physics-{new}-py3-none-any.whl").is_file()
    assert (dist / f"homodyne_physics-{new}.tar.gz").is_file()
