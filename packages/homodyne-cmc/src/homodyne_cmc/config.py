"""``CMCConfig``: every setting of the consensus Monte Carlo run, declared once (pydantic)."""

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError
from pydantic.dataclasses import dataclass

from homodyne_data.settings import (
    Flag,
    Integer,
    Number,
    raise_as,
    settings_config,
    suggest,
)
from homodyne_physics import SCALING_MODES

from .adjust import ADJUSTMENTS
from .dask_config import DaskConfig, settings_error
from .errors import CMCConfigError
from .sampling_space import SAMPLING_SPACES

__all__ = ["BACKENDS", "CHAIN_METHODS", "COMBINATION_SPACES", "SAMPLING_SPACES", "CMCConfig"]

BACKENDS = ("auto", "local", "sequential", "dask")
CHAIN_METHODS = ("sequential", "vectorized")
COMBINATION_SPACES = ("auto", "reference", "unconstrained")


def _errors(cls: Any, exc: ValidationError) -> CMCConfigError:
    return settings_error(cls, exc, "optimization.cmc")


_OPEN_FRACTION = {"gt": 0, "lt": 1}


@raise_as(_errors)
@dataclass(frozen=True, config=settings_config())
class CMCConfig:
    """Settings of :func:`homodyne_cmc.fit_cmc`.

    Sampling (per shard, NumPyro NUTS)
        ``num_warmup``, ``num_samples``, ``num_chains``, ``chain_method`` (``sequential``: chains
        one after the other, one compilation; ``vectorized``: all chains in one vmapped program,
        good for small shards), ``target_accept_prob``, ``max_tree_depth``, ``dense_mass``.
    Sharding
        ``num_shards`` (None: chosen from the data size, parameter count and workers),
        ``max_points_per_shard``, ``min_points_per_shard`` (points = angles x frame pairs).
    Model
        ``scaling_mode`` (None: the NLSQ result's mode, else ``auto``), ``fourier_order``,
        ``sample_sigma`` (False: noise sigma fixed to ``sigma`` or the NLSQ estimate),
        ``prior_centres_from_nlsq`` (centre the physical priors on the NLSQ values). The priors
        themselves belong to the model: :class:`homodyne_physics.ModelSpec` (``priors=``),
        which CMC takes from the NLSQ warm start.
    Whitening / initialisation
        ``whitening_inflation`` (factor on the standard deviations of the whitening Gaussian),
        ``init_dispersion`` (sd, in whitened units, of the dispersed chain starting points).
    Quality control
        ``max_divergence_rate`` (shards above are excluded), ``max_rhat`` and ``min_ess_bulk``
        (largest split R-hat and smallest bulk ESS accepted before a warning),
        ``prior_dominated_ratio`` (warn when a shard's posterior sd exceeds this fraction of its
        prior sd), ``heterogeneity_alpha`` (warn when the shard-consistency p-value is below),
        NLSQ quality gate (:mod:`homodyne_cmc.gate`): ``max_noise_ratio`` (largest
        ``(sigma_nlsq / sigma_noise)^2`` when sigma is estimated; not enforced when the NLSQ
        residuals are frame-correlated), ``max_reduced_chi2`` (largest reduced chi^2 when the
        user gave sigma), ``force`` (sample even when the gate fails).
    Sampling coordinates
        ``sampling_space``: ``auto`` (a power law whose entries the full-data Laplace
        covariance shows on a ridge, or with an entry at a bound, is sampled by its values at
        the ends of the data's time range plus its prefactor; the rest in u), ``reference``
        (every eligible law) or ``unconstrained`` (none); see
        :mod:`homodyne_cmc.sampling_space`. The prior stays the one on the physical
        parameters.
    Combination
        ``combination_space``: ``auto`` (power laws whose exponent is well away from zero are
        combined by their values at two reference times, the rest in the sampling space),
        ``reference`` (all laws) or ``unconstrained`` (none); see
        :mod:`homodyne_cmc.combination_space`.
    Execution
        ``backend`` (``auto``, ``local`` process pool, ``sequential`` in-process, ``dask``),
        ``workers``, ``threads_per_worker`` (None: from the machine), ``cache_dir`` (finished
        shards are stored here and reused by a rerun), ``compilation_cache_dir`` (JAX persistent
        cache of the workers), ``max_retries`` (per failed shard, with a new seed), ``seed``,
        ``hdi_prob`` (credible interval reported), ``likelihood_adjustment`` (``auto``: the
        curvature adjustment of :mod:`homodyne_cmc.adjust` when the NLSQ warm start used the
        frame-correlated covariance; ``curvature``: whenever it computed one; ``none``),
        ``dask`` (a :class:`DaskConfig`: cluster kind, scheduler address or PBS/Slurm job
        settings, used when ``backend`` is ``dask``).
    """

    num_warmup: Integer = Field(500, ge=1, description="NUTS warm-up steps per chain")
    num_samples: Integer = Field(1000, ge=1, description="NUTS draws per chain")
    num_chains: Integer = Field(4, ge=1, description="chains per shard")
    chain_method: Literal[CHAIN_METHODS] = Field("sequential", description="how chains run")
    target_accept_prob: Number = Field(0.85, **_OPEN_FRACTION, description="NUTS step-size target")
    max_tree_depth: Integer = Field(10, ge=1, description="NUTS largest tree depth")
    dense_mass: Flag = Field(False, description="dense (true) or diagonal mass matrix")
    num_shards: Integer | None = Field(None, ge=1, description="shards; null = automatic")
    max_points_per_shard: Integer | None = Field(None, ge=1, description="null = automatic")
    min_points_per_shard: Integer = Field(20_000, ge=1, description="points = angles x pairs")
    scaling_mode: Literal[SCALING_MODES] | None = Field(
        None, description="per-angle scaling; null = the NLSQ result's mode"
    )
    fourier_order: Integer = Field(2, ge=1, description="order of the fourier scaling")
    sample_sigma: Flag = Field(True, description="sample the noise sigma")
    sigma: Number | None = Field(None, gt=0, description="fixed noise of one c2 value")
    likelihood_adjustment: Literal[ADJUSTMENTS] = Field(
        "auto", description="curvature adjustment for frame-correlated noise"
    )
    prior_centres_from_nlsq: Flag = Field(False, description="centre priors on NLSQ values")
    whitening_inflation: Number = Field(1.5, gt=0, description="sd factor of the whitening")
    init_dispersion: Number = Field(1.0, gt=0, description="chain start spread, whitened sd")
    max_divergence_rate: Number = Field(0.10, **_OPEN_FRACTION, description="shards above: out")
    prior_dominated_ratio: Number = Field(0.5, **_OPEN_FRACTION, description="posterior/prior sd")
    heterogeneity_alpha: Number = Field(1e-3, **_OPEN_FRACTION, description="shard p-value")
    max_rhat: Number = Field(1.01, gt=1, description="largest accepted split R-hat")
    min_ess_bulk: Number = Field(400.0, gt=0, description="smallest accepted bulk ESS")
    combination_space: Literal[COMBINATION_SPACES] = Field("auto", description="combination")
    sampling_space: Literal[SAMPLING_SPACES] = Field("auto", description="sampling coordinates")
    max_reduced_chi2: Number = Field(10.0, gt=0, description="NLSQ gate, user-given sigma")
    max_noise_ratio: Number = Field(
        10.0, gt=0, description="NLSQ gate: (sigma_nlsq / sigma_noise)^2, estimated sigma"
    )
    force: Flag = Field(False, description="sample even when the NLSQ gate fails")
    backend: Literal[BACKENDS] = Field("auto", description="where shards run")
    workers: Integer | None = Field(None, ge=1, description="parallel shards; null = machine")
    threads_per_worker: Integer | None = Field(None, ge=1, description="null = from machine")
    cache_dir: str | None = Field(None, description="finished shards stored and reused here")
    compilation_cache_dir: str | None = Field(None, description="JAX cache of the workers")
    max_retries: Integer = Field(1, ge=0, description="retries of a failed shard, new seed")
    seed: Integer = Field(0, ge=0, description="random seed")
    hdi_prob: Number = Field(0.89, **_OPEN_FRACTION, description="credible interval reported")
    dask: DaskConfig = Field(default_factory=DaskConfig, description="Dask cluster settings")

    # where homodyne 2.x files keep these settings, relative to optimization.cmc ('/' = from
    # the top of the file); the first key present wins
    YAML_KEYS: ClassVar[dict[str, str]] = {
        **{
            f"{sec}.{k}": k
            for k in ("num_warmup", "num_samples", "num_chains", "target_accept_prob")
            for sec in ("per_shard_mcmc", "/optimization.mcmc")
        },
        **{
            f"{sec}.{k}": k
            for k in ("max_tree_depth", "chain_method")
            for sec in ("per_shard_mcmc", "/optimization.mcmc")
        },
        **{
            f"{sec}.{k}": "dense_mass"
            for sec in ("per_shard_mcmc", "/optimization.mcmc")
            for k in ("dense_mass", "dense_mass_matrix")
        },
        "per_angle_mode": "scaling_mode",
        "sharding.num_shards": "num_shards",
        "sharding.max_points_per_shard": "max_points_per_shard",
        "sharding.min_points_per_shard": "min_points_per_shard",
        "combination.space": "combination_space",
        "backend_config.name": "backend",
        "validation.max_divergence_rate": "max_divergence_rate",
    }
    YAML_VALUES: ClassVar[dict[str, dict[Any, Any]]] = {
        "num_shards": {"auto": None},
        "max_points_per_shard": {"auto": None},
        "backend": {"multiprocessing": "local", "pjit": "sequential", "jax": "sequential"}
        | {"pbs": "auto", "slurm": "auto"},
        "chain_method": {"parallel": "vectorized"},
    }
    YAML_LEGACY: ClassVar[dict[str, str]] = {
        "enable": "'cmc.enable' is not needed: --method cmc|both chooses CMC; ignored",
        **dict.fromkeys(
            ["min_points_for_cmc", "constant_scaling_threshold", "heartbeat_timeout"]
            + ["sharding.min_points_per_param", "combination.min_success_rate_warning"]
            + [f"per_shard_mcmc.{k}" for k in ("adaptive_sampling", "min_warmup")]
            + [f"per_shard_mcmc.{k}" for k in ("min_samples", "enable_jax_profiling")],
            "",
        ),
        "reparameterization": "'reparameterization' is replaced by 'sampling_space' "
        "(auto | reference | unconstrained); ignored",
        **dict.fromkeys(
            ["prior_tempering", "per_shard_timeout", "sharding.strategy", "combination.method"]
            + ["combination.min_success_rate", "validation.*"],
            "is not implemented by homodyne-cmc; ignored",
        ),
    }
    YAML_INFO: ClassVar[tuple[str, ...]] = ("/optimization.mcmc.*", "backend_config.*")

    def __post_init__(self) -> None:
        if (
            self.max_points_per_shard is not None
            and self.max_points_per_shard < self.min_points_per_shard
        ):
            raise CMCConfigError(
                f"max_points_per_shard: ({self.max_points_per_shard}) must be >= "
                f"min_points_per_shard ({self.min_points_per_shard})"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, path: str = "optimization.cmc") -> "CMCConfig":
        """Build from a mapping (a YAML section), naming the key path in every error."""
        if d is None:
            return cls()
        if not isinstance(d, Mapping):
            raise CMCConfigError(f"{path}: expected a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise CMCConfigError(f"{path}.{key}: unknown key{suggest(str(key), known)}")
        try:
            return cls.__pydantic_validator__.validate_python(dict(d))
        except ValidationError as exc:
            raise settings_error(cls, exc, path) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the settings."""
        out: dict[str, Any] = {}
        for f in fields(self):
            val = getattr(self, f.name)
            if f.name == "dask":
                val = val.to_dict()
            out[f.name] = val
        return out
