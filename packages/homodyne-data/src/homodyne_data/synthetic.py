"""Synthetic two-time data from the one physics kernel: :func:`simulate` -> :class:`Simulation`.

The clean matrices are ``homodyne_physics.c2_matrix`` (evaluated inside
``homodyne_physics.float64()``); Gaussian noise is added symmetrically (one draw per pair
``t1 <= t2``, mirrored), with a standard deviation ``noise + lag_noise * |i - j| / (n - 1)``
that can grow with the lag as in measured data.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from homodyne_physics import (
    C2Model,
    ModelSpec,
    ParameterError,
    c2_matrix,
    canonical_name,
    check_values,
    float64,
)

from .dataset import Provenance, XPCSData
from .errors import DataConfigError
from .selection import normalize_angle

__all__ = ["Simulation", "simulate", "DEFAULT_INSTRUMENT"]

# Instrument values written with simulated data (an 8-ID-I-like setup).
DEFAULT_INSTRUMENT = {
    "detector_distance": 12.5,  # m
    "x_pixel_size": 75e-6,  # m
    "y_pixel_size": 75e-6,  # m
    "beam_center_x": 512.0,  # px
    "beam_center_y": 512.0,  # px
    "incident_energy": 10.0,  # keV
}


@dataclass(frozen=True, eq=False)
class Simulation:
    """A simulated data set and the truth it was made from.

    Attributes
    ----------
    data
        The noisy data, :class:`XPCSData` (layout ``'simulated'``).
    truth
        Physical parameters by name, per-angle ``contrast_<k>``/``offset_<k>`` and their means
        ``contrast``/``offset``.
    model
        The :class:`homodyne_physics.C2Model` used (``spec.model(q, dt)``).
    theta
        Physical parameters in kernel order, ``(n_params,)``.
    contrast, offset
        Per-angle scaling, ``(n_phi,)``.
    noise, lag_noise, seed
        Noise settings.
    spec
        The :class:`homodyne_physics.ModelSpec` simulated.
    """

    data: XPCSData
    truth: dict[str, float]
    model: C2Model
    theta: np.ndarray
    contrast: np.ndarray
    offset: np.ndarray
    noise: float
    lag_noise: float
    seed: int
    settings: dict = field(default_factory=dict)
    spec: ModelSpec | None = None

    def sigma(self) -> np.ndarray:
        """Noise standard deviation of every matrix element, shape ``(n_t, n_t)``."""
        return _sigma(self.data.n_t, self.noise, self.lag_noise)

    def clean_c2(self) -> np.ndarray:
        """The noiseless model matrices, shape ``(n_phi, n_t, n_t)``."""
        with float64():
            out = c2_matrix(
                self.model, self.theta, self.contrast, self.offset, self.data.t, self.data.phi
            )
            return np.asarray(out, dtype=np.float64)


def _sigma(n: int, noise: float, lag_noise: float) -> np.ndarray:
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n))).astype(np.float64)
    return noise + lag_noise * lag / max(n - 1, 1)


def _per_angle(value, n_phi: int, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64)).reshape(-1)
    if arr.size == 1:
        arr = np.full(n_phi, arr[0])
    if arr.size != n_phi or not np.all(np.isfinite(arr)):
        raise DataConfigError(
            f"expected one finite value or one per angle ({n_phi}), got {value!r}", dataset=name
        )
    return arr


def simulate(
    spec: ModelSpec | str,
    params: Mapping[str, float] | None = None,
    *,
    phi: Sequence[float] | np.ndarray = (0.0,),
    q: float = 0.0054,
    dt: float = 0.1,
    n_frames: int = 200,
    start_frame: int = 1,
    contrast: float | Sequence[float] = 0.3,
    offset: float | Sequence[float] = 1.0,
    noise: float = 0.01,
    lag_noise: float = 0.0,
    seed: int = 0,
) -> Simulation:
    """Simulate noisy two-time matrices with the physics kernel.

    Parameters
    ----------
    spec
        The :class:`homodyne_physics.ModelSpec` (mode, convention, gap, bounds, start values),
        or a mode name for the default spec of that mode.
    params
        Physical parameter values by name (aliases accepted); missing ones take the spec's
        start values. Checked against the spec's bounds.
    phi
        Angles, degrees (normalised to [-180, 180)).
    q
        Wavevector, 1/Angstrom.
    dt
        Time between frames, s.
    n_frames, start_frame
        Frames ``start_frame .. start_frame + n_frames - 1`` (1-based), ``t = frame * dt``.
    contrast, offset
        One value or one per angle.
    noise
        Standard deviation of the Gaussian noise at zero lag.
    lag_noise
        Extra standard deviation reached at the largest lag (linear in the lag).
    seed
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    Simulation
    """
    n_frames = _check_settings(n_frames, start_frame, noise, lag_noise)
    spec = spec_of(spec)
    model = spec.model(q, dt)
    theta = truth_vector(spec, params)
    phi_arr = angles_of(phi)
    c_arr = _per_angle(contrast, phi_arr.size, "contrast")
    o_arr = _per_angle(offset, phi_arr.size, "offset")
    frames = np.arange(start_frame, start_frame + n_frames, dtype=np.int64)
    t = frames.astype(np.float64) * model.dt
    with float64():
        c2 = np.array(c2_matrix(model, theta, c_arr, o_arr, t, phi_arr), dtype=np.float64)
    _add_noise(c2, noise, lag_noise, seed)
    truth = truth_record(spec.names, theta, c_arr, o_arr)
    settings = {
        **model_settings(spec, model),
        "n_frames": n_frames,
        "start_frame": int(start_frame),
        "noise": float(noise),
        "lag_noise": float(lag_noise),
        "seed": int(seed),
        "params": truth,
    }
    note = f"simulated with homodyne_physics.c2_matrix ({model.mode}, {model.convention})"
    return Simulation(
        data=simulated_dataset(model, c2, phi_arr, frames, settings, note),
        truth=truth,
        model=model,
        theta=np.asarray(theta, dtype=np.float64),
        contrast=c_arr,
        offset=o_arr,
        noise=float(noise),
        lag_noise=float(lag_noise),
        seed=int(seed),
        settings=settings,
        spec=spec,
    )


# ---------------------------------------------- set-up shared with homodyne_data.speckle
def spec_of(spec: ModelSpec | str) -> ModelSpec:
    """The spec itself, or the default spec of a mode name."""
    return spec if isinstance(spec, ModelSpec) else ModelSpec.create(spec)


def check_count(value, name: str, minimum: int) -> int:
    """An integer setting ``>= minimum`` (bools refused), as ``int``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DataConfigError(f"expected an integer >= {minimum}, got {value!r}", dataset=name)
    return int(value)


def angles_of(phi) -> np.ndarray:
    """Angles in degrees, normalised to [-180, 180); at least one."""
    arr = normalize_angle(np.atleast_1d(np.asarray(phi, dtype=np.float64)).reshape(-1))
    if arr.size == 0:
        raise DataConfigError("expected at least one angle", dataset="phi")
    return arr


def truth_record(names, theta, contrast: np.ndarray, offset: np.ndarray) -> dict[str, float]:
    """Physical parameters by name, ``contrast_<k>``/``offset_<k>`` and their means."""
    truth = {n: float(v) for n, v in zip(names, theta, strict=True)}
    truth.update({f"contrast_{k}": float(v) for k, v in enumerate(contrast)})
    truth.update({f"offset_{k}": float(v) for k, v in enumerate(offset)})
    truth["contrast"] = float(np.mean(contrast))
    truth["offset"] = float(np.mean(offset))
    return truth


def model_settings(spec: ModelSpec, model: C2Model) -> dict:
    """The model part of a simulation's settings (``provenance.selection``)."""
    return {
        "mode": model.mode,
        "convention": model.convention,
        "gap": model.gap,
        "spec": spec.to_dict(),
        "q": model.q,
        "dt": model.dt,
    }


def _check_settings(n_frames, start_frame, noise, lag_noise) -> int:
    n_frames = check_count(n_frames, "n_frames", 2)
    if (
        isinstance(start_frame, bool)
        or not isinstance(start_frame, int | np.integer)
        or start_frame < 1
    ):
        raise DataConfigError(
            f"expected a 1-based frame number, got {start_frame!r}", dataset="start_frame"
        )
    for name, val in (("noise", noise), ("lag_noise", lag_noise)):
        if not (np.isfinite(val) and val >= 0):
            raise DataConfigError(f"expected a standard deviation >= 0, got {val!r}", dataset=name)
    return n_frames


def truth_vector(spec: ModelSpec, params: Mapping[str, float] | None) -> np.ndarray:
    """Kernel-order truth: the spec's start values overridden by ``params``, inside bounds."""
    values = dict(spec.start)
    for key, val in (params or {}).items():
        values[canonical_name(str(key))] = float(val)
    theta = check_values(spec.mode, values, check_bounds=False)
    for n, v in zip(spec.names, theta, strict=True):
        lo, hi = spec.bounds[n]
        if not lo <= v <= hi:
            raise ParameterError(f"parameter {n!r} = {v:g} is outside its bounds [{lo:g}, {hi:g}]")
    return theta


def _add_noise(c2: np.ndarray, noise: float, lag_noise: float, seed: int) -> None:
    """Symmetric Gaussian noise, one draw per pair t1 <= t2, in place."""
    rng = np.random.default_rng(seed)
    if not (noise > 0 or lag_noise > 0):
        return
    n_frames = c2.shape[1]
    sig = _sigma(n_frames, float(noise), float(lag_noise))
    for k in range(c2.shape[0]):
        z = rng.standard_normal((n_frames, n_frames))
        sym = np.triu(z)
        sym += np.triu(z, 1).T
        sym *= sig
        c2[k] += sym


def simulated_dataset(model: C2Model, c2, phi, frames, settings: dict, note: str) -> XPCSData:
    """A simulated :class:`XPCSData` (layout ``'simulated'``, 8-ID-I-like instrument)."""
    metadata = {"frame_time": model.dt, "avg_frame": 1, "stride_frame": 1, **DEFAULT_INSTRUMENT}
    return XPCSData(
        c2=c2,
        phi=phi,
        q=model.q,
        dt=model.dt,
        frames=frames,
        metadata=metadata,
        provenance=Provenance(
            file=None,
            layout="simulated",
            selection=settings,
            q_available=(model.q,),
            notes=(note,),
        ),
    )
