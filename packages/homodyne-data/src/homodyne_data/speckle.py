"""Speckle-level simulation: point scatterers -> detector frames -> correlator two-time matrices.

:func:`simulate_speckle` makes data whose noise has the structure of real correlator output
(every value of row t1 shares the speckle pattern of frame t1), unlike :func:`simulate`, which
adds independent noise to the kernel. Its mean obeys the same physics as the kernel,
``c2 - 1 = beta * g1^2`` with ``beta = (1 - 1/n_scatterers) / modes`` (averaged over the q
vectors of each bin), which :meth:`SpeckleSimulation.expected_c2` evaluates with
:func:`homodyne_physics.c2_matrix`. See :mod:`homodyne_data.speckle_frames` for the steps.
"""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from homodyne_physics import (
    C2Model,
    c2_matrix,
    canonical_name,
    check_values,
    default_values,
    float64,
    integral_tables,
    parameter_names,
)

from .dataset import Provenance, XPCSData
from .errors import DataConfigError
from .selection import normalize_angle
from .speckle_frames import (
    bin_intensities,
    correlate,
    independent_bin_intensities,
    scatterer_paths,
)
from .synthetic import DEFAULT_INSTRUMENT

__all__ = ["SpeckleSimulation", "simulate_speckle"]

# angles at which expected_c2 samples the kernel across one bin (enough for smooth sinc^2)
_BIN_QUADRATURE = 33
# the box is this many speckle widths per q-vector spacing, so that neighbouring q vectors
# see independent speckle (their fields decorrelate once dq * box >> 2 pi)
_BOX_SEPARATION = 8.0


@dataclass(frozen=True, eq=False)
class SpeckleSimulation:
    """A speckle-level simulated data set and the truth it was made from.

    Attributes
    ----------
    data
        Correlator two-time matrices, :class:`XPCSData` (layout ``'simulated'``); write it
        with :func:`homodyne_data.write_aps_u` (``write_aps_u(path, sim.data)``).
    truth
        Physical parameters by name, plus ``contrast``/``offset`` (expected, all bins).
    model
        The :class:`homodyne_physics.C2Model` used.
    theta
        Physical parameters in kernel order.
    contrast
        Expected contrast per bin, ``(1 - 1/n_scatterers) / modes``.
    pixel_phi
        Angle of every q vector of every bin, degrees, ``(n_phi, n_pixels * modes)``.
    frames_mean
        Mean intensity (or count) per pixel and frame over each bin, ``(n_phi, n_t)``.
    settings, seed, timing
        Everything that made it; seconds spent per step.
    """

    data: XPCSData
    truth: dict[str, float]
    model: C2Model
    theta: np.ndarray
    contrast: np.ndarray
    pixel_phi: np.ndarray
    frames_mean: np.ndarray
    seed: int
    settings: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)

    def expected_c2(self) -> np.ndarray:
        """Mean c2 the correlator estimates, from the kernel: ``1 + beta * <g1^2>_bin``.

        ``<g1^2>_bin`` averages the kernel over the angles of the bin's q vectors (a
        quadrature of 33 angles; exact for static data). Shape ``(n_phi, n_t, n_t)``.
        """
        out = np.empty_like(self.data.c2)
        with float64():
            for b in range(self.data.n_phi):
                angles = self.pixel_phi[b]
                pick = np.linspace(0, angles.size - 1, min(_BIN_QUADRATURE, angles.size))
                sub = angles[np.round(pick).astype(int)]
                if not self.model.has_shear:
                    sub = sub[:1]
                g = c2_matrix(self.model, self.theta, 1.0 / sub.size, 0.0, self.data.t, sub)
                out[b] = 1.0 + self.contrast[b] * np.asarray(g).sum(axis=0)
        return out


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DataConfigError(f"expected an integer >= {minimum}, got {value!r}", dataset=name)
    return int(value)


def _qvectors(q: float, phi_deg: float, width_deg: float, count: int) -> tuple:
    ang = phi_deg + width_deg * ((np.arange(count) + 0.5) / count - 0.5)
    rad = np.deg2rad(ang)
    return q * np.stack([np.cos(rad), np.sin(rad)], axis=1), ang


def simulate_speckle(
    mode: str,
    params: Mapping[str, float] | None = None,
    *,
    phi: Sequence[float] | np.ndarray = (0.0,),
    q: float = 0.0054,
    dt: float = 0.1,
    n_frames: int = 300,
    n_pixels: int = 1000,
    bin_width: float = 4.0,
    modes: int = 4,
    n_scatterers: int = 64,
    ensemble: str = "independent",
    mean_counts: float | None = None,
    pixel_normalize: bool = False,
    seed: int = 0,
    gap: float = 2e6,
) -> SpeckleSimulation:
    """Simulate detector frames of moving point scatterers and correlate them.

    Parameters
    ----------
    mode
        ``'static'`` or ``'laminar_flow'`` (aliases accepted); physical convention.
    params
        Physical parameters by name (aliases accepted), the rest at the registry defaults.
        D(t) must stay >= 0 over the frames.
    phi
        Bin centres, degrees (flow direction at ``phi0``).
    q
        Ring wavevector, 1/Angstrom (every q vector has this magnitude).
    dt
        Frame time, s; frame n (1-based) is taken at ``t = n * dt`` (no exposure blur).
    n_frames
        Frames 1..n_frames.
    n_pixels
        Pixels per bin.
    bin_width
        Angular width of each bin, degrees; its q vectors are spread evenly across it (> 0).
    modes
        Independent speckle modes (q vectors) summed per pixel: contrast about ``1/modes``.
    n_scatterers
        Point scatterers behind each q vector (``'independent'``) or in the whole sample
        (``'shared'``).
    ensemble
        ``'independent'`` (default): every q vector sums its own scatterers, so the realised
        single-particle motion is exact on average, as in a real sample. ``'shared'``: one
        finite set of scatterers in a square box seen by every pixel and bin (as simple
        speckle simulators do); its realised mean-square displacement differs from the model
        by about ``1/sqrt(n_scatterers)`` and that error is common to the whole data set.
    mean_counts
        Mean photon count per pixel and frame; ``None`` keeps the noise-free intensities,
        otherwise frames are Poisson counts.
    pixel_normalize
        Divide each pixel by its time average before correlating (see
        :func:`homodyne_data.speckle_frames.correlate`).
    seed
        Seed of ``numpy.random.default_rng``.
    gap
        Gap h, Angstrom: scatterer heights are uniform over it (shear displacement).

    Returns
    -------
    SpeckleSimulation
    """
    n_frames = _check_int(n_frames, "n_frames", 2)
    n_pixels = _check_int(n_pixels, "n_pixels", 2)
    modes = _check_int(modes, "modes", 1)
    n_scatterers = _check_int(n_scatterers, "n_scatterers", 2)
    if not (np.isfinite(bin_width) and 0 < bin_width < 180):
        raise DataConfigError(
            f"expected a width in (0, 180) degrees, got {bin_width!r}", dataset="bin_width"
        )
    if ensemble not in ("independent", "shared"):
        raise DataConfigError(
            f"expected 'independent' or 'shared', got {ensemble!r}", dataset="ensemble"
        )
    if mean_counts is not None and not (np.isfinite(mean_counts) and mean_counts > 0):
        raise DataConfigError(
            f"expected None or a count > 0, got {mean_counts!r}", dataset="mean_counts"
        )
    model = C2Model(mode, q=q, dt=dt, gap=gap, convention="physical")
    names = parameter_names(model.mode)
    values = dict(zip(names, default_values(model.mode).tolist(), strict=True))
    for key, val in (params or {}).items():
        values[canonical_name(str(key))] = float(val)
    theta = np.asarray(check_values(model.mode, values), dtype=np.float64)
    phi_arr = normalize_angle(np.atleast_1d(np.asarray(phi, dtype=np.float64)).reshape(-1))
    if phi_arr.size == 0:
        raise DataConfigError("expected at least one angle", dataset="phi")
    frames = np.arange(1, n_frames + 1, dtype=np.int64)
    t = frames * model.dt
    with float64():
        table_d, table_g = (np.asarray(a, np.float64) for a in integral_tables(model, theta, t))
    n_q = n_pixels * modes
    spacing = q * np.deg2rad(bin_width) / n_q
    box = _BOX_SEPARATION * 2.0 * np.pi / spacing
    rng = np.random.default_rng(seed)
    timing = {}
    phi0 = float(values.get("phi0", 0.0)) if model.has_shear else 0.0
    if ensemble == "shared":
        try:
            paths = scatterer_paths(rng, n_scatterers, table_d, table_g, box, gap, phi0)
        except ValueError as exc:
            raise DataConfigError(str(exc), dataset="params") from exc
    elif np.any(np.diff(table_d) < 0):
        raise DataConfigError("D(t) must be >= 0 at every frame", dataset="params")
    c2 = np.empty((phi_arr.size, n_frames, n_frames))
    means = np.empty((phi_arr.size, n_frames))
    angles = np.empty((phi_arr.size, n_q))
    t0 = time.perf_counter()
    for b, centre in enumerate(phi_arr):
        qvec, angles[b] = _qvectors(q, float(centre), float(bin_width), n_q)
        if ensemble == "shared":
            inten = bin_intensities(qvec, *paths, modes)
        else:
            key = int(rng.integers(2**31 - 1))
            inten = independent_bin_intensities(
                key, q, angles[b], table_d, table_g, gap, phi0, n_scatterers, modes
            )
        if mean_counts is not None:
            inten = rng.poisson(inten * (mean_counts / (n_scatterers * modes))).astype(float)
        means[b] = inten.mean(axis=1)
        c2[b] = correlate(inten, pixel_normalize=pixel_normalize)
    timing["frames_and_correlation"] = time.perf_counter() - t0
    beta = np.full(phi_arr.size, (1.0 - 1.0 / n_scatterers) / modes)
    truth = {n: float(v) for n, v in zip(names, theta, strict=True)}
    truth.update({f"contrast_{k}": float(v) for k, v in enumerate(beta)})
    truth.update({f"offset_{k}": 1.0 for k in range(phi_arr.size)})
    truth["contrast"], truth["offset"] = float(beta.mean()), 1.0
    settings = {
        "simulator": "speckle",
        "mode": model.mode,
        "convention": model.convention,
        "gap": model.gap,
        "q": model.q,
        "dt": model.dt,
        "n_frames": n_frames,
        "n_pixels": n_pixels,
        "bin_width": float(bin_width),
        "modes": modes,
        "n_scatterers": n_scatterers,
        "ensemble": ensemble,
        "mean_counts": None if mean_counts is None else float(mean_counts),
        "pixel_normalize": bool(pixel_normalize),
        "box": float(box),
        "seed": int(seed),
        "params": truth,
    }
    data = XPCSData(
        c2=c2,
        phi=phi_arr,
        q=model.q,
        dt=model.dt,
        frames=frames,
        metadata={"frame_time": model.dt, "avg_frame": 1, "stride_frame": 1, **DEFAULT_INSTRUMENT},
        provenance=Provenance(
            file=None,
            layout="simulated",
            selection=settings,
            q_available=(model.q,),
            notes=(
                f"speckle simulation: {n_scatterers} scatterers ({ensemble}), {n_pixels} pixels"
                f" x {modes} modes per {bin_width:g} deg bin, correlator output ({model.mode})",
            ),
        ),
    )
    return SpeckleSimulation(
        data=data,
        truth=truth,
        model=model,
        theta=theta,
        contrast=beta,
        pixel_phi=angles,
        frames_mean=means,
        seed=int(seed),
        settings=settings,
        timing=timing,
    )
