"""Public names of the JAX-backed modules, listed without importing JAX.

``kernel.py``, ``likelihood.py``, ``precision.py``, ``programs.py`` and ``transport.py`` set
their ``__all__`` from these tuples, and the package ``__init__`` loads them lazily by the same
tuples: one list per module.
"""

KERNEL_NAMES = (
    "C2Model",
    "c2_at_times",
    "c2_matrix",
    "c2_pairs",
    "g1sq_from_factors",
    "g1sq_from_integrals",
    "g1sq_pairs",
    "integral_tables",
    "pair_indices",
    "pair_integrals",
    "point_set_index",
    "require_grid_free",
    "shear_factors",
    "shear_prefactor",
    "shear_quadrature",
    "shear_shape",
)
PRECISION_NAMES = ("float64", "require_float64", "x64_enabled")
TRANSPORT_NAMES = (
    "TRANSPORT_QUANTITIES",
    "TransportCurves",
    "transport_from_covariance",
    "transport_from_draws",
    "transport_grid",
    "transport_values",
)

LIKELIHOOD_NAMES = ("gaussian_loglik",)
PROGRAM_NAMES = ("cached_jit", "program_cache_dir", "set_program_cache")

LAZY_MODULES = {
    ".kernel": KERNEL_NAMES,
    ".likelihood": LIKELIHOOD_NAMES,
    ".precision": PRECISION_NAMES,
    ".programs": PROGRAM_NAMES,
    ".transport": TRANSPORT_NAMES,
}
