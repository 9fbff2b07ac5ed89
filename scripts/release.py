"""Release one workspace package: bump, CHANGELOG, ranges, lock, build, test in a clean venv, tag.

    uv run python scripts/release.py homodyne-physics --bump minor --dry-run
    uv run python scripts/release.py homodyne-physics --bump minor

The dry run does every step on a throwaway clone of HEAD (the checkout is never modified) and
prints the tag it would create. Publishing is a separate manual step: see RELEASING.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import changelog
from workspace import (
    ORDER,
    TEST_DIRS,
    Package,
    ReleaseError,
    below,
    eprint,
    fmt,
    git,
    house_range,
    last_tag,
    load_packages,
    parse_version,
    range_allows,
    run,
    set_requirement,
)

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("package", choices=ORDER)
    p.add_argument("--bump", required=True, choices=("major", "minor", "patch"))
    p.add_argument("--dry-run", action="store_true", help="everything but the tag, on a clone")
    p.add_argument(
        "--date",
        type=dt.date.fromisoformat,
        default=dt.date.today(),
        help="release date for the CHANGELOG (default: today)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        help="dry run: make the clone here and keep it (default: a temporary folder)",
    )
    p.add_argument("--pytest-args", default="-q", help="extra pytest arguments (default: -q)")
    return p.parse_args(argv)


def clone_for_dry_run(root: Path, workdir: Path | None) -> Path:
    """A throwaway clone of HEAD (with the tags); uncommitted changes are not in it."""
    if git(root, "status", "--porcelain"):
        eprint("note: the checkout has uncommitted changes; the dry run uses HEAD without them")
    head = git(root, "rev-parse", "HEAD")
    dest = (workdir or Path(tempfile.mkdtemp(prefix="homodyne-release-"))) / "checkout"
    if dest.exists():
        raise ReleaseError(f"{dest} exists already: give an empty --workdir")
    dest.parent.mkdir(parents=True, exist_ok=True)
    run(["git", "clone", "--quiet", "--no-hardlinks", str(root), str(dest)], root)
    git(dest, "checkout", "--quiet", "--detach", head)
    return dest


def check_ready(work: Path, pkg: Package, tag: str, dry_run: bool) -> None:
    if not dry_run and git(work, "status", "--porcelain"):
        raise ReleaseError(f"{work}: commit or stash your changes first (git status is not clean)")
    if git(work, "tag", "--list", tag):
        raise ReleaseError(f"tag {tag} exists already")
    text = pkg.changelog.read_text()
    problems = changelog.problems(text, pkg.version)
    if problems:
        raise ReleaseError(f"{pkg.changelog}:\n  " + "\n  ".join(problems))
    if not changelog.has_unreleased_entries(text):
        raise ReleaseError(
            f"{pkg.changelog}: the [Unreleased] section is empty: nothing to release"
        )


def bump(work: Path, packages: dict[str, Package], name: str, kind: str, date: dt.date) -> str:
    """New version in pyproject.toml and CHANGELOG; ranges above it widened; uv.lock refreshed."""
    pkg = packages[name]
    out = run(
        ["uv", "version", "--package", name, "--bump", kind, "--frozen", "--output-format", "json"],
        work,
        capture=True,
    )
    new = json.loads(out)["version"]
    parse_version(new)
    pkg.changelog.write_text(changelog.release(pkg.changelog.read_text(), new, date))
    print(f"{pkg.changelog.relative_to(work)}: [Unreleased] is now [{new}] - {date}")
    for other in packages.values():
        old = other.requires.get(name)
        if old is None or range_allows(old, parse_version(new), other.pyproject):
            continue
        wanted = f"{name}{house_range(parse_version(new))}"
        set_requirement(other.pyproject, old, wanted)
        other.changelog.write_text(
            changelog.add_unreleased_entry(
                other.changelog.read_text(),
                "Changed",
                f"Requires `{wanted}` (was `{old.removeprefix(name)}`).",
            )
        )
        print(f"{other.pyproject.relative_to(work)}: {old} -> {wanted} (+ CHANGELOG entry)")
    run(["uv", "lock"], work)
    return new


def build(work: Path, name: str, version: str, out: Path) -> tuple[Path, Path]:
    """Wheel and sdist without workspace sources; both must carry LICENSE and the version."""
    run(["uv", "build", "--package", name, "--no-sources", "--out-dir", str(out)], work)
    stem = f"{name.replace('-', '_')}-{version}"
    wheel, sdist = out / f"{stem}-py3-none-any.whl", out / f"{stem}.tar.gz"
    for path in (wheel, sdist):
        if not path.is_file():
            raise ReleaseError(f"uv build made no {path.name} in {out}")
    with tarfile.open(sdist) as tar:
        names = set(tar.getnames())
    if f"{stem}/LICENSE" not in names:
        raise ReleaseError(f"{sdist.name} has no {stem}/LICENSE (license-files in pyproject.toml?)")
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(f"{stem}.dist-info/METADATA").decode()
        if f"{stem}.dist-info/licenses/LICENSE" not in zf.namelist():
            raise ReleaseError(f"{wheel.name} has no dist-info/licenses/LICENSE")
    if f"\nVersion: {version}\n" not in meta:
        raise ReleaseError(f"{wheel.name}: METADATA does not say Version: {version}")
    return wheel, sdist


def released_wheels(work: Path, packages: dict[str, Package], name: str, tmp: Path) -> list:
    """Wheels of the packages below ``name``: from their last tags, else from this tree."""
    wheels = []
    for dep in below(packages, name):
        found = last_tag(work, packages[dep])
        if found is None:
            version, source = packages[dep].version, work
            print(f"{dep}: no release tag yet: building {version} from the current tree")
        else:
            tag, v = found
            version, source = fmt(v), tmp / f"src-{tag}"
            source.mkdir()
            archive = tmp / f"{tag}.tar"
            git(work, "archive", "--format=tar", f"--output={archive}", tag)
            with tarfile.open(archive) as tar:
                tar.extractall(source, filter="data")
            print(f"{dep}: building {version} from tag {tag}")
        out = tmp / f"dist-{dep}"
        run(
            ["uv", "build", "--package", dep, "--no-sources", "--wheel", "--out-dir", str(out)],
            source,
        )
        wheels.append((dep, version, out / f"{dep.replace('-', '_')}-{version}-py3-none-any.whl"))
    return wheels


def test_in_clean_venv(
    work: Path, name: str, version: str, wheel: Path, lower: list, tmp: Path, pytest_args: str
) -> None:
    """Install the wheels (+ the locked dev group) into a fresh venv; run the package's tests."""
    venv = tmp / "venv"
    run(["uv", "venv", "--quiet", "--python", "3.12", str(venv)], work)
    python = str(venv / "bin" / "python")
    dev = tmp / "dev-requirements.txt"
    run(
        [
            "uv",
            "export",
            "--frozen",
            "--only-group",
            "dev",
            "--no-emit-workspace",
            "--no-hashes",
            "--no-header",
            "--quiet",
            "--output-file",
            str(dev),
        ],
        work,
    )
    pins = tmp / "internal-pins.txt"  # the exact wheels below, never an index's homodyne-*
    pins.write_text("".join(f"{d}=={v}\n" for d, v, _ in [(name, version, wheel), *lower]))
    run(
        [
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            python,
            "--constraint",
            str(pins),
            "-r",
            str(dev),
            str(wheel),
            *(str(w) for _, _, w in lower),
        ],
        work,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    module = name.replace("-", "_")
    where = run(
        [python, "-c", f"import {module} as m; print(m.__file__, m.__version__)"],
        tmp,
        capture=True,
        env=env,
    ).split()
    if not where[0].startswith(str(venv)) or where[1] != version:
        raise ReleaseError(f"the clean venv imports {module} {where[1]} from {where[0]}")
    print(
        f"clean venv: {module} {where[1]} from the wheel, with",
        ", ".join(f"{d} {v}" for d, v, _ in lower) or "no internal dependencies",
    )
    run(
        [python, "-m", "pytest", TEST_DIRS[name], "-p", "no:cacheprovider", *pytest_args.split()],
        work,
        env=env,
    )


def release(work: Path, args: argparse.Namespace) -> tuple[str, str]:
    packages = load_packages(work)
    pkg = packages[args.package]
    new_v = (
        run(
            ["uv", "version", "--package", pkg.name, "--bump", args.bump, "--dry-run", "--short"],
            work,
            capture=True,
        )
        .strip()
        .split()[-1]
    )
    tag = f"{pkg.tag_prefix}{new_v}"
    check_ready(work, pkg, tag, args.dry_run)
    new = bump(work, packages, pkg.name, args.bump, args.date)
    if new != new_v:
        raise ReleaseError(f"uv version gave {new}, expected {new_v}")
    packages = load_packages(work)
    dist = work / "dist" / f"{pkg.name}-{new}"
    wheel, sdist = build(work, pkg.name, new, dist)
    with tempfile.TemporaryDirectory(prefix="homodyne-release-test-") as tmp:
        lower = released_wheels(work, packages, pkg.name, Path(tmp))
        test_in_clean_venv(work, pkg.name, new, wheel, lower, Path(tmp), args.pytest_args)
    git(work, "add", "--all", "--", "packages", "uv.lock")
    identity = (
        []
        if git_has_identity(work)
        else ["-c", "user.name=homodyne release", "-c", "user.email=release@homodyne.invalid"]
    )
    git(work, *identity, "commit", "--quiet", "-m", f"chore({pkg.scope}): release {pkg.name} {new}")
    print("\n" + git(work, "show", "--stat", "--format=%h %s", "HEAD"))
    print(f"\nbuilt: {wheel}\n       {sdist}")
    return tag, new


def git_has_identity(work: Path) -> bool:
    try:
        return bool(git(work, "config", "user.email"))
    except ReleaseError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = None
    try:
        root = Path(git(ROOT, "rev-parse", "--show-toplevel"))
        work = clone_for_dry_run(root, args.workdir) if args.dry_run else root
        tag, version = release(work, args)
        if args.dry_run:
            kept = f"kept in {work}" if args.workdir else "removed now (--workdir DIR keeps it)"
            print(f"\ndry run: all steps passed; would create tag {tag}; the clone is {kept}")
        else:
            git(work, "tag", "--annotate", tag, "--message", f"{args.package} {version}")
            print(f"\ncreated tag {tag}; next: git push --follow-tags, then publish (RELEASING.md)")
    except ReleaseError as exc:
        eprint(f"release: {exc}")
        if work is not None and not args.dry_run:
            eprint(
                "the checkout may hold the release edits: `git status`; "
                "`git checkout -- packages uv.lock` undoes them"
            )
        return 1
    finally:
        if work is not None and args.dry_run and args.workdir is None:
            shutil.rmtree(work.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
