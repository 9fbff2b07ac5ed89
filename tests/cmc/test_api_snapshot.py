"""API snapshot of homodyne_cmc: the exact public names and the signatures of its entry points.

A change here is an API change: update the snapshot on purpose, and the CHANGELOG with it.
"""

import homodyne_cmc


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
        "SamplingSpace",
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
        "choose_sampling_laws",
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
        "quality_gate",
        "run_shard",
        "shard_log_density",
        "worker_setup",
    ]
    for name in homodyne_cmc.__all__:
        assert hasattr(homodyne_cmc, name), name


def test_signature_of_fit_cmc(signature):
    assert signature(homodyne_cmc.fit_cmc) == [
        "data",
        "warm_start",
        "config=None",
        "*backend=None",
        "*progress=None",
    ]
