"""Every fit figure keeps its text on the canvas: the tight bounding box of each saved figure
(titles, legends, labels) lies inside the figure (to 0.02 in, 2 pixels: constrained layout
may let a descender touch the edge), for 1 and 7 angles."""

import numpy as np
import pytest

from homodyne_physics import C2Model, transport_from_covariance, transport_grid


@pytest.fixture
def bounds_checked(monkeypatch):
    """Patch the PNG writer to record, for every saved figure, how far text sticks out."""
    from homodyne_cli.plots import _common

    seen: list[tuple[str, float]] = []
    original = _common.save_canvas

    def checking(canvas, path, dpi):
        fig = canvas.figure  # drawn (its layout done) at the dpi it is written with
        bb = fig.get_tightbbox(canvas.get_renderer())
        w, h = fig.get_size_inches()
        outside = max(-bb.x0, -bb.y0, bb.x1 - w, bb.y1 - h, 0.0)
        title = fig._suptitle.get_text() if fig._suptitle else "?"
        seen.append((title, float(outside)))
        return original(canvas, path, dpi)

    monkeypatch.setattr(_common, "save_canvas", checking)
    return seen


def _fake_fit(n_phi, n_t=30):
    t = np.arange(1, n_t + 1) * 0.1
    lag = np.abs(np.subtract.outer(t, t))
    fit = 1.0 + 0.3 * np.exp(-lag)[None] * np.ones((n_phi, 1, 1))
    data = fit + np.random.default_rng(0).normal(0, 0.01, fit.shape)
    return t, np.linspace(-90, 90, n_phi, endpoint=False), data, fit


@pytest.mark.parametrize("n_phi", [1, 7])
def test_fit_figures_keep_text_on_the_canvas(tmp_path, bounds_checked, n_phi):
    from homodyne_cli.plots import plot_lag_cuts, plot_overview, plot_residual_histogram

    t, phi, data, fit = _fake_fit(n_phi)
    plot_lag_cuts(tmp_path / "cuts.png", t=t, phi=phi, c2_data=data, c2_fit=fit, q=0.0054)
    plot_overview(tmp_path / "o.png", t=t, phi=phi, c2_data=data, c2_fit=fit, q=0.0054)
    i, j = np.triu_indices(len(t), 1)
    plot_residual_histogram(
        tmp_path / "r.png", residuals=(data - fit)[:, i, j], sigma=0.01, phi=phi, label="NLSQ"
    )
    assert len(bounds_checked) == 3
    bad = [(title, out) for title, out in bounds_checked if out > 0.02]
    assert not bad, f"text outside the canvas by (inches): {bad}"


def test_transport_and_structure_figures_keep_text_on_the_canvas(tmp_path, bounds_checked):
    from homodyne_cli.plots import plot_residual_structure, plot_transport
    from homodyne_nlsq.goodness import residual_structure

    model = C2Model("laminar_flow", q=0.0054, dt=0.1)
    theta = np.array([8000.0, -0.6, 400.0, 2e-3, -0.5, 2e-4, 3.0])
    cov = np.diag([300.0, 0.03, 100.0, 5e-5, 0.02, 4e-5, 0.03]) ** 2
    times = transport_grid(np.arange(1, 61) * 0.1)
    tc = transport_from_covariance(model, theta, cov, times, age_range=(0.1, 6.0))
    plot_transport(tmp_path / "transport.png", {"NLSQ": tc, "CMC": tc}, q=0.0054)
    t, _, data, fit = _fake_fit(3)
    plot_residual_structure(tmp_path / "rs.png", residual_structure(t, data, fit), label="NLSQ")
    assert len(bounds_checked) == 2
    bad = [(title, out) for title, out in bounds_checked if out > 0.02]
    assert not bad, f"text outside the canvas by (inches): {bad}"
