"""Speckle-level simulation: point scatterers -> detector frames -> correlator two-time matrices.

:func:`simulate_speckle` makes data whose noise has the structure of real correlator output
(every value of row t1 shares the speckle pattern of frame t1), unlike :func:`simulate`, which
adds independent noise to the kernel. Its mean obeys the same physics as the kernel,
``c2 - 1 = beta * g1^2`` with ``beta = (1 - 1/n_scatterers) / modes`` (averaged over the q
vectors of each bin), which :meth:`SpeckleSimulation.expected_c2` evaluates with
:func:`homodyne_physics.c2_matrix`. See :mod:`homodyne_data.speckle_frames` for the steps.

The model comes from a :class:`homodyne_physics.ModelSpec` (physical convention), as for
:func:`homodyne_data.simulate`; scatterer heights are uniform over the spec's gap (shear).
Ensembles: ``'independent'`` (default), every q vector sums its own scatterers, so the realised
single-particle motion is exact on average, as in a real sample; ``'shared'``, one finite set
of scatterers in a square box seen by every pixel and bin (as simple speckle simulators do),
whose realised mean-square displacement differs from the model by about
``1/sqrt(n_scatterers)``, an error common to the whole data set.
"""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from homodyne_physics import C2Model, ModelSpec, c2_matrix, float64, integral_tables

from .dataset import XPCSData
from .errors import DataConfigError
from .speckle_frames import (
    bin_intensities,
    correlate,
    independent_bin_intensities,
    scatterer_paths,
)
from .synthetic import (
    angles_of,
    check_count,
    model_settings,
    simulated_dataset,
    spec_of,
    truth_record,
    truth_vector,
)

__all__ = ["SpeckleSimulation", "simulate_speckle"]

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
        The :class:`homodyne_physics.C2Model` of the data: ``spec.model(q, dt)`` with
        ``phi_bin_width`` set to the simulated bin width.
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
    spec
        The :class:`homodyne_physics.ModelSpec` simulated (physical convention).
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
    spec: ModelSpec | None = None

    def expected_c2(self) -> np.ndarray:
        """Mean c2 the correlator estimates, from the kernel: ``1 + beta * <g1^2>_bin``.

        ``<g1^2>_bin`` is the kernel averaged over the bin's angles: ``model`` carries the
        simulated ``bin_width`` (:attr:`homodyne_physics.C2Model.phi_bin_width`), the same
        bin average a fit uses when it models the bins. Shape ``(n_phi, n_t, n_t)``.
        """
        with float64():
            out = c2_matrix(self.model, self.theta, self.contrast, 1.0, self.data.t, self.data.phi)
        return np.asarray(out)


def _qvectors(q: float, phi_deg: float, width_deg: float, count: int) -> tuple:
    ang = phi_deg + width_deg * ((np.arange(count) + 0.5) / count - 0.5)
    rad = np.deg2rad(ang)
    return q * np.stack([np.cos(rad), np.sin(rad)], axis=1), ang


def _checked_counts(n_frames, n_pixels, modes, n_scatterers) -> tuple[int, int, int, int]:
    return (
        check_count(n_frames, "n_frames", 2),
        check_count(n_pixels, "n_pixels", 2),
        check_count(modes, "modes", 1),
        check_count(n_scatterers, "n_scatterers", 2),
    )


def _check_choices(bin_width, ensemble, mean_counts) -> None:
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


def _physical(spec: ModelSpec) -> ModelSpec:
    if spec.convention != "physical":
        raise DataConfigError(
            "scatterers move in physical units: expected a spec with convention 'physical', "
            f"got {spec.convention!r}",
            dataset="spec",
        )
    return spec


@dataclass(frozen=True)
class _Motion:
    """What moves the scatterers: integrals of D and gamma_dot up to each frame, gap, phi0."""

    table_d: np.ndarray
    table_g: np.ndarray
    gap: float
    phi0: float

    @classmethod
    def of(cls, model: C2Model, theta: np.ndarray, t: np.ndarray, ensemble: str) -> "_Motion":
        with float64():
            table_d, table_g = (np.asarray(a, np.float64) for a in integral_tables(model, theta, t))
        values = dict(zip(model.parameter_names, theta.tolist(), strict=True))
        phi0 = float(values.get("phi0", 0.0)) if model.has_shear else 0.0
        if ensemble != "shared" and np.any(np.diff(table_d) < 0):
            raise DataConfigError("D(t) must be >= 0 at every frame", dataset="params")
        return cls(table_d, table_g, float(model.gap), phi0)

    def shared_paths(self, rng, n_scatterers: int, box: float) -> tuple:
        """Paths of one finite set of scatterers in a square box (``ensemble='shared'``)."""
        try:
            return scatterer_paths(
                rng, n_scatterers, self.table_d, self.table_g, box, self.gap, self.phi0
            )
        except ValueError as exc:
            raise DataConfigError(str(exc), dataset="params") from exc


@dataclass(frozen=True)
class _Detector:
    """The bins' pixels (``n_q`` q vectors of the ring over ``bin_width`` degrees each), the
    scatterers behind them and the correlator settings."""

    q: float
    bin_width: float
    n_pixels: int
    modes: int
    n_scatterers: int
    ensemble: str
    mean_counts: float | None
    pixel_normalize: bool

    @property
    def n_q(self) -> int:
        return self.n_pixels * self.modes

    @property
    def box(self) -> float:
        """Side of the shared scatterers' box, Angstrom (independent speckle per q vector)."""
        spacing = self.q * np.deg2rad(self.bin_width) / self.n_q
        return _BOX_SEPARATION * 2.0 * np.pi / spacing

    def settings(self) -> dict:
        return {
            "n_pixels": self.n_pixels,
            "bin_width": self.bin_width,
            "modes": self.modes,
            "n_scatterers": self.n_scatterers,
            "ensemble": self.ensemble,
            "mean_counts": None if self.mean_counts is None else float(self.mean_counts),
            "pixel_normalize": bool(self.pixel_normalize),
            "box": float(self.box),
        }

    def note(self, mode: str) -> str:
        return (
            f"speckle simulation: {self.n_scatterers} scatterers ({self.ensemble}), "
            f"{self.n_pixels} pixels x {self.modes} modes per {self.bin_width:g} deg bin, "
            f"correlator output ({mode})"
        )


def _all_bins(phi_arr, n_frames: int, det: _Detector, motion: _Motion, paths, rng):
    """Correlated frames of every bin: c2, mean intensity per frame, q-vector angles."""
    c2 = np.empty((phi_arr.size, n_frames, n_frames))
    means = np.empty((phi_arr.size, n_frames))
    angles = np.empty((phi_arr.size, det.n_q))
    for b, centre in enumerate(phi_arr):
        qvec, angles[b] = _qvectors(det.q, float(centre), det.bin_width, det.n_q)
        if paths is not None:
            inten = bin_intensities(qvec, *paths, det.modes)
        else:
            key = int(rng.integers(2**31 - 1))
            inten = independent_bin_intensities(
                key,
                det.q,
                angles[b],
                motion.table_d,
                motion.table_g,
                motion.gap,
                motion.phi0,
                det.n_scatterers,
                det.modes,
            )
        if det.mean_counts is not None:
            scale = det.mean_counts / (det.n_scatterers * det.modes)
            inten = rng.poisson(inten * scale).astype(float)
        means[b] = inten.mean(axis=1)
        c2[b] = correlate(inten, pixel_normalize=det.pixel_normalize)
    return c2, means, angles


def simulate_speckle(
    spec: ModelSpec | str,
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
) -> SpeckleSimulation:
    """Simulate detector frames of moving point scatterers and correlate them.

    Parameters
    ----------
    spec
        The :class:`homodyne_physics.ModelSpec` (mode, gap, bounds, start values; physical
        convention), or a mode name for the default spec of that mode.
    params
        Physical parameters by name (aliases accepted), the rest at the spec's start values;
        checked against the spec's bounds. D(t) must stay >= 0 over the frames.
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
        ``'independent'`` (default) or ``'shared'`` (module docstring).
    mean_counts
        Mean photon count per pixel and frame (Poisson counts); ``None``: noise-free.
    pixel_normalize
        Divide each pixel by its time average before correlating (``speckle_frames.correlate``).
    seed
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    SpeckleSimulation
    """
    n_frames, n_pixels, modes, n_scatterers = _checked_counts(
        n_frames, n_pixels, modes, n_scatterers
    )
    _check_choices(bin_width, ensemble, mean_counts)
    spec = _physical(spec_of(spec))
    # the data average c2 over each bin's angles: the model says so (expected_c2, fits)
    model = replace(spec.model(q, dt), phi_bin_width=float(bin_width))
    theta = truth_vector(spec, params)
    phi_arr = angles_of(phi)
    frames = np.arange(1, n_frames + 1, dtype=np.int64)
    motion = _Motion.of(model, theta, frames * model.dt, ensemble)
    det = _Detector(
        q, float(bin_width), n_pixels, modes, n_scatterers, ensemble, mean_counts, pixel_normalize
    )
    rng = np.random.default_rng(seed)
    paths = motion.shared_paths(rng, n_scatterers, det.box) if ensemble == "shared" else None
    t0 = time.perf_counter()
    c2, means, angles = _all_bins(phi_arr, n_frames, det, motion, paths, rng)
    timing = {"frames_and_correlation": time.perf_counter() - t0}
    beta = np.full(phi_arr.size, (1.0 - 1.0 / n_scatterers) / modes)
    truth = truth_record(spec.names, theta, beta, np.ones(phi_arr.size))
    settings = {
        "simulator": "speckle",
        **model_settings(spec, model),
        "n_frames": n_frames,
        **det.settings(),
        "seed": int(seed),
        "params": truth,
    }
    return SpeckleSimulation(
        data=simulated_dataset(model, c2, phi_arr, frames, settings, det.note(model.mode)),
        truth=truth,
        model=model,
        theta=theta,
        contrast=beta,
        pixel_phi=angles,
        frames_mean=means,
        seed=int(seed),
        settings=settings,
        timing=timing,
        spec=spec,
    )
