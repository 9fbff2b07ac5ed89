"""Parametric bootstrap of an NLSQ fit on speckle-level simulations (issue 18).

The sandwich covariance (:mod:`.robust_covariance`) is an asymptotic estimate. For final
numbers the spread can be measured directly: simulate correlator output with
:func:`homodyne_data.simulate_speckle` at the fitted parameters ``K`` times (new seeds, the
same bins, frames and detector settings), refit each replicate from the fitted values, and
report the scatter of the refitted parameters beside the errors the fit stated. The cost is
``K`` simulations plus ``K`` fits, which :class:`BootstrapResult` states.
"""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from homodyne_data import simulate_speckle
from homodyne_physics import ModelSpec

from .config import NLSQConfig
from .result import NLSQResult

__all__ = ["BootstrapResult", "parametric_bootstrap"]


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Refitted parameters of ``K`` speckle replicates at the fitted values.

    Attributes
    ----------
    names
        Free physical parameters.
    draws
        ``(K, n)`` refitted values (a replicate whose fit raised is left out; see ``failed``).
    sd, mean
        Scatter (ddof = 1) and mean of the draws per name.
    stated
        The errors the fit reported per name (its chosen covariance).
    ratio
        ``sd / stated`` per name: about 1 when the stated errors are honest.
    seconds
        ``simulate`` and ``fit``: mean wall time per replicate, s; ``total``.
    failed
        Seeds whose refit raised, with the message.
    """

    names: tuple[str, ...]
    draws: np.ndarray
    sd: dict[str, float]
    mean: dict[str, float]
    stated: dict[str, float]
    ratio: dict[str, float]
    seconds: dict[str, float]
    seeds: tuple[int, ...]
    failed: dict[int, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-safe summary."""
        return {
            "names": list(self.names),
            "draws": self.draws.tolist(),
            "sd": self.sd,
            "mean": self.mean,
            "stated": self.stated,
            "ratio": self.ratio,
            "seconds": self.seconds,
            "seeds": list(self.seeds),
            "failed": {str(k): v for k, v in self.failed.items()},
        }


def parametric_bootstrap(
    result: NLSQResult,
    phi: Sequence[float] | np.ndarray,
    k: int,
    *,
    simulation: Mapping | None = None,
    seed: int = 10_000,
    config: NLSQConfig | None = None,
) -> BootstrapResult:
    """Re-simulate speckle at the fitted parameters ``k`` times, refit, report the scatter.

    Parameters
    ----------
    result
        The fit to check (its ``spec`` gives mode, convention, gap, bounds and fixed
        parameters; its values are the simulation truth and the refit start).
    phi
        Bin centres of the simulation, degrees (those of the fitted data).
    k
        Number of replicates (>= 2).
    simulation
        Further keywords of :func:`homodyne_data.simulate_speckle` (``q``, ``dt``,
        ``n_frames``, ``n_pixels``, ``modes``, ``n_scatterers``, ``mean_counts``, ...;
        ``SpeckleSimulation.settings`` of the data fits, its bookkeeping entries ignored).
        ``q``/``dt`` default to the fit's; the model (gap included) is the fit's spec.
    seed
        Replicate ``n`` uses seed ``seed + n``.
    config
        NLSQ settings of the refits (default: the defaults).

    Returns
    -------
    BootstrapResult
    """
    if int(k) < 2:
        raise ValueError(f"parametric_bootstrap: k must be >= 2 replicates, got {k!r}")
    spec = result.spec if result.spec is not None else ModelSpec.create(result.mode)
    sim_kw = {
        key: v
        for key, v in dict(simulation or {}).items()
        if key not in ("simulator", "mode", "convention", "gap", "spec", "seed", "params", "box")
    }
    sim_kw.setdefault("q", result.model.q)
    sim_kw.setdefault("dt", result.model.dt)
    truth = {n: float(result.values[n]) for n in result.parameter_names}
    start = spec.with_start({n: truth[n] for n in spec.free_names})
    names = tuple(spec.free_names)
    rows, seeds, failed = [], [], {}
    t_sim = t_fit = 0.0
    from .api import fit_nlsq

    for n in range(int(k)):
        t0 = time.perf_counter()
        sim = simulate_speckle(spec, truth, phi=phi, seed=seed + n, **sim_kw)  # spec's gap
        t1 = time.perf_counter()
        try:
            fit = fit_nlsq(sim.data, start, config)
        except Exception as exc:  # noqa: BLE001 - a failed replicate is reported, not fatal
            failed[seed + n] = f"{type(exc).__name__}: {exc}"
            continue
        finally:
            t_sim += t1 - t0
            t_fit += time.perf_counter() - t1
        rows.append([fit.values[name] for name in names])
        seeds.append(seed + n)
    draws = np.asarray(rows, np.float64).reshape(len(rows), len(names))
    sd = draws.std(axis=0, ddof=1) if len(rows) > 1 else np.full(len(names), np.nan)
    stated = {name: float(result.errors[name]) for name in names}
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = {name: float(s / stated[name]) for name, s in zip(names, sd, strict=True)}
    return BootstrapResult(
        names=names,
        draws=draws,
        sd=dict(zip(names, map(float, sd), strict=True)),
        mean=dict(zip(names, map(float, draws.mean(axis=0)), strict=True)),
        stated=stated,
        ratio=ratio,
        seconds={
            "simulate": t_sim / int(k),
            "fit": t_fit / int(k),
            "total": t_sim + t_fit,
        },
        seeds=tuple(seeds),
        failed=failed,
    )
