"""The laminar data set of ``test_dense_forms`` also written as an (age, lag) grid with
log-spaced lags and as multi-tau two-time with 4 levels: both read back to the values of the
matrices, and fit to the parameters of the dense forms within 1 standard error, with errors at
least as wide (the coarsened forms hold less information)."""

import numpy as np
import pytest

import homodyne_data as hd
from homodyne_physics import ModelSpec

from .test_dense_forms import LAMINAR, PHI, write_nx_acceptance


@pytest.fixture(scope="module")
def five_forms(tmp_path_factory):
    folder = tmp_path_factory.mktemp("five")
    sim = hd.simulate("laminar_flow", LAMINAR, phi=PHI, n_frames=60, noise=0.01, seed=11)
    np.save(folder / "c2.npy", sim.data.c2.astype(np.float32))
    paths = {
        "aps_u": str(hd.write_aps_u(folder / "apsu.h5", sim)),
        "nxxpcs": write_nx_acceptance(folder / "nx.h5", sim.data),
        "npy": str(folder / "c2.npy"),
        "agelag": str(hd.write_agelag(folder / "agelag.h5", sim, n_lags=24)),
        "multitau": str(
            hd.write_multitau(folder / "mt.h5", hd.coarsen_multitau(sim.data, 4, per_level=4))
        ),
    }
    loaded = {
        name: hd.load(p, array_q=sim.data.q, array_phi=PHI, dt=sim.data.dt)
        if name == "npy"
        else hd.load(p)
        for name, p in paths.items()
    }
    return sim, loaded


def test_five_forms_read_back(five_forms):
    sim, loaded = five_forms
    for name in ("aps_u", "nxxpcs", "npy"):
        assert loaded[name].is_dense, name
    al, mt = loaded["agelag"], loaded["multitau"]
    assert al.provenance.layout == "agelag" and mt.provenance.layout == "multitau"
    assert np.unique(mt.points.level).tolist() == [0, 1, 2, 3]
    lags = np.unique(np.round(al.lag / sim.data.dt))
    assert lags.size > 10 and np.all(np.diff(np.log(lags)) > 0)  # log-spaced, non-uniform
    c2 = sim.data.c2
    frame = np.round(al.points.t / sim.data.dt).astype(int) - 1
    got = al.points.values
    np.testing.assert_allclose(got, c2[:, frame[al.points.i], frame[al.points.j]], atol=1e-7)
    for data in (al, mt):
        assert data.q == pytest.approx(sim.data.q) and data.dt == pytest.approx(sim.data.dt)
        np.testing.assert_allclose(data.phi, PHI, atol=1e-9)


@pytest.mark.slow
def test_coarsened_forms_fit_within_one_standard_error(five_forms):
    from homodyne_nlsq import fit_nlsq

    _, loaded = five_forms
    spec = ModelSpec.create("laminar_flow")
    fits = {n: fit_nlsq(loaded[n], spec) for n in ("aps_u", "agelag", "multitau")}
    ref = fits["aps_u"]
    for name in ("agelag", "multitau"):
        res = fits[name]
        assert res.converged, name
        ratios = []
        for p in LAMINAR:
            z = (res.values[p] - ref.values[p]) / res.errors[p]
            assert abs(z) < 1.0, (name, p, res.values[p], ref.values[p], res.errors[p])
            ratios.append(res.errors[p] / ref.errors[p])
        # less information: no error narrower than the dense one beyond the scatter of the
        # estimated noise level, and wider overall
        assert min(ratios) > 0.95, (name, ratios)
        assert np.median(ratios) > 1.0 or max(ratios) > 1.05, (name, ratios)
