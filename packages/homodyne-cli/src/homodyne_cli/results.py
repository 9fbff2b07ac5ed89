"""What a run writes: ``nlsq/parameters.json``, ``nlsq/fitted_data.npz``, plots, summaries.

All writes are atomic (see :mod:`.outputs`). Large matrices are stored as float32 (the
precision of the input files); scalars and per-angle arrays as float64.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .outputs import atomic_write_json, atomic_write_npz, utc_now
from .qrings import angle_pages, page_q, plot_q

__all__ = [
    "PendingPlots",
    "finish_fit_plots",
    "prepare_fit_plots",
    "nlsq_parameters",
    "start_fit_plots",
    "write_cmc_plots",
    "write_fit_plots",
    "write_nlsq",
]


def _unit(name: str) -> str:
    """Unit of a parameter from the registry (empty for names it does not know)."""
    from homodyne_physics import PARAMETERS

    return PARAMETERS[name].unit if name in PARAMETERS else ""


def nlsq_parameters(res: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The content of ``nlsq/parameters.json`` for an ``NLSQResult`` (plus ``extra`` keys:
    transport, identifiability, goodness of fit).

    Per-angle contrast/offset are reported per angle, plus their mean with the RMS of the
    per-angle uncertainties (the 2.x summary form).
    """
    params = {
        n: {
            "value": res.values[n],
            "uncertainty": res.errors[n],
            "unit": _unit(n),
            "at_bound": n in (res.at_bound or []),
            "fixed": n in getattr(res, "fixed", {}),
        }
        for n in res.parameter_names
    }
    contrast = np.asarray(res.contrast, dtype=np.float64)
    offset = np.asarray(res.offset, dtype=np.float64)
    c_err = np.asarray(res.contrast_err, dtype=np.float64)
    o_err = np.asarray(res.offset_err, dtype=np.float64)
    return {
        "timestamp": utc_now(),
        "method": "nlsq",
        "analysis_mode": res.mode,
        "convention": res.convention,
        "solver": res.solver,
        "scaling_mode": res.scaling_mode,
        "chi_squared": res.chi2,
        "reduced_chi_squared": res.reduced_chi2,
        "degrees_of_freedom": res.dof,
        "n_points": res.n_points,
        "sigma": res.sigma,
        "convergence_status": "converged" if res.converged else "not_converged",
        "converged": bool(res.converged),
        "message": res.message,
        "iterations": res.iterations,
        "at_bound": list(res.at_bound or []),
        "parameters": params,
        # laminar_flow: the refit from phi0's mirror image and its verdict (homodyne_nlsq.mirror)
        "phi0_mirror_check": getattr(res, "mirror_check", None),
        "spec": res.spec.to_dict() if getattr(res, "spec", None) is not None else None,
        "scaling": {
            "phi": np.asarray(res.phi, dtype=np.float64),
            "contrast": {
                "value": float(np.mean(contrast)),
                "uncertainty": float(np.sqrt(np.mean(c_err**2))),
                "per_angle": contrast,
                "per_angle_uncertainty": c_err,
            },
            "offset": {
                "value": float(np.mean(offset)),
                "uncertainty": float(np.sqrt(np.mean(o_err**2))),
                "per_angle": offset,
                "per_angle_uncertainty": o_err,
            },
        },
        "parameter_names_full": list(getattr(res, "names", res.parameter_names)),
        "correlation": np.asarray(res.correlation),
        "timing": dict(res.timing),
        **(extra or {}),
        "details": res.to_dict(),
    }


def write_nlsq(
    folder: Path, res: Any, data: Any, c2_fit: np.ndarray, extra: dict[str, Any] | None = None
) -> list[Path]:
    """Write ``nlsq/parameters.json`` and ``nlsq/fitted_data.npz`` under ``folder``.

    ``fitted_data.npz`` holds ``phi`` (deg), ``t`` (s), ``frames``, ``q``, ``dt``, ``c2_exp``,
    ``c2_fit``, ``residuals`` (``c2_exp - c2_fit``; diagonal NaN: not fitted), all
    ``(n_phi, n_t, n_t)`` float32, and the per-angle ``contrast``, ``offset`` with errors.
    """
    if not data.is_dense:  # point sets: per-angle point tables (results_points)
        from .results_points import write_nlsq_points

        return write_nlsq_points(folder, res, data, c2_fit, extra)
    out = folder / "nlsq"
    # data - fit in float64, rounded into the float32 array that is stored: one pass, no
    # float64 copy of the matrices
    resid = np.subtract(data.c2, c2_fit, out=np.empty(c2_fit.shape, np.float32), casting="unsafe")
    idx = np.arange(data.n_t)
    resid[:, idx, idx] = np.nan
    paths = [
        atomic_write_json(out / "parameters.json", nlsq_parameters(res, extra)),
        atomic_write_npz(
            out / "fitted_data.npz",
            compress=False,  # noisy float32 matrices: zlib would cost more time than it saves
            phi=data.phi,
            t=data.t,
            frames=data.frames,
            q=np.asarray(data.q, dtype=np.float64),
            dt=np.float64(data.dt),
            c2_exp=np.asarray(data.c2, dtype=np.float32),
            c2_fit=np.asarray(c2_fit, dtype=np.float32),
            residuals=resid,
            contrast=np.asarray(res.contrast),
            offset=np.asarray(res.offset),
            contrast_err=np.asarray(res.contrast_err),
            offset_err=np.asarray(res.offset_err),
            sigma=np.float64(res.sigma),
        ),
    ]
    return paths


def write_fit_plots(
    folder: Path,
    data: Any,
    c2_fit: np.ndarray,
    sigma: float | None,
    *,
    max_display: int = 300,
    label: str = "",
    worker: Any = None,
) -> list[Path]:
    """Every fit plot into ``folder``: per-angle heatmaps, overview, lag cuts, residuals.

    With a ``worker`` (:func:`homodyne_cli.plots.worker.plot_worker`) that second process
    draws the lag cuts, the overview and the residual histogram and shares the heatmap pages
    with this one (see :func:`start_fit_plots`); the files are those of one process.
    """
    return finish_fit_plots(
        start_fit_plots(
            folder, data, c2_fit, sigma, max_display=max_display, label=label, worker=worker
        )
    )


@dataclass
class PendingPlots:
    """Fit plots under way (:func:`start_fit_plots`); :func:`finish_fit_plots` completes them."""

    folder: Path
    data: Any
    c2_fit: np.ndarray
    sigma: float | None
    label: str
    pages: list[Path]
    share: dict[str, Any]
    mine: Iterator[int] | None = None  # the pages this process takes (None: all of them)
    far: list[Any] = field(default_factory=list)  # the worker's answers


def prepare_fit_plots(data: Any, *, max_display: int = 300, worker: Any = None) -> None:
    """Render ahead what the fit plots share and the fit does not change: the background of
    the heatmap pages (figure, axes, ticks, labels), in the plot ``worker``, which is idle
    while the fit runs (the pages it draws later start from it)."""
    if worker is None or not data.is_dense:
        return
    from .plots._common import display_grid
    from .plots.heatmaps import prepare_heatmap_pages

    worker.submit(prepare_heatmap_pages, display_grid(data.t, max_display)[1])


def start_fit_plots(
    folder: Path,
    data: Any,
    c2_fit: np.ndarray,
    sigma: float | None,
    *,
    max_display: int = 300,
    label: str = "",
    worker: Any = None,
) -> PendingPlots:
    """Start the fit plots: with a ``worker`` it starts drawing now (lag cuts, overview,
    residual histogram, then heatmap pages taken from the counter it shares with this
    process), while this process goes on (the goodness of fit; in the write stage the
    transport and residual-structure figures) before it takes the pages left in
    :func:`finish_fit_plots`.
    """
    if not data.is_dense:  # point sets: drawn by finish_fit_plots, in this process
        return PendingPlots(folder, data, c2_fit, sigma, label, [], {})
    from .plots.heatmaps import heatmap_display

    folder.mkdir(parents=True, exist_ok=True)
    td, shown, shown_fit, note = heatmap_display(data.t, data.c2, c2_fit, max_display)
    pages = [folder / name for name in angle_pages(data, "c2_heatmaps")]
    pq = page_q(data)
    share = dict(td=td, data=shown, fit=shown_fit, phi=data.phi, q=pq, note=note, label=label)
    pending = PendingPlots(folder, data, c2_fit, sigma, label, pages, share)
    if worker is not None:
        _start_worker_share(pending, worker)
    return pending


def _start_worker_share(pending: PendingPlots, worker: Any) -> None:
    """Queue the worker's figures (lag cuts, overview, residual histogram), then its share of
    the heatmap pages; what it gets is small: matrix rows, display-size panels, residuals."""
    from .plots import plot_residual_histogram
    from .plots.cuts import age_indices, plot_lag_cut_rows
    from .plots.heatmaps import draw_overview, overview_display
    from .plots.worker import draw_shared_pages

    data, c2_fit, folder, label = pending.data, pending.c2_fit, pending.folder, pending.label
    rows = age_indices(data.n_t)
    cuts = dict(t=data.t, phi=data.phi, rows=rows, q=plot_q(data))
    cuts.update(data_rows=np.asarray(data.c2[:, rows, :]), fit_rows=c2_fit[:, rows, :])
    otd, oshown, onote = overview_display(data.t, data.c2, c2_fit)
    over = dict(td=otd, shown=oshown, phi=data.phi, q=plot_q(data), note=onote, title=label)
    hist = dict(residuals=_residuals(data, c2_fit), sigma=pending.sigma, phi=data.phi, label=label)
    pending.mine = worker.share_pages(len(pending.pages))
    far = pending.far
    far.append(worker.submit(plot_lag_cut_rows, folder / "lag_cuts.png", **cuts))
    far.append(worker.submit(draw_overview, folder / "overview.png", **over))
    far.append(worker.submit(plot_residual_histogram, folder / "residuals.png", **hist))
    far.append(worker.submit(draw_shared_pages, pending.pages, **pending.share))


#: residuals handed to the histogram: a histogram's shape and the RMS per angle need no more
#: (a 23 x 1000-frame run has 11.5 million; all of them were copied to the plot worker)
_HISTOGRAM_POINTS = 2_000_000


def _residuals(data: Any, c2_fit: np.ndarray) -> np.ndarray:
    """Data - fit at the fitted pairs (t1 < t2), ``(n_phi, n_pairs)``: every pair, or evenly
    strided pairs (all angles) when there are more than ``_HISTOGRAM_POINTS`` points."""
    i, j = data.pairs()
    step = max(1, -(-data.n_phi * i.size // _HISTOGRAM_POINTS))
    i, j = i[::step], j[::step]
    return np.asarray(data.c2)[:, i, j] - c2_fit[:, i, j]


def finish_fit_plots(pending: PendingPlots) -> list[Path]:
    """Draw this process's share of :func:`start_fit_plots` and collect the worker's; the
    paths: heatmap pages in angle order, then overview, lag cuts and residual histogram."""
    if not pending.data.is_dense:  # point sets: age x lag scatter plots (results_points)
        from .results_points import write_point_plots

        return write_point_plots(
            pending.folder, pending.data, pending.c2_fit, pending.sigma, label=pending.label
        )
    from .plots import plot_lag_cuts, plot_overview, plot_residual_histogram
    from .plots.heatmaps import draw_heatmap_pages

    data, c2_fit, folder = pending.data, pending.c2_fit, pending.folder
    t, phi, q = data.t, data.phi, plot_q(data)
    overview, cuts = folder / "overview.png", folder / "lag_cuts.png"
    histogram = folder / "residuals.png"
    if not pending.far:  # else the worker draws them
        plot_overview(overview, t=t, phi=phi, c2_data=data.c2, c2_fit=c2_fit, q=q,
                      title=pending.label)  # fmt: skip
        plot_lag_cuts(cuts, t=t, phi=phi, c2_data=data.c2, c2_fit=c2_fit, q=q)
        plot_residual_histogram(histogram, residuals=_residuals(data, c2_fit),
                                sigma=pending.sigma, phi=phi, label=pending.label)  # fmt: skip
    draw_heatmap_pages(pending.pages, order=pending.mine, **pending.share)
    for answer in pending.far:
        answer.get()  # re-raises the worker's error here
    return [*pending.pages, overview, cuts, histogram]


def write_cmc_plots(folder: Path, data: Any, cres: Any, *, max_display: int = 300) -> list[Path]:
    """Every CMC figure into ``folder``: trace, rank, posterior, pair, forest (combined and
    per shard), convergence (R-hat/ESS), and the fit plots of the posterior-mean model."""
    from .plots import plot_cmc_all

    summary = cres.summary
    sigma = summary["sigma"]["mean"] if "sigma" in summary else cres.laplace_sigma
    paths = write_fit_plots(
        folder,
        data,
        cres.fitted_c2(data),
        sigma,
        max_display=max_display,
        label="CMC posterior mean",
    )
    paths += plot_cmc_all(
        folder,
        cres.to_datatree(),
        cres.diagnostics_dict(),
        [n for n in cres.parameter_names if n not in cres.fixed],  # fixed: constant, no plot
    )
    return paths
