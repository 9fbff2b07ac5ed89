"""Point-set files on the command line: ``inspect`` shows them; ``run`` refuses them clearly
(its result writers and plots need full matrices)."""

import homodyne_data as hd

from .test_inspect_arrays import call


def _multitau_file(tmp_path):
    truth = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 1000.0}
    sim = hd.simulate("static", truth, phi=(0.0, 90.0), n_frames=64, noise=0.01, seed=1)
    return str(hd.write_multitau(tmp_path / "mt.h5", hd.coarsen_multitau(sim.data, 4, 4)))


def test_inspect_and_run_on_a_multitau_file(capsys, monkeypatch, tmp_path):
    path = _multitau_file(tmp_path)
    code, out, err = call(capsys, monkeypatch, tmp_path, "inspect", path)
    assert code == 0, err
    assert "multitau" in out and "points used" in out and "578 per angle" in out
    code, out, err = call(
        capsys, monkeypatch, tmp_path, "run", "-d", path, "--mode", "static", "-o", "res"
    )
    assert code != 0
    assert "point-set data" in err + out and "fit_nlsq" in err + out
    assert "Traceback" not in err
