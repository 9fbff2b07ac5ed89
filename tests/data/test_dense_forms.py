"""One laminar data set in three dense forms (APS-U, NXxpcs by hand, bare .npy) reads back to
the same matrices, and fits to the same parameters."""

import h5py
import numpy as np
import pytest

import homodyne_data as hd
from homodyne_physics import ModelSpec

LAMINAR = {
    "D0": 8000.0,
    "alpha": -0.6,
    "D_offset": 400.0,
    "gamma_dot_t0": 2.0e-3,
    "beta": -0.5,
    "gamma_dot_t_offset": 2.0e-4,
    "phi0": 3.0,
}
PHI = [-20.0, 10.0, 45.0, 90.0]


def write_nx_acceptance(path, data):
    """NXxpcs as the issue's acceptance form: q last, lower half, lower-left origin, c2 - 1."""
    n = data.n_t
    r, c = np.indices((n, n))
    pics = []
    for m in data.c2:
        s = (m - 1.0)[::-1].copy()  # baseline 0; time 0 in the bottom row
        s[r < n - 1 - c] = 0.0  # keep the lower half of the picture (below the t1 = t2 diagonal)
        pics.append(s.astype(np.float32))
    with h5py.File(path, "w") as f:
        f["entry/definition"] = "NXxpcs"
        ds = f.create_dataset("entry/twotime/two_time_corr_func", data=np.stack(pics, axis=-1))
        ds.attrs.update(
            {
                "storage_mode": "one_array_q_last",
                "populated_elements": "lower_half",
                "time_origin_location": "lower_left",
                "baseline_reference": 0,
            }
        )
        f["entry/instrument/masks/dynamic_q_list"] = np.full(data.n_phi, data.q * 10.0)
        f["entry/instrument/masks/dynamic_q_list"].attrs["units"] = "1/nm"
        f["entry/instrument/masks/dynamic_phi_list"] = np.deg2rad(data.phi)
        f["entry/instrument/masks/dynamic_phi_list"].attrs["units"] = "rad"
        det = f.create_group("entry/instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        det["frame_time"] = data.dt * 1e3
        det["frame_time"].attrs["units"] = "ms"
    return str(path)


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forms")
    sim = hd.simulate("laminar_flow", LAMINAR, phi=PHI, n_frames=60, noise=0.01, seed=11)
    c2_32 = sim.data.c2.astype(np.float32).astype(np.float64)  # what every file stores
    np.save(folder / "c2.npy", c2_32)
    paths = {
        "aps_u": str(hd.write_aps_u(folder / "apsu.h5", sim)),
        "nxxpcs": write_nx_acceptance(folder / "nx.h5", sim.data),
        "npy": str(folder / "c2.npy"),
    }
    loaded = {
        name: hd.load(p, array_q=sim.data.q, array_phi=PHI, dt=sim.data.dt)
        if name == "npy"
        else hd.load(p)
        for name, p in paths.items()
    }
    return sim, c2_32, loaded


def test_every_form_reads_back_the_same_matrices(forms):
    sim, c2_32, loaded = forms
    for name, data in loaded.items():
        assert data.q == pytest.approx(sim.data.q, rel=1e-12), name
        assert data.dt == pytest.approx(sim.data.dt, rel=1e-12), name
        np.testing.assert_allclose(data.phi, PHI, atol=1e-9, err_msg=name)
        # float32 storage; NXxpcs stores c2 - 1, which rounds differently by < 1e-7
        np.testing.assert_allclose(data.c2, c2_32, rtol=0, atol=1e-7, err_msg=name)


@pytest.mark.slow
def test_dense_forms_fit_to_the_same_parameters(forms):
    from homodyne_nlsq import fit_nlsq

    sim, _, loaded = forms
    fits = {name: fit_nlsq(data, ModelSpec.create("laminar_flow")) for name, data in loaded.items()}
    ref = fits["aps_u"]
    assert ref.converged
    for name, res in fits.items():
        assert res.converged, name
        for p in LAMINAR:
            z = (res.values[p] - ref.values[p]) / ref.errors[p]
            assert abs(z) < 0.3, (name, p, res.values[p], ref.values[p], ref.errors[p])
