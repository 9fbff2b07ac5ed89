"""homodyne-physics: the XPCS two-time correlation model, its parameters and per-angle scaling.

Pure JAX + numpy. See :mod:`homodyne_physics.kernel` for the model and
:mod:`homodyne_physics.precision` for how float64 is enabled without touching the user's
global JAX settings.
"""

from importlib import import_module
from importlib.metadata import version as _dist_version

from .atomicio import atomic_path, atomic_write_bytes
from .errors import (
    HomodyneError,
    ModeError,
    ParameterError,
    PrecisionError,
    UnknownParameterError,
)
from .jsonsafe import json_safe
from .parameters import (
    ALIASES,
    MODE_ALIASES,
    MODES,
    PARAMETERS,
    PRIOR_FAMILIES,
    ParameterSpec,
    Prior,
    canonical_mode,
    canonical_name,
    check_values,
    default_values,
    get_spec,
    mode_bounds,
    parameter_names,
)
from .scaling import SCALING_MODES, ScalingMap, make_scaling, quantile_estimate

# The JAX parts load on first use, so that the registry, the scaling maps and the errors can be
# imported (e.g. by a command line answering --help) without starting JAX.
_LAZY = {
    **dict.fromkeys(
        (
            "CONVENTIONS",
            "C2Model",
            "c2_matrix",
            "c2_pairs",
            "g1sq_from_integrals",
            "g1sq_pairs",
            "integral_tables",
            "json_safe",
            "pair_indices",
            "pair_integrals",
            "shear_prefactor",
        ),
        ".kernel",
    ),
    **dict.fromkeys(("float64", "require_float64", "x64_enabled"), ".precision"),
    **dict.fromkeys(
        (
            "TRANSPORT_QUANTITIES",
            "TransportCurves",
            "transport_from_covariance",
            "transport_from_draws",
            "transport_grid",
            "transport_values",
        ),
        ".transport",
    ),
    "gaussian_loglik": ".likelihood",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = _dist_version("homodyne-physics")  # pyproject.toml, via the installed metadata

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "ALIASES",
    "CONVENTIONS",
    "MODE_ALIASES",
    "MODES",
    "PARAMETERS",
    "PRIOR_FAMILIES",
    "SCALING_MODES",
    "TRANSPORT_QUANTITIES",
    "C2Model",
    "HomodyneError",
    "ModeError",
    "ParameterError",
    "ParameterSpec",
    "PrecisionError",
    "Prior",
    "ScalingMap",
    "TransportCurves",
    "UnknownParameterError",
    "__version__",
    "c2_matrix",
    "c2_pairs",
    "canonical_mode",
    "canonical_name",
    "check_values",
    "default_values",
    "float64",
    "g1sq_from_integrals",
    "g1sq_pairs",
    "gaussian_loglik",
    "get_spec",
    "integral_tables",
    "json_safe",
    "make_scaling",
    "mode_bounds",
    "pair_indices",
    "pair_integrals",
    "parameter_names",
    "quantile_estimate",
    "require_float64",
    "shear_prefactor",
    "transport_from_covariance",
    "transport_from_draws",
    "transport_grid",
    "transport_values",
    "x64_enabled",
]
