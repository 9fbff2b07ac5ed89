"""Every package CHANGELOG is Keep a Changelog shaped and has a section for its version."""

import datetime as dt
import tomllib
from pathlib import Path

import changelog
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["homodyne-physics", "homodyne-data", "homodyne-nlsq", "homodyne-cmc", "homodyne-cli"]

GOOD = """# Changelog

Intro.

## [Unreleased]

### Fixed
- b fixed.

## [0.2.0] - 2026-12-01

### Added
- a.

## [0.1.0] - 2026-11-25

Placeholder.
"""


@pytest.mark.parametrize("dist", PACKAGES)
def test_package_changelog_is_well_formed(dist):
    pkg = ROOT / "packages" / dist
    version = tomllib.loads((pkg / "pyproject.toml").read_text())["project"]["version"]
    text = (pkg / "CHANGELOG.md").read_text()
    assert changelog.problems(text, version) == [], f"{pkg / 'CHANGELOG.md'}"
    assert len(text.splitlines()) < 500, f"{dist}: CHANGELOG.md is suspiciously long"


def test_good_example_passes():
    assert changelog.problems(GOOD, "0.2.0") == []
    assert changelog.problems(GOOD, "0.1.0") == []
    assert changelog.has_unreleased_entries(GOOD)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace("# Changelog", "# homodyne\n# Changelog", 1), "first line"),
        (lambda t: t.replace("## [Unreleased]", "## Unreleased"), "first '## ' section"),
        (lambda t: t.replace("[0.2.0] - 2026-12-01", "0.2.0 (unreleased)"), "is not '## [X.Y.Z]"),
        (lambda t: t.replace("2026-12-01", "2026-13-01"), "no valid date"),
        (lambda t: t.replace("[0.2.0]", "[0.0.9]"), "newest to oldest"),
        (lambda t: t.replace("2026-12-01", "2026-11-01"), "newest to oldest"),
        (lambda t: t + "\n## [Unreleased]\n", "a second"),
        (lambda t: t.replace("[0.2.0]", "[0.3.0]"), "no '## [0.2.0] - YYYY-MM-DD' section"),
    ],
)
def test_layout_errors_are_named(edit, message):
    found = changelog.problems(edit(GOOD), "0.2.0")
    assert any(message in p for p in found), found


def test_corruption_like_the_old_nlsq_changelog_is_caught():
    # 3d05e81 inserted one block before every character; a line repeated thousands of times.
    block = "### Measured\n| 3 x 200 | 59,700 | 3.48 |\n\n"
    corrupted = block + "".join(ch + block for ch in GOOD)
    found = changelog.problems(corrupted, "0.2.0")
    assert any(f"repeated {len(GOOD) + 1} times" in p for p in found), found


def test_release_moves_unreleased_under_the_new_version():
    out = changelog.release(GOOD, "0.3.0", dt.date(2026, 12, 3))
    moved = "## [Unreleased]\n\n## [0.3.0] - 2026-12-03\n\n### Fixed\n- b fixed.\n\n## [0.2.0]"
    assert moved in out
    assert changelog.problems(out, "0.3.0") == []
    assert not changelog.has_unreleased_entries(out)
    with pytest.raises(ValueError, match="no entries"):
        changelog.release(out, "0.3.1", dt.date(2026, 12, 3))


def test_add_unreleased_entry_creates_or_extends_a_subsection():
    empty = changelog.release(GOOD, "0.3.0", dt.date(2026, 12, 3))
    one = changelog.add_unreleased_entry(empty, "Changed", "Requires x>=1.")
    assert "## [Unreleased]\n\n### Changed\n- Requires x>=1.\n\n## [0.3.0]" in one
    two = changelog.add_unreleased_entry(one, "Changed", "Requires y>=2.")
    assert "### Changed\n- Requires x>=1.\n- Requires y>=2.\n\n## [0.3.0]" in two
    three = changelog.add_unreleased_entry(GOOD, "Changed", "Requires z>=3.")
    assert "### Fixed\n- b fixed.\n\n### Changed\n- Requires z>=3.\n\n## [0.2.0]" in three
    assert changelog.problems(three, "0.2.0") == []
