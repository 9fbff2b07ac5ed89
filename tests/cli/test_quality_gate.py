"""The NLSQ quality gate: reduced chi2 only with a known sigma, the residual-structure test
when sigma is estimated (then chi2/dof is the residual variance, 1 by construction)."""

from types import SimpleNamespace

import numpy as np

from homodyne_cli.fit_quality import quality_gate
from homodyne_nlsq.goodness import residual_structure


def _goodness(drift: float, seed: int = 0):
    t = np.arange(1, 81) * 0.1
    lag = np.abs(np.subtract.outer(t, t))
    age = 0.5 * np.add.outer(t, t)
    g = np.exp(-lag / 0.8)[None]
    fit = 1.0 + 0.2 * g
    a = (age - t[0]) / (t[-1] - t[0])
    noise = np.triu(np.random.default_rng(seed).normal(0, 0.01, fit.shape), 1)
    data = 1.0 + 0.2 * (1.0 + drift * a) * g + noise + np.swapaxes(noise, 1, 2)
    structure = residual_structure(t, data, fit, contrast=0.2, offset=1.0)
    return SimpleNamespace(structure=structure)


def test_estimated_sigma_gates_on_residual_structure_not_on_reduced_chi2():
    # estimated sigma: chi2/dof is the residual variance (1e-4 here), far below or above
    # any threshold by units alone; it must not decide
    res = SimpleNamespace(sigma_source="estimated", reduced_chi2=1.0e-4)
    assert quality_gate(res, _goodness(0.0), 1e-6) is None
    res = SimpleNamespace(sigma_source="estimated", reduced_chi2=1.0)
    msg = quality_gate(res, _goodness(0.3), 10.0)
    assert msg and "residual-structure test failed" in msg and "contrast drifts" in msg
    assert "reduced chi2 is not gated" in msg
    assert quality_gate(res, _goodness(0.3), None) is None  # no gate configured


def test_known_sigma_gates_on_reduced_chi2():
    good = _goodness(0.3)  # structure is not what the gate looks at when sigma is known
    assert quality_gate(SimpleNamespace(sigma_source="user", reduced_chi2=1.1), good, 2.0) is None
    msg = quality_gate(SimpleNamespace(sigma_source="user", reduced_chi2=4.2), good, 2.0)
    assert msg and "reduced chi2 4.2 > 2" in msg and "given sigma" in msg
