"""Honest error bars: over many seeds the truth falls within 1 and 2 reported standard errors as
often as a Gaussian says (68.3% and 95.4%). Slow: run with ``-m slow``."""

import numpy as np
import pytest

from homodyne_nlsq import NLSQConfig, fit_nlsq
from homodyne_physics import ModelSpec

from .conftest import LAMINAR_TRUTH, STATIC_TRUTH, make_data

N_SEEDS = 50


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "truth", "phi"),
    [
        ("static", STATIC_TRUTH, np.array([10.0, 55.0, 100.0, 145.0])),
        ("laminar_flow", LAMINAR_TRUTH, np.linspace(5.0, 175.0, 8)),
    ],
)
def test_error_bars_are_calibrated(mode, truth, phi):
    z = []
    for seed in range(1000, 1000 + N_SEEDS):
        data = make_data(mode, truth, phi, seed=seed)
        res = fit_nlsq(data, ModelSpec.create(mode), NLSQConfig(scaling_mode="auto"))
        assert res.converged, (seed, res.message)
        z += [(res.values[n] - truth[n]) / res.errors[n] for n in res.parameter_names]
        z += [
            (res.contrast[0] - 0.3) / res.contrast_err[0],
            (res.offset[0] - 1) / res.offset_err[0],
        ]
    z = np.abs(np.array(z))
    within1, within2 = float(np.mean(z < 1)), float(np.mean(z < 2))
    assert 0.6 <= within1 <= 0.76, (within1, within2)
    assert 0.9 <= within2 <= 0.99, (within1, within2)
