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


def test_centre_on_a_bound_moves_one_sd_inside_along_the_ridge():
    """Seed 203 of the laminar speckle set: the Laplace maximum had D0 0.0002 above its
    bound of 100 on a D0-alpha ridge (correlation -0.97); carried to the logit coordinate
    the whitening sd of D0 was 1.2e6 and NUTS froze."""
    from homodyne_cmc.stages import interior_centre

    low, high = np.array([100.0, -2.0, -10.0]), np.array([1e5, 2.0, 10.0])
    sd = np.array([246.0, 0.83, 0.77])
    corr = np.array([[1.0, -0.97, 0.0], [-0.97, 1.0, 0.1], [0.0, 0.1, 1.0]])
    cov = corr * np.outer(sd, sd)
    x_c = np.array([100.0002, 1.334, 1.59])
    x = interior_centre(x_c, cov, low, high)
    assert x[0] == pytest.approx(100.0 + 246.0, rel=1e-12)  # one sd inside
    # the partner moved along the regression on D0: alpha by corr * sd_alpha per sd of D0
    assert x[1] == pytest.approx(1.334 - 0.97 * 0.83 * (246.0 - 0.0002) / 246.0, rel=1e-9)
    # the logistic coordinate's carried sd is now about one: sd / (x - low) * (1 - p)
    p = (x[0] - low[0]) / (high[0] - low[0])
    assert sd[0] / ((x[0] - low[0]) * (1 - p)) == pytest.approx(1.0, abs=0.01)
    # a centre well inside every bound is left alone, exactly
    inside = np.array([5000.0, 0.5, 3.0])
    np.testing.assert_array_equal(interior_centre(inside, cov, low, high), inside)
    # a Gaussian wider than the interval: moved a quarter width inside (alone on its axis)
    wide = interior_centre(
        np.array([100.0, 9.99]), np.diag([246.0e3, 770.0]) ** 2, low[::2], high[::2]
    )
    np.testing.assert_allclose(wide, [100.0 + 0.25 * (1e5 - 100.0), 10.0 - 5.0], rtol=1e-12)
    # with ridge partners the moves interact; every entry still ends strictly inside
    both = interior_centre(np.array([100.0, 1.99, 9.99]), cov * 1e6, low, high)
    assert np.all((both > low) & (both < high))
