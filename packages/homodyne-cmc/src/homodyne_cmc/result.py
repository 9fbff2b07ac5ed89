"""``CMCResult``: the combined posterior, its cross-checks and diagnostics, and its files."""

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from homodyne_data import XPCSData
from homodyne_physics import (
    C2Model,
    ModelSpec,
    ParameterError,
    ScalingMap,
    atomic_path,
    c2_matrix,
    c2_pairs,
    float64,
    json_safe,
)

__all__ = ["CMCResult"]


def _quality(result) -> dict[str, Any]:
    from .transport import cmc_quality_dict

    return cmc_quality_dict(result)


def _atomic(path: Path, write) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


@dataclass(frozen=True, eq=False)
class CMCResult:
    """Result of :func:`homodyne_cmc.fit_cmc`.

    Main attributes: ``spec`` (the :class:`homodyne_physics.ModelSpec` sampled; parameters it
    holds fixed are not sampled and are reported at their value with sd 0), ``names``
    (sampled entries: free physical, scaling vector, ``sigma``; ``n_theta`` free physical),
    ``draws`` (combined chains ``(n_chains, n_samples, d)``, physical units), ``summary``
    (name -> mean, sd, hdi_low/high, r_hat, ess_bulk/tail, mcse_mean), ``product_mean/cov``
    (Gaussian product of the shard posteriors), ``laplace_mean/cov`` (full-data Laplace
    approximation over physical + scaling entries), ``full_data`` (per Laplace entry: its
    sd over the prior sd and its ridge partners, see
    :func:`homodyne_cmc.diagnostics.full_data_identification`), ``heterogeneity`` (chi^2 test),
    ``shards`` (per-shard report dicts), ``excluded`` (index -> divergence rate),
    ``failed`` (index -> error), ``warnings``, ``timing`` (s), ``warm_start``, ``gate``.
    """

    mode: str
    convention: str
    model: C2Model
    scaling: ScalingMap
    names: tuple[str, ...]
    n_theta: int
    draws: np.ndarray
    shard_draws: np.ndarray
    shard_stats: dict[str, np.ndarray]
    shard_ids: tuple[int, ...]
    summary: dict[str, dict[str, float]]
    product_mean: np.ndarray
    product_cov: np.ndarray
    laplace_mean: np.ndarray
    laplace_cov: np.ndarray
    laplace_sigma: float
    heterogeneity: dict[str, Any]
    shards: list[dict[str, Any]]
    excluded: dict[int, float]
    failed: dict[int, str]
    n_shards: int
    shard_reason: str
    n_points: int
    n_cached: int
    sampler: dict[str, Any]
    warm_start: Any
    gate: dict[str, Any]
    warnings: list[str]
    timing: dict[str, float]
    config: Any
    data: XPCSData | None = field(default=None, repr=False)
    backend: str = "sequential"
    combination: dict[str, Any] = field(default_factory=dict)
    spec: ModelSpec | None = None
    full_data: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ views
    @property
    def fixed(self) -> dict[str, float]:
        """Parameters held fixed (not sampled) -> value."""
        return self.spec.fixed_values if self.spec is not None else {}

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Physical parameter names (kernel order), fixed ones included."""
        return self.spec.names if self.spec is not None else self.names[: self.n_theta]

    @property
    def values(self) -> dict[str, float]:
        """Posterior mean of each physical parameter (the value of a fixed one)."""
        fixed = self.fixed
        return {n: fixed.get(n, self.summary.get(n, {}).get("mean")) for n in self.parameter_names}

    @property
    def errors(self) -> dict[str, float]:
        """Posterior sd of each physical parameter (0 for a fixed one)."""
        return {n: 0.0 if n in self.fixed else self.summary[n]["sd"] for n in self.parameter_names}

    @property
    def converged(self) -> bool:
        """Every combined R-hat < ``config.max_rhat`` and bulk ESS > ``config.min_ess_bulk``
        (1.01 and 400 by default), and no shard failed."""
        max_rhat = getattr(self.config, "max_rhat", 1.01)
        min_ess = getattr(self.config, "min_ess_bulk", 400.0)
        rhat = max(v["r_hat"] for v in self.summary.values())
        ess = min(v["ess_bulk"] for v in self.summary.values())
        return bool(rhat < max_rhat and ess > min_ess and not self.failed)

    def theta_draws(self) -> np.ndarray:
        """Combined draws of every physical parameter, kernel order (fixed ones constant),
        ``(n_chains, n_samples, P)``."""
        free = np.asarray(self.draws)[..., : self.n_theta]
        if self.spec is None:
            return free
        base = np.array([self.spec.start[n] for n in self.spec.names], np.float64)
        out = np.broadcast_to(base, free.shape[:-1] + base.shape).copy()
        out[..., list(self.spec.free_index)] = free
        return out

    @property
    def theta(self) -> np.ndarray:
        """Posterior-mean physical parameters ``(P,)``, fixed ones at their value."""
        vals = self.values
        return np.array([vals[n] for n in self.parameter_names], np.float64)

    @cached_property
    def angle_draws(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-angle contrast and offset draws, each ``(n_chains, n_samples, n_phi)``."""
        k = self.scaling.n_params
        s = self.draws[..., self.n_theta : self.n_theta + k]
        kc, kc0 = self.scaling.n_contrast, self.scaling.design_contrast.shape[1]
        ko0 = self.scaling.design_offset.shape[1]
        # with an age-dependent scaling: the order-0 (age-averaged) values
        c = self.scaling.fixed_contrast + np.einsum(
            "ak,cnk->cna", self.scaling.design_contrast, s[..., :kc0]
        )
        o = self.scaling.fixed_offset + np.einsum(
            "ak,cnk->cna", self.scaling.design_offset, s[..., kc : kc + ko0]
        )
        return c, o

    def scaling_at(self, age) -> tuple[np.ndarray, np.ndarray]:
        """Posterior-mean contrast and offset per angle at the given ages (s), each
        ``(n_phi, *age.shape)`` (constant in age unless the scaling is age-dependent)."""
        age = np.asarray(age, np.float64)
        k = self.scaling.n_params
        s = self.draws[..., self.n_theta : self.n_theta + k].reshape(-1, k).mean(axis=0)
        c, o = self.scaling.at_age(s, age.reshape(-1))
        return c.reshape(-1, *age.shape), o.reshape(-1, *age.shape)

    @property
    def contrast(self) -> np.ndarray:
        """Posterior-mean contrast per angle ``(n_phi,)``."""
        return self.angle_draws[0].mean(axis=(0, 1))

    @property
    def offset(self) -> np.ndarray:
        """Posterior-mean offset per angle ``(n_phi,)``."""
        return self.angle_draws[1].mean(axis=(0, 1))

    @property
    def contrast_err(self) -> np.ndarray:
        """Posterior sd of the contrast per angle."""
        return self.angle_draws[0].std(axis=(0, 1), ddof=1)

    @property
    def offset_err(self) -> np.ndarray:
        """Posterior sd of the offset per angle."""
        return self.angle_draws[1].std(axis=(0, 1), ddof=1)

    @property
    def laplace_sd(self) -> np.ndarray:
        """Marginal sds of the Laplace approximation (physical + scaling entries)."""
        return np.sqrt(np.diag(self.laplace_cov))

    def fitted_c2(self, data: XPCSData | None = None) -> np.ndarray:
        """Model c2 at the posterior mean on the full matrices, ``(n_phi, n_t, n_t)``; for
        point-set data at their points, ``(n_phi, n_points)``."""
        data = data if data is not None else self.data
        if data is None:
            raise ParameterError("fitted_c2 needs the data (the result holds none)")
        if data.n_phi != self.scaling.n_phi or not np.allclose(data.phi, self.scaling.phi):
            raise ParameterError(
                f"fitted_c2: the data have angles {data.phi.tolist()} but the "
                f"fit was made on {self.scaling.phi.tolist()}"
            )
        with float64():
            t = np.asarray(data.t, np.float64)
            if self.scaling.ages:
                ones = np.ones(self.scaling.n_phi)
                args = (self.model, self.theta, ones, 0.0 * ones, data.t, data.phi)
            else:
                args = (self.model, self.theta, self.contrast, self.offset, data.t, data.phi)
            if not data.is_dense:
                i, j = data.pairs(0)
                g = np.asarray(c2_pairs(*args, i, j))
                age = 0.5 * (t[i] + t[j])
            else:
                g = np.asarray(c2_matrix(*args))
                age = 0.5 * (t[:, None] + t[None, :])
            if not self.scaling.ages:
                return g
        c, o = self.scaling_at(age)
        return o + c * g

    def transport(self, times=None):
        """Posterior D(t), Gamma(t) (gamma_dot(t), strain): median and 68 % / 95 % quantiles;
        see :func:`homodyne_cmc.transport.cmc_transport`."""
        from .transport import cmc_transport

        return cmc_transport(self, times)

    def identifiability(self):
        """Posterior correlations, undetermined directions, prior-dominated parameters; see
        :func:`homodyne_cmc.transport.cmc_identifiability`."""
        from .transport import cmc_identifiability

        return cmc_identifiability(self)

    def to_datatree(self):
        """ArviZ DataTree: ``posterior`` (combined), ``shard_posterior``, ``sample_stats``."""
        from .diagnostics import posterior_datatree

        c, o = self.angle_draws
        attrs = {
            "homodyne_mode": self.mode,
            "convention": self.convention,
            "n_shards": int(self.n_shards),
            "combination": "consensus_mc_full_cov",
            "q": self.model.q,
            "dt": self.model.dt,
            "gap": self.model.gap,
            "fixed_parameters": json.dumps(self.fixed),
            "likelihood_adjustment": json.dumps(
                json_safe(self.combination.get("likelihood_adjustment", {"kind": "none"}))
            ),
        }
        if self.spec is not None:
            attrs["model_spec"] = json.dumps(json_safe(self.spec.to_dict()))
        return posterior_datatree(
            self.names,
            self.n_theta,
            self.scaling.n_params,
            self.draws,
            self.shard_draws,
            self.shard_stats,
            self.shard_ids,
            c,
            o,
            self.scaling.phi,
            attrs,
            fixed=self.fixed,
        )

    # ------------------------------------------------------------------ reports
    def _parameter_table(self) -> dict[str, dict[str, Any]]:
        ws = self.warm_start
        names = self.parameter_names
        ws_vals = dict(zip(names, ws.theta, strict=True)) if ws else {}
        ws_errs = dict(zip(names, ws.errors, strict=True)) if ws else {}
        table: dict[str, dict[str, Any]] = {
            n: {"mean": v, "sd": 0.0, "fixed": True, "note": "held fixed: not sampled"}
            for n, v in self.fixed.items()
        }
        n_lap = self.laplace_mean.shape[0]
        for k, n in enumerate(self.names):
            row = dict(self.summary[n])
            row["gaussian_product_mean"] = float(self.product_mean[k])
            row["gaussian_product_sd"] = float(np.sqrt(self.product_cov[k, k]))
            if k < n_lap:
                row["laplace_mean"] = float(self.laplace_mean[k])
                row["laplace_sd"] = float(self.laplace_sd[k])
            elif n == "sigma":
                row["laplace_mean"] = self.laplace_sigma
            if n in ws_vals:
                row["nlsq_value"] = float(ws_vals[n])
                row["nlsq_error"] = float(ws_errs[n])
                row["z_vs_nlsq"] = (row["mean"] - ws_vals[n]) / row["sd"] if row["sd"] else None
            table[n] = row
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (parameters, per-angle scaling, convergence, shards, settings)."""
        table = self._parameter_table()
        rhat = [v["r_hat"] for v in self.summary.values()]
        ess = [v["ess_bulk"] for v in self.summary.values()]
        return json_safe(
            {
                "method": "cmc",
                "mode": self.mode,
                "convention": self.convention,
                "scaling_mode": self.scaling.mode,
                "backend": self.backend,
                "parameters": {n: table[n] for n in self.parameter_names},
                "scaling": {n: table[n] for n in self.names[self.n_theta :] if n != "sigma"},
                "sigma": table.get("sigma"),
                "phi": self.scaling.phi,
                "contrast": self.contrast,
                "contrast_err": self.contrast_err,
                "offset": self.offset,
                "offset_err": self.offset_err,
                "converged": self.converged,
                "convergence": {
                    "max_r_hat": max(rhat),
                    "min_ess_bulk": min(ess),
                    "converged": self.converged,
                    **self.sampler,
                },
                "n_points": self.n_points,
                "n_shards": self.n_shards,
                "shard_reason": self.shard_reason,
                "shards_used": list(self.shard_ids),
                "shards_from_cache": self.n_cached,
                "excluded_shards": self.excluded,
                "failed_shards": self.failed,
                "heterogeneity": self.heterogeneity,
                "combination": self.combination,
                "gate": self.gate,
                "warnings": self.warnings,
                "timing": self.timing,
                "draws": {"chains": self.draws.shape[0], "samples": self.draws.shape[1]},
                "q": self.model.q,
                "dt": self.model.dt,
                "gap": self.model.gap,
                "config": self.config.to_dict() if self.config is not None else None,
                **_quality(self),
                "spec": self.spec.to_dict() if self.spec is not None else None,
            }
        )

    def diagnostics_dict(self) -> dict[str, Any]:
        """Combined and per-shard diagnostics (the content of ``cmc/diagnostics.json``)."""
        return json_safe(
            {
                "combined": {
                    "parameters": self.summary,
                    "sampler": self.sampler,
                    "heterogeneity": self.heterogeneity,
                    "combination": self.combination,
                },
                "laplace": {
                    "names": list(self.names[: self.laplace_mean.shape[0]]),
                    "mean": self.laplace_mean,
                    "cov": self.laplace_cov,
                    "sigma": self.laplace_sigma,
                },
                "gaussian_product": {
                    "names": list(self.names),
                    "mean": self.product_mean,
                    "cov": self.product_cov,
                },
                "shards": self.shards,
                "excluded_shards": self.excluded,
                "failed_shards": self.failed,
                "warnings": self.warnings,
            }
        )

    def write(self, out_dir: str | os.PathLike, data: XPCSData | None = None) -> dict[str, Path]:
        """Write ``<out_dir>/cmc/{parameters.json, diagnostics.json, samples.npz, posterior.nc,
        fitted_data.npz}``, each atomically. Returns name -> path."""
        folder = Path(out_dir) / "cmc"
        paths = {
            k: folder / k
            for k in (
                "parameters.json",
                "diagnostics.json",
                "samples.npz",
                "posterior.nc",
                "fitted_data.npz",
            )
        }

        def text(obj):
            return lambda p: Path(p).write_text(json.dumps(obj, indent=2, allow_nan=False))

        _atomic(paths["parameters.json"], text(self.to_dict()))
        _atomic(paths["diagnostics.json"], text(self.diagnostics_dict()))
        c, o = self.angle_draws

        def samples(p):
            with open(p, "wb") as fh:
                np.savez(
                    fh,
                    draws=self.draws,
                    names=np.array(self.names),
                    shard_draws=self.shard_draws,
                    shard_ids=np.array(self.shard_ids),
                    contrast=c,
                    offset=o,
                    phi=self.scaling.phi,
                    **{f"shard_{k}": v for k, v in self.shard_stats.items()},
                )

        _atomic(paths["samples.npz"], samples)
        tree = self.to_datatree()
        _atomic(paths["posterior.nc"], lambda p: tree.to_netcdf(p, engine="h5netcdf"))
        data = data if data is not None else self.data
        if data is not None:
            fit = self.fitted_c2(data)

            def fitted(p):
                if not data.is_dense:  # point sets: values and model at their points
                    _fitted_points(p, data, fit, self.contrast, self.offset)
                    return
                with open(p, "wb") as fh:
                    np.savez(
                        fh,
                        c2_exp=data.c2,
                        c2_fit=fit,
                        residuals=data.c2 - fit,
                        t=data.t,
                        frames=data.frames,
                        phi=data.phi,
                        q=np.array(data.q),
                        dt=np.array(data.dt),
                        contrast=self.contrast,
                        offset=self.offset,
                    )

            _atomic(paths["fitted_data.npz"], fitted)
        else:
            paths.pop("fitted_data.npz")
        return paths


def _fitted_points(path, data: XPCSData, fit, contrast, offset) -> None:
    """fitted_data.npz of point-set data: values, model and weights at (t1, t2)."""
    ps = data.points
    with open(path, "wb") as fh:
        np.savez(
            fh,
            c2_exp=ps.values,
            c2_fit=fit,
            residuals=ps.values - fit,
            t1=ps.t1,
            t2=ps.t2,
            weights=ps.weights,
            phi=data.phi,
            q=np.array(data.q),
            dt=np.array(data.dt),
            contrast=contrast,
            offset=offset,
        )
