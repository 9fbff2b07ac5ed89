"""The numerical core of the speckle simulator: scatterer paths, detector frames, correlator.

Three steps, each a plain function so that they can be tested and timed on their own:

* :func:`scatterer_paths`: displacements of ``n`` point scatterers at every frame time. The
  Brownian part has independent Gaussian increments per axis whose variance between frames
  ``k`` and ``k + 1`` is the model's exact integral ``I_D(t_k, t_{k+1})`` (so the displacement
  between any two frames has variance ``I_D(t1, t2)`` per axis and
  ``<exp(i q.dr)> = exp(-q^2 I_D / 2) = g1_diff``); the shear part moves a scatterer at height
  ``y`` (uniform over the gap ``h``) by ``y * I_g(t1, t2)`` along the flow direction (velocity
  profile ``v(y) = gamma_dot(t) y``), whose average over ``y`` gives the kernel's
  ``sinc((q h / 2) cos(phi0 - phi) I_g)``.
* :func:`bin_intensities`: far-field intensity ``|sum_n exp(i q.r_n)|^2`` at every q vector of
  one angular bin and every frame (JAX, float32 phasors reduced modulo 2 pi from float64
  starting phases), summed over the ``modes`` q vectors that make one pixel.
* :func:`correlate`: the two-time matrix of one bin as beamline correlators compute it.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["bin_intensities", "correlate", "independent_bin_intensities", "scatterer_paths"]

_TWO_PI = 2.0 * np.pi


def scatterer_paths(
    rng: np.random.Generator,
    n_scatterers: int,
    table_d: np.ndarray,
    table_g: np.ndarray,
    box: float,
    gap: float,
    phi0_deg: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start positions and displacements of the scatterers.

    Parameters
    ----------
    rng
        Random generator (all randomness of the paths comes from it).
    n_scatterers
        Number of point scatterers.
    table_d, table_g
        Antiderivatives of D(t) and gamma_dot(t) on the frame times, ``(n_t,)`` (see
        :func:`homodyne_physics.integral_tables`); their differences are the exact integrals.
    box
        Side of the square illuminated area in the detector-plane coordinates, Angstrom.
    gap
        Gap over which the scatterer heights are uniform, Angstrom.
    phi0_deg
        Flow direction in detector-plane angles, degrees.

    Returns
    -------
    (x0, y0, dx, dy)
        Start positions ``(n,)`` and displacements from the first frame ``(n_t, n)``, Angstrom.
    """
    n_t = table_d.shape[0]
    inc_var = np.diff(table_d)
    if np.any(~np.isfinite(inc_var)) or np.any(inc_var < 0):
        raise ValueError(
            "D(t) must be >= 0 at every frame for a Brownian simulation; the integral of D(t) "
            f"decreases between some frames (min increment {inc_var.min():.3g} A^2)"
        )
    x0 = rng.uniform(0.0, box, n_scatterers)
    y0 = rng.uniform(0.0, box, n_scatterers)
    step = rng.standard_normal((2, n_t - 1, n_scatterers)) * np.sqrt(inc_var)[None, :, None]
    brown = np.zeros((2, n_t, n_scatterers))
    np.cumsum(step, axis=1, out=brown[:, 1:])
    height = rng.uniform(0.0, gap, n_scatterers)
    shear = (table_g - table_g[0])[:, None] * height[None, :]  # along the flow direction
    phi0 = np.deg2rad(phi0_deg)
    dx = brown[0] + shear * np.cos(phi0)
    dy = brown[1] + shear * np.sin(phi0)
    return x0, y0, dx, dy


@partial(jax.jit, static_argnames=("modes",))
def _intensities(phase0, qx, qy, dx, dy, modes):
    """Intensity per pixel and frame: ``(n_t, n_pix)`` float32."""

    def frame(d):
        dxt, dyt = d
        ph = phase0 + (qx[:, None] * dxt[None, :] + qy[:, None] * dyt[None, :])
        re = jnp.cos(ph).sum(axis=1)
        im = jnp.sin(ph).sum(axis=1)
        inten = re * re + im * im
        return inten.reshape(-1, modes).sum(axis=1)

    return jax.lax.map(frame, (dx, dy))


def bin_intensities(
    qvec: np.ndarray, x0: np.ndarray, y0: np.ndarray, dx: np.ndarray, dy: np.ndarray, modes: int
) -> np.ndarray:
    """Far-field intensities of one angular bin at every frame.

    Parameters
    ----------
    qvec
        q vectors of the bin, ``(n_pix * modes, 2)``, 1/Angstrom; consecutive groups of
        ``modes`` rows make one pixel.
    x0, y0, dx, dy
        From :func:`scatterer_paths`.
    modes
        Independent speckle modes summed in one pixel (contrast about ``1/modes``).

    Returns
    -------
    numpy.ndarray
        ``(n_t, n_pix)`` float64 intensities in units of one scatterer's intensity.
    """
    qx, qy = qvec[:, 0], qvec[:, 1]
    # the start phases are large (q x box): reduce them in float64, then work in float32
    phase0 = np.mod(np.outer(qx, x0) + np.outer(qy, y0), _TWO_PI).astype(np.float32)
    out = _intensities(
        jnp.asarray(phase0),
        jnp.asarray(qx, jnp.float32),
        jnp.asarray(qy, jnp.float32),
        jnp.asarray(dx, jnp.float32),
        jnp.asarray(dy, jnp.float32),
        int(modes),
    )
    return np.asarray(out, dtype=np.float64)


@partial(jax.jit, static_argnames=("n_scatterers", "modes"))
def _independent(key, q_step_sd, shear_k, shear_table, n_scatterers, modes):
    n_q = shear_k.shape[0]
    k_phase, k_height, k_steps = jax.random.split(key, 3)
    phase0 = jax.random.uniform(k_phase, (n_q, n_scatterers), jnp.float32, 0.0, _TWO_PI)
    height = jax.random.uniform(k_height, (n_q, n_scatterers), jnp.float32)
    shear_coef = shear_k[:, None] * height  # phase per unit of the shear integral
    keys = jax.random.split(k_steps, q_step_sd.shape[0])

    def frame(x, inp):
        kk, sd, g = inp
        x = x + sd * jax.random.normal(kk, x.shape, jnp.float32)
        ph = phase0 + x + shear_coef * g
        re = jnp.cos(ph).sum(axis=1)
        im = jnp.sin(ph).sum(axis=1)
        return x, (re * re + im * im).reshape(-1, modes).sum(axis=1)

    x_init = jnp.zeros((n_q, n_scatterers), jnp.float32)
    _, out = jax.lax.scan(frame, x_init, (keys, q_step_sd, shear_table))
    return out


def independent_bin_intensities(
    seed: int,
    q: float,
    angles_deg: np.ndarray,
    table_d: np.ndarray,
    table_g: np.ndarray,
    gap: float,
    phi0_deg: float,
    n_scatterers: int,
    modes: int,
) -> np.ndarray:
    """Intensities of one bin where every q vector sees its own ensemble of scatterers.

    Only the displacement along ``q`` changes the phase, so each scatterer carries a 1-D
    Brownian path along its q vector (increment variance ``I_D`` between frames, as in
    :func:`scatterer_paths`) and a shear phase ``q cos(phi - phi0) * height * I_g`` with its
    height uniform over the gap. Start phases are uniform (an unbounded sample). Independent
    ensembles make the realised single-particle statistics exact on average over the pixels,
    as for the ~10^10 scatterers of a real sample; one shared finite ensemble instead carries
    a realised mean-square displacement off by about ``1/sqrt(n_scatterers)`` into every
    pixel and bin.

    Parameters
    ----------
    seed
        Seed of the JAX random key.
    q
        Ring wavevector, 1/Angstrom.
    angles_deg
        Angle of each q vector, ``(n_pix * modes,)``; consecutive ``modes`` make a pixel.
    table_d, table_g
        Antiderivatives of D(t), gamma_dot(t) on the frame times, ``(n_t,)``.
    gap, phi0_deg
        Gap (Angstrom) and flow direction (degrees).
    n_scatterers, modes
        Scatterers per q vector; q vectors per pixel.

    Returns
    -------
    numpy.ndarray
        ``(n_t, n_pix)`` float64.
    """
    inc = np.diff(table_d)
    if np.any(~np.isfinite(inc)) or np.any(inc < 0):
        raise ValueError(
            "D(t) must be >= 0 at every frame for a Brownian simulation; the integral of D(t) "
            f"decreases between some frames (min increment {inc.min():.3g} A^2)"
        )
    step_sd = q * np.sqrt(np.concatenate([[0.0], inc]))
    shear_k = q * np.cos(np.deg2rad(np.asarray(angles_deg) - phi0_deg)) * gap
    out = _independent(
        jax.random.key(int(seed)),
        jnp.asarray(step_sd, jnp.float32),
        jnp.asarray(shear_k, jnp.float32),
        jnp.asarray(table_g - table_g[0], jnp.float32),
        int(n_scatterers),
        int(modes),
    )
    return np.asarray(out, dtype=np.float64)


def correlate(frames: np.ndarray, *, pixel_normalize: bool = False) -> np.ndarray:
    """Two-time matrix of one bin from its frames, as beamline correlators compute it.

    ``c2(t1, t2) = mean_p I_p(t1) I_p(t2) / (Ibar(t1) Ibar(t2))`` with ``Ibar(t)`` the bin's
    mean intensity at frame t (per-frame normalisation, which removes the slow intensity
    fluctuations of the whole bin). With ``pixel_normalize`` each pixel is first divided by its
    time-averaged intensity (as correlators do to flatten pixel-to-pixel efficiency and
    form-factor differences).

    Parameters
    ----------
    frames
        ``(n_t, n_pix)`` intensities or counts.

    Returns
    -------
    numpy.ndarray
        ``(n_t, n_t)`` symmetric; NaN in rows of frames whose bin mean is 0.
    """
    a = np.asarray(frames, dtype=np.float64)
    if pixel_normalize:
        mean_p = a.mean(axis=0)
        a = np.divide(a, mean_p, out=np.zeros_like(a), where=mean_p > 0)
    mean_t = a.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = a / mean_t[:, None]
    c2 = (a @ a.T) / a.shape[1]
    return 0.5 * (c2 + c2.T)
