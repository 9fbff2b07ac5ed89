"""Transport coefficients as curves: D(t), gamma_dot(t), Gamma(t) = q^2 D(t) / 2 and the strain.

What users fit two-time data for is the curves, not the seven parameters: on real data the
parameters are often not separately determined while the curves are. This module evaluates the
curves of a :class:`~homodyne_physics.C2Model` at any ages and propagates uncertainties:

* :func:`transport_values` - the curves for one parameter vector (pure JAX, differentiable);
* :func:`transport_from_covariance` - best curves and delta-method bands (68 %, 95 %) through the
  full covariance of the physical parameters (a fixed parameter has zero rows and columns and so
  contributes nothing);
* :func:`transport_from_draws` - pointwise median and central 68 % / 95 % quantiles over
  posterior draws;
* :func:`transport_grid` - the default ages: log-spaced over the data's age range plus the frame
  times.

Conventions: in the physical convention ``D(t) = D0 t^alpha + D_offset`` with ``t`` the age (the
frame time ``n * dt``); in the homodyne2 convention the rates are those of homodyne 2.x (time
from the first selected frame, floored at ``dt / 2``, rates floored at 1e-10). The accumulated
strain ``int_{t_first}^{t} gamma_dot dt'`` comes from the kernel's own integral tables
(:func:`homodyne_physics.kernel.integral_tables`), so the strain here is the one the model uses.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._lazy import TRANSPORT_NAMES
from .errors import ParameterError
from .kernel import _H2_RATE_FLOOR, C2Model, integral_tables
from .precision import float64
from .programs import cached_jit

__all__ = list(TRANSPORT_NAMES)

# Name -> unit of each curve (laminar-flow curves are absent in static mode).
TRANSPORT_QUANTITIES: dict[str, str] = {
    "D": "A^2/s",
    "Gamma": "1/s",
    "gamma_dot": "1/s",
    "strain": "1",
}
_Z68 = 0.994457883209753  # normal quantile of a central 68 % interval (16th to 84th percentile)
_Z95 = 1.959963984540054


@dataclass(frozen=True, eq=False)
class TransportCurves:
    """Transport curves with bands at a set of ages.

    Attributes
    ----------
    times
        Ages, s, ``(n,)``.
    curves
        Quantity -> central curve ``(n,)`` (``D``, ``Gamma``; ``gamma_dot``, ``strain`` in
        laminar flow). NLSQ: the curve of the best fit; CMC: the pointwise posterior median.
    lo68, hi68, lo95, hi95
        Quantity -> band edges ``(n,)`` (central 68 % and 95 %). NaN where the covariance does
        not determine the curve.
    method
        ``'delta'`` (from a covariance) or ``'draws'`` (posterior quantiles).
    age_range
        ``(first, last)`` frame time of the data, s (``None`` when unknown).
    units
        Quantity -> unit.
    """

    times: np.ndarray
    curves: dict[str, np.ndarray]
    lo68: dict[str, np.ndarray]
    hi68: dict[str, np.ndarray]
    lo95: dict[str, np.ndarray]
    hi95: dict[str, np.ndarray]
    method: str
    age_range: tuple[float, float] | None = None
    units: dict[str, str] = field(default_factory=lambda: dict(TRANSPORT_QUANTITIES))

    @property
    def quantities(self) -> tuple[str, ...]:
        """Names of the curves present, in a fixed order."""
        return tuple(q for q in TRANSPORT_QUANTITIES if q in self.curves)

    def __getattr__(self, name: str) -> np.ndarray:
        # D, D_lo68, D_hi68, D_lo95, D_hi95, gamma_dot_lo68, ... as attributes
        for suffix, table in (
            ("_lo68", "lo68"),
            ("_hi68", "hi68"),
            ("_lo95", "lo95"),
            ("_hi95", "hi95"),
        ):
            if name.endswith(suffix) and name[: -len(suffix)] in TRANSPORT_QUANTITIES:
                return self.__dict__[table].get(name[: -len(suffix)])
        if name in TRANSPORT_QUANTITIES:
            return self.__dict__["curves"].get(name)
        raise AttributeError(f"TransportCurves has no attribute {name!r}")

    def columns(self) -> dict[str, np.ndarray]:
        """Column name -> array: ``t``, then per quantity the curve and its four band edges."""
        out: dict[str, np.ndarray] = {"t": self.times}
        for q in self.quantities:
            out[q] = self.curves[q]
            for tag, table in (
                ("lo68", self.lo68),
                ("hi68", self.hi68),
                ("lo95", self.lo95),
                ("hi95", self.hi95),
            ):
                out[f"{q}_{tag}"] = table[q]
        return out

    def at(self, times: Sequence[float]) -> dict[str, np.ndarray]:
        """Columns interpolated (linearly in log t) at ``times``, for short tables."""
        t = np.asarray(times, np.float64)
        logs = np.log(self.times)
        return {
            k: np.interp(np.log(t), logs, v) if k != "t" else t for k, v in self.columns().items()
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists) with the units, for JSON."""
        return {
            "method": self.method,
            "age_range": list(self.age_range) if self.age_range else None,
            "units": {"t": "s", **{q: self.units[q] for q in self.quantities}},
            "columns": {k: np.asarray(v).tolist() for k, v in self.columns().items()},
        }


def transport_grid(frame_times, n: int = 200) -> np.ndarray:
    """Default ages: ``n`` log-spaced points over ``[t_first, t_last]`` plus every frame time."""
    t = np.asarray(frame_times, np.float64).ravel()
    t = t[np.isfinite(t)]
    if t.size == 0 or np.any(t <= 0):
        raise ParameterError("transport_grid: frame times must be positive and finite")
    lo, hi = float(t.min()), float(t.max())
    grid = np.geomspace(lo, hi, n) if hi > lo else np.array([lo])
    return np.unique(np.concatenate([grid, t]))


def _rates(model: C2Model, theta, t, t_first):
    """D(t) and gamma_dot(t) as the model defines them (None for gamma_dot in static)."""
    d0, alpha, d_off = theta[0], theta[1], theta[2]
    if model.convention == "physical":
        tt = t
    else:
        tt = jnp.maximum(t - t_first, 0.5 * model.dt)

    def rate(pref, expo, const):
        r = pref * jnp.power(tt, expo) + const
        return r if model.convention == "physical" else jnp.maximum(r, _H2_RATE_FLOOR)

    d = rate(d0, alpha, d_off)
    g = rate(theta[3], theta[4], theta[5]) if model.has_shear else None
    return d, g


def _strain(model: C2Model, theta, t, t_first, n_grid):
    """int_{t_first}^{t} gamma_dot from the kernel's tables (homodyne2: on the frame grid of
    ``n_grid`` frames from ``t_first``, interpolated)."""
    if model.convention == "physical":
        grid = jnp.concatenate([jnp.reshape(t_first, (1,)), t])
        _, table_g = integral_tables(model, theta, grid)
        return table_g[1:] - table_g[0]
    # homodyne2 tables are cumulative trapezoids over the frame grid that starts at t_first
    frames = t_first + model.dt * jnp.arange(n_grid, dtype=jnp.float64)
    _, table_g = integral_tables(model, theta, frames)
    return jnp.interp(t, frames, model.dt * table_g)


def _n_grid(model: C2Model, times, t_first: float) -> int:
    return max(int(np.ceil((float(np.max(times)) - t_first) / model.dt)) + 2, 2)


@cached_jit(static_argnames=("model", "n_grid"))
def _values(model: C2Model, theta, t, t_first, n_grid: int):
    d, g = _rates(model, theta, t, t_first)
    rings = model.q_rings
    if len(rings) == 1:
        out = {"D": d, "Gamma": 0.5 * rings[0] ** 2 * d}
    else:  # a joint fit over rings: one Gamma(t) per ring
        out = {"D": d} | {f"Gamma[{k}]": 0.5 * q**2 * d for k, q in enumerate(rings)}
    if g is not None:
        out["gamma_dot"] = g
        out["strain"] = _strain(model, theta, t, t_first, n_grid)
    return out


_jacobian = cached_jit(
    jax.jacfwd(_values.__wrapped__, argnums=1),
    static_argnames=("model", "n_grid"),
    name=f"{__name__}._jacobian",
)
_batched = cached_jit(
    jax.vmap(_values.__wrapped__, in_axes=(None, 0, None, None, None)),
    static_argnames=("model", "n_grid"),
    name=f"{__name__}._batched",
)


def transport_values(model: C2Model, theta, times, t_first: float | None = None) -> dict:
    """The curves at ``times`` for one parameter vector (jit-compiled, differentiable).

    With a per-angle q (a joint fit over rings) ``Gamma`` is replaced by ``Gamma[k]``, one per
    distinct q in :attr:`C2Model.q_rings` order.

    Parameters
    ----------
    model
        The model (mode, convention, q, dt).
    theta
        Physical parameters in kernel order.
    times
        Ages, s (positive).
    t_first
        First frame time of the data: start of the strain integral and, in the homodyne2
        convention, the time origin. Defaults to ``min(times)``.

    Returns
    -------
    dict
        ``D``, ``Gamma`` and, in laminar flow, ``gamma_dot`` and ``strain`` (JAX arrays).
    """
    t_np = np.asarray(times, np.float64)
    t0 = float(np.min(t_np)) if t_first is None else float(t_first)
    with float64():
        return _values(
            model, jnp.asarray(theta, jnp.float64), jnp.asarray(t_np), t0, _n_grid(model, t_np, t0)
        )


def _check_times(times) -> np.ndarray:
    t = np.asarray(times, np.float64).ravel()
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ParameterError("transport: times must be a non-empty array of positive ages (s)")
    return t


def transport_from_covariance(
    model: C2Model,
    theta,
    covariance,
    times,
    *,
    t_first: float | None = None,
    age_range: tuple[float, float] | None = None,
) -> TransportCurves:
    """Best curves and delta-method bands: ``var f = J C J^T`` with ``J = df/dtheta``.

    ``covariance`` is ``(P, P)`` over the physical parameters (kernel order); fixed parameters
    have zero rows and columns. Entries that are NaN (undetermined parameters) make the bands
    NaN wherever the curve depends on them. Bands are symmetric: ``f +- z sd``.
    """
    t = _check_times(times)
    cov = np.asarray(covariance, np.float64)
    p = model.n_params
    if cov.shape != (p, p):
        raise ParameterError(
            f"transport: covariance must be ({p}, {p}) over {', '.join(model.parameter_names)}, "
            f"got {cov.shape}"
        )
    t0 = float(t.min()) if t_first is None else float(t_first)
    with float64():
        args = (model, jnp.asarray(theta, jnp.float64), jnp.asarray(t, jnp.float64), t0)
        n = _n_grid(model, t, t0)
        vals = {k: np.asarray(v) for k, v in _values(*args, n).items()}
        jac = {k: np.asarray(v) for k, v in _jacobian(*args, n).items()}
    lo68, hi68, lo95, hi95 = {}, {}, {}, {}
    for k, j in jac.items():
        used = np.any(j != 0, axis=0)  # parameters this curve depends on at all
        c = np.where(np.outer(used, used), cov, 0.0)
        jj = np.where(used[None, :], j, 0.0)
        var = np.einsum("np,pq,nq->n", jj, c, jj)
        sd = np.sqrt(np.where(var >= 0, var, np.nan))
        lo68[k], hi68[k] = vals[k] - _Z68 * sd, vals[k] + _Z68 * sd
        lo95[k], hi95[k] = vals[k] - _Z95 * sd, vals[k] + _Z95 * sd
    return TransportCurves(t, vals, lo68, hi68, lo95, hi95, "delta", age_range)


def transport_from_draws(
    model: C2Model,
    draws,
    times,
    *,
    t_first: float | None = None,
    age_range: tuple[float, float] | None = None,
    max_draws: int = 4000,
) -> TransportCurves:
    """Pointwise median and central 68 % / 95 % quantiles of the curves over posterior draws.

    ``draws`` is ``(..., P)`` physical parameters in kernel order (chains and samples are
    flattened; at most ``max_draws`` evenly thinned draws are used).
    """
    t = _check_times(times)
    d = np.asarray(draws, np.float64)
    p = model.n_params
    if d.ndim < 1 or d.shape[-1] != p:
        raise ParameterError(f"transport: draws must end in {p} parameters, got shape {d.shape}")
    d = d.reshape(-1, p)
    if d.shape[0] > max_draws:
        d = d[:: -(-d.shape[0] // max_draws)]
    t0 = float(t.min()) if t_first is None else float(t_first)
    with float64():
        per = _batched(
            model,
            jnp.asarray(d, jnp.float64),
            jnp.asarray(t, jnp.float64),
            t0,
            _n_grid(model, t, t0),
        )
        per = {k: np.asarray(v) for k, v in per.items()}
    probs = [50.0, 16.0, 84.0, 2.5, 97.5]
    qs = {k: np.percentile(v, probs, axis=0) for k, v in per.items()}
    return TransportCurves(
        t,
        {k: v[0] for k, v in qs.items()},
        {k: v[1] for k, v in qs.items()},
        {k: v[2] for k, v in qs.items()},
        {k: v[3] for k, v in qs.items()},
        {k: v[4] for k, v in qs.items()},
        "draws",
        age_range,
    )
