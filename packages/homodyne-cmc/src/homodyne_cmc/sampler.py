"""One shard's NUTS run: the whitened potential and a jitted chain driver around NumPyro's NUTS.

The potential of shard ``s`` of ``S`` in whitened coordinates ``z`` is::

    u = u0 + L z                         (affine whitening: centre u0, factor L)
    x = T^-1(u)                          (bijection onto the support, log|det| = J(u))
    -log p_s(z) = -[loglik_s(x) + (1/S) (log prior(x) + J(u)) + (1 - 1/S) K(u)]

When :mod:`homodyne_cmc.sampling_space` chose other coordinates w for some power laws, the
whitening is ``w = u0 + L z`` (``CommonArrays.u0``/``chol`` are then in w), ``x = x(w)``,
``u = T(x)``, and ``log|det dx/dw| - J(u)`` is added: the same target, expressed over w.

``loglik_s`` is the Gaussian log likelihood of the shard's (t1 < t2) points (at the curvature-
adjusted physical parameters when the noise is frame-correlated, :mod:`homodyne_cmc.adjust`),
evaluated with
:func:`homodyne_physics.gaussian_loglik` (the one physics kernel; value and gradient in one
streamed pass) and the scaling map's linear design.
Each shard carries the prior density *of u* (prior of x times the Jacobian) to the
power 1/S, so the product of the shard densities over u is exactly the full-data posterior of
u. Shards are combined in u (logs of positive scales, logits of bounded entries: far more
Gaussian than x, which is what consensus averaging assumes) or, for the power laws whose
exponent is well determined, in the reference-value space v of
:mod:`homodyne_cmc.combination_space`; then ``K(u) = log|det dv/du|`` carries the prior
tempering over to v (K = 0 when combining in u). Only the combined draws are mapped to
physical units.

The chain driver calls NumPyro's functional NUTS (``numpyro.infer.hmc.hmc``) inside one
``jax.jit`` whose static argument is the :class:`SamplerSettings`: all shards of a run have
the same shapes, so a worker compiles once and reuses the program for every shard it runs.
"""

import time
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer.hmc import hmc

from homodyne_physics import C2Model, float64, gaussian_loglik

from .age_likelihood import age_coefficients, age_gaussian_loglik
from .combination_space import CombinationSpace, log_det_dv_du
from .parameterization import (
    SpaceArrays,
    SpaceStatic,
    full_theta,
    log_prior,
    to_physical,
    to_unconstrained,
)
from .sampling_space import SamplingSpace, from_sampling
from .sharding import Shard

__all__ = [
    "CommonArrays",
    "SamplerSettings",
    "ShardArrays",
    "ShardResult",
    "ShardTask",
    "run_shard",
    "shard_log_density",
]

STAT_FIELDS = ("diverging", "accept_prob", "num_steps", "step_size", "energy", "potential_energy")


class ShardArrays(NamedTuple):
    """Device view of a :class:`~homodyne_cmc.sharding.Shard`."""

    y: jax.Array
    w: jax.Array
    i: jax.Array
    j: jax.Array


class CommonArrays(NamedTuple):
    """Arrays shared by all shards: grids, scaling design, space, whitening, tempering."""

    t: jax.Array
    phi: jax.Array
    design_c: jax.Array
    design_o: jax.Array
    fixed_c: jax.Array
    fixed_o: jax.Array
    space: SpaceArrays
    u0: jax.Array
    chol: jax.Array
    prior_power: jax.Array
    sigma_fixed: jax.Array
    t_ref: jax.Array
    jac_power: jax.Array
    age_range: jax.Array = ()
    # curvature adjustment of the likelihood (:mod:`homodyne_cmc.adjust`); None: unadjusted
    adj_center: jax.Array | None = None
    adj_matrix: jax.Array | None = None
    adj_log: jax.Array | None = None  # entries adjusted in log coordinates


@dataclass(frozen=True)
class SamplerSettings:
    """Static (hashable) description of a shard run: model, space and NUTS settings."""

    model: C2Model
    space: SpaceStatic
    n_contrast: int
    num_warmup: int
    num_samples: int
    num_chains: int
    chain_method: str = "sequential"
    target_accept_prob: float = 0.85
    max_tree_depth: int = 10
    dense_mass: bool = False
    combination: CombinationSpace = CombinationSpace()
    age_orders: tuple[int, int] = (0, 0)
    sampling: SamplingSpace = SamplingSpace()


@dataclass(frozen=True, eq=False)
class ShardTask:
    """Everything a worker needs to sample one shard (picklable, numpy only)."""

    key: str
    shard: Shard
    common: CommonArrays
    settings: SamplerSettings
    seed: int
    init_z: np.ndarray
    attempt: int = 0


@dataclass(frozen=True, eq=False)
class ShardResult:
    """Draws of one shard in physical units and the sampler statistics.

    ``draws``: ``(n_chains, n_samples, d)`` physical; ``udraws``: the same draws in the
    unconstrained space u (where shards are combined); ``stats``: name ->
    ``(n_chains, n_samples)`` for each of ``diverging, accept_prob, num_steps, step_size,
    energy, potential_energy``;
    ``warmup_divergences``: ``(n_chains,)``; ``chain_seconds``: wall time of each chain call
    (the first includes compilation when the worker had not compiled yet).
    """

    index: int
    key: str
    seed: int
    attempt: int
    draws: np.ndarray
    udraws: np.ndarray
    stats: dict[str, np.ndarray]
    warmup_divergences: np.ndarray
    chain_seconds: tuple[float, ...]
    n_points: int
    source: str = "sampled"
    extra: dict = field(default_factory=dict)

    @property
    def wall_seconds(self) -> float:
        """Total sampling wall time of the shard, s."""
        return float(sum(self.chain_seconds))

    @property
    def divergence_rate(self) -> float:
        """Fraction of post-warmup transitions that diverged."""
        return float(np.mean(self.stats["diverging"]))


def _params_from_z(z, common: CommonArrays, settings: SamplerSettings):
    """``(x, log|det dx/du|, u, correction, inside)`` at whitened ``z``.

    ``u0 + chol z`` are the sampling coordinates: u itself, or w of
    :mod:`homodyne_cmc.sampling_space`; then ``correction = log|det du/dw|`` turns the
    density over u into the density over w, and ``inside`` says whether x is in the support.
    """
    w = common.u0 + common.chol @ z
    sp = settings.space
    if not settings.sampling.laws:
        x, logdet = to_physical(w, sp, common.space)
        return x, logdet, w, jnp.zeros((), w.dtype), jnp.array(True)
    x, logdet_xw, inside = from_sampling(w, sp, common.space, settings.sampling)
    u = to_unconstrained(x, sp, common.space)
    _, logdet_xu = to_physical(u, sp, common.space)
    return x, logdet_xu, u, logdet_xw - logdet_xu, inside


def _adjusted(x, common: CommonArrays):
    """x with its leading physical entries moved to ``theta*`` of the curvature-adjusted
    likelihood (same map in every shard, linear in log coordinates for the entries of
    ``adj_log``; inside the bounds). The prior keeps x."""
    if common.adj_matrix is None:
        return x
    c = common.adj_center
    k = c.shape[0]
    lg = common.adj_log

    def to_v(th):  # log where lg (the other branch kept finite for the gradient)
        return jnp.where(lg, jnp.log(jnp.where(lg, th, 1.0)), th)

    vc = to_v(c)
    v = vc + common.adj_matrix @ (to_v(x[:k]) - vc)
    th = jnp.where(lg, jnp.exp(jnp.where(lg, v, 0.0)), v)
    th = jnp.clip(th, common.space.low[:k], common.space.high[:k])
    return x.at[:k].set(th)


def shard_log_density(z, shard: ShardArrays, common: CommonArrays, settings: SamplerSettings):
    """Log density (up to a constant) of the shard's tempered posterior at whitened ``z``
    (-inf outside the prior support of the sampling coordinates)."""
    x, logdet, u, correction, inside = _params_from_z(z, common, settings)
    sp = settings.space
    theta = full_theta(_adjusted(x, common), sp, common.space)
    s = x[sp.n_theta : sp.n_theta + sp.n_scaling]
    sigma = x[-1] if sp.sample_sigma else common.sigma_fixed
    data = (common.t, common.phi, shard.i, shard.j, shard.y, shard.w)
    if any(settings.age_orders):  # contrast/offset change with age: per-point scaling
        coef_c, coef_o = age_coefficients(
            s, common.design_c, common.design_o, common.fixed_c, common.fixed_o,
            settings.age_orders,
        )  # fmt: skip
        loglik = age_gaussian_loglik(
            settings.model, theta, coef_c, coef_o, common.age_range, sigma, *data
        )
    else:
        kc = settings.n_contrast
        contrast = common.fixed_c + common.design_c @ s[:kc]
        offset = common.fixed_o + common.design_o @ s[kc:]
        loglik = gaussian_loglik(settings.model, theta, contrast, offset, sigma, *data)
    logp = loglik + common.prior_power * (log_prior(x, sp, common.space) + logdet) + correction
    if settings.combination.laws:
        logp = logp + common.jac_power * log_det_dv_du(
            u, sp, common.space, settings.combination, common.t_ref
        )
    if settings.sampling.laws:
        logp = jnp.where(inside & jnp.isfinite(logp), logp, -jnp.inf)
    return logp


def _potential_gen(settings, shard, common):
    return lambda z: -shard_log_density(z, shard, common, settings)


def _one_chain(settings: SamplerSettings, shard, common, key, z0):
    init_kernel, sample_kernel = hmc(
        potential_fn_gen=partial(_potential_gen, settings), algo="NUTS"
    )
    state = init_kernel(
        z0,
        settings.num_warmup,
        target_accept_prob=settings.target_accept_prob,
        max_tree_depth=settings.max_tree_depth,
        dense_mass=settings.dense_mass,
        model_args=(shard, common),
        rng_key=key,
    )

    def body(st, _):
        st = sample_kernel(st, model_args=(shard, common))
        return st, (
            st.z,
            st.diverging,
            st.accept_prob,
            st.num_steps,
            st.adapt_state.step_size,
            st.energy,
            st.potential_energy,
        )

    _, out = jax.lax.scan(body, state, None, length=settings.num_warmup + settings.num_samples)
    return out


@partial(jax.jit, static_argnums=0)
def _run_single(settings, shard, common, key, z0):
    return _one_chain(settings, shard, common, key, z0)


@partial(jax.jit, static_argnums=0)
def _run_vectorized(settings, shard, common, keys, z0s):
    return jax.vmap(lambda k, z: _one_chain(settings, shard, common, k, z))(keys, z0s)


@partial(jax.jit, static_argnums=0)
def _draws(settings, common, z):
    """Physical and unconstrained draws from whitened ones."""
    flat = z.reshape(-1, z.shape[-1])
    x, _, u, _, _ = jax.vmap(lambda zz: _params_from_z(zz, common, settings))(flat)
    return x.reshape(z.shape[:-1] + (x.shape[-1],)), u.reshape(z.shape[:-1] + (u.shape[-1],))


@partial(jax.jit, static_argnums=0)
def _inside(settings, common, z):
    return jax.vmap(lambda zz: _params_from_z(zz, common, settings)[4])(z)


def _start_inside(settings: SamplerSettings, common, z0):
    """Chain starts moved towards the whitening centre (halving) until each lies in the
    support of the sampling coordinates (always true in u)."""
    if not settings.sampling.laws:
        return z0
    for _ in range(30):
        ok = _inside(settings, common, z0)
        if bool(jnp.all(ok)):
            break
        z0 = jnp.where(ok[:, None], z0, 0.5 * z0)
    return z0


def _device(tree):
    return jax.tree.map(lambda a: jnp.asarray(a), tree)


def run_shard(task: ShardTask) -> ShardResult:
    """Sample one shard (all chains) and return its draws in physical units.

    Runs under :func:`homodyne_physics.float64`; chains run one after the other
    (``sequential``) or as one vmapped program (``vectorized``).
    """
    st = task.settings
    with float64():
        shard = _device(ShardArrays(task.shard.y, task.shard.w, task.shard.i, task.shard.j))
        common = _device(task.common)
        keys = jax.random.split(jax.random.PRNGKey(task.seed), st.num_chains)
        z0 = _start_inside(st, common, jnp.asarray(task.init_z, jnp.float64))
        outs, times = [], []
        if st.chain_method == "vectorized":
            t0 = time.perf_counter()
            out = jax.block_until_ready(_run_vectorized(st, shard, common, keys, z0))
            times.append(time.perf_counter() - t0)
            outs = [tuple(np.asarray(a[c]) for a in out) for c in range(st.num_chains)]
        else:
            for c in range(st.num_chains):
                t0 = time.perf_counter()
                out = jax.block_until_ready(_run_single(st, shard, common, keys[c], z0[c]))
                times.append(time.perf_counter() - t0)
                outs.append(tuple(np.asarray(a) for a in out))
        w = st.num_warmup
        z = np.stack([o[0][w:] for o in outs])
        draws, udraws = (np.asarray(a) for a in _draws(st, common, jnp.asarray(z)))
    stats = {name: np.stack([o[k + 1][w:] for o in outs]) for k, name in enumerate(STAT_FIELDS)}
    stats["diverging"] = stats["diverging"].astype(bool)
    warm_div = np.array([int(np.sum(o[1][:w])) for o in outs])
    return ShardResult(
        task.shard.index,
        task.key,
        task.seed,
        task.attempt,
        draws,
        udraws,
        stats,
        warm_div,
        tuple(times),
        task.shard.n_points,
    )
