"""API snapshot of homodyne_nlsq: the exact public names and the signatures of its entry points.

A change here is an API change: update the snapshot on purpose, and the CHANGELOG with it.
"""

import homodyne_nlsq


def test_public_names():
    assert sorted(homodyne_nlsq.__all__) == [
        "BootstrapResult",
        "FitProblem",
        "GoodnessOfFit",
        "IdentifiabilityReport",
        "IterationInfo",
        "LMOutcome",
        "LOSSES",
        "LocalRuns",
        "NLSQBackendError",
        "NLSQConfig",
        "NLSQConfigError",
        "NLSQError",
        "NLSQFitError",
        "NLSQResult",
        "ProblemArrays",
        "QConsistency",
        "ResidualEvidence",
        "ResidualStructure",
        "RobustCovariance",
        "SOLVERS",
        "SpeckleCovariance",
        "StartPlan",
        "Uncertainty",
        "__version__",
        "accumulate",
        "build_problem",
        "chi2_sf",
        "choose_error_model",
        "cost_only",
        "covariance_from_normal_matrix",
        "fit_nlsq",
        "flag_uninformative",
        "goodness_of_fit",
        "identifiability_report",
        "levenberg_marquardt",
        "loss_rho",
        "make_result",
        "noise_from_differences",
        "parametric_bootstrap",
        "plan_starts",
        "profile_scaling",
        "q_consistency",
        "residual_correlation_test",
        "residual_evidence",
        "residual_structure",
        "residual_structure_points",
        "robust_covariance",
        "run_local",
        "scaling_cost",
        "scaling_moments",
        "speckle_covariance",
        "uninformative_reason",
    ]
    for name in homodyne_nlsq.__all__:
        assert hasattr(homodyne_nlsq, name), name


def test_signature_of_fit_nlsq(signature):
    assert signature(homodyne_nlsq.fit_nlsq) == [
        "data",
        "spec",
        "config=None",
        "*progress=None",
    ]
