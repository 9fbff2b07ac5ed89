"""c2 against lag at a few ages, data against fit, one panel per angle."""

from pathlib import Path

import numpy as np

from ._common import figure, grid_margins, log_scale, save

__all__ = ["age_indices", "draw_cut_panels", "plot_lag_cut_rows", "plot_lag_cuts"]


def age_indices(n_t: int, n_ages: int = 3) -> np.ndarray:
    """Row indices of the ages shown (early, middle, late; leaving room for long lags)."""
    fractions = np.linspace(0.05, 0.6, n_ages)
    return np.unique(np.clip((fractions * (n_t - 1)).astype(int), 0, max(n_t - 2, 0)))


def plot_lag_cuts(
    path: str | Path,
    *,
    t: np.ndarray,
    phi: np.ndarray,
    c2_data: np.ndarray,
    c2_fit: np.ndarray,
    q: float | None = None,
    n_ages: int = 3,
    max_angles: int = 24,
) -> Path:
    """Write c2(t1, t1 + tau) against the lag tau for a few ages t1: data points, fit lines.

    Parameters
    ----------
    t
        Frame times, s, ``(n_t,)``.
    phi
        Angles, degrees, ``(n_phi,)``.
    c2_data, c2_fit
        ``(n_phi, n_t, n_t)``.
    n_ages
        Number of ages t1 (rows of the matrix) per panel.
    max_angles
        Panels shown at most (evenly spaced angles beyond that; the title says so).
    """
    rows = age_indices(c2_data.shape[1], n_ages)
    return plot_lag_cut_rows(
        path,
        t=t,
        phi=phi,
        rows=rows,
        data_rows=np.asarray(c2_data[:, rows, :]),
        fit_rows=np.asarray(c2_fit[:, rows, :]),
        q=q,
        max_angles=max_angles,
    )


def plot_lag_cut_rows(
    path: str | Path,
    *,
    t: np.ndarray,
    phi: np.ndarray,
    rows: np.ndarray,
    data_rows: np.ndarray,
    fit_rows: np.ndarray,
    q: float | None = None,
    max_angles: int = 24,
) -> Path:
    """:func:`plot_lag_cuts` from the matrix rows it shows: ``data_rows``, ``fit_rows`` are
    ``c2[:, rows, :]`` ``(n_phi, len(rows), n_t)`` (small enough to hand to another process)."""

    def curves(k):
        for a, r in enumerate(rows):
            lag = t[r + 1 :] - t[r]
            yield lag, data_rows[k, a, r + 1 :], fit_rows[k, a, r + 1 :], f"t1 = {t[r]:.3g} s"

    qtxt = f"q = {q:.4g} 1/A; " if q else ""
    return draw_cut_panels(
        path,
        phi=phi,
        curves=curves,
        ylabel="c2(t1, t1 + tau)",
        xlabel="lag tau (s)",
        title=f"{qtxt}c2 against lag at {len(rows)} ages: points = data, lines = fit",
        max_angles=max_angles,
    )


def draw_cut_panels(path, *, phi, curves, ylabel, xlabel, title, max_angles=24, ms=2.5):
    """One panel per angle (evenly spaced angles beyond ``max_angles``; the title says so) on a
    shared log lag axis, the legend below the panels.

    ``curves(k)`` yields ``(lag, data, fit, text)`` per cut of angle ``k``: data as points,
    fit as a line of the same colour, labelled with ``text``.
    """
    n_phi = len(phi)
    chosen = np.arange(n_phi)
    if n_phi > max_angles:
        chosen = np.unique(np.linspace(0, n_phi - 1, max_angles).round().astype(int))
        title += f" ({len(chosen)} of {n_phi} angles shown)"
    ncol = min(4, len(chosen))
    nrow = int(np.ceil(len(chosen) / ncol))
    n_cuts = sum(1 for _ in curves(chosen[0]))
    # at least 6.4 in wide so that the title and a two-column legend fit one panel; about
    # 2 in per legend entry at fontsize 8: never wider than the figure
    width = max(3.6 * ncol + 0.6, 6.4)
    per_row = max(1, min(2 * n_cuts, int(width // 2.1)))
    legend_h = 0.22 * int(np.ceil(2 * n_cuts / per_row)) + 0.12
    size = (width, 2.9 * nrow + 0.9 + legend_h)
    fig = figure(figsize=size)
    place = grid_margins(
        size, nrow, ncol, left=0.75, right=0.15, top=0.5, bottom=0.5 + legend_h,
        wspace=0.55, hspace=0.4,
    )  # fmt: skip
    axes = np.atleast_1d(
        fig.subplots(nrow, ncol, sharex=True, squeeze=False, gridspec_kw=place)
    ).ravel()
    for a, ax in enumerate(axes):
        if a >= len(chosen):
            ax.set_visible(False)
            continue
        k = chosen[a]
        for c, (lag, data, fit, text) in enumerate(curves(k)):
            col = f"C{c % 6}"
            ax.plot(lag, data, ".", ms=ms, color=col, alpha=0.6, label=f"data, {text}")
            ax.plot(lag, fit, "-", lw=1.4, color=col, label=f"fit, {text}")
        log_scale(ax)
        ax.set_title(f"phi = {phi[k]:.1f} deg", fontsize=9)
        if a % ncol == 0:
            ax.set_ylabel(ylabel)
        if a >= len(chosen) - ncol:  # last panel of its column: label it (sharex hides labels)
            ax.set_xlabel(xlabel)
            ax.tick_params(labelbottom=True)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=per_row, fontsize=8, borderaxespad=0.2)
    fig.suptitle(title, fontsize=10, y=1 - 0.08 / size[1], va="top")
    return save(fig, path)
