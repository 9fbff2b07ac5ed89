"""``CMCConfig``: every setting of the consensus Monte Carlo run, validated on construction."""

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from homodyne_physics import PRIOR_FAMILIES, SCALING_MODES, Prior, canonical_name

from .dask_config import DaskConfig
from .errors import CMCConfigError

__all__ = ["BACKENDS", "CHAIN_METHODS", "COMBINATION_SPACES", "CMCConfig"]

BACKENDS = ("auto", "local", "sequential", "dask")
CHAIN_METHODS = ("sequential", "vectorized")
COMBINATION_SPACES = ("auto", "reference", "unconstrained")


@dataclass(frozen=True)
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
        ``priors`` (name -> :class:`homodyne_physics.Prior`, overriding the registry),
        ``prior_centres_from_nlsq`` (centre the physical priors on the NLSQ values).
    Whitening / initialisation
        ``whitening_inflation`` (factor on the standard deviations of the whitening Gaussian),
        ``init_dispersion`` (sd, in whitened units, of the dispersed chain starting points).
    Quality control
        ``max_divergence_rate`` (shards above are excluded), ``prior_dominated_ratio`` (warn when
        a shard's posterior sd exceeds this fraction of its prior sd), ``heterogeneity_alpha``
        (warn when the shard-consistency p-value is below), ``max_reduced_chi2`` (NLSQ quality
        gate), ``force`` (sample even when the gate fails).
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
        ``hdi_prob`` (credible interval reported), ``dask`` (a :class:`DaskConfig`: cluster kind,
        scheduler address or PBS/Slurm job settings, used when ``backend`` is ``dask``).
    """

    num_warmup: int = 500
    num_samples: int = 1000
    num_chains: int = 4
    chain_method: str = "sequential"
    target_accept_prob: float = 0.85
    max_tree_depth: int = 10
    dense_mass: bool = False
    num_shards: int | None = None
    max_points_per_shard: int | None = None
    min_points_per_shard: int = 20_000
    scaling_mode: str | None = None
    fourier_order: int = 2
    sample_sigma: bool = True
    sigma: float | None = None
    priors: Mapping[str, Prior] = field(default_factory=dict)
    prior_centres_from_nlsq: bool = False
    whitening_inflation: float = 1.5
    init_dispersion: float = 1.0
    max_divergence_rate: float = 0.10
    prior_dominated_ratio: float = 0.5
    heterogeneity_alpha: float = 1e-3
    combination_space: str = "auto"
    max_reduced_chi2: float = 10.0
    force: bool = False
    backend: str = "auto"
    workers: int | None = None
    threads_per_worker: int | None = None
    cache_dir: str | None = None
    compilation_cache_dir: str | None = None
    max_retries: int = 1
    seed: int = 0
    hdi_prob: float = 0.89
    dask: DaskConfig = field(default_factory=DaskConfig)

    def __post_init__(self) -> None:
        path = "optimization.cmc"

        def fail(key: str, msg: str) -> None:
            raise CMCConfigError(f"{path}.{key}: {msg}")

        for key in (
            "num_warmup",
            "num_samples",
            "num_chains",
            "max_tree_depth",
            "min_points_per_shard",
            "fourier_order",
        ):
            val = getattr(self, key)
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                fail(key, f"must be a positive integer, got {val!r}")
        for key in ("num_shards", "max_points_per_shard", "workers", "threads_per_worker"):
            val = getattr(self, key)
            if val is not None and (isinstance(val, bool) or not isinstance(val, int) or val < 1):
                fail(key, f"must be a positive integer or null (automatic), got {val!r}")
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            fail("max_retries", f"must be an integer >= 0, got {self.max_retries!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            fail("seed", f"must be an integer >= 0, got {self.seed!r}")
        if self.chain_method not in CHAIN_METHODS:
            fail(
                "chain_method",
                f"must be one of {', '.join(CHAIN_METHODS)}, got {self.chain_method!r}",
            )
        if self.combination_space not in COMBINATION_SPACES:
            fail(
                "combination_space",
                f"must be one of {', '.join(COMBINATION_SPACES)}, got {self.combination_space!r}",
            )
        if self.backend not in BACKENDS:
            fail("backend", f"must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.scaling_mode is not None and self.scaling_mode not in SCALING_MODES:
            fail(
                "scaling_mode",
                f"must be one of {', '.join(SCALING_MODES)} or null "
                f"(follow NLSQ), got {self.scaling_mode!r}",
            )
        for key, lo, hi in (
            ("target_accept_prob", 0.0, 1.0),
            ("max_divergence_rate", 0.0, 1.0),
            ("prior_dominated_ratio", 0.0, 1.0),
            ("heterogeneity_alpha", 0.0, 1.0),
            ("hdi_prob", 0.0, 1.0),
        ):
            val = getattr(self, key)
            if isinstance(val, bool) or not isinstance(val, int | float) or not lo < val < hi:
                fail(key, f"must be a number in ({lo:g}, {hi:g}), got {val!r}")
        for key in ("whitening_inflation", "init_dispersion", "max_reduced_chi2"):
            val = getattr(self, key)
            if isinstance(val, bool) or not isinstance(val, int | float) or not val > 0:
                fail(key, f"must be a positive number, got {val!r}")
        if self.sigma is not None and not (isinstance(self.sigma, int | float) and self.sigma > 0):
            fail("sigma", f"must be a positive number or null, got {self.sigma!r}")
        if (
            self.max_points_per_shard is not None
            and self.max_points_per_shard < self.min_points_per_shard
        ):
            fail(
                "max_points_per_shard",
                f"({self.max_points_per_shard}) must be >= "
                f"min_points_per_shard ({self.min_points_per_shard})",
            )
        priors = {}
        for name, prior in dict(self.priors).items():
            try:
                canon = canonical_name(str(name))
            except Exception as exc:
                fail(f"priors.{name}", str(exc))
            if not isinstance(prior, Prior):
                fail(f"priors.{name}", f"must be a homodyne_physics.Prior, got {type(prior)}")
            priors[canon] = prior
        object.__setattr__(self, "priors", MappingProxyType(priors))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, path: str = "optimization.cmc") -> "CMCConfig":
        """Build from a mapping (a YAML section), naming the key path in every error.

        ``priors`` may be given as ``{name: {family, mean, sd, min, max}}`` (``low``/``high``
        accepted for ``min``/``max``); missing entries fall back to the registry, a bound
        pair without prior numbers gives mean = mid-point and sd = (max - min) / 4.
        """
        if d is None:
            return cls()
        if not isinstance(d, Mapping):
            raise CMCConfigError(f"{path}: expected a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, val in d.items():
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise CMCConfigError(f"{path}.{key}: unknown key{hint}")
            if key == "priors":
                val = _parse_priors(val, f"{path}.priors")
            if key == "dask" and not isinstance(val, DaskConfig):
                if val is not None and not isinstance(val, Mapping):
                    raise CMCConfigError(f"{path}.dask: expected a mapping")
                val = DaskConfig.from_dict(val, f"{path}.dask")
            kwargs[key] = val
        try:
            return cls(**kwargs)
        except CMCConfigError as exc:
            msg = str(exc)
            if path != "optimization.cmc":
                msg = msg.replace("optimization.cmc", path, 1)
            raise CMCConfigError(msg) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the settings (priors as plain mappings)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            val = getattr(self, f.name)
            if f.name == "priors":
                val = {
                    k: {"family": p.family, "mean": p.mean, "sd": p.sd, "min": p.low, "max": p.high}
                    for k, p in val.items()
                }
            if f.name == "dask":
                val = val.to_dict()
            out[f.name] = val
        return out


def _parse_priors(raw: Any, path: str) -> dict[str, Prior]:
    from homodyne_physics import get_spec

    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise CMCConfigError(f"{path}: expected a mapping name -> prior, got {type(raw).__name__}")
    out: dict[str, Prior] = {}
    for name, entry in raw.items():
        key = f"{path}.{name}"
        if isinstance(entry, Prior):
            out[str(name)] = entry
            continue
        if not isinstance(entry, Mapping):
            raise CMCConfigError(f"{key}: expected a mapping with family/mean/sd/min/max")
        try:
            spec = get_spec(str(name))
        except Exception as exc:
            raise CMCConfigError(f"{key}: {exc}") from None
        allowed = {"family", "mean", "sd", "min", "max", "low", "high"}
        extra = set(entry) - allowed
        if extra:
            raise CMCConfigError(
                f"{key}: unknown field(s) {sorted(extra)}; allowed: {sorted(allowed)}"
            )
        low = float(entry.get("min", entry.get("low", spec.prior.low)))
        high = float(entry.get("max", entry.get("high", spec.prior.high)))
        bounds_given = any(k in entry for k in ("min", "max", "low", "high"))
        if "mean" in entry or not bounds_given:
            mean = float(entry.get("mean", spec.prior.mean))
            sd = float(entry.get("sd", spec.prior.sd))
        else:
            mean, sd = 0.5 * (low + high), (high - low) / 4.0
            sd = float(entry.get("sd", sd))
        family = str(entry.get("family", "TruncatedNormal"))
        if family not in PRIOR_FAMILIES:
            raise CMCConfigError(
                f"{key}.family: unknown prior family {family!r}; expected "
                f"one of {', '.join(PRIOR_FAMILIES)}"
            )
        try:
            out[str(name)] = Prior(family, mean, sd, low, high)
        except Exception as exc:
            raise CMCConfigError(f"{key}: {exc}") from None
    return out
