"""homodyne-cli: the ``homodyne`` command, YAML configuration, result writers and plots.

Importing this package is cheap; the names below load their modules on first use.
"""

import importlib
from typing import Any

_LAZY = {
    "app": ("homodyne_cli.app", "app"),
    "main": ("homodyne_cli.app", "main"),
    "load_config": ("homodyne_cli.config", "load_config"),
    "RunConfig": ("homodyne_cli.config", "RunConfig"),
    "render_template": ("homodyne_cli.config", "render_template"),
    "run_pipeline": ("homodyne_cli.pipeline", "run_pipeline"),
    "point_table": ("homodyne_cli.results_points", "point_table"),
}

__all__ = [
    "RunConfig",
    "__version__",
    "app",
    "load_config",
    "main",
    "point_table",
    "render_template",
    "run_pipeline",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # pyproject.toml, via the installed metadata; read on first use
        from importlib.metadata import version  # (~0.05 s of imports that --help need not pay)

        return version("homodyne-cli")
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'homodyne_cli' has no attribute {name!r}")
