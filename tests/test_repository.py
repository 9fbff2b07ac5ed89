"""Repository-wide invariants: package versions agree, modules stay small, public API declared."""

import importlib
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "homodyne-physics": "homodyne_physics",
    "homodyne-data": "homodyne_data",
    "homodyne-nlsq": "homodyne_nlsq",
    "homodyne-cmc": "homodyne_cmc",
    "homodyne-cli": "homodyne_cli",
}
MAX_MODULE_LINES = 600  # house style: aim < 500, refuse > 600


@pytest.mark.parametrize("dist,module", list(PACKAGES.items()))
def test_version_and_public_api(dist, module):
    meta = tomllib.loads((ROOT / "packages" / dist / "pyproject.toml").read_text())
    mod = importlib.import_module(module)
    assert mod.__version__ == meta["project"]["version"]
    for name in getattr(mod, "__all__", []):
        assert hasattr(mod, name), f"{module}.__all__ names {name!r} but it is missing"
    for doc in ("README.md", "CHANGELOG.md"):
        assert (ROOT / "packages" / dist / doc).is_file()


def test_modules_stay_small():
    big = []
    for path in (ROOT / "packages").glob("*/src/**/*.py"):
        n = sum(1 for _ in path.open())
        if n > MAX_MODULE_LINES:
            big.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert not big, "split these modules by responsibility:\n" + "\n".join(big)
