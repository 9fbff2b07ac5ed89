"""D(t) and gamma_dot(t) on log-log axes with their bands, NLSQ and CMC overlaid."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._common import figure, grid_margins, log_scale, save

__all__ = ["plot_transport"]

_STYLE = {"NLSQ": ("C0", "-"), "CMC": ("C3", "--")}
_LABELS = {
    "D": ("D(t) = D0 t^alpha + D_offset", "D (A^2/s)"),
    "gamma_dot": ("gamma_dot(t) = gamma_dot_t0 t^beta + gamma_dot_t_offset", "gamma_dot (1/s)"),
}


def _panel(ax, key: str, curves: Mapping[str, Any], age_range) -> None:
    positive = True
    for k, (method, tc) in enumerate(curves.items()):
        if key not in tc.curves:
            continue
        color, ls = _STYLE.get(method, (f"C{k}", "-"))
        t = tc.times
        lo95, hi95 = tc.lo95[key], tc.hi95[key]
        lo68, hi68 = tc.lo68[key], tc.hi68[key]
        ax.fill_between(t, lo95, hi95, color=color, alpha=0.12, lw=0, label=f"{method} 95 %")
        ax.fill_between(t, lo68, hi68, color=color, alpha=0.28, lw=0, label=f"{method} 68 %")
        centre = "best fit" if tc.method == "delta" else "posterior median"
        ax.plot(t, tc.curves[key], ls, color=color, lw=1.6, label=f"{method} {centre}")
        positive &= bool(np.all(tc.curves[key] > 0))
    log_scale(ax)
    if positive:
        log_scale(ax, "y")
    if age_range is not None:
        ax.axvline(age_range[0], color="0.4", lw=0.8, ls=":")
        ax.axvline(age_range[1], color="0.4", lw=0.8, ls=":", label="data age range")
    title, ylabel = _LABELS[key]
    ax.set_title(title + ("" if positive else " (linear axis: the curve crosses 0)"), fontsize=9)
    ax.set_xlabel("age t (s)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    ax.legend(fontsize=7, loc="best")


def plot_transport(
    path: str | Path, curves: Mapping[str, Any], *, q: float | None = None, label: str = ""
) -> Path:
    """Write ``transport.png``: D(t) (and gamma_dot(t) in laminar flow) with 68 % / 95 % bands.

    Parameters
    ----------
    curves
        Method name (``'NLSQ'``, ``'CMC'``) -> :class:`homodyne_physics.TransportCurves`.
    """
    first = next(iter(curves.values()))
    keys = [k for k in ("D", "gamma_dot") if any(k in tc.curves for tc in curves.values())]
    size = (5.2 * len(keys) + 0.4, 4.4)
    place = grid_margins(
        size, 1, len(keys), left=0.85, right=0.15, top=0.6, bottom=0.5, wspace=0.9, hspace=0.0
    )
    fig = figure(figsize=size)
    axes = np.atleast_1d(fig.subplots(1, len(keys), squeeze=False, gridspec_kw=place)).ravel()
    for ax, key in zip(axes, keys, strict=True):
        _panel(ax, key, curves, first.age_range)
    qtxt = f"q = {q:.4g} 1/A; " if q else ""
    fig.suptitle(
        f"{label + ': ' if label else ''}{qtxt}transport coefficients with 68 % and 95 % bands",
        fontsize=10,
        y=1 - 0.08 / size[1],
        va="top",
    )
    return save(fig, path)
