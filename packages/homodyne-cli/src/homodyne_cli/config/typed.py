"""Map a :class:`RunConfig` onto the typed configs owned by the lower packages.

Each lower package validates its own section (``DataConfig``, ``NLSQConfig.from_dict``,
``CMCConfig.from_dict``); errors they raise are re-raised as :class:`ConfigError` with the YAML
line of the key they name.
"""

import dataclasses
from typing import Any

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

    return DataConfig(
        file=file,
        q=q,
        phi_ranges=run.phi_ranges,
        start_frame=run.start_frame,
        end_frame=run.end_frame,
        dt=run.dt,
        q_tolerance=run.q_tolerance,
        nan_threshold=run.nan_threshold,
        cache_dir=run.cache_dir,
    )


def nlsq_config(run: RunConfig):
    """``homodyne_nlsq.NLSQConfig`` from the resolved ``optimization.nlsq`` settings."""
    from homodyne_nlsq import NLSQConfig

    try:
        return NLSQConfig.from_dict(run.nlsq, path="optimization.nlsq")
    except Exception as exc:
        if type(exc).__name__ == "NLSQConfigError":
            raise _with_line(run, exc, "optimization.nlsq") from None
        raise


_CMC_VALUE_MAP: dict[str, dict[Any, Any]] = {
    "num_shards": {"auto": None},
    "max_points_per_shard": {"auto": None},
    "backend": {
        "multiprocessing": "local",
        "pjit": "sequential",
        "jax": "sequential",
        "pbs": "auto",
    },
    "chain_method": {"parallel": "vectorized"},
}


def cmc_config(run: RunConfig, warn=None):
    """``homodyne_cmc.CMCConfig`` from the resolved CMC settings.

    Settings that the CMC package does not implement are reported through ``warn`` (a
    callable taking one message), naming the YAML key, never dropped silently.
    """
    import homodyne_cmc

    cls = getattr(homodyne_cmc, "CMCConfig", None)
    if cls is None:
        raise ConfigError(
            "CMC is not available in this installation (homodyne_cmc has no "
            "CMCConfig); use --method nlsq"
        )
    known = {f.name for f in dataclasses.fields(cls)}
    d: dict[str, Any] = {}
    for key, (value, path) in run.cmc.items():
        if key in _CMC_VALUE_MAP and isinstance(value, str | bool):
            mapped = _CMC_VALUE_MAP[key].get(value, value)
            if mapped != value and warn is not None and value != "auto":
                warn(f"{path}: 2.x value {value!r} runs as {mapped!r} in homodyne 3")
            value = mapped
        if key in known:
            d[key] = value
        elif warn is not None and path != "seed":
            warn(f"{path} is not implemented by homodyne-cmc; ignored")
    if "priors" in known and run.priors:
        d["priors"] = {
            name: {
                "family": p["family"],
                "mean": p["mean"],
                "sd": p["sd"],
                "min": p["low"],
                "max": p["high"],
            }
            for name, p in run.priors.items()
        }
    try:
        return cls.from_dict(d, path="optimization.cmc")
    except Exception as exc:
        if "ConfigError" in type(exc).__name__:
            raise _with_line(run, exc, "optimization.cmc") from None
        raise
