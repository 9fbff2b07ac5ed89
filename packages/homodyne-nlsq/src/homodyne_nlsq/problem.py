"""One fit problem: the data points, the model, the scaling map, bounds and the start.

:class:`FitProblem` binds an :class:`homodyne_data.XPCSData` to the streamed passes of
:mod:`homodyne_nlsq.normal_equations` over the parameter vector ``x = (theta, s)``: the physical
parameters in kernel order followed by the scaling vector of the
:class:`homodyne_physics.ScalingMap`. Its methods must be called inside
``homodyne_physics.float64()``.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace

import jax.numpy as jnp
import numpy as np

from homodyne_data import XPCSData
from homodyne_physics import (
    PARAMETERS,
    C2Model,
    ParameterError,
    ScalingMap,
    canonical_name,
    default_values,
    make_scaling,
    mode_bounds,
    quantile_estimate,
)

from .config import NLSQConfig
from .normal_equations import ProblemArrays, accumulate, cost_only, scaling_moments
from .separable import profile_scaling

__all__ = ["FitProblem", "build_problem"]


@dataclass(eq=False)
class FitProblem:
    """Arrays and settings of one fit; see :func:`build_problem`."""

    model: C2Model
    scaling: ScalingMap
    arrs: ProblemArrays
    config: NLSQConfig
    lower: np.ndarray
    upper: np.ndarray
    x0: np.ndarray
    n_valid: int

    @property
    def n_theta(self) -> int:
        """Number of physical parameters."""
        return self.model.n_params

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the entries of ``x``: physical, then scaling."""
        return self.model.parameter_names + self.scaling.names

    def split(self, x):
        """``(theta, s)`` of a parameter vector."""
        x = np.asarray(x, np.float64)
        return x[: self.n_theta], x[self.n_theta :]

    def subsample(self, max_points: int) -> "FitProblem":
        """The same problem on an evenly strided subset of the frame pairs (all angles kept),
        with at most about ``max_points`` points; ``self`` when it is already that small."""
        n_phi, n_pairs = self.arrs.y.shape
        step = -(-n_phi * n_pairs // max(int(max_points), 1))
        if step <= 1:
            return self
        sel = np.arange(0, n_pairs, step)
        y = np.asarray(self.arrs.y)[:, sel]
        arrs = ProblemArrays.create(
            y,
            self.arrs.t,
            self.arrs.phi,
            np.asarray(self.arrs.i)[sel],
            np.asarray(self.arrs.j)[sel],
        )
        return replace(self, arrs=arrs, n_valid=int(np.isfinite(y).sum()))

    def fused(self, x):
        """``(cost, J^T J, J^T r)`` at ``x`` (one fused streamed pass)."""
        theta, s = self.split(x)
        c, jtj, jtr = accumulate(
            self.model,
            theta,
            s,
            self.scaling,
            self.arrs,
            chunk=self.config.chunk_size,
            loss=self.config.loss,
            f_scale=self.config.f_scale,
        )
        return float(c), np.asarray(jtj), np.asarray(jtr)

    def cost(self, x) -> float:
        """Cost at ``x`` (cheap streamed pass, no derivatives)."""
        theta, s = self.split(x)
        contrast, offset = self.scaling.apply(jnp.asarray(s), xp=jnp)
        return float(
            cost_only(
                self.model,
                jnp.asarray(theta),
                contrast,
                offset,
                self.arrs,
                chunk=self.config.chunk_size,
                loss=self.config.loss,
                f_scale=self.config.f_scale,
            )
        )

    def profile(self, theta):
        """Best scaling vector for fixed physics and the full ``x`` with its cost.

        Returns
        -------
        (x, cost)
            ``x = (theta, s*)`` and its cost (for a robust loss, evaluated with that loss).
        """
        theta = np.asarray(theta, np.float64)
        mom = np.asarray(
            scaling_moments(self.model, jnp.asarray(theta), self.arrs, chunk=self.config.chunk_size)
        )
        k = self.n_theta
        s, chi2 = profile_scaling(mom, self.scaling, self.lower[k:], self.upper[k:])
        x = np.concatenate([theta, s])
        if self.config.loss != "linear":
            chi2 = self.cost(x)
        return x, float(chi2)


def _scaling_bounds(scaling: ScalingMap, bounds: Mapping[str, tuple[float, float]]):
    c_lo, c_hi = bounds.get("contrast", PARAMETERS["contrast"].bounds)
    o_lo, o_hi = bounds.get("offset", PARAMETERS["offset"].bounds)
    lo, hi = [], []
    for name in scaling.names:
        base = name.split("[")[0].split("_")[0]
        harmonic = scaling.mode == "fourier" and not name.endswith("_c0")
        if harmonic:
            lo.append(-np.inf)
            hi.append(np.inf)
        elif base == "contrast":
            lo.append(c_lo)
            hi.append(c_hi)
        else:
            lo.append(o_lo)
            hi.append(o_hi)
    return np.array(lo, np.float64), np.array(hi, np.float64)


def _normalise_bounds(bounds) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for key, pair in (bounds or {}).items():
        name = canonical_name(str(key))
        try:
            lo, hi = (float(v) for v in pair)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"bounds[{key!r}]: expected a pair (min, max), got {pair!r}"
            ) from exc
        if not lo < hi:
            raise ParameterError(f"bounds[{key!r}]: expected min < max, got [{lo:g}, {hi:g}]")
        out[name] = (lo, hi)
    return out


def build_problem(
    data: XPCSData,
    *,
    mode: str,
    config: NLSQConfig,
    initial: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    convention: str = "physical",
    gap: float = 2e6,
    solve_scaling: bool = True,
) -> FitProblem:
    """Set up a fit: model, points, scaling map, box and starting vector.

    Starting values: the registry defaults for physical parameters not in ``initial``;
    per-angle contrast/offset from :func:`homodyne_physics.quantile_estimate` (or ``initial``
    ``contrast``/``offset``, scalars or per angle), then the free scaling is solved exactly for
    the starting physics (variable projection; one cheap pass, skipped with
    ``solve_scaling=False``). In ``constant`` mode those estimates are the fixed values.

    Raises
    ------
    homodyne_physics.ParameterError
        Unknown names, bounds that are not pairs, or starts outside the bounds.
    """
    model = C2Model(mode, q=data.q, dt=data.dt, gap=gap, convention=convention)
    first = model.first_fitted_frame
    i, j = data.pairs(first)
    if i.size == 0:
        raise ParameterError(f"only {data.n_t} frames selected: no (t1 < t2) pairs to fit")
    y = data.flat(first)
    n_valid = int(np.isfinite(y).sum())
    if n_valid == 0:
        raise ParameterError(
            f"no finite c2 values among the {y.size} (t1 < t2) points of the selected data"
        )
    user_bounds = _normalise_bounds(bounds)
    names = model.parameter_names
    lo, hi = mode_bounds(model.mode)
    for k, n in enumerate(names):
        if n in user_bounds:
            lo[k], hi[k] = user_bounds[n]
    theta0 = default_values(model.mode)
    init = {canonical_name(str(k)): v for k, v in (initial or {}).items()}
    for n in init:
        if n not in names and n not in ("contrast", "offset"):
            raise ParameterError(
                f"initial value for {n!r}, which is not a parameter of mode {model.mode!r} "
                f"(its parameters: {', '.join(names)})"
            )
    for k, n in enumerate(names):
        if n in init:
            theta0[k] = float(init[n])
        if not lo[k] <= theta0[k] <= hi[k]:
            raise ParameterError(
                f"initial {n} = {theta0[k]:g} is outside its bounds [{lo[k]:g}, {hi[k]:g}]"
            )
    # quantiles of an evenly strided subset (<= 50k pairs per angle) estimate as well as all
    stride = max(1, i.size // 50000)
    lag = (data.frames[j[::stride]] - data.frames[i[::stride]]).astype(np.float64) * data.dt
    c_est, o_est = quantile_estimate(y[:, ::stride], lag)
    if "contrast" in init:
        c_est = np.broadcast_to(np.asarray(init["contrast"], np.float64), c_est.shape).copy()
    if "offset" in init:
        o_est = np.broadcast_to(np.asarray(init["offset"], np.float64), o_est.shape).copy()
    if config.scaling_mode == "constant":
        scaling = make_scaling("constant", data.phi, fixed_contrast=c_est, fixed_offset=o_est)
    else:
        scaling = make_scaling(config.scaling_mode, data.phi, fourier_order=config.fourier_order)
    s_lo, s_hi = _scaling_bounds(scaling, user_bounds)
    s0 = np.clip(scaling.fit_vector(c_est, o_est), s_lo, s_hi)
    arrs = ProblemArrays.create(y, data.t, data.phi, i, j)
    n_fit = theta0.size + scaling.n_params
    if n_valid <= n_fit:
        raise ParameterError(
            f"{n_valid} finite data points cannot determine {n_fit} parameters "
            f"({model.mode}, scaling {scaling.mode}); select more frames or angles"
        )
    problem = FitProblem(
        model=model,
        scaling=scaling,
        arrs=arrs,
        config=config,
        lower=np.concatenate([lo, s_lo]),
        upper=np.concatenate([hi, s_hi]),
        x0=np.concatenate([theta0, s0]),
        n_valid=n_valid,
    )
    if solve_scaling and scaling.n_params and "contrast" not in init and "offset" not in init:
        problem.x0, _ = problem.profile(theta0)
    return problem
