"""The typed settings of the lower packages, as a run uses them.

:func:`.resolve.resolve` has already validated every section (with YAML lines); these helpers
add what only a run knows: the data file and q ring of one job, the priors set on the bounds
entries. A package's settings error is mapped by its type (``isinstance``), never by name.
"""

import dataclasses

from ..errors import ConfigError
from .resolve import RunConfig

__all__ = ["cmc_config", "data_config", "nlsq_config"]


def _with_line(run: RunConfig, exc: Exception, section: str) -> ConfigError:
    msg = str(exc)
    dotted = msg.split(":", 1)[0].strip() if ":" in msg else section
    line = run.line_of(dotted) or run.line_of(section)
    where = f"{run.source}:{line}: " if (run.source and line) else ""
    return ConfigError(f"{where}{msg}")


def data_config(run: RunConfig, file: str, q: float | None):
    """``homodyne_data.DataConfig`` for one data file and one q ring."""
    from homodyne_data import DataConfig

    return DataConfig.for_file(run.data, file, q)


def nlsq_config(run: RunConfig):
    """``homodyne_nlsq.NLSQConfig`` of the run (validated when the file was read)."""
    return run.nlsq


def cmc_config(run: RunConfig, warn=None):
    """``homodyne_cmc.CMCConfig`` of the run, with the priors of the bounds entries.

    ``warn`` is kept for callers that pass one: 2.x keys and values are reported (with their
    line) when the file is read.
    """
    from homodyne_cmc import CMCConfig, CMCConfigError

    cfg = run.cmc if run.cmc is not None else CMCConfig(seed=run.seed)
    if not run.priors:
        return cfg
    priors = {
        name: {"family": p["family"], "mean": p["mean"], "sd": p["sd"]}
        | {"min": p["low"], "max": p["high"]}
        for name, p in run.priors.items()
    }
    try:
        return dataclasses.replace(cfg, priors=priors)
    except CMCConfigError as exc:
        raise _with_line(run, exc, "parameter_space.bounds") from None
