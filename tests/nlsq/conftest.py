"""Fixtures of the least-squares tests: seeded synthetic data built on the one physics kernel.

Data are made directly from :func:`homodyne_physics.c2_matrix` plus seeded Gaussian noise that
is independent per frame pair (the matrix stays symmetric, as measured ones are), so these tests
do not depend on the data package's simulator.
"""

import numpy as np
import pytest

# Truths used across the tests (physical convention). Chosen so every parameter is identifiable
# from the registry defaults: the diffusion decays visibly over the lags, and the shear phase
# q h/2 cos(phi0 - phi) I_g sweeps through several sinc lobes at most angles.
STATIC_TRUTH = {"D0": 1.2e4, "alpha": -0.6, "D_offset": 300.0}
LAMINAR_TRUTH = {
    "D0": 8000.0,
    "alpha": -0.6,
    "D_offset": 400.0,
    "gamma_dot_t0": 2.0e-3,
    "beta": -0.5,
    "gamma_dot_t_offset": 2.0e-4,
    "phi0": 3.0,
}


def make_data(
    mode,
    truth,
    phi,
    *,
    n_t=60,
    dt=0.1,
    q=0.0054,
    contrast=0.3,
    offset=1.0,
    noise=0.01,
    seed=0,
    convention="physical",
    start_frame=1,
):
    """XPCSData with c2 = model + N(0, noise^2) at each (t1 < t2) pair (mirrored), diagonal
    without noise. ``contrast``/``offset`` scalars or per angle."""
    import homodyne_physics as hp
    from homodyne_data import XPCSData

    phi = np.atleast_1d(np.asarray(phi, np.float64))
    model = hp.C2Model(mode, q=q, dt=dt, convention=convention)
    theta = np.array([truth[n] for n in model.parameter_names])
    frames = np.arange(start_frame, start_frame + n_t)
    c = np.broadcast_to(np.asarray(contrast, np.float64), phi.shape)
    o = np.broadcast_to(np.asarray(offset, np.float64), phi.shape)
    with hp.float64():
        clean = np.asarray(hp.c2_matrix(model, theta, c, o, frames * dt, phi))
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.standard_normal(clean.shape), 1) * noise
    return XPCSData(clean + upper + np.swapaxes(upper, 1, 2), phi, q, dt, frames)


def pulls(result, truth):
    """(value - truth) / error for every physical parameter of a result."""
    return {n: (result.values[n] - truth[n]) / result.errors[n] for n in result.parameter_names}


@pytest.fixture
def simulate():
    """Factory: ``simulate(mode, truth, phi, **kw) -> XPCSData`` (see :func:`make_data`)."""
    return make_data
