"""Per-angle data-quality report: missing values, noise, contrast, signal-to-noise, flags.

Estimators (all on the upper triangle t1 < t2, one lag = one diagonal of the matrix):

* noise: in the high-lag region (the 20% of pairs with the largest lags), differences of
  neighbouring values along each diagonal remove the slowly varying signal; the noise is the
  robust standard deviation (1.4826 x MAD) of those differences divided by sqrt(2);
* offset (baseline): median of the high-lag region;
* contrast: median at the shortest lags (1 .. max(1, N/100) frames) minus the offset;
* SNR = contrast / noise.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .dataset import XPCSData

__all__ = ["QualityReport", "quality_report"]

NAN_FLAG = 0.01
SNR_FLAG = 5.0
OFFSET_RANGE = (0.9, 1.1)
CONTRAST_SPREAD = 0.5
MIN_FRAMES = 20


def _f(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class QualityReport:
    """Per-angle quality numbers (arrays of shape ``(n_phi,)``) and readable flags."""

    phi: np.ndarray
    nan_fraction: np.ndarray
    noise: np.ndarray
    contrast: np.ndarray
    offset: np.ndarray
    snr: np.ndarray
    flags: list[str] = field(default_factory=list)
    q: float = float("nan")
    dt: float = float("nan")
    n_t: int = 0

    @property
    def ok(self) -> bool:
        """True when no flag was raised."""
        return not self.flags

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (NaN -> None)."""
        angles = [
            {
                "phi": float(self.phi[k]),
                "nan_fraction": _f(self.nan_fraction[k]),
                "noise": _f(self.noise[k]),
                "contrast": _f(self.contrast[k]),
                "offset": _f(self.offset[k]),
                "snr": _f(self.snr[k]),
            }
            for k in range(self.phi.size)
        ]
        return {
            "q": _f(self.q) if np.ndim(self.q) == 0 else [_f(v) for v in np.ravel(self.q)],
            "dt": _f(self.dt),
            "n_t": self.n_t,
            "angles": angles,
            "flags": list(self.flags),
        }


def _far_lag(n: int, fraction: float = 0.2) -> int:
    """Smallest lag k such that lags >= k hold at least ``fraction`` of all pairs."""
    counts = np.arange(n - 1, 0, -1, dtype=np.float64)  # pairs at lag 1..n-1
    tail = np.cumsum(counts[::-1])[::-1]  # pairs with lag >= k, k = 1..n-1
    ok = np.flatnonzero(tail >= fraction * counts.sum())
    return int(ok[-1] + 1) if ok.size else 1


def _angle_points(data: XPCSData, k: int) -> tuple[float, float, float, float]:
    """The estimates of :func:`_angle` for point-set data: the offset from the longest lags
    (top tenth), the contrast from the shortest lag, the noise of a unit-weight point."""
    ps = data.points
    y, lag = ps.values[k], ps.lag
    ok = np.isfinite(y)
    nan_frac = float(np.mean(~ok)) if y.size else 0.0
    if not ok.any():
        return nan_frac, float("nan"), float("nan"), float("nan")
    far = y[ok & (lag >= np.quantile(lag[ok], 0.9))]
    offset = float(np.median(far))
    near = y[ok & np.isclose(lag, lag[ok].min())]
    return nan_frac, ps.noise_level(k), float(np.median(near)) - offset, offset


def _angle(c: np.ndarray) -> tuple[float, float, float, float]:
    n = c.shape[0]
    iu = np.triu_indices(n, 1)
    upper = c[iu]
    nan_frac = float(np.mean(~np.isfinite(upper))) if upper.size else 0.0
    k_far = _far_lag(n)
    far_vals, diffs = [], []
    for k in range(k_far, n):
        d = np.diagonal(c, k)
        far_vals.append(d)
        if d.size > 1:
            diffs.append(np.diff(d))
    far = np.concatenate(far_vals) if far_vals else np.array([])
    dif = np.concatenate(diffs) if diffs else np.array([])
    dif = dif[np.isfinite(dif)]
    if dif.size >= 5:
        noise = 1.4826 * float(np.median(np.abs(dif - np.median(dif)))) / np.sqrt(2.0)
    else:
        noise = float("nan")
    far = far[np.isfinite(far)]
    offset = float(np.median(far)) if far.size else float("nan")
    near = np.concatenate([np.diagonal(c, k) for k in range(1, max(1, n // 100) + 1)])
    near = near[np.isfinite(near)]
    contrast = float(np.median(near)) - offset if near.size else float("nan")
    return nan_frac, noise, contrast, offset


def quality_report(data: XPCSData) -> QualityReport:
    """Estimate per-angle data quality and list what a user should look at.

    Parameters
    ----------
    data
        Selected data (any number of angles and frames >= 2).

    Returns
    -------
    QualityReport
        ``nan_fraction``, ``noise``, ``contrast``, ``offset`` and ``snr`` per angle, and
        ``flags``: readable sentences (empty when nothing stands out).
    """
    if data.is_dense:
        rows = np.array([_angle(data.c2[k]) for k in range(data.n_phi)], dtype=np.float64)
        n_t = data.n_t
    else:
        rows = np.array([_angle_points(data, k) for k in range(data.n_phi)], dtype=np.float64)
        n_t = data.t.size  # distinct times of the points
    nan_fraction, noise, contrast, offset = rows.T
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(noise > 0, contrast / noise, np.inf * np.sign(contrast))
    flags: list[str] = []
    if n_t < MIN_FRAMES:
        flags.append(f"only {n_t} frames selected: estimates (and fits) will be poor")
    for k, p in enumerate(data.phi):
        tag = f"phi = {p:g} deg"
        if nan_fraction[k] > NAN_FLAG:
            flags.append(f"{tag}: {100 * nan_fraction[k]:.2g}% of the values are NaN/inf")
        if not np.isfinite(noise[k]):
            flags.append(f"{tag}: noise could not be estimated (too few finite values)")
        if not contrast[k] > 0:
            flags.append(
                f"{tag}: no correlation visible at the shortest lag (contrast estimate "
                f"{contrast[k]:.3g}): decay faster than one frame, or no signal"
            )
        elif np.isfinite(snr[k]) and snr[k] < SNR_FLAG:
            flags.append(f"{tag}: low signal-to-noise (SNR {snr[k]:.2g} < {SNR_FLAG:g})")
        if np.isfinite(offset[k]) and not OFFSET_RANGE[0] <= offset[k] <= OFFSET_RANGE[1]:
            flags.append(
                f"{tag}: baseline {offset[k]:.3g} outside [{OFFSET_RANGE[0]}, {OFFSET_RANGE[1]}] "
                "(normalisation, or the correlation has not decayed in the window)"
            )
    good = np.isfinite(contrast) & (contrast > 0)
    med = float(np.median(contrast[good])) if good.any() else 0.0
    # compare angles only when the typical contrast stands clear of the noise
    if data.n_phi >= 3 and med > SNR_FLAG * float(np.nanmedian(noise)):
        for k, p in enumerate(data.phi):
            if contrast[k] > 0 and abs(contrast[k] - med) > CONTRAST_SPREAD * med:
                flags.append(
                    f"phi = {p:g} deg: contrast {contrast[k]:.3g} differs from the median of the "
                    f"angles ({med:.3g}) by more than {100 * CONTRAST_SPREAD:g}%"
                )
    return QualityReport(
        phi=np.array(data.phi),
        nan_fraction=nan_fraction,
        noise=noise,
        contrast=contrast,
        offset=offset,
        snr=snr,
        flags=flags,
        q=data.q,
        dt=data.dt,
        n_t=n_t,
    )
