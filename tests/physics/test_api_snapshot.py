"""API snapshot of homodyne_physics: the exact public names and the signatures of its entry points.

A change here is an API change: update the snapshot on purpose, and the CHANGELOG with it.
"""

import homodyne_physics
import homodyne_physics.kernel


def test_public_names():
    assert sorted(homodyne_physics.__all__) == [
        "ALIASES",
        "C2Model",
        "CONVENTIONS",
        "Convention",
        "HomodyneError",
        "MODES",
        "MODE_ALIASES",
        "ModeError",
        "ModelSpec",
        "PARAMETERS",
        "PRIOR_FAMILIES",
        "ParamSetting",
        "ParameterError",
        "ParameterSpec",
        "PrecisionError",
        "Prior",
        "SCALING_MODES",
        "SCALING_NAMES",
        "ScalingMap",
        "TRANSPORT_QUANTITIES",
        "TransportCurves",
        "UnknownParameterError",
        "__version__",
        "atomic_path",
        "atomic_write_bytes",
        "c2_at_times",
        "c2_matrix",
        "c2_pairs",
        "cached_jit",
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
        "point_set_index",
        "program_cache_dir",
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
    for name in homodyne_physics.__all__:
        assert hasattr(homodyne_physics, name), name


def test_signature_of_modelspec_create(signature):
    assert signature(homodyne_physics.ModelSpec.create) == [
        "mode",
        "*convention='physical'",
        "*gap=2000000.0",
        "*initial=None",
        "*bounds=None",
        "*priors=None",
        "*fixed=None",
        "*phi_bin_width=None",
    ]


def test_signature_of_c2model(signature):
    assert signature(homodyne_physics.C2Model) == [
        "mode",
        "q",
        "dt",
        "gap=2000000.0",
        "convention='physical'",
        "phi_bin_width=None",
        "phi_bin_nodes=16",
    ]


def test_lazy_names_are_the_modules_own_lists():
    import homodyne_physics.likelihood
    import homodyne_physics.precision
    import homodyne_physics.programs
    import homodyne_physics.transport

    own = (
        set(homodyne_physics.kernel.__all__)
        | set(homodyne_physics.precision.__all__)
        | set(homodyne_physics.transport.__all__)
        | set(homodyne_physics.likelihood.__all__)
        | set(homodyne_physics.programs.__all__)
    )
    assert set(homodyne_physics._LAZY) == own
