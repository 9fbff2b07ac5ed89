"""Per-ring D(t) and gamma_dot(t) against q: the q-consistency check of a joint fit.

D(t) and gamma_dot(t) are properties of the sample: every ring fitted alone should give the
joint curves' values at the reference ages (the diffusion decay already carries q^2 and the
shear phase q). One panel per curve; one colour per reference age: the ring values with their
1-sigma bars against q, the joint prediction as a horizontal line with its 1-sigma band.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._common import figure, save

__all__ = ["plot_q_consistency"]

_YLABEL = {"D": "D(t) (A^2/s)", "gamma_dot": "gamma_dot(t) (1/s)"}


def _panel(ax, key: str, rec: Mapping[str, Any], outliers: set[int]) -> None:
    q = np.asarray(rec["q"], np.float64)
    span = q.max() - q.min() if len(q) > 1 else q.max()
    xlim = (q.min() - 0.12 * span, q.max() + 0.12 * span)
    vals, errs = np.asarray(rec["rings"][key]), np.asarray(rec["rings_se"][key])
    joint, joint_se = np.asarray(rec["joint"][key]), np.asarray(rec["joint_se"][key])
    for a, age in enumerate(rec["ages"]):
        color = f"C{a}"
        ax.axhline(joint[a], color=color, lw=1.2, label=f"joint, t = {age:.3g} s")
        lo, hi = joint[a] - joint_se[a], joint[a] + joint_se[a]
        ax.fill_between(xlim, lo, hi, color=color, alpha=0.15, lw=0)
        shift = (a - (len(rec["ages"]) - 1) / 2) * 0.015 * span  # keep bars apart
        ax.errorbar(q + shift, vals[:, a], yerr=errs[:, a], fmt="o", color=color, ms=4, capsize=3)
    for k in sorted(outliers):
        ax.annotate(
            "outlier",
            (q[k], float(np.nanmax(vals[k]))),
            color="C3",
            fontsize=8,
            xytext=(0, 8),
            textcoords="offset points",
            ha="center",
        )
    ax.set_xlim(*xlim)
    ax.set_xlabel("q (1/A)")
    ax.set_ylabel(_YLABEL.get(key, key))
    ax.grid(alpha=0.3)


def plot_q_consistency(path: str | Path, record: Mapping[str, Any]) -> Path:
    """Draw ``record`` (``QConsistency.to_dict()``) into ``path``; returns the path."""
    keys = [k for k in ("D", "gamma_dot") if k in record["rings"]]
    fig = figure(figsize=(5.2 * len(keys), 4.4), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)
    outliers = {int(k) for k in record.get("outliers", ())}
    for ax, key in zip(axes[0], keys, strict=True):
        _panel(ax, key, record, outliers)
    axes[0][0].legend(fontsize=7, loc="best")
    chi2 = ", ".join(
        f"q={q:.4g}: {c:.3g}/{d}"
        for q, c, d in zip(record["q"], record["chi2"], record["dof"], strict=True)
    )
    verdict = "rings disagree" if outliers else "rings agree"
    fig.suptitle(
        f"q-consistency ({verdict}): per-ring fits (points, 1 sd) vs joint fit (lines, 1 sd)\n"
        f"chi2/dof {chi2}",
        fontsize=9,
    )
    return save(fig, path)
