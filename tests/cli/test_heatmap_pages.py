"""Heatmap pages redrawn in part on a shared background are pixel for pixel what a full draw
of the same figure gives, and a page does not depend on the pages drawn before it."""

import numpy as np
from matplotlib.image import imread

from homodyne_cli.plots import heatmaps
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


def test_a_prepared_background_gives_the_same_pages(tmp_path):
    """The plot worker renders the pages' background while the fit runs: the pages drawn from
    it are those drawn without it; it is used once, and only for the same display times."""
    (td, data, fit, note), phi = _matrices()
    kw = dict(td=td, data=data, fit=fit, phi=phi, q=0.0054, note=note, label="NLSQ")
    plain = draw_heatmap_pages([tmp_path / f"a{k}.png" for k in range(3)], **kw)
    heatmaps.prepare_heatmap_pages(td)
    assert len(heatmaps._PREPARED) == 1
    ready = draw_heatmap_pages([tmp_path / f"b{k}.png" for k in range(3)], **kw)
    assert not heatmaps._PREPARED  # taken by the draw
    for a, b in zip(plain, ready, strict=True):
        assert np.array_equal(imread(a), imread(b))
    heatmaps.prepare_heatmap_pages(td[:-1])  # other display times: not used for these pages
    other = draw_heatmap_pages([tmp_path / "c0.png"], **kw)[0]
    assert np.array_equal(imread(other), imread(plain[0]))
    assert len(heatmaps._PREPARED) == 1
    heatmaps._PREPARED.clear()


def test_matrix_panels_resampled_as_data_are_those_colour_mapped_first(tmp_path):
    """The panels are resampled as data (``NEAREST``), three times cheaper than colour-mapping
    first, which matplotlib chooses itself below a 3x upsampling (150 display frames on a
    ~390-pixel panel here): with nearest pixels both give the same page."""
    t = np.arange(1, 301) * 0.1
    lag = np.abs(np.subtract.outer(t, t))
    fit = 1.0 + 0.25 * np.exp(-np.array([0.3, 1.0])[:, None, None] * lag[None])
    data = fit + np.random.default_rng(3).normal(0, 0.01, fit.shape)
    td, shown, shown_fit, note = heatmap_display(t, data, fit, 150)
    assert len(td) == 150
    kw = dict(td=td, data=shown, fit=shown_fit, phi=np.array([0.0, 90.0]), note=note)
    ours = draw_heatmap_pages([tmp_path / f"d{k}.png" for k in range(2)], **kw)
    page = heatmaps._page_background(td, 110)
    images = page[3]
    assert all(im.get_interpolation_stage() == "data" for im in images)
    for im in images:
        im.set_interpolation_stage("rgba")
    heatmaps._PREPARED[heatmaps._page_key(td, 110)] = page
    theirs = draw_heatmap_pages([tmp_path / f"r{k}.png" for k in range(2)], **kw)
    for a, b in zip(ours, theirs, strict=True):
        assert np.array_equal(imread(a), imread(b))


def test_png_is_rgb_when_opaque_and_keeps_transparency(tmp_path):
    """Figures are written as RGB (the canvas is opaque: alpha carries nothing) with the same
    colours as the canvas; a transparent figure keeps its alpha channel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    from homodyne_cli.plots._common import figure

    for face, mode in (("white", "RGB"), ("none", "RGBA")):
        fig = figure(figsize=(2.0, 1.5), facecolor=face)
        fig.add_subplot().plot([0, 1], [1, 0], "C1")
        path = save(fig, tmp_path / f"{mode}.png", dpi=80)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        with Image.open(path) as im:
            assert im.mode == mode and im.size == (160, 120)
            assert round(im.info["dpi"][0]) == 80
            pixels = np.asarray(im)
        assert np.array_equal(pixels, rgba[..., : pixels.shape[-1]])
