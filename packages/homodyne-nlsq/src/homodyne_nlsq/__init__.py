"""homodyne-nlsq: streaming least squares for XPCS two-time correlation data."""

from .normal_equations import LOSSES, ProblemArrays, accumulate, cost_only, loss_rho

__version__ = "0.1.0"

__all__ = ["LOSSES", "ProblemArrays", "__version__", "accumulate", "cost_only", "loss_rho"]
