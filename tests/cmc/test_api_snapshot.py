"""API snapshot of homodyne_cmc: the exact public names and the signatures of its entry points.

A change here is an API change: update the snapshot on purpose, and the CHANGELOG with it.
"""

import inspect

import homodyne_cmc


def _signature(f) -> list[str]:
    """Parameters as ``name``, ``*name`` (keyword-only) with ``=default``: a stable rendering."""
    out = []
    for p in inspect.signature(f).parameters.values():
        default = "" if p.default is inspect.Parameter.empty else f"={p.default!r}"
        prefix = "*" if p.kind in (p.KEYWORD_ONLY, p.VAR_POSITIONAL) else ""
        prefix = "**" if p.kind is p.VAR_KEYWORD else prefix
        out.append(f"{prefix}{p.name}{default}")
    return out


def test_public_names():
    assert sorted(homodyne_cmc.__all__) == [
        "Backend",
        "CMCConfig",
        "CMCConfigError",
        "CMCError",
        "CMCResult",
        "CMCWarning",
        "Combination",
        "CombinationSpace",
        "CombinedPosterior",
        "Consensus",
        "DaskBackend",
        "DaskConfig",
        "Execution",
        "LaplaceResult",
        "LocalBackend",
        "ParamSpace",
        "Prepared",
        "Progress",
        "SequentialBackend",
        "Shard",
        "ShardFailedError",
        "ShardPlan",
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
        "cmc_identifiability",
        "cmc_transport",
        "combine_shards",
        "consensus",
        "consensus_combine",
        "execute",
        "fit_cmc",
        "heterogeneity_test",
        "laplace_fit",
        "laplace_stage",
        "load_warm_start",
        "machine_workers",
        "make_backend",
        "make_cluster",
        "make_result",
        "make_shards",
        "noise_level",
        "plan_shards",
        "prepare",
        "prior_moments",
        "run_shard",
        "shard_log_density",
        "worker_setup",
    ]
    for name in homodyne_cmc.__all__:
        assert hasattr(homodyne_cmc, name), name


def test_signature_of_fit_cmc():
    assert _signature(homodyne_cmc.fit_cmc) == [
        "data",
        "warm_start",
        "config=None",
        "*backend=None",
        "*progress=None",
    ]
