"""Issue 15 item 3: data with no signal are refused or flagged, never 'converged'."""

import dataclasses
import json

import numpy as np
import pytest

from homodyne_physics import ModelSpec

from .conftest import write
from .test_run_folder import CONFIG


@pytest.fixture(scope="module")
def sim():
    from homodyne_data import simulate

    return simulate(
        "static",
        {"D0": 12000.0, "alpha": -0.2, "D_offset": 200.0},
        phi=(0.0, 60.0, 120.0),
        n_frames=40,
        noise=0.01,
        seed=3,
    )


def _with_c2(data, c2):
    return dataclasses.replace(data, c2=np.asarray(c2, np.float64))


@pytest.mark.parametrize("value", [0.0, 1.0, 1.23])
def test_constant_c2_is_refused_with_the_value_named(sim, value):
    from homodyne_cli.signal_check import NoSignalError, check_signal

    data = _with_c2(sim.data, np.full(sim.data.c2.shape, value))
    with pytest.raises(NoSignalError, match=f"equals {value:g} \\(zero variance\\)") as err:
        check_signal(data, "x.hdf")
    assert "x.hdf" in str(err.value)
    check_signal(sim.data)  # real data pass


def test_flat_within_noise_is_flagged_and_decaying_data_are_not(sim):
    from homodyne_cli.signal_check import flat_within_noise
    from homodyne_data import quality_report

    noise = np.random.default_rng(7).normal(1.0, 0.01, sim.data.c2.shape)
    flat = _with_c2(sim.data, noise)
    msg = flat_within_noise(flat, quality_report(flat))
    assert msg is not None and msg.startswith("no signal: c2 is flat within the noise")
    assert flat_within_noise(sim.data, quality_report(sim.data)) is None


# the sandwich covariance (merged from 'speckle') warns on the singular matrices of constant data
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("value", [0.0, 1.0])
def test_fit_of_constant_data_is_not_converged(sim, value):
    from homodyne_nlsq import fit_nlsq, uninformative_reason

    start = {"D0": 8000.0, "alpha": 0.0, "D_offset": 100.0}
    flat = _with_c2(sim.data, np.full(sim.data.c2.shape, value))
    res = fit_nlsq(flat, ModelSpec.create("static", initial=start))
    assert res.converged is False and res.reason == "uninformative"
    assert res.message.startswith("the fit learned nothing from the data")
    assert res.values == start  # the situation the check recognises
    assert (
        uninformative_reason(fit_nlsq(sim.data, ModelSpec.create("static", initial=start))) is None
    )


def test_run_on_all_one_data_exits_3_and_says_no_signal(sim, tmp_path):
    from homodyne_cli.config import load_config
    from homodyne_cli.console import UI
    from homodyne_cli.errors import exit_code_for
    from homodyne_cli.pipeline import run_pipeline
    from homodyne_cli.signal_check import NoSignalError
    from homodyne_data import write_aps_u

    path = tmp_path / "ones.hdf"
    write_aps_u(path, _with_c2(sim.data, np.ones(sim.data.c2.shape)))
    cfg = write(tmp_path / "c.yaml", CONFIG.format(file=path))
    with pytest.raises(NoSignalError, match="no signal") as err:
        run_pipeline(load_config(cfg), output_dir=tmp_path / "o", ui=UI(-1), argv=["h"])
    assert exit_code_for(err.value) == 3
    (failed,) = tmp_path.glob("o.failed-*")
    summary = json.loads((failed / "summary.json").read_text())
    assert summary["status"] == "error" and "no signal" in summary["error"]
    assert "converged" not in (failed / "homodyne.log").read_text()
