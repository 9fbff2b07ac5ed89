"""homodyne-cmc: consensus Monte Carlo (NumPyro NUTS) for XPCS two-time correlation data.

The entry point is :func:`fit_cmc`, configured by :class:`CMCConfig`, returning a
:class:`CMCResult`. Shards run on a :class:`Backend` (in-process :class:`SequentialBackend`,
process-pool :class:`LocalBackend`, or :class:`DaskBackend` on a Dask cluster: local, a
scheduler address, Slurm or PBS).
"""

from importlib.metadata import version as _dist_version

from .api import fit_cmc, make_backend
from .backends import (
    Backend,
    LocalBackend,
    Progress,
    SequentialBackend,
    machine_workers,
    worker_setup,
)
from .combination_space import (
    CombinationSpace,
    CombinedPosterior,
    choose_reference_laws,
    combine_shards,
)
from .combine import Combination, consensus_combine, heterogeneity_test
from .config import CMCConfig
from .dask_backend import DaskBackend, make_cluster
from .dask_config import DaskConfig
from .errors import CMCConfigError, CMCError, CMCWarning, ShardFailedError, WarmStartError
from .laplace import LaplaceResult, laplace_fit
from .parameterization import ParamSpace, build_space, prior_moments
from .report import make_result
from .result import CMCResult
from .sampler import ShardResult, ShardTask, run_shard, shard_log_density
from .sampling_space import SamplingSpace, choose_sampling_laws
from .sharding import Shard, choose_num_shards, make_shards
from .stages import (
    Consensus,
    Execution,
    Prepared,
    ShardPlan,
    consensus,
    execute,
    laplace_stage,
    plan_shards,
    prepare,
)
from .store import ShardStore
from .transport import cmc_identifiability, cmc_transport
from .warmstart import WarmStart, check_warm_start, load_warm_start, noise_level

__version__ = _dist_version("homodyne-cmc")  # pyproject.toml, via the installed metadata

__all__ = [
    "make_result",
    "prepare",
    "plan_shards",
    "laplace_stage",
    "execute",
    "consensus",
    "ShardPlan",
    "Prepared",
    "Execution",
    "Consensus",
    "Backend",
    "CMCConfig",
    "CMCConfigError",
    "CMCError",
    "CMCResult",
    "CMCWarning",
    "DaskBackend",
    "DaskConfig",
    "Combination",
    "CombinationSpace",
    "SamplingSpace",
    "CombinedPosterior",
    "LaplaceResult",
    "LocalBackend",
    "ParamSpace",
    "Progress",
    "SequentialBackend",
    "Shard",
    "ShardFailedError",
    "ShardResult",
    "ShardStore",
    "ShardTask",
    "WarmStart",
    "WarmStartError",
    "__version__",
    "build_space",
    "check_warm_start",
    "choose_num_shards",
    "choose_reference_laws",
    "choose_sampling_laws",
    "cmc_identifiability",
    "cmc_transport",
    "combine_shards",
    "consensus_combine",
    "fit_cmc",
    "heterogeneity_test",
    "laplace_fit",
    "load_warm_start",
    "machine_workers",
    "make_backend",
    "make_cluster",
    "make_shards",
    "noise_level",
    "prior_moments",
    "run_shard",
    "shard_log_density",
    "worker_setup",
]
