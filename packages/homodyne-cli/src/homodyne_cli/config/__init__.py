"""The YAML configuration layer: reading (with line numbers), checking, resolving, templates."""

from .layout import ConfigIssue
from .resolve import Override, RunConfig, load_config, resolve
from .templates import render_template
from .typed import cmc_config, data_config, nlsq_config
from .yamlio import LoadedYAML, load_yaml, parse_yaml

__all__ = [
    "ConfigIssue",
    "LoadedYAML",
    "Override",
    "RunConfig",
    "cmc_config",
    "data_config",
    "load_config",
    "load_yaml",
    "nlsq_config",
    "parse_yaml",
    "render_template",
    "resolve",
]
