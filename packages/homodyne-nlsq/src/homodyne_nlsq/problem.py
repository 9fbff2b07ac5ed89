"""One fit problem: the data points, the model, the scaling map, bounds and the start.

:class:`FitProblem` binds an :class:`homodyne_data.XPCSData` to the streamed passes of
:mod:`homodyne_nlsq.normal_equations` over the parameter vector ``x = (theta, s)``: the physical
parameters in kernel order followed by the scaling vector of the
:class:`homodyne_physics.ScalingMap`. Its methods must be called inside
``homodyne_physics.float64()``.

Parameters the :class:`homodyne_physics.ModelSpec` holds fixed are not part of ``x``: the
passes run on the full physical vector (:meth:`ModelSpec.theta`) and the normal equations are
restricted to the free entries, so fixing a parameter removes it from the solve.
"""

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_data import XPCSData
from homodyne_physics import (
    C2Model,
    ModelSpec,
    ParameterError,
    ScalingMap,
    float64,
    make_scaling,
    quantile_estimate,
    require_grid_free,
)

from .age_scaling import age_accumulate, age_cost, age_scaling_moments
from .config import NLSQConfig
from .normal_equations import (
    ProblemArrays,
    accumulate,
    cost_only,
    scaling_moments,
    scaling_moments_many,
)
from .separable import profile_scaling

__all__ = ["FitProblem", "build_problem"]

#: points (angles x pairs) from which the fused and cost passes run as two halves on two
#: threads: XLA runs one CPU computation on one core, and a JAX call releases the GIL
SPLIT_POINTS = 250_000


@functools.cache
def _pass_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(2, thread_name_prefix="homodyne-pass")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # --threads and batch schedulers restrict this
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _halves(arrs: ProblemArrays) -> tuple[ProblemArrays, ProblemArrays]:
    """The pairs of ``arrs`` in two halves of one shape (the second padded with masked NaN
    points), so that both halves run one compiled program."""
    n = int(arrs.i.shape[0])
    h = -(-n // 2)
    pad = 2 * h - n
    y, i, j = np.asarray(arrs.y), np.asarray(arrs.i), np.asarray(arrs.j)
    wt = None if arrs.wt is None else np.asarray(arrs.wt)

    def part(sl, extra):
        def cat(a, fill):
            tail = np.full(a.shape[:-1] + (extra,), fill, a.dtype)
            return np.concatenate([a[..., sl], tail], axis=-1)

        return ProblemArrays.create(
            cat(y, np.nan),
            arrs.t,
            arrs.phi,
            cat(i, i[0]),
            cat(j, j[0]),
            None if wt is None else cat(wt, 0.0),
        )

    return part(slice(0, h), 0), part(slice(h, n), pad)


def _sum_over(parts, run):
    """``run(arrs)`` for each part (on the pass threads when there are two), summed. The
    float64 scope of the caller is thread-local: each pass thread enters its own."""
    if len(parts) == 1:
        return run(parts[0])

    def one(arrs):
        with float64():
            return jax.block_until_ready(run(arrs))

    outs = list(_pass_pool().map(one, parts))
    return jax.tree.map(lambda *xs: sum(np.asarray(x) for x in xs), *outs)


#: rows per device call of :meth:`FitProblem.profile_many` (a shorter batch is padded): every
#: grid of the start search (17 coarse values, 65 fine ones) reuses one compiled program
_BATCH = 17


@dataclass(eq=False)
class FitProblem:
    """Arrays and settings of one fit; see :func:`build_problem`."""

    spec: ModelSpec
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
        """Number of free physical parameters (the leading entries of ``x``)."""
        return len(self.spec.free_index)

    @property
    def free_names(self) -> tuple[str, ...]:
        """Names of the free physical parameters."""
        return self.spec.free_names

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the entries of ``x``: free physical, then scaling."""
        return self.spec.free_names + self.scaling.names

    def full_theta(self, theta_free) -> np.ndarray:
        """All physical parameters (kernel order) from the free ones."""
        return self.spec.theta(theta_free)

    def _free_rows(self) -> np.ndarray:
        p = self.model.n_params
        return np.concatenate(
            [np.asarray(self.spec.free_index, np.int64), np.arange(p, p + self.scaling.n_params)]
        )

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
            None if self.arrs.wt is None else np.asarray(self.arrs.wt)[:, sel],
        )
        return replace(self, arrs=arrs, n_valid=int(np.isfinite(y).sum()))

    @functools.cached_property
    def parts(self) -> tuple[ProblemArrays, ...]:
        """The pairs as the fused and cost passes run them: two halves on two threads from
        :data:`SPLIT_POINTS` points on (with at least two cores), else ``(arrs,)``."""
        n_points = int(self.arrs.y.shape[0]) * int(self.arrs.i.shape[0])
        if n_points < SPLIT_POINTS or _cores() < 2:
            return (self.arrs,)
        return _halves(self.arrs)

    def _pass_options(self) -> dict:
        """Chunk size and loss of the streamed passes, from the config."""
        cfg = self.config
        return {"chunk": cfg.chunk_size, "loss": cfg.loss, "f_scale": cfg.f_scale}

    def fused(self, x):
        """``(cost, J^T J, J^T r)`` at ``x`` (one fused streamed pass)."""
        theta, s = self.split(x)
        full = self.full_theta(theta)
        run = age_accumulate if self.scaling.ages else accumulate
        c, jtj, jtr = _sum_over(
            self.parts,
            lambda arrs: run(self.model, full, s, self.scaling, arrs, **self._pass_options()),
        )
        rows = self._free_rows()
        return float(c), np.asarray(jtj)[np.ix_(rows, rows)], np.asarray(jtr)[rows]

    def cost(self, x) -> float:
        """Cost at ``x`` (cheap streamed pass, no derivatives)."""
        theta, s = self.split(x)
        full = jnp.asarray(self.full_theta(theta), jnp.float64)
        kw = self._pass_options()
        if self.scaling.ages:
            return float(
                _sum_over(
                    self.parts,
                    lambda arrs: age_cost(self.model, full, s, self.scaling, arrs, **kw),
                )
            )
        contrast, offset = self.scaling.apply(np.asarray(s, np.float64))
        return float(
            _sum_over(
                self.parts,
                lambda arrs: cost_only(self.model, full, contrast, offset, arrs, **kw),
            )
        )

    def profile(self, theta):
        """Best scaling vector for given (free) physics and the full ``x`` with its cost.

        Returns
        -------
        (x, cost)
            ``x = (theta, s*)`` and its cost (for a robust loss, evaluated with that loss).
        """
        theta = np.asarray(theta, np.float64)
        full = jnp.asarray(self.full_theta(theta), jnp.float64)
        if self.scaling.ages:
            mom = tuple(
                np.asarray(v)
                for v in age_scaling_moments(
                    self.model, full, self.scaling, self.arrs, chunk=self.config.chunk_size
                )
            )
        else:
            mom = np.asarray(
                scaling_moments(self.model, full, self.arrs, chunk=self.config.chunk_size)
            )
        return self._profiled(theta, mom)

    def _profiled(self, theta, mom):
        k = self.n_theta
        s, chi2 = profile_scaling(mom, self.scaling, self.lower[k:], self.upper[k:])
        x = np.concatenate([theta, s])
        if self.config.loss != "linear":
            chi2 = self.cost(x)
        return x, float(chi2)

    def profile_many(self, thetas) -> list[tuple[np.ndarray, float]]:
        """:meth:`profile` of each row of ``thetas`` (free physics, ``(n, n_theta)``).

        With a constant scaling the moments of all rows come from one batched device pass
        (the grids of the start search: one call per grid, not one per value); an
        age-dependent scaling goes row by row.
        """
        thetas = np.atleast_2d(np.asarray(thetas, np.float64))
        if self.scaling.ages:
            return [self.profile(th) for th in thetas]
        full = np.stack([self.full_theta(th) for th in thetas])
        moms = []
        for start in range(0, len(full), _BATCH):  # fixed-size batches: one compiled shape
            block = full[start : start + _BATCH]
            padded = np.concatenate([block, np.repeat(block[-1:], _BATCH - len(block), 0)])
            out = scaling_moments_many(
                self.model,
                jnp.asarray(padded, jnp.float64),
                self.arrs,
                chunk=self.config.chunk_size,
            )
            moms.extend(np.asarray(out)[: len(block)])
        return [self._profiled(th, mom) for th, mom in zip(thetas, moms, strict=True)]


def _scaling_bounds(scaling: ScalingMap, spec: ModelSpec):
    c_lo, c_hi = spec.bounds["contrast"]
    o_lo, o_hi = spec.bounds["offset"]
    lo, hi = [], []
    for name in (n.split("@")[0] for n in scaling.names):  # '@r<k>': the ring of a joint fit
        base = name.split("[")[0].split("_")[0]
        harmonic = scaling.mode == "fourier" and not name.endswith("_c0")
        if harmonic or "_age" in name:  # harmonics and age coefficients: centred at 0
            lo.append(-np.inf)
            hi.append(np.inf)
        elif base == "contrast":
            lo.append(c_lo)
            hi.append(c_hi)
        else:
            lo.append(o_lo)
            hi.append(o_hi)
    return np.array(lo, np.float64), np.array(hi, np.float64)


def _check_point_set(data: XPCSData, model: C2Model) -> None:
    """Point-set data need a convention that evaluates the model at arbitrary times."""
    if not data.is_dense:
        require_grid_free(model, f"{data.points.kind} point-set data ({data.provenance.layout})")


def _fit_points(data: XPCSData, model: C2Model):
    _check_point_set(data, model)
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
    return i, j, y, n_valid


def _scaling_start(data: XPCSData, spec: ModelSpec, i, j, y):
    """Per-angle (contrast, offset) starts: data quantiles unless the spec gives them."""
    # quantiles of an evenly strided subset (<= 50k pairs per angle) estimate as well as all
    stride = max(1, i.size // 50000)
    if data.is_dense:  # exact frame differences (the estimate groups equal lags)
        lag = (data.frames[j[::stride]] - data.frames[i[::stride]]).astype(np.float64) * data.dt
    else:
        lag = data.t[j[::stride]] - data.t[i[::stride]]
    c_est, o_est = quantile_estimate(y[:, ::stride], lag)
    given = spec.scaling_start
    if "contrast" in given:
        c_est = np.broadcast_to(np.asarray(given["contrast"], np.float64), c_est.shape).copy()
    if "offset" in given:
        o_est = np.broadcast_to(np.asarray(given["offset"], np.float64), o_est.shape).copy()
    return c_est, o_est


def _age_range(data: XPCSData, i, j) -> tuple[float, float]:
    """Smallest and largest age (t1 + t2)/2 of the fitted pairs, s."""
    t = np.asarray(data.t, np.float64)
    age = 0.5 * (t[i] + t[j])
    return float(age.min()), float(age.max())


def build_problem(
    data: XPCSData,
    spec: ModelSpec,
    config: NLSQConfig,
    *,
    solve_scaling: bool = True,
) -> FitProblem:
    """Set up a fit: model, points, scaling map, box and starting vector.

    Starting values: the spec's start values of the free physical parameters; per-angle
    contrast/offset from :func:`homodyne_physics.quantile_estimate` (or the spec's
    ``contrast``/``offset`` starts), then the free scaling is solved exactly for the starting
    physics (variable projection; one cheap pass, skipped with ``solve_scaling=False``). In
    ``constant`` mode those estimates are the fixed values.

    Raises
    ------
    homodyne_physics.ParameterError
        No points to fit, or fewer valid points than free parameters.
    """
    model = spec.model(data.q, data.dt)
    i, j, y, n_valid = _fit_points(data, model)
    names = spec.free_names
    lo = np.array([spec.bounds[n][0] for n in names], np.float64)
    hi = np.array([spec.bounds[n][1] for n in names], np.float64)
    theta0 = np.array([spec.start[n] for n in names], np.float64)
    c_est, o_est = _scaling_start(data, spec, i, j, y)
    scaling = make_scaling(
        config.scaling_mode,
        data.phi,
        fourier_order=config.fourier_order,
        fixed_contrast=c_est if config.scaling_mode == "constant" else None,
        fixed_offset=o_est if config.scaling_mode == "constant" else None,
        contrast_age_order=config.contrast_age_order,
        offset_age_order=config.offset_age_order,
        age_range=_age_range(data, i, j),
        ring=data.ring,
    )
    s_lo, s_hi = _scaling_bounds(scaling, spec)
    s0 = np.clip(scaling.fit_vector(c_est, o_est), s_lo, s_hi)
    arrs = ProblemArrays.create(y, data.t, data.phi, i, j, data.weights(model.first_fitted_frame))
    n_fit = theta0.size + scaling.n_params
    if n_valid <= n_fit:
        raise ParameterError(
            f"{n_valid} finite data points cannot determine {n_fit} parameters "
            f"({model.mode}, scaling {scaling.mode}); select more frames or angles"
        )
    problem = FitProblem(
        spec=spec,
        model=model,
        scaling=scaling,
        arrs=arrs,
        config=config,
        lower=np.concatenate([lo, s_lo]),
        upper=np.concatenate([hi, s_hi]),
        x0=np.concatenate([theta0, s0]),
        n_valid=n_valid,
    )
    if solve_scaling and scaling.n_params and not spec.scaling_start:
        problem.x0, _ = problem.profile(theta0)
    return problem
