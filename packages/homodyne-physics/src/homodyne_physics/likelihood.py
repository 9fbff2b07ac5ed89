"""Gaussian log-likelihood of c2 data at (t1 < t2) points, with its gradient at the price of a pass.

For per-angle ``contrast`` and ``offset``, a noise level ``sigma`` and a residual multiplier
``w`` (a 0/1 mask; for weighted point sets the square root of each point's weight)::

    loglik = -1/2 sum_{a,p} (w_ap (y_ap - offset_a - contrast_a G_ap))^2 / sigma^2
             - #{w_ap > 0} log sigma

with ``G`` = g1^2 of :mod:`homodyne_physics.kernel` (both conventions, both modes). This is the
likelihood each CMC shard evaluates, thousands of times per chain, always with its gradient.

:func:`gaussian_loglik` carries a custom JVP. Plain reverse-mode autodiff of the kernel stores
and revisits every per-point intermediate; here one streamed pass over chunks of pairs computes
the value *and* the full gradient, because a point depends on the parameters only through

* the two integrals (I_D, X = k(phi) I_g): their cotangents are reduced over the angles of the
  pair and multiplied by the difference of the tables' parameter Jacobians at the pair's two
  frames (rows of an ``(n_t, 3)`` Jacobian per table, computed once per pass by forward mode
  through :func:`~homodyne_physics.kernel.integral_tables`). These are gathers, which XLA fuses
  into the elementwise loop; the equivalent scatter of per-pair cotangents onto the frames
  (segment sums) is a serial loop on the CPU and cost as much as the rest of the gradient;
* ``k(phi)`` per angle and the linear per-angle scaling, accumulated as per-angle sums;
* ``sigma``, through the sum of squared residuals.

sin and cos come from one vectorised evaluation (:func:`_sincos`: range reduction and two
polynomials, no library call, so the compiler keeps the loop in SIMD registers whatever else is
fused with it); sinc and its derivative follow from the same polynomials near 0 and from a
division elsewhere, blended by an arithmetic 0/1 mask rather than ``where`` branches. Memory is
flat in the number of points (one chunk of pairs x angles at a time).

The value alone (no differentiation) takes the cheaper primal pass. The data arguments (``t``,
``phi``, ``i``, ``j``, ``y``, ``w``) are constants: derivatives with respect to them are zero
(they pass through ``stop_gradient``). Higher derivatives (``jax.hessian``) work by ordinary
autodiff of the fused pass.
"""

import math
from fractions import Fraction
from functools import partial

import jax
import jax.numpy as jnp

from ._lazy import LIKELIHOOD_NAMES
from .kernel import (
    _EXP_MAX,
    _EXP_MIN,
    _H2_ABS_EPS,
    _H2_EXP_MIN,
    _H2_G1_FLOOR,
    C2Model,
    integral_tables,
    shear_factors,
)
from .precision import require_float64

__all__ = list(LIKELIHOOD_NAMES)

# --------------------------------------------------------------------------- sin and cos


def _split_half_pi() -> tuple[float, ...]:
    """pi/2 as a sum of four doubles, the first three with 26 significant bits each, so that
    ``n * part`` is exact for integers |n| < 2^26 (Cody-Waite reduction without FMA)."""
    rest = Fraction("1.57079632679489661923132169163975144209858469968755291048747230")
    parts = []
    for _ in range(3):
        mant, expo = math.frexp(float(rest))
        head = math.ldexp(math.floor(mant * 2.0**26) / 2.0**26, expo)
        parts.append(head)
        rest -= Fraction(head)
    parts.append(float(rest))
    return tuple(parts)


_HALF_PI_PARTS = _split_half_pi()
_TWO_OVER_PI = 0.63661977236758134308
# Taylor coefficients: sin r = r (1 + r^2 S(r^2)), cos r = 1 + r^2 C(r^2) for |r| <= pi/4
# (the first omitted terms are below 1e-19 there).
_SIN_COEF = tuple((-1) ** (k + 1) / math.factorial(2 * k + 3) for k in range(9))
_COS_COEF = tuple((-1) ** (k + 1) / math.factorial(2 * k + 2) for k in range(9))


def _horner(coefs, z):
    acc = coefs[-1]
    for c in reversed(coefs[:-1]):
        acc = acc * z + c
    return acc


def _sincos(x):
    """``(sin x, cos x, sinc x, sinc' x)`` from one range reduction and two polynomials.

    Accurate to a few ulp for |x| < 1e8 (beyond, sinc^2 < 1e-16 and the error stays bounded).
    ``sinc' = (cos - sinc)/x`` is taken from the polynomials themselves near 0 (no
    cancellation, exact at x = 0), so no point needs a guarded branch.
    """
    n = jnp.round(x * _TWO_OVER_PI)
    r = x
    for part in _HALF_PI_PARTS:
        r = r - n * part
    r2 = r * r
    sp = _horner(_SIN_COEF, r2)  # (sin r / r - 1) / r^2
    cp = _horner(_COS_COEF, r2)  # (cos r - 1) / r^2
    s = r + r * r2 * sp
    c = 1.0 + r2 * cp
    quad = n - 4.0 * jnp.floor(0.25 * n)  # 0..3
    half = jnp.floor(0.5 * quad)  # 0 for quadrants 0, 1; 1 for 2, 3
    odd = quad - 2.0 * half
    sign = 1.0 - 2.0 * half
    sin_x = sign * (s + odd * (c - s))
    cos_x = sign * (c - odd * (c + s))
    near = (n == 0.0).astype(x.dtype)  # |x| <= pi/4: r == x exactly
    far = 1.0 - near
    inv = 1.0 / (x + near)
    sinc_far = sin_x * inv
    sinc = near * (1.0 + r2 * sp) + far * sinc_far
    dsinc = near * r * (cp - sp) + far * (cos_x - sinc_far) * inv
    return sin_x, cos_x, sinc, dsinc


# --------------------------------------------------------------------------- per-point kernel


def _integral(model: C2Model, diff, sgn):
    """(I, dI/d diff) from a table difference: signed (physical) or smooth |.| (homodyne2)."""
    if model.convention == "physical":
        return sgn * diff, sgn
    root = jnp.sqrt(diff * diff + _H2_ABS_EPS)
    return model.dt * root, model.dt * diff / root


def _shear_terms(model: C2Model, k, i_g):
    """``(shape, d shape/dx, d shape/dy or None)`` at ``x = k I_g`` (and ``y = k_s I_g``):
    sinc^2, or its Gauss-Legendre bin average (``k = (k, k_s)`` then), from :func:`_sincos`."""
    if not model.bin_averaged:
        _, _, sinc, dsinc = _sincos(k[:, None] * i_g[None])
        return sinc * sinc, 2.0 * sinc * dsinc, None
    cos_d, sin_d, wts = model.bin_nodes(2)
    x = (k[0][:, None] * i_g[None])[..., None]
    y = (k[1][:, None] * i_g[None])[..., None]
    _, _, sinc, dsinc = _sincos(x * cos_d + y * sin_d)
    d_node = wts * (2.0 * sinc * dsinc)
    shape = jnp.sum(wts * (sinc * sinc), axis=-1)
    return shape, jnp.sum(d_node * cos_d, axis=-1), jnp.sum(d_node * sin_d, axis=-1)


def _point_terms(model: C2Model, tabs, k, i, j):
    """G (A, C) at a chunk of pairs and the partial derivatives the gradient needs.

    With ``g1d = decay(I_D) shape(X)`` (shape = sinc^2, or 1 in static mode) and G = g1d
    (physical) or max(g1d, floor)^2 (homodyne2), returns ``g`` and a dict with
    ``ddecay`` = d log(decay)/d diff_d per pair ``(1, C)`` (per point ``(n_phi, C)`` with a
    per-angle q), ``dg`` = dG/d g1d (None when 1), ``g1d``, and
    for shear ``dshape`` = d shape/dX (times decay: d g1d/dX), ``i_g`` and ``dig`` = dI_g/d diff_g;
    with a finite angular bin ``k`` is ``(k, k_s)`` and ``dshape_y`` = d g1d/dY for the
    companion argument ``Y = k_s I_g`` (see :func:`homodyne_physics.kernel.shear_shape`).
    """
    q2 = model.q_column(2) ** 2  # scalar, or (n_phi, 1) for a per-angle q
    sgn = jnp.sign(j - i).astype(tabs[0].dtype)
    i_d, did = _integral(model, tabs[0][j] - tabs[0][i], sgn)
    if model.convention == "physical":
        arg = -q2 * i_d[None]
        live = ((arg > _EXP_MIN) & (arg < _EXP_MAX)).astype(arg.dtype)
        decay = jnp.exp(jnp.clip(arg, _EXP_MIN, _EXP_MAX))
    else:
        arg = -0.5 * q2 * i_d[None]
        live = (arg > _H2_EXP_MIN).astype(arg.dtype)
        decay = jnp.exp(jnp.maximum(arg, _H2_EXP_MIN))
        q2 = 0.5 * q2
    # (1, C) shared by the angles of a pair, or (n_phi, C) with a per-angle q
    parts = {"ddecay": -q2 * did[None] * live}
    g1d = decay
    if model.has_shear:
        i_g, parts["dig"] = _integral(model, tabs[1][j] - tabs[1][i], sgn)
        shp, dshp, dshp_y = _shear_terms(model, k, i_g)
        g1d = g1d * shp
        parts["dshape"] = decay * dshp
        if dshp_y is not None:
            parts["dshape_y"] = decay * dshp_y
        parts["i_g"] = i_g
    shape = (_n_angles(k), i.shape[0])
    g1d = jnp.broadcast_to(g1d, shape)
    parts["g1d"] = g1d
    if model.convention == "physical":
        parts["dg"] = None
        return g1d, parts
    g1 = jnp.maximum(g1d, _H2_G1_FLOOR)
    parts["dg"] = 2.0 * g1 * (g1d > _H2_G1_FLOOR)
    return g1 * g1, parts


def _n_angles(k) -> int:
    return k[0].shape[0] if isinstance(k, tuple) else k.shape[0]


# --------------------------------------------------------------------------- streamed passes


def _chunking(n_pairs: int, chunk: int) -> tuple[int, int]:
    size = max(1, min(int(chunk), n_pairs))
    return size, -(-n_pairs // size)


def _chunk(data, kk, size):
    """Pairs of chunk ``kk``; the last chunk is shifted back into range and its points that
    belong to the previous chunk get weight 0 (no padded copy of the data)."""
    _, _, i, j, y, w = data
    n_pairs = i.shape[0]
    start = jnp.minimum(kk * size, n_pairs - size)
    fresh = ((start + jnp.arange(size)) >= kk * size).astype(w.dtype)
    ic = jax.lax.dynamic_slice(i, (start,), (size,))
    jc = jax.lax.dynamic_slice(j, (start,), (size,))
    yc = jax.lax.dynamic_slice(y, (0, start), (y.shape[0], size))
    wc = jax.lax.dynamic_slice(w, (0, start), (w.shape[0], size)) * fresh[None]
    return ic, jc, yc, wc


def _value_pass(model: C2Model, chunk: int, params, data):
    """Sum of squared weighted residuals, streamed (no derivatives)."""
    theta, contrast, offset = params[:3]
    t, phi, i = data[0], data[1], data[2]
    tabs = integral_tables(model, theta, t)
    k = shear_factors(model, theta, phi)
    size, n_chunks = _chunking(i.shape[0], chunk)

    def body(total, kk):
        ic, jc, yc, wc = _chunk(data, kk, size)
        g, _ = _point_terms(model, tabs, k, ic, jc)
        r = (yc - offset[:, None] - contrast[:, None] * g) * wc
        return total + jnp.sum(r * r), None

    total, _ = jax.lax.scan(body, jnp.zeros((), tabs[0].dtype), jnp.arange(n_chunks))
    return total


def _table_jacobians(model: C2Model, theta, t):
    """``(n_t, 3)`` Jacobians of the D table with respect to ``theta[0:3]`` and (shear) of the
    gamma_dot table with respect to ``theta[3:6]`` (the only entries each table depends on)."""
    jac_d, jac_g = jax.jacfwd(lambda th: integral_tables(model, th, t))(theta)
    return jac_d[:, 0:3], (jac_g[:, 3:6] if model.has_shear else None)


def _grad_pass(model: C2Model, chunk: int, params, data):
    """One streamed pass: the sum of squared residuals and the sums its gradient is made of.

    Returns ``(ssr, g_tab, b_k, b_c, b_o)``: ``-1/2 d ssr`` with respect to theta through the
    tables (``(n_params,)``), to k(phi) and to contrast and offset (per angle). Per-angle sums
    are accumulated elementwise in ``(n_phi, chunk)`` carries and reduced once after the loop;
    the table part is a per-pair cotangent times gathered Jacobian rows, reduced per chunk.
    """
    theta, contrast, offset = params[:3]
    t, phi, i = data[0], data[1], data[2]
    tabs = integral_tables(model, theta, t)
    jacs = _table_jacobians(model, theta, t)
    k = shear_factors(model, theta, phi)
    n_phi = phi.shape[0]
    size, n_chunks = _chunking(i.shape[0], chunk)
    n_acc = (5 if model.bin_averaged else 4) if model.has_shear else 3

    def body(carry, kk):
        acc, g_tab = carry
        ic, jc, yc, wc = _chunk(data, kk, size)
        g, parts = _point_terms(model, tabs, k, ic, jc)
        # Materialise the per-point terms once: otherwise XLA re-derives them (sin/cos
        # included) inside every reduction that consumes them.
        g, parts = jax.lax.optimization_barrier((g, parts))
        r = (yc - offset[:, None] - contrast[:, None] * g) * wc
        u = r * wc  # -1/2 d(r^2)/d(model c2)
        h = u * contrast[:, None]  # -1/2 d(r^2)/dG
        if parts["dg"] is not None:
            h = h * parts["dg"]  # ... / d g1d
        sums = [r * r, u, u * g]  # accumulated elementwise, reduced after the loop
        if model.per_angle_q:
            cots = [jnp.sum(parts["ddecay"] * h * parts["g1d"], axis=0)]
        else:
            cots = [parts["ddecay"][0] * jnp.sum(h * parts["g1d"], axis=0)]
        if model.bin_averaged:
            cot_x, cot_y = h * parts["dshape"], h * parts["dshape_y"]
            cot_i = cot_x * k[0][:, None] + cot_y * k[1][:, None]
            cots.append(parts["dig"] * jnp.sum(cot_i, axis=0))
            sums += [cot_x * parts["i_g"][None], cot_y * parts["i_g"][None]]
        elif model.has_shear:
            cot_x = h * parts["dshape"]
            cots.append(parts["dig"] * jnp.sum(cot_x * k[:, None], axis=0))
            sums.append(cot_x * parts["i_g"][None])
        step = [_pair_pullback(c, jac, ic, jc) for c, jac in zip(cots, jacs, strict=False)]
        g_tab = g_tab + jnp.concatenate(step)
        return (tuple(a + b for a, b in zip(acc, sums, strict=True)), g_tab), None

    dtype = tabs[0].dtype
    init = (
        tuple(jnp.zeros((n_phi, size), dtype) for _ in range(n_acc)),
        jnp.zeros((6 if model.has_shear else 3,), dtype),
    )
    (acc, g_tab), _ = jax.lax.scan(body, init, jnp.arange(n_chunks))
    g_tab = jnp.zeros_like(theta).at[: g_tab.shape[0]].set(g_tab)
    sums = [jnp.sum(a, axis=1) for a in acc]
    b_k = sums[3] if model.has_shear else jnp.zeros((n_phi,), dtype)
    if model.bin_averaged:
        b_k = (b_k, sums[4])
    return jnp.sum(sums[0]), g_tab, b_k, sums[2], sums[1]


def _pair_pullback(cot, jac, i, j):
    """sum_p cot_p (jac[j_p] - jac[i_p]): per-pair table-difference cotangents pulled back to
    the table's parameters (the transpose of ``table[j] - table[i]``, without a scatter)."""
    return jnp.sum(cot[:, None] * (jac[j] - jac[i]), axis=0)


def _gradient(model: C2Model, chunk: int, params, data):
    """Value and gradient of the log-likelihood with respect to (theta, contrast, offset, sigma)."""
    theta, contrast, offset, sigma = params
    phi, w = data[1], data[5]
    ssr, g_tab, b_k, b_c, b_o = _grad_pass(model, chunk, params, data)
    inv_var = 1.0 / (sigma * sigma)
    n = jnp.sum(w > 0)
    value = -0.5 * ssr * inv_var - n * jnp.log(sigma)
    g_theta = g_tab * inv_var
    if model.has_shear:
        _, pull_k = jax.vjp(lambda th: shear_factors(model, th, phi), theta)
        cot_k = jax.tree_util.tree_map(lambda b: b * inv_var, b_k)
        g_theta = g_theta + pull_k(cot_k)[0]
    g_sigma = ssr * inv_var / sigma - n / sigma
    return value, (g_theta, b_c * inv_var, b_o * inv_var, g_sigma)


@partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _loglik(model, chunk, params, data):
    _, _, _, sigma = params
    ssr = _value_pass(model, chunk, params, data)
    return -0.5 * ssr / (sigma * sigma) - jnp.sum(data[5] > 0) * jnp.log(sigma)


@_loglik.defjvp
def _loglik_jvp(model, chunk, primals, tangents):
    params, data = primals
    dparams, _ = tangents  # data are constants (stop_gradient in gaussian_loglik)
    value, grads = _gradient(model, chunk, params, data)
    tangent = sum(jnp.sum(g * d) for g, d in zip(grads, dparams, strict=True))
    return value, tangent


# Points (pairs x angles) per chunk when ``chunk`` is not given: measured on a 2-core x86 CPU,
# larger chunks leave the caches and cost up to 2x per point.
_CHUNK_POINTS = 3072


@partial(jax.jit, static_argnames=("model", "chunk"))
def gaussian_loglik(
    model: C2Model, theta, contrast, offset, sigma, t, phi, i, j, y, w, *, chunk=None
):
    """Gaussian log-likelihood of data ``y`` at pairs (i, j) for every angle, up to a constant.

    ``-1/2 sum (w (y - offset - contrast G))^2 / sigma^2 - n log sigma`` (n: points with
    w > 0) with G = g1^2 of
    ``model`` at ``theta``. Differentiable in ``theta``, ``contrast``, ``offset`` and ``sigma``
    through a custom JVP: one fused streamed pass gives the value and the whole gradient (see
    the module docstring); the data arguments are constants.

    Parameters
    ----------
    model
        :class:`~homodyne_physics.C2Model` (static).
    theta
        Physical parameters in kernel order, ``(n_params,)``.
    contrast, offset
        Per-angle scaling, ``(n_phi,)``.
    sigma
        Noise standard deviation (scalar, > 0).
    t, phi
        Frame times, s, ``(n_t,)``; angles, degrees, ``(n_phi,)``.
    i, j
        Frame indices of the pairs, ``(n_pairs,)``.
    y, w
        Data and a residual multiplier, ``(n_phi, n_pairs)``: a 0/1 mask, or for weighted
        points (a point set) the square root of each point's 1/variance weight (0 masks it);
        ``y`` must be finite where ``w`` is 0.
    chunk
        Pairs per streamed chunk (each chunk covers all angles); memory is O(chunk x n_phi).
        Default: about 3072 points per chunk (``3072 // n_phi`` pairs, at least 16).
    """
    require_float64()
    f64 = jnp.float64
    params = (
        jnp.asarray(theta, f64),
        jnp.asarray(contrast, f64).reshape(-1),
        jnp.asarray(offset, f64).reshape(-1),
        jnp.asarray(sigma, f64),
    )
    data = jax.lax.stop_gradient(
        (
            jnp.asarray(t, f64),
            jnp.atleast_1d(jnp.asarray(phi, f64)),
            jnp.asarray(i, jnp.int32),
            jnp.asarray(j, jnp.int32),
            jnp.asarray(y, f64),
            jnp.asarray(w, f64),
        )
    )
    n_phi = data[1].shape[0]
    params = (
        params[0],
        jnp.broadcast_to(params[1], (n_phi,)),
        jnp.broadcast_to(params[2], (n_phi,)),
        params[3],
    )
    if chunk is None:
        chunk = max(16, _CHUNK_POINTS // n_phi)
    return _loglik(model, int(chunk), params, data)
