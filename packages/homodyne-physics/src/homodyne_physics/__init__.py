"""homodyne-physics: the XPCS two-time correlation model, its parameters and per-angle scaling.

Pure JAX + numpy. See :mod:`homodyne_physics.kernel` for the model and
:mod:`homodyne_physics.precision` for how float64 is enabled without touching the user's
global JAX settings.
"""

from importlib import import_module
from importlib.metadata import version as _dist_version

from ._lazy import LAZY_MODULES
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
from .scaling import (
    SCALING_MODES,
    ScalingMap,
    legendre_basis,
    make_scaling,
    quantile_estimate,
)
from .spec import CONVENTIONS, SCALING_NAMES, Convention, ModelSpec, ParamSetting

# The JAX parts load on first use, so that the registry, the scaling maps, the spec and the
# errors can be imported (e.g. by a command line answering --help) without starting JAX. The
# names come from each module's own list (``_lazy.py``), not from a copy here.
_LAZY = {name: module for module, names in LAZY_MODULES.items() for name in names}


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
    "SCALING_NAMES",
    "TRANSPORT_QUANTITIES",
    "C2Model",
    "Convention",
    "HomodyneError",
    "ModeError",
    "ModelSpec",
    "ParamSetting",
    "ParameterError",
    "ParameterSpec",
    "PrecisionError",
    "Prior",
    "ScalingMap",
    "TransportCurves",
    "UnknownParameterError",
    "__version__",
    "c2_at_times",
    "cached_jit",
    "c2_matrix",
    "c2_pairs",
    "canonical_mode",
    "canonical_name",
    "check_values",
    "default_values",
    "float64",
    "g1sq_from_factors",
    "g1sq_from_integrals",
    "g1sq_pairs",
    "gaussian_loglik",
    "get_spec",
    "integral_tables",
    "json_safe",
    "legendre_basis",
    "make_scaling",
    "mode_bounds",
    "pair_indices",
    "pair_integrals",
    "parameter_names",
    "program_cache_dir",
    "point_set_index",
    "quantile_estimate",
    "require_float64",
    "require_grid_free",
    "set_program_cache",
    "shear_factors",
    "shear_prefactor",
    "shear_quadrature",
    "shear_shape",
    "transport_from_covariance",
    "transport_from_draws",
    "transport_grid",
    "transport_values",
    "x64_enabled",
]
