"""Several q rings in one dataset: join/split, choosing rings of a file, reading them jointly."""

import numpy as np
import pytest

import homodyne_data as hd
from homodyne_physics import ModelSpec

PARAMS = {"D0": 1.5e3, "alpha": -0.3, "D_offset": 20.0}


def _ring(q, seed, phi=(0.0, 60.0, 120.0), n_frames=30):
    spec = ModelSpec.create("static")
    return hd.simulate(spec, PARAMS, phi=phi, q=q, dt=0.1, n_frames=n_frames, seed=seed)


def test_join_and_split_round_trip():
    a, b = _ring(0.004, 1).data, _ring(0.008, 2, phi=(10.0, 100.0)).data
    joint = hd.join_rings([a, b])
    assert joint.is_joint and joint.n_rings == 2 and joint.q_rings == (0.004, 0.008)
    assert joint.n_phi == 5 and joint.ring.tolist() == [0, 0, 0, 1, 1]
    np.testing.assert_array_equal(joint.q, [0.004] * 3 + [0.008] * 2)
    np.testing.assert_array_equal(joint.c2[3:], b.c2)
    np.testing.assert_array_equal(joint.flat()[:3], a.flat())
    assert joint.provenance.selection["q"] == [0.004, 0.008]
    back = hd.split_rings(joint)
    assert [d.q for d in back] == [0.004, 0.008]
    np.testing.assert_array_equal(back[1].c2, b.c2)
    np.testing.assert_array_equal(back[0].phi, a.phi)
    assert not a.is_joint and a.n_rings == 1 and hd.split_rings(a) == [a]


def test_join_refuses_mismatched_frames_and_repeated_rings():
    a = _ring(0.004, 1).data
    with pytest.raises(hd.SelectionError, match="share the frame selection"):
        hd.join_rings([a, _ring(0.008, 2, n_frames=20).data])
    with pytest.raises(hd.SelectionError, match="appears twice"):
        hd.join_rings([a, a])
    with pytest.raises(hd.ShapeMismatchError, match="one value per angle"):
        hd.XPCSData(c2=a.c2, phi=a.phi, q=[0.1, 0.2], dt=0.1, frames=a.frames)


def test_ring_values_by_list_and_range():
    rings = [0.003, 0.0045, 0.006, 0.0075]
    assert hd.ring_values(rings, q=[0.0061, 0.003]) == [0.006, 0.003]
    assert hd.ring_values(rings, q_range=(0.004, 0.0062)) == [0.0045, 0.006]
    with pytest.raises(hd.SelectionError, match="no q ring within"):
        hd.ring_values(rings, q=[0.01])
    with pytest.raises(hd.SelectionError, match="inside q_range"):
        hd.ring_values(rings, q_range=(0.1, 0.2))
    with pytest.raises(hd.SelectionError, match="either q values or a q_range"):
        hd.ring_values(rings)


def test_load_rings_from_an_aps_u_file(tmp_path):
    sim = _ring(0.005, 3)
    path = hd.write_aps_u(tmp_path / "rings.h5", sim, n_q=3, q_index=1, q_step=0.4)
    rings = sorted(hd.inspect_file(path).q)
    assert len(rings) == 3
    joint = hd.load_rings(path, q_range=(0.0, 1.0))
    assert joint.n_rings == 3 and joint.n_phi == 9
    np.testing.assert_allclose(joint.q_rings, rings, rtol=1e-6)
    # the ring that holds the simulation's own data is read back unchanged
    mid = hd.split_rings(joint)[1]
    np.testing.assert_allclose(mid.c2, hd.load(path, q=0.005).c2)
    two = hd.load_rings(path, q=[rings[2], rings[0]], end_frame=20)
    assert two.q_rings == pytest.approx((rings[2], rings[0])) and two.n_t == 20
    assert two.provenance.selection["joint_q"] is True


def test_quality_report_of_a_joint_dataset_lists_its_q():
    joint = hd.join_rings([_ring(0.004, 1).data, _ring(0.008, 2).data])
    rec = hd.quality_report(joint).to_dict()
    assert rec["q"] == [0.004] * 3 + [0.008] * 3
    assert hd.quality_report(_ring(0.004, 1).data).to_dict()["q"] == 0.004
