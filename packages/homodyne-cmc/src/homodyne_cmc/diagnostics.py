"""Sampling diagnostics with ArviZ 1.x (arviz-stats on arrays; arviz-base for the DataTree).

* per parameter: mean, sd, highest-density interval, rank-normalised split R-hat, bulk and
  tail ESS (ArviZ), MCSE of the mean;
* per sampler run: divergences, mean acceptance, leapfrog steps and tree depth, step size,
  E-BFMI per chain (ArviZ);
* per shard: the posterior-to-prior sd ratio of every parameter against the tempered prior
  the shard carried (prior^(1/S)): near 1 means the shard's data hardly inform it;
* for all data: the full-data Laplace sd against the prior sd, with the ridge (strongly
  correlated partners, the transport law) of each entry, so that a parameter prior-dominated
  in every shard is blamed on the shard size only when all the data do determine it.

The combined chains come from the consensus average of real chains, so R-hat and ESS on them
are meaningful (unlike i.i.d. draws from a fitted Gaussian).
"""

from collections.abc import Mapping, Sequence
from typing import Any

import arviz_base as azb
import arviz_stats as azs
import numpy as np
from arviz_stats.base import array_stats

from .combination_space import LAWS, RIDGE_CORRELATION

__all__ = [
    "parameter_summary",
    "posterior_datatree",
    "full_data_identification",
    "prior_dominated",
    "prior_dominated_message",
    "sampler_summary",
    "sd_ratios",
]


def parameter_summary(draws: np.ndarray, names: Sequence[str], hdi_prob: float) -> dict:
    """Per-parameter statistics of ``draws`` ``(n_chains, n_samples, d)``.

    Returns name -> {mean, sd, hdi_low, hdi_high, r_hat, ess_bulk, ess_tail, mcse_mean}.
    R-hat needs >= 2 chains (NaN otherwise).
    """
    draws = np.asarray(draws, np.float64)
    c = draws.shape[0]
    rhat = np.asarray(azs.rhat(draws)) if c >= 2 else np.full(draws.shape[-1], np.nan)
    ess_b = np.asarray(azs.ess(draws, method="bulk"))
    ess_t = np.asarray(azs.ess(draws, method="tail", prob=0.1))
    mcse = np.asarray(azs.mcse(draws, method="mean"))
    hdi = np.asarray(array_stats.hdi(np.moveaxis(draws, -1, 0), hdi_prob, axis=(1, 2)))
    flat = draws.reshape(-1, draws.shape[-1])
    out = {}
    for k, n in enumerate(names):
        out[n] = {
            "mean": float(flat[:, k].mean()),
            "sd": float(flat[:, k].std(ddof=1)),
            "hdi_low": float(hdi[k, 0]),
            "hdi_high": float(hdi[k, 1]),
            "r_hat": float(rhat[k]),
            "ess_bulk": float(ess_b[k]),
            "ess_tail": float(ess_t[k]),
            "mcse_mean": float(mcse[k]),
        }
    return out


def sampler_summary(stats: dict[str, np.ndarray], max_tree_depth: int) -> dict:
    """Sampler statistics (arrays ``(n_chains, n_samples)``) summarised for a report."""
    steps = np.asarray(stats["num_steps"], np.float64)
    depth = np.ceil(np.log2(steps + 1.0))
    energy = np.asarray(stats["energy"], np.float64)
    bfmi = np.asarray(azs.bfmi(energy)) if energy.shape[1] > 2 else np.full(energy.shape[0], np.nan)
    div = np.asarray(stats["diverging"], bool)
    return {
        "divergences": int(div.sum()),
        "divergence_rate": float(div.mean()),
        "acceptance_mean": float(np.mean(stats["accept_prob"])),
        "leapfrog_steps_mean": float(steps.mean()),
        "leapfrog_steps_max": int(steps.max()),
        "tree_depth_mean": float(depth.mean()),
        "tree_depth_max": int(depth.max()),
        "max_tree_depth_hits": int(np.sum(depth >= max_tree_depth)),
        "step_size": [float(v) for v in np.asarray(stats["step_size"])[:, -1]],
        "bfmi": [float(v) for v in np.atleast_1d(bfmi)],
    }


def sd_ratios(draws: np.ndarray, prior_sd: np.ndarray) -> np.ndarray:
    """Posterior sd / prior sd per parameter (NaN where the prior sd is not finite)."""
    sd = np.asarray(draws).reshape(-1, draws.shape[-1]).std(axis=0, ddof=1)
    prior_sd = np.asarray(prior_sd, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(prior_sd) & (prior_sd > 0), sd / prior_sd, np.nan)


def prior_dominated(shards: Sequence[Mapping[str, Any]], threshold: float) -> dict[str, list[int]]:
    """Parameters whose posterior sd exceeds ``threshold`` x their (tempered) prior sd, with
    the indices of the shards where it does; for any number of shards, one included.

    ``shards`` are the per-shard reports of a :class:`~homodyne_cmc.CMCResult`
    (``posterior_prior_sd_ratio`` per parameter; NaN for parameters without a finite prior).
    """
    out: dict[str, list[int]] = {}
    for rep in shards:
        for name, ratio in rep["posterior_prior_sd_ratio"].items():
            if ratio is not None and np.isfinite(ratio) and ratio > threshold:
                out.setdefault(name, []).append(int(rep["index"]))
    return out


def full_data_identification(
    names: Sequence[str],
    cov: np.ndarray,
    prior_sd: np.ndarray,
    age_range: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """How well ALL the data determine each entry: the full-data Laplace sd over the
    (untempered) prior sd, and the entries it forms a ridge with (|correlation| > 0.9).

    ``names`` are the entries of the Laplace covariance ``cov`` (free physical, then scaling);
    ``prior_sd`` their prior sds (NaN: no finite prior). Returns ``{"age_range_s": [lo, hi] or
    None, "parameters": {name: {"laplace_prior_sd_ratio": r, "ridge": {partner: corr}}}}``.
    """
    cov = np.asarray(cov, np.float64)
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-300))
    corr = cov / np.outer(sd, sd)
    prior_sd = np.asarray(prior_sd, np.float64)
    out: dict[str, Any] = {}
    for k, name in enumerate(names):
        ps = prior_sd[k]
        ratio = float(sd[k] / ps) if np.isfinite(ps) and ps > 0 else float("nan")
        order = np.argsort(-np.abs(corr[k]))
        strong = [m for m in order if m != k and abs(corr[k, m]) > RIDGE_CORRELATION]
        ridge = {names[m]: float(corr[k, m]) for m in strong}
        out[name] = {"laplace_prior_sd_ratio": ratio, "ridge": ridge}
    rng = None if age_range is None else [float(age_range[0]), float(age_range[1])]
    return {"age_range_s": rng, "parameters": out}


def _ridge_text(name: str, full: Mapping[str, Any]) -> str:
    """What the data determine instead of ``name``: its transport law over the measured
    ages and its ridge partners (empty when nothing is known)."""
    info = full["parameters"][name]
    parts = []
    for a, b, c, sym in LAWS:
        if name in (a, b, c):
            rng = full.get("age_range_s")
            ages = f" over the measured ages {rng[0]:.3g}-{rng[1]:.3g} s" if rng else ""
            parts.append(f"only the combination {sym}(t) = {a} t^{b} + {c}{ages} is determined")
    ridge = ", ".join(f"{p} (correlation {c:+.3f})" for p, c in info["ridge"].items())
    if ridge:
        parts.append(f"ridge of {name} with {ridge}")
    return "; ".join(parts)


def prior_dominated_message(
    name: str,
    shard_ids: Sequence[int],
    shards: Sequence[Mapping[str, Any]],
    threshold: float,
    full: Mapping[str, Any] | None = None,
) -> str:
    """The warning for one prior-dominated parameter.

    One shard: the data do not identify it. Several shards: when the full-data Laplace sd
    (``full``, from :func:`full_data_identification`) is also above ``threshold`` x the prior
    sd, the data do not determine it whatever the shard size (the message names its ridge);
    otherwise the shards are too small. Without ``full`` the shard size is blamed."""
    ratios = [float(r["posterior_prior_sd_ratio"][name]) for r in shards if r["index"] in shard_ids]
    worst = max(ratios)
    info = (full or {}).get("parameters", {}).get(name)
    ratio_full = info["laplace_prior_sd_ratio"] if info else float("nan")
    ridge = _ridge_text(name, full) if info else ""
    ridge = f"; {ridge}" if ridge else ""
    if len(shards) == 1:
        return (
            f"{name} is prior-dominated (posterior sd = {worst:.2f} x prior sd > {threshold:g}): "
            "the data do not identify it and its posterior is essentially the prior; fix it, "
            f"give it an informative prior, or use data that constrain it{ridge}"
        )
    head = (
        f"{name} is prior-dominated in {len(shard_ids)} of {len(shards)} shard(s) (posterior "
        f"sd up to {worst:.2f} x tempered prior sd > {threshold:g})"
    )
    if np.isfinite(ratio_full) and ratio_full > threshold:
        return (
            f"{head}, and so it is for the full data (Laplace sd = {ratio_full:.2f} x prior "
            f"sd): the data do not determine it, whatever the shard size{ridge}; fewer shards "
            "will not help: fix it or give it an informative prior"
        )
    full_note = (
        f" (the full data determine it: Laplace sd = {ratio_full:.2f} x prior sd)"
        if np.isfinite(ratio_full)
        else ""
    )
    return (
        f"{head}: the shards are too small to identify it{full_note} and its combined "
        "posterior is unreliable; use fewer, larger shards"
    )


def _split(names, draws, n_theta, n_scaling):
    post = {n: draws[..., k] for k, n in enumerate(names[:n_theta])}
    if n_scaling:
        post["scaling"] = draws[..., n_theta : n_theta + n_scaling]
    if len(names) > n_theta + n_scaling:
        post["sigma"] = draws[..., -1]
    return post


def posterior_datatree(
    names: Sequence[str],
    n_theta: int,
    n_scaling: int,
    combined: np.ndarray,
    shard_draws: np.ndarray,
    shard_stats: dict[str, np.ndarray],
    shard_ids: Sequence[int],
    contrast: np.ndarray,
    offset: np.ndarray,
    phi: np.ndarray,
    attrs: dict,
    fixed: dict[str, float] | None = None,
):
    """ArviZ DataTree of the result (no observed data: millions of points).

    Groups: ``posterior`` (combined chains; physical parameters, ``scaling`` over
    ``scaling_term``, ``sigma``, and derived per-angle ``contrast``/``offset`` over ``phi``),
    ``shard_posterior`` and ``sample_stats`` (per shard, extra leading ``shard`` dim).
    ``fixed`` parameters (not sampled) appear in ``posterior`` as constant draws.
    """
    names = list(names)
    post = _split(names, combined, n_theta, n_scaling)
    for n, v in (fixed or {}).items():
        post[n] = np.full(combined.shape[:2], float(v))
    post["contrast"] = contrast
    post["offset"] = offset
    shard_post = _split(names, shard_draws, n_theta, n_scaling)
    coords = {
        "scaling_term": names[n_theta : n_theta + n_scaling],
        "phi": np.asarray(phi),
        "shard": np.asarray(shard_ids),
    }
    dims = {"scaling": ["scaling_term"], "contrast": ["phi"], "offset": ["phi"]}
    shard_dims = {k: ["shard", "chain", "draw"] + dims.get(k, []) for k in shard_post}
    stats = {
        "diverging": shard_stats["diverging"],
        "acceptance_rate": shard_stats["accept_prob"],
        "n_steps": shard_stats["num_steps"],
        "tree_depth": np.ceil(np.log2(np.asarray(shard_stats["num_steps"], float) + 1)),
        "step_size": shard_stats["step_size"],
        "energy": shard_stats["energy"],
        "lp": -np.asarray(shard_stats["potential_energy"]),
    }
    stat_dims = {k: ["shard", "chain", "draw"] for k in stats}
    dt = azb.from_dict({"posterior": post}, coords=coords, dims=dims, attrs={"posterior": attrs})
    extra = azb.from_dict(
        {"shard_posterior": shard_post, "sample_stats": stats},
        coords=coords,
        dims={**shard_dims, **stat_dims},
        sample_dims=["shard", "chain", "draw"],
        attrs={"shard_posterior": attrs, "sample_stats": attrs},
    )
    for group in ("shard_posterior", "sample_stats"):
        dt[group] = extra[group]
    return dt
