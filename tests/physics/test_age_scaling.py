"""Age-dependent per-angle scaling: Legendre polynomials in the age over the data's range."""

import numpy as np
import pytest

from homodyne_physics import ModeError, legendre_basis, make_scaling


def test_legendre_basis_values():
    u = np.array([-1.0, 0.0, 0.5, 1.0])
    p = legendre_basis(u, 3)
    np.testing.assert_allclose(p[1], u)
    np.testing.assert_allclose(p[2], 0.5 * (3 * u**2 - 1))
    np.testing.assert_allclose(p[3], 0.5 * (5 * u**3 - 3 * u))


@pytest.mark.parametrize("mode", ["individual", "auto", "fourier"])
def test_age_coefficients_are_linear_columns_per_order(mode):
    phi = [0.0, 30.0, 60.0, 90.0, 120.0]
    sm = make_scaling(
        mode, phi, fourier_order=1, contrast_age_order=1, offset_age_order=2, age_range=(2.0, 12.0)
    )
    base = make_scaling(mode, phi, fourier_order=1)
    assert sm.n_params == 2 * base.n_contrast + 3 * (base.n_params - base.n_contrast)
    assert sm.names[: base.n_contrast] == base.names[: base.n_contrast]
    assert any("contrast_age1" in n for n in sm.names) and any("offset_age2" in n for n in sm.names)
    s = np.random.default_rng(0).normal(size=sm.n_params)
    c, o = sm.coefficients(s)
    assert c.shape == (5, 2) and o.shape == (5, 3)
    np.testing.assert_allclose(sm.fit_vector(c, o), s, atol=1e-12)  # coefficients -> s
    # contrast at age a: C0 + C1 u with u = 2 (a - 2) / 10 - 1
    ages = np.array([2.0, 7.0, 12.0])
    ca, oa = sm.at_age(s, ages)
    u = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_allclose(ca, c[:, :1] + c[:, 1:] * u)
    np.testing.assert_allclose(oa, o[:, :1] + o[:, 1:2] * u + o[:, 2:] * 0.5 * (3 * u**2 - 1))
    # apply gives the order-0 (age-averaged) values; T maps coefficient gradients to s
    np.testing.assert_allclose(sm.apply(s)[0], c[:, 0])
    t = sm.coefficient_design()
    np.testing.assert_allclose(np.einsum("asf,s->af", t, s), np.concatenate([c, o], axis=1))


def test_order_zero_is_the_constant_map_and_constant_mode_refuses_ages():
    a = make_scaling("individual", [0.0, 90.0])
    b = make_scaling("individual", [0.0, 90.0], age_range=(1.0, 5.0))
    assert a.names == b.names and not b.ages and a.n_params == b.n_params == 4
    with pytest.raises(ModeError, match="constant"):
        make_scaling("constant", [0.0], fixed_contrast=0.2, fixed_offset=1.0,
                     contrast_age_order=1, age_range=(0.0, 1.0))  # fmt: skip
    with pytest.raises(ModeError, match="between 0 and 3"):
        make_scaling("auto", [0.0], contrast_age_order=4, age_range=(0.0, 1.0))
    with pytest.raises(ModeError, match="age range"):
        make_scaling("auto", [0.0], contrast_age_order=1)
