"""Sampling coordinates the data identify: power laws by their values at the ends of the data.

A transport law ``f(t) = A t^b + c`` (``D(t)`` from ``D0, alpha, D_offset``; ``gamma_dot(t)``
from ``gamma_dot_t0, beta, gamma_dot_t_offset``) is pinned down by the data over the measured
ages, not by ``A`` and ``c`` separately. When the NLSQ/Laplace covariance shows the ridge
(strongly correlated entries) or an entry at a bound, NUTS in the unconstrained space u
(logits of ``A``, ``b``, ``c``) follows a thin, curved valley and needs long trajectories.
For such a law the shard is sampled in

    w_a = g(f(t_min)),   w_b = logit/log of A (its u coordinate),   w_c = g(f(t_max))

with ``g = log`` for ``D`` (``D(t) >= 0`` on the data's range holds exactly when both end
values are positive, since ``f`` is monotone: this is the prior's support) and ``g = id`` for
``gamma_dot``. Given ``A`` and the two end values, the exponent solves
``t_min^b - t_max^b = (f(t_min) - f(t_max)) / A`` (strictly decreasing in ``b`` when
``t_min <= 1 <= t_max``; found by bisection inside the exponent's bounds, its derivative by the
implicit function theorem) and ``c = f(t_min) - A t_min^b``. Points whose exponent or offset
fall outside their bounds are outside the support (log density -inf).

The target is unchanged: the sampler adds ``log|det dx/dw|`` and removes ``log|det dx/du|``
where it turns the density over u into the density over w (see
:func:`homodyne_cmc.sampler.shard_log_density`), so the prior stays the user's prior on the
physical parameters and draws are returned in u and x exactly as before.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .combination_space import LAWS, RIDGE_CORRELATION
from .parameterization import SpaceArrays, SpaceStatic, to_physical_logd, to_unconstrained

__all__ = [
    "SAMPLING_SPACES",
    "SamplingSpace",
    "choose_sampling_laws",
    "from_sampling",
    "to_sampling",
]

SAMPLING_SPACES = ("auto", "reference", "unconstrained")
_BISECTION_STEPS = 64
_MARGIN = 1e-12


@dataclass(frozen=True)
class SamplingSpace:
    """Static description: per law ``(a, b, c, log)`` indices of prefactor, exponent and
    offset in the sampled vector and whether its end values are sampled as logs (empty: u)."""

    laws: tuple[tuple[int, int, int, bool], ...] = ()

    def names(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Names of the sampling coordinates (``log D(t_min)``, ``u(D0)``, ...)."""
        out = [f"u({n})" for n in names]
        for a, _, c, log in self.laws:
            sym = next(law[3] for law in LAWS if law[0] == names[a])
            pre = "log " if log else ""
            out[a], out[c] = f"{pre}{sym}(t_min)", f"{pre}{sym}(t_max)"
        return tuple(out)


def _law_indices(names: tuple[str, ...]):
    for a_name, b_name, c_name, sym in LAWS:
        if {a_name, b_name, c_name} <= set(names):
            yield sym, names.index(a_name), names.index(b_name), names.index(c_name)


def choose_sampling_laws(
    names: tuple[str, ...],
    kinds: tuple[str, ...],
    arrays: SpaceArrays,
    mean: np.ndarray,
    cov: np.ndarray,
    setting: str = "auto",
) -> tuple[SamplingSpace, dict[str, str]]:
    """Which laws to sample by their end values.

    ``auto``: a law qualifies when the full-data Laplace covariance (``mean``, ``cov`` over the
    leading physical entries) correlates two of its entries beyond 0.9 in absolute value, or
    one of them lies within one Laplace sd of a bound; ``reference``: every eligible law;
    ``unconstrained``: none. Eligible: all three entries sampled, finite exponent bounds, a
    prefactor bounded below, and ``t_min <= 1 s <= t_max`` (the exponent map is monotone).
    Returns the static space and law symbol -> reason.
    """
    if setting not in SAMPLING_SPACES:
        raise ValueError(f"sampling space must be one of {SAMPLING_SPACES}, got {setting!r}")
    low, high = np.asarray(arrays.low), np.asarray(arrays.high)
    t_lo, t_hi = (float(v) for v in np.asarray(arrays.t_lim))
    laws, reasons = [], {}
    for sym, a, b, c in _law_indices(names):
        if setting == "unconstrained":
            reasons[sym] = "unconstrained (config)"
            continue
        if not (np.isfinite(low[b]) and np.isfinite(high[b])) or kinds[a] not in (
            "interval",
            "lower",
        ):
            reasons[sym] = "unconstrained: exponent bounds not finite or prefactor unbounded"
            continue
        if not t_lo <= 1.0 <= t_hi:
            reasons[sym] = f"unconstrained: data ages [{t_lo:.3g}, {t_hi:.3g}] s exclude 1 s"
            continue
        idx = [a, b, c]
        sd = np.sqrt(np.maximum(np.diag(cov)[idx], 1e-300))
        corr = cov[np.ix_(idx, idx)] / np.outer(sd, sd)
        worst = float(np.max(np.abs(corr - np.eye(3))))
        gap = np.minimum(mean[idx] - low[idx], high[idx] - mean[idx])
        at_bound = [names[k] for k, g, s in zip(idx, gap, sd, strict=True) if g < s]
        if setting == "reference":
            why = "reference (config)"
        elif at_bound:
            why = f"{', '.join(at_bound)} at a bound"
        elif worst > RIDGE_CORRELATION:
            why = f"ridge: |correlation| {worst:.3f} > {RIDGE_CORRELATION}"
        else:
            reasons[sym] = f"unconstrained: no ridge (largest |correlation| {worst:.3f})"
            continue
        laws.append((a, b, c, sym == "D"))
        reasons[sym] = f"end values f(t_min), f(t_max): {why}"
    return SamplingSpace(tuple(laws)), reasons


def _decreasing(b, t):
    return t[0] ** b - t[1] ** b


def _solve_exponent(target, lo, hi, t):
    """``b`` in [lo, hi] with ``t0^b - t1^b = target`` (bisection; first derivatives by the
    implicit function theorem) and whether the root is bracketed."""
    inside = (target <= _decreasing(lo, t)) & (target >= _decreasing(hi, t))
    tgt = jax.lax.stop_gradient(jnp.clip(target, _decreasing(hi, t), _decreasing(lo, t)))

    def step(_, br):
        mid = 0.5 * (br[0] + br[1])
        above = _decreasing(mid, t) > tgt  # root is to the right
        return jnp.where(above, mid, br[0]), jnp.where(above, br[1], mid)

    left, right = jax.lax.fori_loop(0, _BISECTION_STEPS, step, (lo, hi))
    b0 = jax.lax.stop_gradient(0.5 * (left + right))
    b = b0 - (_decreasing(b0, t) - target) / jax.lax.stop_gradient(_slope(b0, t))
    return b, inside


def _slope(b, t):
    return t[0] ** b * jnp.log(t[0]) - t[1] ** b * jnp.log(t[1])


def _entry(w, kind, lo, hi):
    """Prefactor from its u coordinate and ``log|dA/dw|``."""
    if kind == "interval":
        return lo + (hi - lo) * jax.nn.sigmoid(w), (
            jnp.log(hi - lo) + jax.nn.log_sigmoid(w) + jax.nn.log_sigmoid(-w)
        )
    return lo + jnp.exp(w), w


def from_sampling(w, static: SpaceStatic, arrays: SpaceArrays, samp: SamplingSpace):
    """Physical ``x`` from sampling coordinates ``w``, ``log|det dx/dw|`` and whether ``x``
    lies in the support (exponent and offset inside their bounds)."""
    base = w
    for a, b, c, _ in samp.laws:
        base = base.at[a].set(0.0).at[b].set(0.0).at[c].set(0.0)
    x, logd = to_physical_logd(base, static, arrays)
    keep = np.ones(static.dim, bool)
    inside = jnp.array(True)
    extra = jnp.zeros((), w.dtype)
    t = arrays.t_lim
    for a, b, c, log in samp.laws:
        keep[[a, b, c]] = False
        pref, log_dpref = _entry(w[b], static.kinds[a], arrays.low[a], arrays.high[a])
        fa, fb = (jnp.exp(w[a]), jnp.exp(w[c])) if log else (w[a], w[c])
        expo, ok = _solve_exponent((fa - fb) / pref, arrays.low[b], arrays.high[b], t)
        off = fa - pref * t[0] ** expo
        inside = inside & ok & (off >= arrays.low[c]) & (off <= arrays.high[c])
        # |det dx/dw| = |dA/dw_b| / |A f'(b)| (x (w) the end values of the linear law)
        extra = extra + log_dpref - jnp.log(pref) - jnp.log(jnp.abs(_slope(expo, t)))
        if log:
            extra = extra + w[a] + w[c]
        x = x.at[a].set(pref).at[b].set(expo).at[c].set(off)
    logdet = jnp.sum(jnp.where(jnp.asarray(keep), logd, 0.0)) + extra
    return x, logdet, inside & jnp.all(jnp.isfinite(x))


def to_sampling(x, static: SpaceStatic, arrays: SpaceArrays, samp: SamplingSpace):
    """Sampling coordinates ``w`` of physical ``x`` (inverse of :func:`from_sampling`; end
    values of a log law floored at a tiny positive number)."""
    u = to_unconstrained(x, static, arrays)
    t = arrays.t_lim
    for a, b, c, log in samp.laws:
        fa = x[a] * t[0] ** x[b] + x[c]
        fb = x[a] * t[1] ** x[b] + x[c]
        if log:
            tiny = _MARGIN * jnp.maximum(jnp.abs(fa), jnp.abs(fb))
            fa, fb = jnp.log(jnp.maximum(fa, tiny)), jnp.log(jnp.maximum(fb, tiny))
        u = u.at[b].set(u[a]).at[a].set(fa).at[c].set(fb)
    return u
