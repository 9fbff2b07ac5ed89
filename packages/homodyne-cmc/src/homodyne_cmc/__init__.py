"""homodyne-cmc: consensus Monte Carlo (NumPyro NUTS) for XPCS two-time correlation data.

The entry point is :func:`fit_cmc`, configured by :class:`CMCConfig`, returning a
:class:`CMCResult`. Shards run on a :class:`Backend` (in-process :class:`SequentialBackend`,
process-pool :class:`LocalBackend`, or :class:`DaskBackend` on a Dask cluster: local, a
scheduler address, Slurm or PBS).

Every public name loads its module on first use (as in ``homodyne_physics``): ``import
homodyne_cmc`` or ``homodyne_cmc.config`` (the CLI's configuration check) does not pay for
JAX, NumPyro and ArviZ.
"""

from importlib import import_module
from importlib.metadata import version as _dist_version

_LAZY_MODULES = {
    ".api": ("fit_cmc", "make_backend"),
    ".backends": (
        "Backend",
        "LocalBackend",
        "Progress",
        "SequentialBackend",
        "machine_workers",
        "worker_setup",
    ),
    ".combination_space": (
        "CombinationSpace",
        "CombinedPosterior",
        "choose_reference_laws",
        "combine_shards",
    ),
    ".combine": ("Combination", "consensus_combine", "heterogeneity_test"),
    ".config": ("CMCConfig",),
    ".dask_backend": ("DaskBackend", "make_cluster"),
    ".dask_config": ("DaskConfig",),
    ".errors": ("CMCConfigError", "CMCError", "CMCWarning", "ShardFailedError", "WarmStartError"),
    ".gate": ("quality_gate",),
    ".laplace": ("LaplaceResult", "laplace_fit"),
    ".parameterization": ("ParamSpace", "build_space", "prior_moments"),
    ".report": ("make_result",),
    ".result": ("CMCResult",),
    ".sampler": ("ShardResult", "ShardTask", "run_shard", "shard_log_density"),
    ".sampling_space": ("SamplingSpace", "choose_sampling_laws"),
    ".sharding": ("Shard", "choose_num_shards", "make_shards"),
    ".stages": (
        "Consensus",
        "Execution",
        "Prepared",
        "ShardPlan",
        "consensus",
        "execute",
        "laplace_stage",
        "plan_shards",
        "prepare",
    ),
    ".store": ("ShardStore",),
    ".transport": ("cmc_identifiability", "cmc_transport"),
    ".warmstart": ("WarmStart", "check_warm_start", "load_warm_start", "noise_level"),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = _dist_version("homodyne-cmc")  # pyproject.toml, via the installed metadata

__all__ = [
    "make_result",
    "prepare",
    "plan_shards",
    "laplace_stage",
    "execute",
    "consensus",
    "ShardPlan",
    "Prepared",
    "Execution",
    "Consensus",
    "Backend",
    "CMCConfig",
    "CMCConfigError",
    "CMCError",
    "CMCResult",
    "CMCWarning",
    "DaskBackend",
    "DaskConfig",
    "Combination",
    "CombinationSpace",
    "SamplingSpace",
    "CombinedPosterior",
    "LaplaceResult",
    "LocalBackend",
    "ParamSpace",
    "Progress",
    "SequentialBackend",
    "Shard",
    "ShardFailedError",
    "ShardResult",
    "ShardStore",
    "ShardTask",
    "WarmStart",
    "WarmStartError",
    "__version__",
    "build_space",
    "check_warm_start",
    "choose_num_shards",
    "choose_reference_laws",
    "choose_sampling_laws",
    "cmc_identifiability",
    "cmc_transport",
    "combine_shards",
    "consensus_combine",
    "fit_cmc",
    "heterogeneity_test",
    "laplace_fit",
    "load_warm_start",
    "machine_workers",
    "make_backend",
    "make_cluster",
    "make_shards",
    "noise_level",
    "prior_moments",
    "quality_gate",
    "run_shard",
    "shard_log_density",
    "worker_setup",
]
