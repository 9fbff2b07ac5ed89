"""The sampled parameter vector, its priors and the bijection to an unconstrained space.

The vector is ``x = (theta, s, sigma)``: the free physical parameters of the
:class:`homodyne_physics.ModelSpec` in kernel order (fixed ones are not sampled: they enter
the likelihood through :func:`full_theta`), the scaling vector of the
:class:`homodyne_physics.ScalingMap` and (when sampled) the noise sd. Each entry has

* a prior (a true truncated density: the family's log density inside the bounds, nothing
  outside; the normalising constant is irrelevant for sampling and combination), and
* a smooth bijection from the real line onto its support: a scaled logistic for a finite
  interval, an exponential for a half line. ``D_offset`` uses a moving lower bound,
  ``max(low, -D0 min(t_min^alpha, t_max^alpha))``, so that ``D(t) = D0 t^alpha + D_offset``
  stays >= 0 over the data's time range: the physics is respected by the parameterisation,
  never by clipping. Jointly the prior is the product density restricted to that set.

Everything here is pure JAX and traced inside the NUTS potential, the Laplace step and the
conversion of draws back to physical units, so there is one definition of the space.
"""

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_physics import MODES, C2Model, ModelSpec, Prior, ScalingMap

from .errors import CMCConfigError

__all__ = [
    "FAMILY_CODES",
    "ParamSpace",
    "SpaceArrays",
    "SpaceStatic",
    "build_space",
    "full_theta",
    "log_prior",
    "prior_moments",
    "to_physical",
    "to_physical_logd",
    "to_unconstrained",
]

FAMILY_CODES = {
    "TruncatedNormal": 0,
    "Normal": 0,
    "Uniform": 1,
    "LogNormal": 2,
    "HalfNormal": 3,
    "BetaScaled": 4,
    "Jeffreys": 5,
}
_KINDS = ("interval", "lower", "upper", "real", "doffset")
# Scaling-vector harmonics (fourier mode) get this zero-centred normal prior (no bounds).
_HARMONIC_SD = 0.25
_SIGMA_BOUNDS = (0.0, np.inf)
# kernel positions of D0 and alpha (the same in every mode)
_D0, _ALPHA = MODES["static"].index("D0"), MODES["static"].index("alpha")


@dataclass(frozen=True)
class SpaceStatic:
    """Hashable structure of the space (a static argument of the jitted sampler)."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    families: tuple[int, ...]
    n_theta: int
    n_scaling: int
    sample_sigma: bool
    free_index: tuple[int, ...] = ()
    n_model: int = 0

    @property
    def dim(self) -> int:
        """Length of the sampled vector."""
        return len(self.names)


class SpaceArrays(NamedTuple):
    """Numeric part of the space: bounds, prior parameters and the time range (s)."""

    low: jax.Array
    high: jax.Array
    prior_mean: jax.Array
    prior_sd: jax.Array
    t_lim: jax.Array
    theta_fixed: jax.Array = ()


@dataclass(frozen=True, eq=False)
class ParamSpace:
    """:class:`SpaceStatic` + :class:`SpaceArrays` (numpy) + the priors as given."""

    static: SpaceStatic
    arrays: SpaceArrays
    priors: tuple[Prior, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the sampled entries."""
        return self.static.names

    def jax_arrays(self) -> SpaceArrays:
        """The arrays as float64 JAX arrays."""
        return SpaceArrays(*(jnp.asarray(a, jnp.float64) for a in self.arrays))


def _kind_for(low: float, high: float) -> str:
    if np.isfinite(low) and np.isfinite(high):
        return "interval"
    if np.isfinite(low):
        return "lower"
    if np.isfinite(high):
        return "upper"
    return "real"


def _scaling_prior(name: str, spec: ModelSpec) -> Prior:
    """Prior of a scaling entry: the spec's contrast/offset prior for a per-angle or mean
    entry, a zero-centred normal for a Fourier harmonic; an age coefficient (``*_age{k}*``,
    order k >= 1 of the Legendre polynomial in age) a zero-centred normal (no drift is the
    centre) whose sd is that of the spec's contrast/offset prior divided by ``2k + 1``, so
    that the coefficients of higher orders are held closer to 0."""
    name = name.split("@")[0]  # '@r<k>': the ring of a joint fit over q rings
    base = "contrast" if name.startswith("contrast") else "offset"
    if "_age" in name:
        order = int(name.split("_age")[1][0])
        sd = float(spec.priors[base].sd) / (2 * order + 1)
        return Prior("Normal", 0.0, sd, -np.inf, np.inf)
    if "[" in name or name in ("contrast", "offset") or name.endswith("_c0"):
        return spec.priors[base]
    return Prior("Normal", 0.0, _HARMONIC_SD, -np.inf, np.inf)


def build_space(
    model: C2Model,
    scaling: ScalingMap,
    t,
    *,
    spec: ModelSpec | None = None,
    sample_sigma=True,
    centres=None,
) -> ParamSpace:
    """Assemble the space of ``(free theta, s[, sigma])`` for a model and scaling map.

    Parameters
    ----------
    model
        The physics model.
    scaling
        Per-angle scaling map (its ``names`` become the scaling entries).
    t
        Times of the selected frames, s, shape ``(n_t,)`` (sets the D(t) >= 0 range).
    spec
        The :class:`homodyne_physics.ModelSpec`: priors (truncated to its bounds) and the
        fixed parameters, which are left out; None: registry priors, nothing fixed.
    sample_sigma
        Append the noise sd (Jeffreys prior 1/sigma on (0, inf)).
    centres
        Optional name -> value replacing prior means (NLSQ-centred priors).
    """
    if spec is None:
        spec = ModelSpec.create(model.mode, convention=model.convention, gap=model.gap)
    centres = dict(centres or {})
    names, kinds, fams, plist = [], [], [], []
    for n in spec.free_names:
        p = spec.priors[n]
        if n in centres:
            p = Prior(p.family, float(np.clip(centres[n], p.low, p.high)), p.sd, p.low, p.high)
        names.append(n)
        plist.append(p)
        kinds.append("doffset" if n == "D_offset" else _kind_for(p.low, p.high))
    for n in scaling.names:
        p = _scaling_prior(n, spec)
        names.append(n)
        plist.append(p)
        kinds.append(_kind_for(p.low, p.high))
    if sample_sigma:
        names.append("sigma")
        plist.append(Prior("Uniform", 1.0, 1.0, *_SIGMA_BOUNDS))
        kinds.append("lower")
    for n, p in zip(names, plist, strict=True):
        fams.append(FAMILY_CODES["Jeffreys"] if n == "sigma" else FAMILY_CODES[p.family])
        if p.family in ("LogNormal", "HalfNormal") and p.high <= 0:
            raise CMCConfigError(
                f"optimization.cmc.priors.{n}: family {p.family} needs a "
                f"positive upper bound, got {p.high}"
            )
    low = np.array([p.low for p in plist], np.float64)
    high = np.array([p.high for p in plist], np.float64)
    for k, (n, p) in enumerate(zip(names, plist, strict=True)):
        if p.family in ("LogNormal", "HalfNormal"):
            low[k] = max(low[k], 0.0)
        if p.family == "BetaScaled" and not (np.isfinite(p.low) and np.isfinite(p.high)):
            raise CMCConfigError(f"optimization.cmc.priors.{n}: BetaScaled needs finite bounds")
    t = np.asarray(t, np.float64)
    if model.convention == "homodyne2":
        t_lim = np.array([0.5 * model.dt, max(t[-1] - t[0], model.dt)])
    else:
        t_lim = np.array([t[model.first_fitted_frame], t[-1]])
    arrays = SpaceArrays(
        low,
        high,
        np.array([p.mean for p in plist]),
        np.array([p.sd for p in plist]),
        t_lim,
        np.array([spec.start[n] for n in spec.names], np.float64),
    )
    static = SpaceStatic(
        tuple(names),
        tuple(kinds),
        tuple(fams),
        len(spec.free_names),
        scaling.n_params,
        bool(sample_sigma),
        spec.free_index,
        len(spec.names),
    )
    return ParamSpace(static, arrays, tuple(plist))


# --------------------------------------------------------------------------- bijection


def full_theta(x, static: SpaceStatic, arrays: SpaceArrays):
    """All physical parameters (kernel order) from a sampled vector: the fixed ones from
    ``arrays.theta_fixed``."""
    theta = x[: static.n_theta]
    if static.n_model == static.n_theta:
        return theta
    idx = np.asarray(static.free_index, np.int32)
    return jnp.asarray(arrays.theta_fixed).at[idx].set(theta)


def _entry(name: str, kernel_pos: int, xs, static: SpaceStatic, arrays: SpaceArrays):
    """A physical entry by name: sampled (from ``xs``) or fixed."""
    if name in static.names:
        return xs[static.names.index(name)]
    return jnp.asarray(arrays.theta_fixed)[kernel_pos]


def _doffset_floor(xs, k: int, static: SpaceStatic, arrays: SpaceArrays):
    """Lowest D_offset (entry ``k``) keeping D(t) >= 0 on [t_min, t_max] for D0, alpha."""
    d0 = _entry("D0", _D0, xs, static, arrays)
    alpha = _entry("alpha", _ALPHA, xs, static, arrays)
    lt = jnp.log(arrays.t_lim)
    smallest = d0 * jnp.exp(jnp.minimum(alpha * lt[0], alpha * lt[1]))
    return jnp.maximum(arrays.low[k], -smallest)


def to_physical(u, static: SpaceStatic, arrays: SpaceArrays):
    """Map unconstrained ``u`` (shape ``(d,)``) to ``(x, log|det dx/du|)``."""
    x, logd = to_physical_logd(u, static, arrays)
    return x, jnp.sum(logd)


def to_physical_logd(u, static: SpaceStatic, arrays: SpaceArrays):
    """Map ``u`` to ``(x, log|dx_k/du_k|)``: the per-entry log derivatives.

    The map is lower triangular (only ``D_offset``'s floor depends on other entries), so
    the log Jacobian determinant is the sum of these diagonal terms.
    """
    xs, logd = [], []
    for k, kind in enumerate(static.kinds):
        uk, lo, hi = u[k], arrays.low[k], arrays.high[k]
        if kind == "doffset":
            lo = _doffset_floor(xs, k, static, arrays)
        if kind in ("interval", "doffset"):
            xk = lo + (hi - lo) * jax.nn.sigmoid(uk)
            logd.append(jnp.log(hi - lo) + jax.nn.log_sigmoid(uk) + jax.nn.log_sigmoid(-uk))
        elif kind == "lower":
            xk = lo + jnp.exp(uk)
            logd.append(uk)
        elif kind == "upper":
            xk = hi - jnp.exp(uk)
            logd.append(uk)
        else:
            xk = uk
            logd.append(jnp.zeros((), u.dtype))
        xs.append(xk)
    return jnp.stack(xs), jnp.stack(logd)


def to_unconstrained(x, static: SpaceStatic, arrays: SpaceArrays, *, margin=1e-9):
    """Inverse of :func:`to_physical` (values at a bound are moved ``margin`` inside)."""
    us = []
    for k, kind in enumerate(static.kinds):
        xk, lo, hi = x[k], arrays.low[k], arrays.high[k]
        if kind == "doffset":
            lo = _doffset_floor(x, k, static, arrays)
        if kind in ("interval", "doffset"):
            frac = jnp.clip((xk - lo) / (hi - lo), margin, 1.0 - margin)
            us.append(jnp.log(frac) - jnp.log1p(-frac))
        elif kind == "lower":
            us.append(jnp.log(jnp.maximum(xk - lo, margin * jnp.maximum(1.0, jnp.abs(lo)))))
        elif kind == "upper":
            us.append(jnp.log(jnp.maximum(hi - xk, margin * jnp.maximum(1.0, jnp.abs(hi)))))
        else:
            us.append(xk)
    return jnp.stack(us)


def log_prior(x, static: SpaceStatic, arrays: SpaceArrays):
    """Sum of the prior log densities (up to constants) at ``x`` inside the support."""
    total = jnp.zeros((), x.dtype)
    for k, fam in enumerate(static.families):
        xk, m, s = x[k], arrays.prior_mean[k], arrays.prior_sd[k]
        if fam == 0:
            total = total - 0.5 * ((xk - m) / s) ** 2
        elif fam == 2:
            lx = jnp.log(xk)
            total = total - lx - 0.5 * ((lx - m) / s) ** 2
        elif fam == 3:
            total = total - 0.5 * (xk / s) ** 2
        elif fam == 4:
            a, b = _beta_shapes(m, s, arrays.low[k], arrays.high[k])
            y = (xk - arrays.low[k]) / (arrays.high[k] - arrays.low[k])
            total = total + (a - 1.0) * jnp.log(y) + (b - 1.0) * jnp.log1p(-y)
        elif fam == 5:
            total = total - jnp.log(xk)
    return total


def _beta_shapes(mean, sd, low, high):
    mu = (mean - low) / (high - low)
    var = (sd / (high - low)) ** 2
    conc = jnp.maximum(mu * (1.0 - mu) / var - 1.0, 1e-3)
    return mu * conc, (1.0 - mu) * conc


# --------------------------------------------------------------------------- prior moments


def prior_moments(prior: Prior, power: float = 1.0, n_grid: int = 40001) -> tuple[float, float]:
    """Mean and sd of ``prior^power`` (renormalised) inside its bounds, by quadrature.

    ``power = 1/S`` gives the tempered prior each of S shards carries.
    """
    lo, hi = prior.low, prior.high
    width = 15.0 * prior.sd / np.sqrt(power)
    fam = prior.family
    if fam in ("LogNormal", "HalfNormal"):
        lo = max(lo, 0.0)
    if fam in ("TruncatedNormal", "Normal"):
        lo, hi = max(lo, prior.mean - width), min(hi, prior.mean + width)
    elif fam == "HalfNormal":
        hi = min(hi, width)
    elif fam == "LogNormal":
        lo = max(lo, float(np.exp(prior.mean - width)))
        hi = min(hi, float(np.exp(prior.mean + width)))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return float("nan"), float("nan")
    if fam == "LogNormal":
        grid = np.exp(np.linspace(np.log(lo), np.log(hi), n_grid))
    else:
        grid = np.linspace(lo, hi, n_grid)
    space = SpaceStatic(("p",), ("real",), (FAMILY_CODES[fam],), 1, 0, False)
    arrays = SpaceArrays(
        *(np.array([v], np.float64) for v in (prior.low, prior.high, prior.mean, prior.sd)),
        np.array([1.0, 2.0]),
    )
    with jax.enable_x64(True):
        inner = grid[1:-1] if fam == "BetaScaled" else grid
        logp = np.asarray(jax.vmap(lambda v: log_prior(v[None], space, arrays))(jnp.asarray(inner)))
    logp = power * logp
    w = np.exp(logp - logp.max())
    w = w * np.gradient(inner)
    w = w / w.sum()
    mean = float(np.sum(w * inner))
    return mean, float(np.sqrt(max(np.sum(w * (inner - mean) ** 2), 0.0)))
