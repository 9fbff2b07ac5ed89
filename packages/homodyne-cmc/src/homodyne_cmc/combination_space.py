"""The space in which shard posteriors are combined: power laws by their values at two times.

Each transport law of the model has the form ``f(t) = a t^b + c`` (``D(t)`` from
``D0, alpha, D_offset``; ``gamma_dot(t)`` from ``gamma_dot_t0, beta, gamma_dot_t_offset``).
The data pin down ``f`` over the measured time range, not ``a`` and ``c`` separately: in the
sampling space u (logs/logits of the entries) the three coordinates lie on a thin, curved
ridge (measured on laminar_flow data: correlations of 0.98-1.00 between the shear entries).
Draw-wise consensus averaging of curved shard posteriors cuts across the ridge and makes the
combined posterior too narrow (sd ratio 0.65 vs full-data NUTS with 4 shards). Replacing
``a`` and ``c`` by the values of the law at two reference times::

    v = (f(t_a), u_b, f(t_b))        t_a = sqrt(t_min t_max), t_b = t_max

straightens the ridge (the same shard draws combined in v gave sd ratios 0.97-1.01). The
exponent keeps its u coordinate. The map is singular where ``b = 0`` (there ``a`` and ``c``
only enter as ``a + c``), so a law is combined this way only when its exponent is well away
from zero in every shard (see :func:`choose_reference_laws`); the others stay in u.

Exactness: a shard carries the prior to the power 1/S *in the space where the shards are
multiplied*. Sampling runs in u, so the shard's density over u gets the extra factor
``|det dv/du|^(1 - 1/S)`` (:func:`log_det_dv_du`); the product of the shard densities of v
is then exactly the full-data posterior of v.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_physics import float64

from .combine import Combination, consensus_combine
from .parameterization import (
    ParamSpace,
    SpaceArrays,
    SpaceStatic,
    _doffset_floor,
    to_physical_logd,
)

__all__ = [
    "LAWS",
    "CombinationSpace",
    "CombinedPosterior",
    "choose_reference_laws",
    "combine_shards",
    "from_combination",
    "log_det_dv_du",
    "reference_times",
    "to_combination",
]

#: (prefactor, exponent, offset, symbol) of the power laws the models contain.
LAWS = (
    ("D0", "alpha", "D_offset", "D"),
    ("gamma_dot_t0", "beta", "gamma_dot_t_offset", "gamma_dot"),
)
#: |correlation| of two Laplace entries above which they form a ridge (the sampling
#: coordinates and the prior-dominated warning both use it).
RIDGE_CORRELATION = 0.9
_CHOICES = ("auto", "reference", "unconstrained")


@dataclass(frozen=True)
class CombinationSpace:
    """Static description: index triples ``(a, b, c)`` of the laws combined by reference
    values (empty: plain u). Hashable, part of the jitted sampler's static settings."""

    laws: tuple[tuple[int, int, int], ...] = ()

    def names(self, names: tuple[str, ...], t_ref: np.ndarray) -> tuple[str, ...]:
        """Names of the combination coordinates (``D(t=20s)`` for a replaced slot)."""
        out = list(names)
        for a, _, c in self.laws:
            sym = next(law[3] for law in LAWS if law[0] == names[a])
            out[a] = f"{sym}(t={t_ref[0]:.4g}s)"
            out[c] = f"{sym}(t={t_ref[1]:.4g}s)"
        return tuple(out)


def reference_times(t_lim) -> np.ndarray:
    """``(t_a, t_b) = (sqrt(t_min t_max), t_max)`` for the data's time range ``t_lim``."""
    lo, hi = (float(v) for v in np.asarray(t_lim))
    return np.array([np.sqrt(lo * hi), hi], np.float64)


def choose_reference_laws(
    names: tuple[str, ...],
    mean: np.ndarray,
    cov: np.ndarray,
    n_shards: int,
    setting: str = "auto",
    min_z: float = 5.0,
) -> tuple[CombinationSpace, dict[str, str]]:
    """Which laws to combine by reference values.

    Parameters
    ----------
    names
        Sampled entry names.
    mean, cov
        Full-data Laplace mean and covariance over the leading entries (physical units).
    n_shards
        Shard count S (one shard: nothing to combine).
    setting
        ``auto`` (a law qualifies when its exponent is at least ``min_z`` shard posterior sds
        from zero, the shard sd being ``sqrt(S)`` times the full-data one), ``reference``
        (every law) or ``unconstrained`` (none).

    Returns
    -------
    (CombinationSpace, reasons)
        ``reasons``: law symbol -> why it was or was not chosen.
    """
    if setting not in _CHOICES:
        raise ValueError(f"combination_space must be one of {_CHOICES}, got {setting!r}")
    laws, reasons = [], {}
    for a_name, b_name, c_name, sym in LAWS:
        if not {a_name, b_name, c_name} <= set(names):
            continue
        a, b, c = names.index(a_name), names.index(b_name), names.index(c_name)
        sd = float(np.sqrt(max(cov[b, b], 0.0))) * np.sqrt(max(n_shards, 1))
        z = abs(float(mean[b])) / sd if sd > 0 else np.inf
        if n_shards <= 1:
            reasons[sym] = "one shard: no combination"
        elif setting == "unconstrained":
            reasons[sym] = "unconstrained (config)"
        elif setting == "reference" or z >= min_z:
            laws.append((a, b, c))
            reasons[sym] = f"reference values ({b_name} is {z:.1f} shard sd from 0)"
        else:
            reasons[sym] = (
                f"unconstrained: {b_name} is only {z:.1f} shard sd from 0, where the "
                "reference-value map is singular"
            )
    return CombinationSpace(tuple(laws)), reasons


def _power_terms(x, b, t_ref):
    return t_ref[0] ** x[b], t_ref[1] ** x[b]


def to_combination(u, static: SpaceStatic, arrays: SpaceArrays, comb: CombinationSpace, t_ref):
    """Map sampling coordinates ``u`` (shape ``(d,)``) to combination coordinates ``v``."""
    if not comb.laws:
        return u
    x, _ = to_physical_logd(u, static, arrays)
    v = u
    for a, b, c in comb.laws:
        pa, pb = _power_terms(x, b, t_ref)
        v = v.at[a].set(x[a] * pa + x[c]).at[c].set(x[a] * pb + x[c])
    return v


def log_det_dv_du(u, static: SpaceStatic, arrays: SpaceArrays, comb: CombinationSpace, t_ref):
    """``log|det dv/du|`` at ``u``: per law ``log|dx_a/du_a| + log|dx_c/du_c| +
    log|t_b^b - t_a^b|`` (the exponent's coordinate is shared; terms through ``D_offset``'s
    moving floor cancel)."""
    total = jnp.zeros((), u.dtype)
    if not comb.laws:
        return total
    x, logd = to_physical_logd(u, static, arrays)
    for a, b, c in comb.laws:
        pa, pb = _power_terms(x, b, t_ref)
        total = total + logd[a] + logd[c] + jnp.log(jnp.abs(pb - pa))
    return total


def from_combination(v, static: SpaceStatic, arrays: SpaceArrays, comb: CombinationSpace, t_ref):
    """Physical ``x`` from combination coordinates ``v`` and whether ``x`` lies in the
    prior support (bounds, and ``D(t) >= 0`` over the data's time range)."""
    placeholder = v
    for a, _, c in comb.laws:
        placeholder = placeholder.at[a].set(0.0).at[c].set(0.0)
    x, _ = to_physical_logd(placeholder, static, arrays)
    inside = jnp.array(True)
    for a, b, c in comb.laws:
        pa, pb = _power_terms(x, b, t_ref)
        pref = (v[c] - v[a]) / (pb - pa)
        off = v[a] - pref * pa
        x = x.at[a].set(pref).at[c].set(off)
        inside = inside & (pref >= arrays.low[a]) & (pref <= arrays.high[a])
        inside = inside & (off >= arrays.low[c]) & (off <= arrays.high[c])
    if comb.laws and "doffset" in static.kinds:
        k = static.kinds.index("doffset")
        inside = inside & (x[k] >= _doffset_floor(x, k, static, arrays))
    return x, inside


@dataclass(frozen=True, eq=False)
class CombinedPosterior:
    """Shards combined in v and mapped to physical units.

    ``consensus``: the :class:`~homodyne_cmc.combine.Combination` in v; ``draws``: combined
    chains in physical units; ``product_mean``/``product_cov``: the Gaussian product of the
    shard moments (in v) pushed through to physical units by sampling; ``outside_fraction``:
    share of combined draws outside the prior support; ``names``: the v coordinates.
    """

    consensus: Combination
    draws: np.ndarray
    product_mean: np.ndarray
    product_cov: np.ndarray
    outside_fraction: float
    names: tuple[str, ...]


def combine_shards(
    udraws: list[np.ndarray],
    space: ParamSpace,
    comb: CombinationSpace,
    t_ref: np.ndarray,
    u0: np.ndarray,
    cov_u: np.ndarray,
    n_shards: int,
    seed: int = 0,
) -> CombinedPosterior:
    """Consensus combination of shard draws given in u (each ``(chains, samples, d)``).

    The draws are mapped to v, combined chain by chain with weights from their covariances
    (standardised by the whitening covariance ``cov_u`` at ``u0`` carried to v and widened by
    S), and the combined chains mapped to physical units.
    """
    d = space.static.dim
    with float64():
        arrays, t_j = space.jax_arrays(), jnp.asarray(t_ref)

        def v_of(u):
            return to_combination(u, space.static, arrays, comb, t_j)

        to_v = jax.jit(jax.vmap(v_of))
        vdraws = [np.asarray(to_v(jnp.asarray(u.reshape(-1, d)))).reshape(u.shape) for u in udraws]
        jac = np.asarray(jax.jacfwd(v_of)(jnp.asarray(u0)))
        cov_v = jac @ cov_u @ jac.T
        consensus = consensus_combine(vdraws, scale=np.sqrt(np.diag(cov_v) * n_shards))
        to_x = jax.jit(jax.vmap(lambda v: from_combination(v, space.static, arrays, comb, t_j)))
        x_flat, inside = to_x(jnp.asarray(consensus.draws.reshape(-1, d)))
        gauss = np.random.default_rng(seed).multivariate_normal(
            consensus.product_mean, consensus.product_cov, size=20000, method="cholesky"
        )
        x_gauss = np.asarray(to_x(jnp.asarray(gauss))[0])
    return CombinedPosterior(
        consensus=consensus,
        draws=np.asarray(x_flat).reshape(consensus.draws.shape),
        product_mean=x_gauss.mean(axis=0),
        product_cov=np.cov(x_gauss, rowvar=False),
        outside_fraction=1.0 - float(np.mean(np.asarray(inside))),
        names=comb.names(space.names, t_ref),
    )
