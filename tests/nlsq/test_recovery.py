"""Recovery of known parameters from the registry defaults, for every mode and scaling mode."""

import numpy as np
import pytest

from homodyne_nlsq import NLSQConfig, fit_nlsq
from homodyne_physics import ModelSpec

from .conftest import LAMINAR_TRUTH, STATIC_TRUTH, pulls

CASES = [
    ("static", 1, "individual"),
    ("static", 3, "auto"),
    ("static", 3, "individual"),
    ("static", 23, "auto"),
    ("static", 23, "fourier"),
    ("laminar_flow", 3, "auto"),
    ("laminar_flow", 3, "individual"),
    ("laminar_flow", 23, "auto"),
    ("laminar_flow", 23, "individual"),
    ("laminar_flow", 23, "fourier"),
]


def _angles(n):
    return np.array([30.0]) if n == 1 else np.linspace(0.0, 180.0, n, endpoint=False) + 5.0


@pytest.mark.parametrize(("mode", "n_phi", "scaling"), CASES)
def test_recovers_truth_within_three_sigma(simulate, mode, n_phi, scaling):
    truth = STATIC_TRUTH if mode == "static" else LAMINAR_TRUTH
    phi = _angles(n_phi)
    # per-angle scaling that the mode can represent: fourier gets a smooth phi dependence
    contrast = 0.3 + (0.02 * np.cos(np.deg2rad(phi)) if scaling == "fourier" else 0.0)
    data = simulate(mode, truth, phi, contrast=contrast, seed=7)
    res = fit_nlsq(data, ModelSpec.create(mode), NLSQConfig(scaling_mode=scaling))
    assert res.converged, res.message
    assert res.scaling_mode == ("individual" if n_phi < 3 and scaling == "auto" else scaling)
    for name, z in pulls(res, truth).items():
        assert abs(z) < 3.0, f"{name}: {res.values[name]:.6g} +- {res.errors[name]:.3g}"
    # the scaling is recovered too, within its propagated errors
    assert np.all(np.abs(res.contrast - contrast) < 3 * res.contrast_err + 1e-12)
    assert np.all(np.abs(res.offset - 1.0) < 3 * res.offset_err + 1e-12)
    # the noise estimate is the simulated one (N ~ 1e3..4e4 points: sd of s ~ 2e-4 or less)
    assert res.sigma == pytest.approx(0.01, rel=0.05)
    assert res.reduced_chi2 == pytest.approx(res.sigma**2, rel=1e-12)
