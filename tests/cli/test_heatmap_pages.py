"""Heatmap pages redrawn in part on a shared background are pixel for pixel what a full draw
of the same figure gives, and a page does not depend on the pages drawn before it."""

import numpy as np
from matplotlib.image import imread

from homodyne_cli.plots._common import c2_limits, robust_limits, save
from homodyne_cli.plots.heatmaps import _page_figure, draw_heatmap_pages, heatmap_display


def _matrices(n_phi=3, n_t=60):
    t = np.arange(1, n_t + 1) * 0.1
    lag = np.abs(np.subtract.outer(t, t))
    rate = np.linspace(0.5, 2.0, n_phi)[:, None, None]
    fit = 1.0 + 0.25 * np.exp(-rate * lag[None])
    data = fit + np.random.default_rng(7).normal(0, 0.01, fit.shape)
    return heatmap_display(t, data, fit, 30), np.linspace(-60, 60, n_phi)


def test_partial_redraw_equals_a_full_draw(tmp_path):
    (td, data, fit, note), phi = _matrices()
    pages = draw_heatmap_pages(
        [tmp_path / f"p{k}.png" for k in range(3)],
        td=td, data=data, fit=fit, phi=phi, q=0.0054, note=note, label="NLSQ",
    )  # fmt: skip
    alone = draw_heatmap_pages(
        [tmp_path / "last.png"],
        td=td, data=data[2:], fit=fit[2:], phi=phi[2:], q=0.0054, note=note, label="NLSQ",
    )[0]  # fmt: skip
    assert np.array_equal(imread(pages[2]), imread(alone))
    # the same page drawn the plain way: every artist, one savefig
    fig, _, images, _, suptitle = _page_figure(td, 110)
    resid = data[2] - fit[2]
    lo, hi = c2_limits(data[2], fit[2])
    rlim = max(abs(x) for x in robust_limits(resid, lo=1, hi=99))
    for im, values, lim in zip(
        images, (data[2], fit[2], resid), ((lo, hi), (lo, hi), (-rlim, rlim)), strict=True
    ):
        im.set_data(values)
        im.set_clim(*lim)
    suptitle.set_text(
        f"NLSQ: phi = {phi[2]:.1f} deg, q = 0.0054 1/A\ndiagonal (not fitted) in grey; {note}"
    )
    full = save(fig, tmp_path / "full.png", dpi=110)
    assert np.array_equal(imread(pages[2]), imread(full))
    assert "display only" in note
