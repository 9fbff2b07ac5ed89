"""What a run writes: ``nlsq/parameters.json``, ``nlsq/fitted_data.npz``, plots, summaries.

All writes are atomic (see :mod:`.outputs`). Large matrices are stored as float32 (the
precision of the input files); scalars and per-angle arrays as float64.
"""

from pathlib import Path
from typing import Any

import numpy as np

from .outputs import atomic_write_json, atomic_write_npz, utc_now
from .qrings import angle_pages, page_q, plot_q

__all__ = ["nlsq_parameters", "write_cmc_plots", "write_fit_plots", "write_nlsq"]


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

    With a ``worker`` (:func:`homodyne_cli.plots.worker.plot_worker`) most heatmap pages are
    drawn by that second process while this one draws the other figures and the remaining
    pages; the worker gets the display-size matrices only.
    """
    from .plots import plot_lag_cuts, plot_overview, plot_residual_histogram
    from .plots.heatmaps import draw_heatmap_pages, heatmap_display

    if not data.is_dense:  # point sets: age x lag scatter plots (results_points)
        from .results_points import write_point_plots

        return write_point_plots(folder, data, c2_fit, sigma, label=label)
    folder.mkdir(parents=True, exist_ok=True)
    t, phi, q, pq = data.t, data.phi, plot_q(data), page_q(data)
    td, shown, shown_fit, note = heatmap_display(t, data.c2, c2_fit, max_display)
    pages = [folder / name for name in angle_pages(data, "c2_heatmaps")]
    # the worker's share: it starts a Python process (1.5 CPU-s) while this one draws the
    # transport, structure, overview, lag cuts and histogram figures (3.4 CPU-s at 8 angles),
    # then both draw pages (0.25 CPU-s each): half the pages and 4 more go to the worker
    n_far = min(len(pages), int(np.ceil(len(pages) / 2 + 4))) if worker is not None else 0

    def share(part: slice) -> dict[str, Any]:
        """The page arguments of ``draw_heatmap_pages`` for the pages ``part``."""
        return dict(
            td=td,
            data=shown[part],
            fit=shown_fit[part],
            phi=phi[part],
            q=pq[part] if np.ndim(pq) else pq,
            note=note,
            label=label,
        )

    far = None
    if n_far:
        far = worker.submit(draw_heatmap_pages, pages[:n_far], **share(slice(None, n_far)))
    paths = [plot_overview(folder / "overview.png", t=t, phi=phi, c2_data=data.c2,
                           c2_fit=c2_fit, q=q, title=label)]  # fmt: skip
    paths.append(
        plot_lag_cuts(folder / "lag_cuts.png", t=t, phi=phi, c2_data=data.c2, c2_fit=c2_fit, q=q)
    )
    i, j = np.triu_indices(data.n_t, 1)
    resid = np.asarray(data.c2)[:, i, j] - c2_fit[:, i, j]
    paths.append(
        plot_residual_histogram(
            folder / "residuals.png", residuals=resid, sigma=sigma, phi=phi, label=label
        )
    )
    near = draw_heatmap_pages(pages[n_far:], **share(slice(n_far, None)))
    return (far.get() if far is not None else []) + near + paths


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
