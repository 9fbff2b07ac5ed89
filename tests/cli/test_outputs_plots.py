"""Result writers and plots, in-process: NaN-safe JSON, atomic writes, run folders, PNGs."""

import json
import warnings

import numpy as np
import pytest

from homodyne_cli.errors import OutputError
from homodyne_cli.outputs import atomic_write_json, json_safe, plan_output_dir
from homodyne_physics import ModelSpec


def test_json_is_strict_and_nan_safe(tmp_path):
    obj = {"a": float("nan"), "b": np.array([1.0, np.inf]), "c": np.int64(3), "d": (1, 2)}
    path = atomic_write_json(tmp_path / "x.json", obj)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": 3, "d": [1, 2]}
    assert json_safe(np.float32(0.5)) == 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left behind


def test_previous_results_are_never_overwritten_silently(tmp_path):
    out = tmp_path / "res"
    (out / "nlsq").mkdir(parents=True)
    (out / "summary.json").write_text("{}")
    plan = plan_output_dir(out)
    assert plan.folder == tmp_path / "res-run2" and "already holds results" in plan.note
    assert not plan.folder.exists()  # nothing is created before the run starts writing
    plan.create()
    assert plan.folder.is_dir() and (out / "summary.json").read_text() == "{}"
    plan = plan_output_dir(out, overwrite=True)
    assert plan.folder == out and (out / "nlsq").exists()  # removed only when writing starts
    plan.create()
    assert not (out / "nlsq").exists() and not (out / "summary.json").exists()


def test_unwritable_output_is_refused_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        plan_output_dir(tmp_path / "file" / "res")


def test_fit_plots_for_many_angles(tmp_path):
    """23 angles: one PNG per angle + overview, cuts and residuals; downsampling is stated."""
    from homodyne_cli.plots import plot_fit_heatmaps_all, plot_overview
    from homodyne_cli.plots._common import block_mean, display_grid

    n_phi, n_t = 23, 90
    t = np.arange(1, n_t + 1) * 0.1
    lag = np.abs(np.subtract.outer(t, t))
    fit = 1.0 + 0.3 * np.exp(-lag)[None] * np.ones((n_phi, 1, 1))
    data = fit + np.random.default_rng(0).normal(0, 0.01, fit.shape)
    phi = np.linspace(-180, 180, n_phi, endpoint=False)
    paths = plot_fit_heatmaps_all(
        [tmp_path / f"h{k}.png" for k in range(n_phi)],
        t=t,
        c2_data=data,
        c2_fit=fit,
        phi=phi,
        max_display=45,
    )
    over = plot_overview(tmp_path / "o.png", t=t, phi=phi, c2_data=data, c2_fit=fit)
    for p in [*paths, over]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    step, td, note = display_grid(t, 45)
    assert step == 2 and len(td) == 45 and "display only" in note
    # block means keep the values: mean of a constant block is the constant
    assert np.allclose(block_mean(np.ones((4, 4)), 2), 1.0, rtol=0, atol=0)  # exact


def test_cmc_figures_from_a_run_and_from_its_files(tmp_path):
    """All CMC figures are drawn for a small static run, and again from the files it wrote
    (``cmc/posterior.nc`` + ``cmc/diagnostics.json``) without the in-process result."""
    import warnings

    import matplotlib.image as mpimg
    import xarray as xr

    from homodyne_cli.plots import plot_cmc_all
    from homodyne_cli.results import write_cmc_plots
    from homodyne_cmc import CMCConfig, fit_cmc
    from homodyne_data import simulate

    truth = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 1000.0}
    sim = simulate("static", truth, phi=(0.0, 90.0), n_frames=40, noise=0.01, seed=4)
    cfg = CMCConfig(
        num_shards=2,
        num_warmup=100,
        num_samples=100,
        num_chains=2,
        backend="sequential",
        min_points_per_shard=100,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_cmc(sim.data, ModelSpec.create("static"), cfg)
    paths = write_cmc_plots(tmp_path / "live", sim.data, res, max_display=40)
    names = {p.name for p in paths}
    expected = {"trace.png", "rank.png", "posterior.png", "pair.png", "forest.png"}
    expected |= {"convergence.png", "overview.png", "residuals.png", "lag_cuts.png"}
    assert expected <= names, names
    assert sum(n.startswith("c2_heatmaps_phi_") for n in names) == 2
    for p in paths:
        img = mpimg.imread(p)
        assert img.ndim == 3 and min(img.shape[:2]) > 200, (p.name, img.shape)
        assert float(img[..., :3].std()) > 0.01, p.name  # not a blank canvas
    written = res.write(tmp_path / "run", sim.data)
    tree = xr.open_datatree(written["posterior.nc"], engine="h5netcdf")
    diag = json.loads(written["diagnostics.json"].read_text())
    again = plot_cmc_all(tmp_path / "again", tree, diag, list(res.parameter_names))
    assert sorted(p.name for p in again) == sorted(
        ["trace.png", "rank.png", "posterior.png", "pair.png", "forest.png", "convergence.png"]
    )
    assert not list((tmp_path / "again").glob(".*"))  # no temporary file left behind


def _reference_block_mean(c2, step, skip_diagonal):
    """Block means by explicit loops over the blocks (NaN-aware), the diagonal left out."""
    a = np.array(c2, dtype=np.float64)
    n = a.shape[-1]
    if skip_diagonal:
        a[..., np.arange(n), np.arange(n)] = np.nan
    m = n // step
    out = np.full(a.shape[:-2] + (m, m), np.nan)
    for p in range(m):
        for q in range(m):
            block = a[..., p * step : (p + 1) * step, q * step : (q + 1) * step]
            vals = block.reshape(block.shape[:-2] + (-1,))
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN block: NaN
                out[..., p, q] = np.nanmean(vals, axis=-1)
    if skip_diagonal:
        out[..., np.arange(m), np.arange(m)] = np.nan
    return out


@pytest.mark.parametrize("step", [1, 3, 7])
@pytest.mark.parametrize("holes", [False, True])
def test_block_means_match_explicit_loops(step, holes):
    """The fast block means (plain sums without NaN, diagonal subtracted) and the masked path
    (NaN holes) both equal an explicit loop, with and without the diagonal."""
    from homodyne_cli.plots._common import block_mean

    rng = np.random.default_rng(step)
    c2 = 1.0 + rng.random((3, 23, 23))  # 23: the edge rows/columns are trimmed
    if holes:
        c2[rng.random(c2.shape) < 0.1] = np.nan
    for skip in (False, True):
        got = block_mean(c2, step, skip_diagonal=skip)
        np.testing.assert_allclose(got, _reference_block_mean(c2, step, skip), rtol=1e-13)
