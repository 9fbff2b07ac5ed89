"""homodyne-nlsq: streaming least squares for XPCS two-time correlation data.

The entry point is :func:`fit_nlsq`; its settings are an :class:`NLSQConfig` and it returns an
:class:`NLSQResult`. The building blocks (streamed normal equations, the bounded
Levenberg-Marquardt solver, variable projection of the scaling, uncertainties) are public too.
"""

from importlib.metadata import version as _dist_version

from .api import LocalRuns, StartPlan, fit_nlsq, plan_starts, run_local
from .bootstrap import BootstrapResult, parametric_bootstrap
from .config import SOLVERS, NLSQConfig
from .errors import NLSQBackendError, NLSQConfigError, NLSQError, NLSQFitError
from .goodness import (
    GoodnessOfFit,
    ResidualStructure,
    chi2_sf,
    goodness_of_fit,
    noise_from_differences,
    residual_structure,
    residual_structure_points,
)
from .identifiability import IdentifiabilityReport, identifiability_report
from .informative import flag_uninformative, uninformative_reason
from .lm import IterationInfo, LMOutcome, levenberg_marquardt
from .normal_equations import (
    LOSSES,
    ProblemArrays,
    accumulate,
    cost_only,
    loss_rho,
    scaling_moments,
)
from .problem import FitProblem, build_problem
from .q_consistency import QConsistency, q_consistency
from .report import make_result
from .result import NLSQResult
from .robust_covariance import (
    ResidualEvidence,
    RobustCovariance,
    choose_error_model,
    residual_correlation_test,
    residual_evidence,
    robust_covariance,
)
from .separable import profile_scaling, scaling_cost
from .speckle_statistics import SpeckleCovariance, speckle_covariance
from .uncertainty import Uncertainty, covariance_from_normal_matrix

__version__ = _dist_version("homodyne-nlsq")  # pyproject.toml, via the installed metadata

__all__ = [
    "LOSSES",
    "SOLVERS",
    "StartPlan",
    "FitProblem",
    "GoodnessOfFit",
    "IdentifiabilityReport",
    "IterationInfo",
    "LMOutcome",
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
    "RobustCovariance",
    "SpeckleCovariance",
    "BootstrapResult",
    "ResidualStructure",
    "Uncertainty",
    "__version__",
    "accumulate",
    "build_problem",
    "choose_error_model",
    "cost_only",
    "covariance_from_normal_matrix",
    "fit_nlsq",
    "chi2_sf",
    "goodness_of_fit",
    "identifiability_report",
    "flag_uninformative",
    "levenberg_marquardt",
    "make_result",
    "loss_rho",
    "noise_from_differences",
    "parametric_bootstrap",
    "profile_scaling",
    "speckle_covariance",
    "q_consistency",
    "residual_correlation_test",
    "residual_evidence",
    "robust_covariance",
    "residual_structure",
    "residual_structure_points",
    "plan_starts",
    "run_local",
    "scaling_cost",
    "scaling_moments",
    "uninformative_reason",
]
