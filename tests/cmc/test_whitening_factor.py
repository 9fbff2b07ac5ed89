"""The whitening root of the Laplace covariance, also when that covariance is not positive
definite (seen on a laminar speckle set whose fit ended on a degenerate ridge)."""

import warnings

import numpy as np
import pytest

from homodyne_cmc import CMCWarning
from homodyne_cmc.stages import whitening_factor


def test_positive_definite_gives_the_cholesky_factor_silently():
    a = np.random.default_rng(0).standard_normal((4, 4))
    cov = a @ a.T + 0.1 * np.eye(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        root = whitening_factor(cov, list("abcd"))
    np.testing.assert_allclose(root, np.linalg.cholesky(cov), rtol=0, atol=0)


def test_not_positive_definite_floors_the_spectrum_and_names_the_direction():
    # a near-perfect ridge of D0 with D_offset, made slightly indefinite by round-off
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    lam = np.array([-1e-9, 0.5, 2.0])
    cov = (q * lam) @ q.T
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(cov)
    with pytest.warns(CMCWarning, match="not positive definite") as rec:
        root = whitening_factor(cov, ["D0", "alpha", "D_offset"])
    assert "smallest eigenvalue -1e-09" in str(rec[0].message)
    rebuilt = root @ root.T
    w, v = np.linalg.eigh(rebuilt)
    np.testing.assert_allclose(w, [2e-10, 0.5, 2.0], rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(np.abs(v[:, 0] @ q[:, 0]), 1.0, rtol=1e-10)
    assert np.all(np.isfinite(root))
