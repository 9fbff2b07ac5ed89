"""The configuration schema: homodyne 2.x keys as users write them, plus a few of ours.

Our additions (all optional): top-level ``convention`` and ``seed``;
``experimental_data.file_paths`` (several files), ``q_tolerance``, ``nan_threshold``;
``analyzer_parameters.scattering.wavevector_q`` may be a list (several q rings);
``optimization.nlsq.{sigma, solver, chunk_size, f_scale, per_angle_mode}``;
``plots.{enabled, max_display}``.
"""

from homodyne_physics.parameters import ALIASES, MODE_ALIASES, PARAMETERS, PRIOR_FAMILIES
from homodyne_physics.parameters import MODES as _MODE_PARAMS
from homodyne_physics.scaling import SCALING_MODES

from .spec import Info, Legacy, ListOf, Section, Value, fraction, non_negative, positive

__all__ = ["LOSSES", "METHODS", "MODES", "SCALING_MODES", "SCHEMA"]

MODES = tuple(_MODE_PARAMS) + tuple(MODE_ALIASES)
METHODS = ("nlsq", "cmc", "both")
LOSSES = ("linear", "soft_l1", "huber", "cauchy")
PARAM_NAMES = tuple(PARAMETERS) + tuple(ALIASES)  # registry names and accepted aliases
PRIOR_TYPES = PRIOR_FAMILIES


def _end_frame(v):
    return (
        None if v == -1 or v >= 1 else f"must be -1 (last frame) or a 1-based frame >= 1, got {v}"
    )


def _start_frame(v):
    return None if v >= 1 else f"frames are 1-based: must be >= 1, got {v}"


def _order(v):
    return None if 1 <= v <= 10 else f"must be between 1 and 10, got {v}"


_NUTS = {
    "num_warmup": Value("int", check=positive),
    "num_samples": Value("int", check=positive),
    "num_chains": Value("int", check=positive),
    "target_accept_prob": Value("float", check=fraction),
    "max_tree_depth": Value("int", check=positive),
    "dense_mass_matrix": Value("bool"),
    "dense_mass": Value("bool"),
    "chain_method": Value("str", choices=("parallel", "sequential", "vectorized")),
}

NLSQ = Section(
    {
        "max_iterations": Value("int", check=positive),
        "tolerance": Value("float", check=positive, doc="relative cost tolerance (ftol)"),
        "ftol": Value("float", check=positive),
        "xtol": Value("float", check=positive),
        "gtol": Value("float", check=positive),
        "loss": Value("str", choices=LOSSES),
        "f_scale": Value("float", check=positive),
        "chunk_size": Value("int", check=positive),
        "sigma": Value("float", check=positive, nullable=True),
        "solver": Value("str", choices=("lm", "nlsq")),
        "per_angle_mode": Value("str", choices=SCALING_MODES),
        "fourier_order": Value("int", check=_order),
        "anti_degeneracy": Section(
            {
                "enable": Info(),
                "per_angle_mode": Value("str", choices=SCALING_MODES),
                "fourier_order": Value("int", check=_order),
                "constant_scaling_threshold": Legacy(
                    "'constant_scaling_threshold' is fixed at 3 angles in homodyne 3; ignored"
                ),
                "fourier_auto_threshold": Legacy(),
                "hierarchical": Legacy(),
                "regularization": Legacy(),
                "gradient_monitoring": Legacy(),
                "shear_weighting": Legacy(),
            }
        ),
        "multi_start": Section(
            {
                "enable": Value("bool"),
                "n_starts": Value("int", check=non_negative),
                "seed": Value("int"),
                "sampling_strategy": Legacy(),
                "n_workers": Legacy(),
                "use_screening": Legacy(),
                "screen_keep_fraction": Legacy(),
                "refine_top_k": Legacy(),
                "refinement_ftol": Legacy(),
                "degeneracy_threshold": Legacy(),
            }
        ),
        "cmaes": Section({"enable": Value("bool")}, extra=True),
        "quality_validation": Section(
            {
                "enable": Value("bool"),
                "reduced_chi_squared_threshold": Value("float", check=positive),
            },
            extra=True,
        ),
        "workflow": Legacy(),
        "goal": Legacy(),
        "memory_fraction": Legacy(),
        "trust_region_scale": Legacy(),
        "x_scale_map": Legacy(),
        "progress": Legacy(),
        "diagnostics": Legacy(),
        "hybrid_streaming": Legacy(),
        "streaming": Legacy(),
        "stratification": Legacy(),
        "recovery": Legacy(),
        "method": Legacy(),
    }
)

CMC = Section(
    {
        "enable": Legacy("'cmc.enable' is not needed: --method cmc|both chooses CMC; ignored"),
        "min_points_for_cmc": Legacy(),
        "per_angle_mode": Value("str", choices=SCALING_MODES + ("constant_averaged",)),
        "constant_scaling_threshold": Legacy(),
        "prior_tempering": Value("bool"),
        "seed": Value("int"),
        "backend_config": Section(
            {
                "name": Value(
                    "str",
                    choices=(
                        "auto",
                        "multiprocessing",
                        "pjit",
                        "pbs",
                        "jax",
                        "sequential",
                        "slurm",
                    ),
                )
            },
            extra=True,
        ),
        "backend": Value("str", choices=("auto", "local", "sequential", "dask")),
        "dask": Section({}, extra=True),  # checked key by key by homodyne_cmc.DaskConfig
        "workers": Value("int", check=positive),
        "threads_per_worker": Value("int", check=positive),
        "cache_dir": Value("str"),
        "force": Value("bool"),
        "sharding": Section(
            {
                "strategy": Value("str", choices=("random", "stratified", "contiguous")),
                "num_shards": Value("int_or_auto"),
                "max_points_per_shard": Value("int_or_auto"),
                "min_points_per_shard": Value("int", check=positive),
                "min_points_per_param": Legacy(),
            }
        ),
        "per_shard_timeout": Value("float", check=positive),
        "heartbeat_timeout": Legacy(),
        "combination": Section(
            {
                "method": Value(
                    "str",
                    choices=(
                        "robust_consensus_mc",
                        "consensus_mc",
                        "weighted_gaussian",
                        "simple_average",
                        "auto",
                    ),
                ),
                "min_success_rate": Value("float", check=fraction),
                "min_success_rate_warning": Legacy(),
                "space": Value("str", choices=("auto", "reference", "unconstrained")),
            }
        ),
        "per_shard_mcmc": Section(
            {
                **_NUTS,
                "adaptive_sampling": Legacy(),
                "min_warmup": Legacy(),
                "min_samples": Legacy(),
                "enable_jax_profiling": Legacy(),
            }
        ),
        "validation": Section(
            {
                "min_per_shard_ess": Value("float", check=non_negative),
                "max_per_shard_rhat": Value("float", check=positive),
                "max_divergence_rate": Value("float", check=fraction),
                "require_nlsq_warmstart": Value("bool"),
                "use_nlsq_informed_priors": Value("bool"),
                "nlsq_prior_width_factor": Value("float", check=positive),
                "max_parameter_cv": Value("float", check=positive),
                "heterogeneity_abort": Value("bool"),
            },
            extra=True,
        ),
        "reparameterization": Legacy(),
    }
)

_RANGE = Section(
    {
        "min_angle": Value("float"),
        "max_angle": Value("float"),
        "description": Info(),
        "name": Info(),
    }
)

_BOUND = Section(
    {
        "name": Value("str", choices=PARAM_NAMES),
        "min": Value("float"),
        "max": Value("float"),
        "type": Value("str", choices=PRIOR_TYPES),
        "prior_mu": Value("float", nullable=True),
        "prior_sigma": Value("float", check=positive, nullable=True),
        "unit": Info(),
        "description": Info(),
    }
)

SCHEMA = Section(
    {
        "config_version": Info(),
        "metadata": Info(),
        "analysis_mode": Value("str", choices=MODES),
        "convention": Value(
            "str",
            choices=("physical", "homodyne2"),
            doc="physical (default) or homodyne2 (reproduce 2.x numbers)",
        ),
        "seed": Value("int"),
        "analyzer_parameters": Section(
            {
                "dt": Value("float", check=positive, nullable=True),
                "start_frame": Value("int", check=_start_frame),
                "end_frame": Value("int", check=_end_frame),
                "scattering": Section(
                    {"wavevector_q": Value("float_or_floats", check=positive, nullable=True)}
                ),
                "geometry": Section({"stator_rotor_gap": Value("float", check=positive)}),
                "temporal": Legacy(),
                "computational": Legacy(),
            }
        ),
        "experimental_data": Section(
            {
                "file_path": Value("str", nullable=True),
                "file_paths": Value("strs", nullable=True),
                "data_folder_path": Value("str", nullable=True),
                "data_file_name": Value("str", nullable=True),
                "q_tolerance": Value("float", check=positive),
                "nan_threshold": Value("float", check=fraction),
                "cache_file_path": Value("str", nullable=True),
                "cache_filename_template": Legacy(
                    "'cache_filename_template' is replaced by a cache keyed by file identity "
                    "and selection; ignored"
                ),
                "cache_compression": Legacy(),
                "phi_angles_path": Legacy(),
                "phi_angles_file": Legacy(),
                "data_type": Info(),
                "file_format": Info(),
                "exchange_key": Info(),
            }
        ),
        "phi_filtering": Section(
            {
                "enabled": Value("bool"),
                "target_ranges": ListOf(_RANGE, nullable=True),
                "fallback_to_all_angles": Legacy(),
                "algorithm": Legacy(),
                "tolerance": Legacy(),
                "quality_control": Legacy(),
            }
        ),
        "initial_parameters": Section(
            {
                "parameter_names": Value("strs", nullable=True),
                "values": Value("floats", nullable=True),
                "per_angle_scaling": Legacy(
                    "'per_angle_scaling' start values are estimated from the data in "
                    "homodyne 3; ignored"
                ),
                "units": Info(),
                "active_parameters": Value("strs", nullable=True),
                "fixed_parameters": Value("any", nullable=True),
            }
        ),
        "parameter_space": Section(
            {
                "model": Value("str", choices=MODES),
                "bounds": ListOf(_BOUND, nullable=True),
                "priors": Legacy(
                    "'parameter_space.priors' (set priors on the bounds entries "
                    "with type/prior_mu/prior_sigma); ignored"
                ),
            }
        ),
        "optimization": Section(
            {
                "method": Value("str", choices=METHODS),
                "nlsq": NLSQ,
                "mcmc": Section(_NUTS, extra=True),
                "cmc": CMC,
                "lsq": Legacy(),
                "streaming": Legacy(),
                "stratification": Legacy(),
                "sequential": Legacy(),
                "recovery": Legacy(),
            }
        ),
        "plots": Section({"enabled": Value("bool"), "max_display": Value("int", check=positive)}),
        "analysis_settings": Legacy(),
        "noise_estimation": Legacy(),
        "performance": Legacy(),
        "logging": Legacy("'logging' (use -v/-q; every run writes homodyne.log); ignored"),
        "quality_control": Legacy(),
        "plotting": Legacy("'plotting' (plots are always made; use plots.enabled); ignored"),
        "output": Legacy("'output' (use --output-dir); ignored"),
        "validation": Legacy(),
        "data_filtering": Legacy(),
        "q_tolerance_fraction": Legacy(
            "'q_tolerance_fraction' (use experimental_data.q_tolerance); ignored"
        ),
        "v2_features": Legacy(),
        "preprocessing": Legacy(),
    }
)
