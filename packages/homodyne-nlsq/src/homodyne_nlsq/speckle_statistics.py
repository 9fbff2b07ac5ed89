"""Frame-correlated covariance from speckle statistics (model-based sandwich middle term).

A two-time matrix from a correlator is ``c2(a, b) = mean_p I_p(a) I_p(b) / (Ibar(a) Ibar(b))``
over the ``P`` pixels of a bin. For Gaussian speckle (many scatterers per speckle) every
moment of the intensities follows from the field correlation ``g1`` (Isserlis), so the
covariance of any two estimates ``c2(a, b)``, ``c2(c, d)`` is known from the fitted model up to
the factor ``1 / P``. With ``beta`` the contrast, ``G = g1^2`` and the per-frame normalisation
expanded to first order in ``1 / sqrt(P)``::

    P cov = beta^2 (G_ac G_bd + G_ad G_bc)
          + 2 beta^3 (g_ab g_bc g_cd g_da + g_ab g_bd g_dc g_ca + g_ac g_cb g_bd g_da)
          - 2 beta^3 G_cd (g_ab g_bc g_ca + g_ab g_bd g_da) - (same with ab <-> cd)
          + beta^3 G_ab G_cd (G_ac + G_ad + G_bc + G_bd)

(the first line is the pair term of the fourth moment; the second its connected part, the
fourth cumulant of the intensities of a circular Gaussian field; the third and fourth come
from dividing by the frame means, which removes the single-frame fluctuations to first
order). The variance of one point is ``beta^2 (1 + G^2) + beta^3 (4 G - 4 G^2 + 2 G^3)``.
Checked against 300 speckle simulations point by point (within about 5 %) and on the score
sums of the coverage test (``tests/nlsq/test_speckle_covariance.py``). References: Goodman,
*Speckle Phenomena in Optics* (2007), ch. 3-4, for the moments of Gaussian speckle; Lumma et
al., Rev. Sci. Instrum. 71, 3274 (2000), for the noise of multispeckle correlators.

Why a model and not only the non-parametric sum (:mod:`.robust_covariance`): on short
matrices (about 100 frames, a few decay times) the Bartlett sum over fitted residuals loses
about half the long-run variance (the fit absorbs it; the bandwidth is a third of the
frames), far more than the location-model fixed-b factor says; the model-based middle term
has no such loss. It needs the unknown ``P`` (and ignores photon shot noise, form factor and
a finite scatterer count): it is calibrated so that the expected residual sum of squares, less
the share the fit absorbs, equals the observed one. Shot noise or model misfit raise the
residuals and so lower ``P``: the errors then err on the large side. One ``P`` serves all
angles (bins of one ring hold similar pixel counts; per angle the estimate scatters too much
on short matrices).

The sums ``sum_{ab, cd} v_ab v_cd cov`` over the fitted points are matrix products of
``(n, n)`` maps, about ``n^4`` operations per fitted entry for the fully connected cumulant
term. Up to :data:`GRID_FRAMES` frames they run point by point; longer matrices (up to
:data:`SPECKLE_MAX_FRAMES`) are summed over blocks of consecutive frames (maps summed, g1
averaged over each pair of blocks), which is used only while g1 takes at least two blocks to
fall below 1/e. Above, the Bartlett sum is used: its loss falls as bandwidth / frames.
"""

import time
from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_physics import (
    cached_jit,
    float64,
    g1sq_pairs,
    integral_tables,
    pair_integrals,
    shear_prefactor,
)

from .problem import FitProblem
from .robust_passes import _to_fitted
from .uncertainty import covariance_from_normal_matrix

__all__ = [
    "GRID_FRAMES",
    "SPECKLE_MAX_FRAMES",
    "SpeckleNotApplicable",
    "SpeckleCovariance",
    "speckle_covariance",
    "speckle_reason",
    "with_speckle_middle",
]

#: longest matrix (frames) for which the speckle-statistics middle term is computed
SPECKLE_MAX_FRAMES = 512
#: the sums run on a grid of at most this many frames (blocks of consecutive frames above)
GRID_FRAMES = 128
#: operations the fully connected term may take over all angles (about 1-2 s on 2 cores):
#: 4 angles x 7 maps keep the whole 100-frame grid, 23 angles x 9 maps get a 66-frame one
_GRID_OPS = 4.0e9
#: blocks are used only while g1 falls below 1/e over at least this many of them (measured
#: on the laminar coverage set, where g1 falls within 4 frames: the errors with 2-frame blocks
#: are 0.986-0.997x the exact ones, with 4-frame blocks 0.94-0.99x)
_MIN_DECAY_BLOCKS = 2


@dataclass(frozen=True)
class SpeckleCovariance:
    """The speckle-statistics sandwich covariance of a fit.

    Attributes
    ----------
    covariance, errors
        Covariance over the fitted vector and its standard errors.
    pixels
        Effective number of independent pixels per angle (the calibrated ``P``, one value
        for all angles).
    seconds
        Wall time of the computation.
    """

    covariance: np.ndarray
    errors: np.ndarray
    pixels: float
    seconds: dict[str, float] = field(default_factory=dict)


class SpeckleNotApplicable(ValueError):
    """The speckle-statistics covariance does not apply to this fit (the message says why)."""


def speckle_reason(problem: FitProblem) -> str | None:
    """Why the speckle-statistics covariance does not apply to ``problem`` (``None``: it does)."""
    if problem.arrs.wt is not None:
        return "the points carry weights (not a dense correlator matrix)"
    n_t = int(problem.arrs.t.shape[0])
    if n_t > SPECKLE_MAX_FRAMES:
        return f"{n_t} frames (computed up to {SPECKLE_MAX_FRAMES})"
    if problem.scaling.ages:
        return "contrast or offset varies with age"
    return None


@cached_jit(static_argnames=("model",))
def _angle_arrays(model, theta, rows, t, phi, i, j):
    """One angle (``phi`` of shape (1,)): g1^2 and its derivatives by the free parameters
    (``rows`` of ``theta``) at the fitted pairs ``(i, j)``, and the signed g1 on the whole
    frame grid: the root of the (bin-averaged) g1^2 with the sign of the sinc at the bin
    centre. (Taking the moments at several angles across each 4 deg bin, as each speckle sees
    one angle, changed no coverage count over 40 laminar seeds and cost 1.5x: not done.)"""

    def gsq(th_free):
        return g1sq_pairs(model, theta.at[rows].set(th_free), t, phi, i, j)[0]

    th_free = theta[rows]
    n_t = t.shape[0]
    ii, jj = jnp.arange(n_t)[:, None], jnp.arange(n_t)[None, :]
    g = jnp.sqrt(jnp.clip(g1sq_pairs(model, theta, t, phi, ii, jj)[0], 0.0, None))
    if model.has_shear and model.convention == "physical":
        _, i_g = pair_integrals(model, integral_tables(model, theta, t), ii, jj)
        arg = shear_prefactor(model, theta, phi)[0] * i_g
        g = g * jnp.where(jnp.sinc(arg / jnp.pi) < 0, -1.0, 1.0)
    return gsq(th_free), jax.jacfwd(gsq)(th_free), g


def _angle_terms(problem: FitProblem, x):
    """Per angle: the ``v`` maps ``(n_v, n_t, n_t)`` over the fitted points (dG/dtheta of the
    free parameters, G, 1; zero elsewhere), the signed g1 ``(n_t, n_t)`` on the whole frame
    grid (:func:`_angle_arrays`), the contrast and the residuals on the fitted points (zero
    where not finite). One angle at a time: the maps of every angle at once would not fit in
    memory at 512 frames."""
    model, arrs = problem.model, problem.arrs
    theta_free, s = problem.split(x)
    theta = jnp.asarray(problem.full_theta(theta_free), jnp.float64)
    contrast, offset = (np.asarray(v, np.float64) for v in problem.scaling.apply(s))
    t, phi_all = jnp.asarray(arrs.t), jnp.asarray(arrs.phi)
    i, j = np.asarray(arrs.i), np.asarray(arrs.j)
    i_dev, j_dev = jnp.asarray(i), jnp.asarray(j)
    n_t = t.shape[0]
    rows = jnp.asarray(problem.spec.free_index, jnp.int32)
    y_all = np.asarray(arrs.y)
    for a in range(y_all.shape[0]):
        one = model.for_angles(slice(a, a + 1))
        out = _angle_arrays(one, theta, rows, t, phi_all[a : a + 1], i_dev, j_dev)
        g_pts, jac, g = (np.asarray(o, np.float64) for o in out)
        valid = np.isfinite(y_all[a])
        cols = np.concatenate([jac, g_pts[:, None], np.ones_like(g_pts)[:, None]], axis=1)
        v = np.zeros((cols.shape[1], n_t, n_t))
        v[:, i, j] = np.where(valid[:, None], cols, 0.0).T
        resid = np.where(valid, y_all[a] - (offset[a] + contrast[a] * g_pts), 0.0)
        yield v, g, float(contrast[a]), resid


def grid_frames(n_phi: int, n_v: int) -> int:
    """Side of the grid the sums run on: :data:`GRID_FRAMES`, less where the angles and maps
    would take more than :data:`_GRID_OPS` operations (``n_phi n_v n^4``)."""
    fit = int((_GRID_OPS / max(n_phi * n_v, 1)) ** 0.25)
    return max(min(GRID_FRAMES, fit), 16)


def _decay_frames(g: np.ndarray) -> int:
    """Shortest lag (frames) at which |g1| falls below 1/e, over the ages (the matrix rows)."""
    n_t = g.shape[0]
    low = np.abs(g) < np.exp(-1.0)
    lags = np.arange(n_t)[None, :] - np.arange(n_t)[:, None]
    first = np.where(low & (lags > 0), lags, n_t).min(axis=1)
    return int(max(first[: max(n_t - 1, 1)].min(), 1))


def _coarse(v: np.ndarray, g: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Block sums of the maps and block means of g1 over ``block x block`` frames."""
    if block == 1:
        return v, g
    n_t = g.shape[0]
    nb = -(-n_t // block)
    pad = nb * block - n_t
    vp = np.pad(v, ((0, 0), (0, pad), (0, pad)))
    vc = vp.reshape(v.shape[0], nb, block, nb, block).sum(axis=(2, 4))
    gp = np.pad(g, ((0, pad), (0, pad)))
    count = np.pad(np.ones_like(g), ((0, pad), (0, pad)))
    gs = gp.reshape(nb, block, nb, block).sum(axis=(1, 3))
    cs = count.reshape(nb, block, nb, block).sum(axis=(1, 3))
    return vc, gs / cs


def _z_term(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``Z[a, b] = sum_{c,d} g_ac g_bc A[c, d] g_ad g_bd`` for one map ``A``."""
    out = np.empty_like(a)
    step = max(1, 2_000_000 // (a.shape[0] ** 2))
    for lo in range(0, a.shape[0], step):
        gr = g[lo : lo + step]  # (m, n): rows a
        tilde = gr[:, :, None] * a[None] * gr[:, None, :]  # (m, c, d)
        y = tilde @ g  # (m, c, b)
        out[lo : lo + step] = np.einsum("bc,mcb->mb", g, y)
    return out


def speckle_middle(v: np.ndarray, g: np.ndarray, beta: float) -> np.ndarray:
    """``sum_{k,l} v_k v_l^T P cov_kl`` for one angle: maps ``v`` ``(n_v, n_t, n_t)`` (zero off
    the fitted points), signed ``g1`` ``(n_t, n_t)`` (whole grid), contrast ``beta``."""
    big = g * g
    h = beta * big
    # transposes made contiguous: numpy's stacked matmul of a strided view skips BLAS (100x)
    vt = np.ascontiguousarray(np.swapaxes(v, 1, 2))
    gag = big @ v @ big + big @ vt @ big
    t2 = np.einsum("pab,qab->pq", v, gag)
    vg = v * g
    vgt = np.ascontiguousarray(np.swapaxes(vg, 1, 2))
    cyc = g @ vg @ g + g @ vgt @ g
    k4 = np.einsum("pab,qba->pq", vg, cyc)
    z = np.stack([_z_term(m, g) for m in v])
    k4 = k4 + np.einsum("pab,qab->pq", v, z)
    u = (v * h).sum(axis=2) + (v * h).sum(axis=1)  # (n_v, n_t)
    w = (g[None] * u[:, None, :]) @ g  # g diag(u_q) g
    f = np.einsum("pab,qab->pq", vg, w)
    out = beta**2 * t2 + 2 * beta**3 * k4 - 2 * beta**2 * (f + f.T) + beta * (u @ big @ u.T)
    return 0.5 * (out + out.T)


def _point_variance(big: np.ndarray, beta: float) -> np.ndarray:
    """``P var`` of one estimate with ``G = g1^2`` (the module's formula at c, d = a, b)."""
    return beta**2 * (1 + big**2) + beta**3 * (4 * big - 4 * big**2 + 2 * big**3)


def _inverse_pixels(tr_omega: float, absorbed: float, rss: float) -> float:
    """``1 / P`` such that the expected residual sum of squares, ``(tr Omega~ - tr(H^-1
    M~)) / P`` (the trace of the points' covariance less the share the fit absorbs), equals
    the observed one; one value for all angles (per angle it scatters by a factor 1.5 on a
    60-frame matrix: the residuals of a few decay times are few independent samples)."""
    left = tr_omega - absorbed
    if not (np.isfinite(left) and left > 0):
        left = tr_omega  # the plain trace, no absorption
    if not (np.isfinite(left) and left > 0 and np.isfinite(rss)):
        raise SpeckleNotApplicable(
            "the fitted model carries no speckle signal to scale (contrast or g1 about 0)"
        )
    return float(rss / left)


def speckle_covariance(problem: FitProblem, x, *, pixels: float | None = None) -> SpeckleCovariance:
    """Sandwich covariance of the fitted vector ``x`` whose middle term is the
    speckle-statistics covariance of the correlator estimates (module docstring).

    ``pixels``: the number of independent pixels per bin when known; ``None`` calibrates it
    from the residuals (:func:`_inverse_pixels`).

    Raises :class:`SpeckleNotApplicable` (a ``ValueError``) when it does not apply
    (:func:`speckle_reason`; a contrast that is not positive; or g1 falls below 1/e within
    fewer than two of the blocks that a long matrix is summed over).
    """
    reason = speckle_reason(problem)
    if reason is not None:
        raise SpeckleNotApplicable(reason)
    t0 = time.perf_counter()
    n_t = int(problem.arrs.t.shape[0])
    block = -(-n_t // grid_frames(problem.arrs.phi.shape[0], problem.n_theta + 2))
    h_a, m_a, tr_omega, beta, rss = [], [], [], [], 0.0
    with float64():
        for v, g, contrast, resid in _angle_terms(problem, x):
            if not (np.isfinite(contrast) and contrast > 0):
                raise SpeckleNotApplicable(
                    f"the fitted model carries no speckle signal (contrast {contrast:.3g})"
                )
            decay = _decay_frames(g) if block > 1 else None
            if decay is not None and decay < _MIN_DECAY_BLOCKS * block:
                raise SpeckleNotApplicable(
                    f"g1 decays within {decay} frames, too fast for the "
                    f"{block}-frame blocks of a {n_t}-frame matrix"
                )
            h_a.append(np.einsum("pab,qab->pq", v, v))
            m_a.append(speckle_middle(*_coarse(v, g, block), contrast))
            mask = v[-1] > 0  # the fitted, finite points
            tr_omega.append(float(_point_variance(g**2, contrast)[mask].sum()))
            beta.append(contrast)
            rss += float((resid**2).sum())
    beta = np.asarray(beta, np.float64)
    m1 = _to_fitted(problem, beta, np.stack(m_a))  # at P = 1
    h = _to_fitted(problem, beta, np.stack(h_a))
    h_inv = covariance_from_normal_matrix(h, 1.0, problem.n_valid, sigma=1.0).covariance
    if pixels is None:
        absorbed = float(np.trace(h_inv @ m1))
        inv_p = _inverse_pixels(sum(tr_omega), absorbed, rss)
    else:
        inv_p = 1.0 / float(pixels)
    cov = h_inv @ m1 @ h_inv * inv_p
    cov = 0.5 * (cov + cov.T)
    errors = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return SpeckleCovariance(
        covariance=cov,
        errors=errors,
        pixels=1.0 / inv_p,
        seconds={"speckle": time.perf_counter() - t0},
    )


def with_speckle_middle(problem: FitProblem, x, robust):
    """The :class:`.robust_covariance.RobustCovariance` ``robust`` (Bartlett middle term) with
    its covariance replaced by the speckle-statistics one when ``problem.config.robust_middle``
    asks for it and it applies (the Bartlett errors kept beside); else ``robust`` with a note
    saying why not."""
    if problem.config.robust_middle != "speckle":
        return robust
    try:
        sp = speckle_covariance(problem, x, pixels=problem.config.speckle_pixels)
    except SpeckleNotApplicable as why:
        return replace(robust, middle_note=f"speckle-statistics model not used: {why}")
    except (ValueError, ArithmeticError, np.linalg.LinAlgError, MemoryError) as exc:
        # the Bartlett sandwich is already there: keep it rather than lose both
        note = f"speckle-statistics model could not be computed ({type(exc).__name__}: {exc})"
        return replace(robust, middle_note=note)
    return replace(
        robust,
        covariance=sp.covariance,
        errors=sp.errors,
        pixels=sp.pixels,
        pixels_given=problem.config.speckle_pixels is not None,
        errors_bartlett=robust.errors,
        seconds={**robust.seconds, **sp.seconds},
    )
