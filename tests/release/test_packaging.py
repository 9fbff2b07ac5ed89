"""Licence metadata and files: the root LICENSE, an identical copy in every package."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["homodyne-physics", "homodyne-data", "homodyne-nlsq", "homodyne-cmc", "homodyne-cli"]


def test_root_license_is_mit_2026():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 homodyne developers" in text


@pytest.mark.parametrize("dist", PACKAGES)
def test_package_declares_and_ships_the_license(dist):
    pkg = ROOT / "packages" / dist
    project = tomllib.loads((pkg / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    # uv_build takes license files from the package directory only (no '..'): a copy.
    assert (pkg / "LICENSE").read_text() == (ROOT / "LICENSE").read_text(), (
        f"{pkg / 'LICENSE'} differs from the root LICENSE: copy it again"
    )
