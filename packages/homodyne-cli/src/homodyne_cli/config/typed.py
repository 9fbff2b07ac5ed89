"""The typed settings of the lower packages, as a run uses them.

:func:`.resolve.resolve` has already validated every section (with YAML lines); these helpers
add what only a run knows: the data file and q ring of one job.
"""

from .resolve import RunConfig

__all__ = ["cmc_config", "data_config", "nlsq_config"]


def data_config(run: RunConfig, file: str, q: float | None):
    """``homodyne_data.DataConfig`` for one data file and one q ring."""
    from homodyne_data import DataConfig

    return DataConfig.for_file(run.data, file, q)


def nlsq_config(run: RunConfig):
    """``homodyne_nlsq.NLSQConfig`` of the run (validated when the file was read)."""
    return run.nlsq


def cmc_config(run: RunConfig, warn=None):
    """``homodyne_cmc.CMCConfig`` of the run (validated when the file was read).

    Priors are not CMC settings: they are in the model spec (:func:`..model_spec.spec_from_run`)
    that CMC takes from its warm start. ``warn`` is kept for callers that pass one: 2.x keys
    and values are reported (with their line) when the file is read.
    """
    from homodyne_cmc import CMCConfig

    return run.cmc if run.cmc is not None else CMCConfig(seed=run.seed)
