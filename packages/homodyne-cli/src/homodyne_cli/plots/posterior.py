"""Posterior figures of a CMC run, drawn with ArviZ (arviz-plots, matplotlib backend).

Input is the run's ArviZ DataTree (``CMCResult.to_datatree()`` or ``cmc/posterior.nc``) and
its diagnostics dictionary (``CMCResult.diagnostics_dict()`` or ``cmc/diagnostics.json``), so
the same figures can be drawn again from the files of a finished run.

* ``trace.png``: marginal density and trace of every chain of the combined posterior;
* ``rank.png``: rank (fractional-ECDF) plots of the combined chains: flat bands = mixed;
* ``posterior.png``: marginal posteriors with their credible interval;
* ``pair.png``: pairwise scatter with marginals (the correlations of the model);
* ``forest.png``: combined and per-shard intervals in units of the combined sd (centred on
  the combined mean), so disagreeing shards stand out whatever the parameter's scale;
* ``convergence.png``: R-hat and bulk ESS per parameter for the combined chains and each
  shard, with the usual thresholds (1.01, 400).
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import save

__all__ = ["plot_cmc_all", "plot_convergence"]

RHAT_LIMIT = 1.01
MIN_ESS = 400


def _posterior_only(tree: Any, names: Sequence[str]):
    """A DataTree with just the combined ``posterior`` of ``names`` (the combined draws are
    averages of shard chains: no sampler statistics belong to them)."""
    import xarray as xr

    return xr.DataTree.from_dict({"posterior": tree["posterior"].to_dataset()[list(names)]})


def _standardised_models(tree: Any, names: Sequence[str]) -> dict[str, Any]:
    import xarray as xr

    combined = tree["posterior"].to_dataset()[list(names)]
    mean = combined.mean(("chain", "draw"))
    sd = combined.std(("chain", "draw"))
    sd = sd.where(sd > 0, 1.0)
    models = {"combined": xr.DataTree.from_dict({"posterior": (combined - mean) / sd})}
    if "shard_posterior" in tree.children:
        shards = tree["shard_posterior"].to_dataset()[list(names)]
        for k in shards["shard"].values:
            one = (shards.sel(shard=k, drop=True) - mean) / sd
            models[f"shard {int(k)}"] = xr.DataTree.from_dict({"posterior": one})
    return models


def _arviz(
    kind: str, path: Path, dt: Any, *, title: str, legend: str | None = None, **kwargs
) -> Path:
    import arviz_base as azb
    import arviz_plots as azp
    import matplotlib.pyplot as plt

    with azb.rc_context({"plot.max_subplots": 200}):
        pc = getattr(azp, kind)(dt, backend="matplotlib", **kwargs)
        if legend is not None:
            pc.add_legend(legend)
    fig = pc.get_viz("figure")
    fig.suptitle(title)
    try:
        return save(fig, path)
    finally:
        plt.close(fig)


def plot_convergence(
    path: Path, diagnostics: Mapping[str, Any], names: Sequence[str], title: str = ""
) -> Path:
    """R-hat and bulk ESS per parameter: combined (black) and every shard (grey)."""
    import matplotlib.pyplot as plt

    combined = diagnostics["combined"]["parameters"]
    shards = [s for s in diagnostics.get("shards", []) if "parameters" in s]
    y = np.arange(len(names))[::-1]
    fig, (ax_r, ax_e) = plt.subplots(
        1, 2, figsize=(11, 0.45 * len(names) + 2.4), sharey=True, layout="constrained"
    )
    for s in shards:
        excluded = s.get("excluded", False)
        pars = s["parameters"]
        kw = dict(marker="x" if excluded else "o", ms=4, ls="none", color="0.6")
        ax_r.plot([pars[n]["r_hat"] for n in names], y, **kw)
        ax_e.plot([pars[n]["ess_bulk"] for n in names], y, **kw)
    ax_r.plot([combined[n]["r_hat"] for n in names], y, "D", color="k", label="combined")
    ax_e.plot([combined[n]["ess_bulk"] for n in names], y, "D", color="k", label="combined")
    if shards:
        ax_r.plot([], [], "o", color="0.6", ms=4, label="shards (x: excluded)")
    ax_r.axvline(RHAT_LIMIT, color="tab:red", ls="--", lw=1, label=f"R-hat = {RHAT_LIMIT}")
    ax_e.axvline(MIN_ESS, color="tab:red", ls="--", lw=1, label=f"ESS = {MIN_ESS}")
    ax_r.set_yticks(y, list(names))
    ax_r.set_xlabel("rank-normalised split R-hat")
    ax_e.set_xlabel("bulk ESS")
    ax_e.set_xscale("log")
    ax_r.legend(loc="best", fontsize=8)
    ax_e.legend(loc="best", fontsize=8)
    fig.suptitle(title or "CMC convergence: combined chains and shards")
    return save(fig, path)


def plot_cmc_all(
    folder: Path,
    tree: Any,
    diagnostics: Mapping[str, Any],
    names: Sequence[str],
) -> list[Path]:
    """Every posterior figure of a CMC run into ``folder``; returns the paths written.

    ``names`` are the physical parameters; ``sigma`` (the noise level) is added to the trace,
    rank and posterior figures when it was sampled (then the tree holds it).
    """
    folder = Path(folder)
    names = list(names)
    with_sigma = names + (["sigma"] if "sigma" in tree["posterior"] else [])
    post = _posterior_only(tree, with_sigma)
    n = len(names)
    n_models = 1 + len(diagnostics.get("shards", []))
    paths = [
        _arviz("plot_trace_dist", folder / "trace.png", post, title="CMC combined chains"),
        _arviz("plot_rank", folder / "rank.png", post, title="CMC rank plots (uniform = mixed)"),
        _arviz("plot_dist", folder / "posterior.png", post, title="CMC posterior"),
        _arviz(
            "plot_pair",
            folder / "pair.png",
            _posterior_only(tree, names),
            title="CMC posterior: pairs",
            marginal=True,
            figure_kwargs={"figsize": (2.0 * n + 1, 2.0 * n + 1)},
        ),
        _arviz(
            "plot_forest",
            folder / "forest.png",
            _standardised_models(tree, names),
            title="combined and per-shard posteriors: (value - combined mean) / combined sd",
            legend="model",
            combined=True,
            figure_kwargs={"figsize": (9, 0.5 * n * (1 + 0.3 * n_models) + 1.5)},
        ),
        plot_convergence(folder / "convergence.png", diagnostics, names),
    ]
    return paths
