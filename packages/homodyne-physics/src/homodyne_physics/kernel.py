"""The one forward model of homodyne: g1^2 and c2 for every angle, both conventions.

Everything 2-D is built from 1-D tables over the frame grid (see ``shared/reference/model.md``):

* physical convention: ``F_D(t) = D0 (t^(alpha+1) - 1)/(alpha+1) + D_offset t`` (smooth through
  alpha = -1, where it is ``D0 ln t``), likewise ``F_g`` for the shear rate, and the exact
  integral between two frames is ``F(t2) - F(t1)``;
* homodyne2 convention: a cumulative trapezoid ``S_k`` of the floored rates on the grid that
  starts at the first selected frame, and ``I = dt * sqrt((S_j - S_i)^2 + 1e-12)``.

A point (angle a, frames i < j) then costs one gather from each table, one ``exp`` per frame
pair (shared by all angles) and one ``sin`` per point. The same functions serve the flat
(t1 < t2) point set used by the fitters and the full matrices used by plots, and they are
differentiable everywhere inside the parameter bounds (series branches at sinc(0) and at
alpha = -1, guarded so that no NaN leaks into gradients).

Point sets (two-time values at arbitrary (t1, t2), such as (age, lag) grids or multi-tau
levels) go through the same functions: in the physical convention ``F`` is a closed form, so a
table over the distinct times of the points (:func:`point_set_index`) is exact and every engine
that takes a time table and index pairs fits them unchanged; :func:`c2_at_times` evaluates the
model at given times directly. The homodyne2 convention is a sum over a frame grid and refuses
them (:func:`require_grid_free`).

The functions are pure and jit-able; ``model`` (a :class:`C2Model`) is hashable and meant to be
a static argument.
"""

import math
from dataclasses import dataclass, replace

import jax.numpy as jnp
import numpy as np

from ._lazy import KERNEL_NAMES
from .binning import bin_nodes, check_bin_width
from .errors import ModeError
from .grid_free import point_set_index, require_grid_free  # noqa: F401 (re-exported)
from .parameters import canonical_mode, parameter_names
from .precision import require_float64
from .programs import cached_jit
from .spec import Convention, check_convention

__all__ = list(KERNEL_NAMES)

# Exponent window of g1^2 in the physical convention: below -1400 g1^2 is 0 to double precision,
# above +700 (only reachable with D(t) < 0) it would overflow once multiplied.
_EXP_MIN = -1400.0
_EXP_MAX = 700.0
# homodyne2 floors and clips (as that code computes them).
_H2_RATE_FLOOR = 1e-10
_H2_G1_FLOOR = 1e-10
_H2_EXP_MIN = -700.0
_H2_ABS_EPS = 1e-12


@dataclass(frozen=True)
class C2Model:
    """Static description of the model: mode, convention and experimental constants.

    Parameters
    ----------
    mode
        ``'static'`` or ``'laminar_flow'`` (aliases accepted).
    q
        Scattering wavevector, 1/Angstrom: a number (one ring, every angle) or one value per
        angle (a joint fit over several rings: the angles of all rings, each with its own q;
        stored as a tuple). Per-angle q joins the per-angle prefactors (``q^2`` of the decay and
        ``q h`` of the shear), so a point costs the same, but the decay is no longer shared by
        the angles of a pair.
    dt
        Time between frames of the two-time matrix, s.
    gap
        Stator-rotor gap h, Angstrom (default 2e6 A = 200 um).
    convention
        ``'physical'`` (default) or ``'homodyne2'`` (reproduces homodyne 2.x numbers).
    phi_bin_width
        Angular width of each angle's bin, degrees: ``None`` or 0 (default) evaluates the shear
        term at the bin centre; a number (every angle) or one per angle (tuple; 0 entries allowed)
        replaces ``sinc^2`` by its average over the bin, as a correlator that averages c2 over
        the pixels of a bin measures it (see :func:`shear_shape`). Ignored in static mode.
    phi_bin_nodes
        Gauss-Legendre nodes of that bin average (default 16; see :func:`shear_shape` for the
        phases where the rule is accurate).
    """

    mode: str
    q: float | tuple[float, ...]
    dt: float
    gap: float = 2.0e6
    convention: Convention = "physical"
    phi_bin_width: float | tuple[float, ...] | None = None
    phi_bin_nodes: int = 16

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", canonical_mode(self.mode))
        check_convention(self.convention)
        object.__setattr__(self, "q", _check_q(self.q))
        for name in ("dt", "gap"):
            val = float(getattr(self, name))
            if not (math.isfinite(val) and val > 0):
                raise ModeError(f"C2Model.{name} must be a positive finite number, got {val!r}")
            object.__setattr__(self, name, val)
        width = check_bin_width(self.phi_bin_width, "C2Model.phi_bin_width")
        object.__setattr__(self, "phi_bin_width", width)
        nodes = self.phi_bin_nodes
        integral = isinstance(nodes, int | np.integer) and not isinstance(nodes, bool)
        if not integral or not 1 <= nodes <= 256:
            raise ModeError(f"C2Model.phi_bin_nodes must be an integer in 1..256, got {nodes!r}")
        object.__setattr__(self, "phi_bin_nodes", int(nodes))

    @property
    def bin_averaged(self) -> bool:
        """True when the shear term is averaged over a finite angular bin (laminar flow with a
        non-zero ``phi_bin_width``)."""
        return self.has_shear and self.phi_bin_width is not None

    def bin_nodes(self, ndim: int, xp=jnp):
        """``(cos d, sin d, weights)`` of the bin-average nodes ``d`` (radians from the bin
        centre) and their Gauss-Legendre weights (sum 1). Scalar width: shapes ``(m,)``; per-angle
        width: ``cos``/``sin`` shaped ``(n_phi, 1, ..., 1, m)`` to broadcast against
        ``ndim``-dimensional per-point arrays (leading axis the angle) with a trailing node axis."""
        cos_d, sin_d, wts = bin_nodes(self.phi_bin_width, self.phi_bin_nodes, ndim)
        return xp.asarray(cos_d), xp.asarray(sin_d), xp.asarray(wts)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Physical parameter names in kernel order."""
        return parameter_names(self.mode)

    @property
    def n_params(self) -> int:
        """Number of physical parameters."""
        return len(self.parameter_names)

    @property
    def has_shear(self) -> bool:
        """True for laminar_flow."""
        return self.mode == "laminar_flow"

    @property
    def per_angle_q(self) -> bool:
        """True when q is given per angle (a joint fit over several rings)."""
        return isinstance(self.q, tuple)

    @property
    def q_values(self) -> np.ndarray:
        """q as an array: shape ``(n_phi,)`` per angle, else ``(1,)``."""
        return np.atleast_1d(np.asarray(self.q, np.float64))

    @property
    def q_rings(self) -> tuple[float, ...]:
        """The distinct q values in order of first appearance (one per ring)."""
        return tuple(dict.fromkeys(float(v) for v in self.q_values))

    def q_column(self, ndim: int, xp=jnp):
        """q shaped to broadcast against ``ndim``-dimensional per-point arrays whose leading
        axis is the angle: a scalar for one ring, ``(n_phi, 1, ..., 1)`` per angle."""
        if not self.per_angle_q:
            return self.q
        if ndim < 1:
            raise ModeError("a per-angle q needs per-point arrays with a leading angle axis")
        return xp.asarray(self.q, dtype=xp.float64).reshape((-1,) + (1,) * (ndim - 1))

    def for_angles(self, index) -> "C2Model":
        """The model of a subset of the angles (``index``: slice, mask or indices); the same
        model for a scalar q."""
        out = self
        if isinstance(self.phi_bin_width, tuple):
            out = replace(out, phi_bin_width=np.asarray(self.phi_bin_width)[index])
        if not self.per_angle_q:
            return out
        return replace(out, q=np.asarray(self.q)[index])

    def check_angles(self, n_phi: int) -> None:
        """Raise :class:`ModeError` when a per-angle q (or bin width) does not have one value
        per angle."""
        if self.per_angle_q and len(self.q) != int(n_phi):
            raise ModeError(
                f"C2Model.q holds {len(self.q)} per-angle values but {int(n_phi)} angles were "
                "given (a joint fit needs one q per angle)"
            )
        width = self.phi_bin_width
        if isinstance(width, tuple) and len(width) != int(n_phi):
            raise ModeError(
                f"C2Model.phi_bin_width holds {len(width)} per-angle values but {int(n_phi)} "
                "angles were given (expected one width per angle, or one number)"
            )

    @property
    def first_fitted_frame(self) -> int:
        """Index of the first selected frame that enters a fit (homodyne2 drops its t = 0)."""
        return 1 if self.convention == "homodyne2" else 0


def _check_q(q):
    """A positive finite float, or a tuple of them (one per angle; a 0-d array is a float)."""
    arr = np.asarray(q, dtype=np.float64) if not isinstance(q, float) else None
    if arr is not None and arr.ndim > 1:
        raise ModeError(f"C2Model.q must be a number or a 1-D array (one per angle), got {q!r}")
    vals = np.atleast_1d(np.float64(q) if arr is None else arr)
    if vals.size == 0 or not np.all(np.isfinite(vals) & (vals > 0)):
        raise ModeError(f"C2Model.q must hold positive finite numbers, got {q!r}")
    if arr is None or arr.ndim == 0:
        return float(vals[0])
    return tuple(float(v) for v in vals)


# --------------------------------------------------------------------------- safe elementwise


def _expm1_over_x(x):
    """(exp(x) - 1)/x, equal to 1 at x = 0, with finite derivatives there."""
    small = jnp.abs(x) < 1e-5
    xs = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 + x / 2.0 + x * x / 6.0, jnp.expm1(xs) / xs)


def _sinc(x):
    """sin(x)/x (unnormalised), equal to 1 at x = 0, with finite derivatives there."""
    small = jnp.abs(x) < 1e-4
    xs = jnp.where(small, 1.0, x)
    x2 = x * x
    return jnp.where(small, 1.0 - x2 / 6.0 + x2 * x2 / 120.0, jnp.sin(xs) / xs)


def _power_law_antiderivative(t, prefactor, exponent, constant):
    """F(t) = prefactor (t^(e+1) - 1)/(e+1) + constant t, smooth through e = -1."""
    log_t = jnp.log(t)
    return prefactor * log_t * _expm1_over_x((exponent + 1.0) * log_t) + constant * t


def _cumulative_trapezoid_units(rate):
    """S_k = sum_{m<k} (r_m + r_{m+1})/2 with S_0 = 0 (grid spacing 1)."""
    steps = 0.5 * (rate[1:] + rate[:-1])
    return jnp.concatenate([jnp.zeros((1,), rate.dtype), jnp.cumsum(steps)])


def _homodyne2_table(t_rel, dt, prefactor, exponent, constant):
    tt = jnp.maximum(t_rel, 0.5 * dt)
    rate = jnp.maximum(prefactor * jnp.power(tt, exponent) + constant, _H2_RATE_FLOOR)
    return _cumulative_trapezoid_units(rate)


# --------------------------------------------------------------------------- tables


def integral_tables(model: C2Model, theta, t):
    """1-D tables whose pairwise differences give the time integrals of D(t) and gamma_dot(t).

    Parameters
    ----------
    model
        The model description.
    theta
        Physical parameters in kernel order, shape ``(n_params,)``.
    t
        Times of the selected frames, s, shape ``(n_t,)``: ``t = frame_number * dt`` with 1-based
        frame numbers of the file (so ``t > 0``). The homodyne2 convention measures time from
        the first entry instead.

    Returns
    -------
    (table_d, table_g)
        Shape ``(n_t,)`` each; ``table_g`` is zero in static mode. Physical: antiderivatives
        F(t). homodyne2: cumulative trapezoid sums in units of frames (multiply by ``dt``).
    """
    require_float64()
    theta = jnp.asarray(theta, dtype=jnp.float64)
    t = jnp.asarray(t, dtype=jnp.float64)
    d0, alpha, d_off = theta[0], theta[1], theta[2]
    if model.convention == "physical":
        table_d = _power_law_antiderivative(t, d0, alpha, d_off)
        if model.has_shear:
            table_g = _power_law_antiderivative(t, theta[3], theta[4], theta[5])
        else:
            table_g = jnp.zeros_like(t)
    else:
        t_rel = t - t[0]
        table_d = _homodyne2_table(t_rel, model.dt, d0, alpha, d_off)
        if model.has_shear:
            table_g = _homodyne2_table(t_rel, model.dt, theta[3], theta[4], theta[5])
        else:
            table_g = jnp.zeros_like(t)
    return table_d, table_g


def pair_integrals(model: C2Model, tables, i, j):
    """Integrals I_D, I_g between frames ``i`` and ``j`` (index arrays, broadcastable).

    Symmetric in (i, j): the physical convention uses ``sign(j - i) (F[j] - F[i])``, homodyne2
    its smooth absolute value.
    """
    table_d, table_g = tables
    diff_d = table_d[j] - table_d[i]
    diff_g = table_g[j] - table_g[i]
    if model.convention == "physical":
        sign = jnp.sign(j - i).astype(diff_d.dtype)
        return sign * diff_d, sign * diff_g
    return (
        model.dt * jnp.sqrt(diff_d * diff_d + _H2_ABS_EPS),
        model.dt * jnp.sqrt(diff_g * diff_g + _H2_ABS_EPS),
    )


def _shear_scale(model: C2Model, phi):
    q = model.q_column(phi.ndim)
    if model.convention == "homodyne2":
        return q * model.gap / (2.0 * math.pi)
    return 0.5 * q * model.gap


def shear_prefactor(model: C2Model, theta, phi):
    """Per-angle factor k(phi) such that the sinc argument is ``k(phi) * I_g``.

    Physical: ``(q h / 2) cos(phi0 - phi)``; homodyne2: ``q h cos(phi0 - phi) / (2 pi)``.
    Angles in degrees. Zero in static mode. Shape ``(n_phi,)``; a per-angle q enters here.
    """
    phi = jnp.asarray(phi, dtype=jnp.float64)
    if model.per_angle_q:
        model.check_angles(phi.reshape(-1).shape[0])
    if not model.has_shear:
        return jnp.zeros_like(phi)
    theta = jnp.asarray(theta, dtype=jnp.float64)
    return _shear_scale(model, phi) * jnp.cos(jnp.deg2rad(theta[6] - phi))


def shear_quadrature(model: C2Model, theta, phi):
    """The companion of :func:`shear_prefactor` for a finite bin: ``k_s(phi)`` with ``sin``
    in place of ``cos``, so that at an angle ``phi + d`` of the bin the sinc argument is
    ``k(phi) I_g cos d + k_s(phi) I_g sin d``. Shape ``(n_phi,)``; zero in static mode."""
    phi = jnp.asarray(phi, dtype=jnp.float64)
    model.check_angles(phi.reshape(-1).shape[0])
    if not model.has_shear:
        return jnp.zeros_like(phi)
    theta = jnp.asarray(theta, dtype=jnp.float64)
    return _shear_scale(model, phi) * jnp.sin(jnp.deg2rad(theta[6] - phi))


def shear_shape(model: C2Model, x, y=None):
    """The shear factor of g1: ``sinc(x)^2`` at the bin centre, or its bin average.

    ``x = k(phi) I_g`` (:func:`shear_prefactor`); with ``model.bin_averaged``, ``y = k_s(phi)
    I_g`` (:func:`shear_quadrature`) is required and the result is
    ``sum_m w_m sinc^2(x cos d_m + y sin d_m)`` over Gauss-Legendre nodes ``d_m`` of
    ``[-w/2, w/2]`` (``model.phi_bin_nodes``, default 16): the mean of ``sinc^2`` over the bin's
    angles, uniform in angle.

    Accuracy (measured against adaptive quadrature, 4 deg bins, every bin position): with m
    nodes the average is right to 1e-8 while the phase swing across the bin,
    ``|k I_g| * width`` in radians, stays below about m rad (m = 8: 6 rad, 16: 17 rad, 24:
    31 rad), i.e. up to shear phases ``|k I_g|`` of about 250 rad for 16 nodes and 4 deg bins.
    Beyond, the rule under-resolves the oscillation of sinc^2 inside the bin; the error is
    bounded by the size of sinc^2 there, small except in bins that hold the direction normal
    to the flow (16 nodes, phase 500 rad, 4 deg: 8e-3). Raise ``phi_bin_nodes`` for such data.
    """
    if not model.bin_averaged:
        s = _sinc(x)
        return s * s
    if y is None:
        raise ModeError(
            "this model averages the shear term over a finite angular bin (phi_bin_width set): "
            "pass y = shear_quadrature(model, theta, phi) * I_g as well as x"
        )
    x = jnp.asarray(x)
    cos_d, sin_d, wts = model.bin_nodes(max(jnp.ndim(x), jnp.ndim(y)))
    s = _sinc(x[..., None] * cos_d + jnp.asarray(y)[..., None] * sin_d)
    return jnp.sum(wts * (s * s), axis=-1)


def g1sq_from_integrals(model: C2Model, i_d, x, y=None):
    """g1^2 from the diffusion integral ``i_d`` and the sinc argument ``x`` (broadcastable).

    Physical: ``exp(-q^2 I_D) sinc(x)^2``. homodyne2: ``(max(exp(max(-q^2 I_D/2, -700))
    sinc(x)^2, 1e-10))^2`` (sinc squared inside g1). With a finite angular bin
    (``model.bin_averaged``) ``sinc(x)^2`` is its bin average :func:`shear_shape`, which
    needs ``y = k_s(phi) I_g`` too.

    With a per-angle q the leading axis of ``i_d`` / ``x`` is the angle (size 1 or n_phi).
    """
    if model.per_angle_q:
        q = model.q_column(max(jnp.ndim(i_d), jnp.ndim(x)))
    else:
        q = model.q
    q2 = q * q
    if model.convention == "physical":
        decay = jnp.exp(jnp.clip(-q2 * i_d, _EXP_MIN, _EXP_MAX))
        if not model.has_shear:
            return jnp.broadcast_to(decay, jnp.broadcast_shapes(decay.shape, jnp.shape(x)))
        return decay * shear_shape(model, x, y)
    g1_diff = jnp.exp(jnp.maximum(-0.5 * q2 * i_d, _H2_EXP_MIN))
    if model.has_shear:
        g1_diff = g1_diff * shear_shape(model, x, y)
    g1 = jnp.maximum(g1_diff, _H2_G1_FLOOR)
    return jnp.broadcast_to(g1 * g1, jnp.broadcast_shapes(g1.shape, jnp.shape(x)))


def shear_factors(model: C2Model, theta, phi):
    """What :func:`g1sq_from_factors` takes: k(phi) ``(n_phi,)``, or ``(k, k_s)`` when the
    model averages the shear term over a finite angular bin."""
    k = shear_prefactor(model, theta, phi)
    if model.bin_averaged:
        return k, shear_quadrature(model, theta, phi)
    return k


def g1sq_from_factors(model: C2Model, i_d, i_g, k):
    """g1^2 ``(n_phi,) + i_g.shape`` from ``i_d`` (``(1,) + i_g.shape``, or per angle), the
    shear integral ``i_g`` per pair and :func:`shear_factors` ``k``: the per-chunk step of every
    streamed pass and of :func:`g1sq_pairs` (point evaluation or bin average alike)."""
    factors = k if isinstance(k, tuple) else (k,)
    args = [f.reshape(f.shape + (1,) * jnp.ndim(i_g)) * i_g[None] for f in factors]
    return g1sq_from_integrals(model, i_d, *args)


def g1sq_pairs(model: C2Model, theta, t, phi, i, j, *, tables=None):
    """g1^2 for every angle at the frame pairs (i, j): shape ``(n_phi,) + broadcast(i, j)``.

    ``tables``: precomputed :func:`integral_tables` (then ``t`` is not used)."""
    if tables is None:
        tables = integral_tables(model, theta, t)
    i_d, i_g = pair_integrals(model, tables, i, j)
    return g1sq_from_factors(model, i_d[None], i_g, shear_factors(model, theta, phi))


def c2_pairs(model: C2Model, theta, contrast, offset, t, phi, i, j, *, tables=None):
    """c2 = offset + contrast * g1^2 at frame pairs, shape ``(n_phi, n_pairs)``.

    ``contrast`` and ``offset`` are per angle, shape ``(n_phi,)`` (or scalars); ``tables`` as
    for :func:`g1sq_pairs`.
    """
    g = g1sq_pairs(model, theta, t, phi, i, j, tables=tables)
    contrast = jnp.broadcast_to(jnp.asarray(contrast, jnp.float64), g.shape[:1])
    offset = jnp.broadcast_to(jnp.asarray(offset, jnp.float64), g.shape[:1])
    extra = (1,) * (g.ndim - 1)
    return offset.reshape((-1,) + extra) + contrast.reshape((-1,) + extra) * g


@cached_jit(static_argnames=("model",))
def c2_matrix(model: C2Model, theta, contrast, offset, t, phi):
    """Full symmetric c2 matrices, shape ``(n_phi, n_t, n_t)`` (for plots and simulation).

    The diagonal holds the model value at zero lag, ``offset + contrast``.
    """
    n_t = jnp.shape(t)[0]
    idx = jnp.arange(n_t)
    return c2_pairs(model, theta, contrast, offset, t, phi, idx[:, None], idx[None, :])


def pair_indices(n_t: int, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row-major upper-triangle index pairs ``(i, j)`` with ``first <= i < j < n_t`` (int32).

    This is the point set every fitter uses: the diagonal is excluded and each symmetric pair
    counted once. ``first = model.first_fitted_frame``.
    """
    i, j = np.triu_indices(n_t, k=1)
    keep = i >= first
    return i[keep].astype(np.int32), j[keep].astype(np.int32)


# --------------------------------------------------------------------------- point sets


@cached_jit(static_argnames=("model",))
def c2_at_times(model: C2Model, theta, contrast, offset, t1, t2, phi):
    """c2 at points ``(t1, t2)`` (s, any shape, broadcast together), shape
    ``(n_phi,) + broadcast(t1, t2).shape``; physical convention only (see
    :func:`require_grid_free`)."""
    require_grid_free(model)
    t1 = jnp.asarray(t1, jnp.float64)
    t2 = jnp.asarray(t2, jnp.float64)
    shape = jnp.broadcast_shapes(t1.shape, t2.shape)
    t1 = jnp.broadcast_to(t1, shape).reshape(-1)
    t2 = jnp.broadcast_to(t2, shape).reshape(-1)
    # tables index order must follow time order (the physical sign is sign(j - i))
    both = jnp.stack([jnp.minimum(t1, t2), jnp.maximum(t1, t2)])
    n = both.shape[1]
    tables = integral_tables(model, theta, both.reshape(-1))
    idx = jnp.arange(n)
    out = c2_pairs(model, theta, contrast, offset, None, phi, idx, idx + n, tables=tables)
    return out.reshape(out.shape[:1] + shape)
