"""Is there anything to fit? Checks run on the selected data before any fit.

* **No signal at all** (refused, exit 3): every off-diagonal c2 value of every angle is the
  same number (zero variance: all 0, all 1, a constant), or none is finite.
* **Flat within the noise** (flagged, the run ends with exit 1 and status ``no signal``): no
  angle shows a decay, i.e. for every angle the mean c2 at the shortest lags is within
  ``Z_FLAT`` standard errors of the mean at the longest lags. Neighbouring c2 values are
  correlated, so the standard error used (noise / sqrt(points)) is if anything too small:
  the check errs towards *not* flagging weak real data.
"""

import numpy as np

from homodyne_data.errors import DataError

__all__ = ["NoSignalError", "check_signal", "flat_within_noise"]

Z_FLAT = 3.0


class NoSignalError(DataError):
    """The selected data hold no signal at all (constant or non-finite c2)."""


def _upper(c: np.ndarray) -> np.ndarray:
    v = c[np.triu_indices(c.shape[0], 1)]
    return v[np.isfinite(v)]


def check_signal(data, where: str = "") -> None:
    """Refuse data without any signal (constant or non-finite c2 for every angle).

    Raises
    ------
    NoSignalError
        Naming the file (``where``), the constant value and what to check.
    """
    if data.is_dense:
        values = [_upper(np.asarray(data.c2[k])) for k in range(data.n_phi)]
    else:  # point sets: their (t1 < t2) values
        values = [v[np.isfinite(v)] for v in np.asarray(data.flat(0))]
    src = f" of {where}" if where else ""
    if all(v.size == 0 for v in values):
        raise NoSignalError(f"c2{src} holds no finite value off the diagonal: nothing to fit")
    if all(v.size == 0 or np.ptp(v) == 0 for v in values):
        const = sorted({float(v[0]) for v in values if v.size})
        shown = ", ".join(f"{c:g}" for c in const)
        raise NoSignalError(
            f"c2{src} holds no signal: every off-diagonal value of all {data.n_phi} angle(s) "
            f"equals {shown} (zero variance); check the file, the q ring and the frame range "
            "(a correlation function decays from 1 + contrast towards 1)"
        )


def flat_within_noise(data, quality) -> str | None:
    """A sentence when no angle shows a decay beyond ``Z_FLAT`` standard errors, else None."""
    n = data.n_t
    if n < 4:
        return None
    n_near = max(1, n // 20)
    k_far = max(n_near + 1, int(0.8 * (n - 1)))
    zs = []
    for k in range(data.n_phi):
        c = np.asarray(data.c2[k])
        near = np.concatenate([np.diagonal(c, j) for j in range(1, n_near + 1)])
        far = np.concatenate([np.diagonal(c, j) for j in range(k_far, n)])
        near, far = near[np.isfinite(near)], far[np.isfinite(far)]
        noise = float(quality.noise[k])
        if near.size == 0 or far.size == 0 or not np.isfinite(noise):
            return None  # cannot tell: do not flag
        if noise == 0:
            noise = float(np.std(np.concatenate([near, far]))) or 1e-300
        se = noise * np.sqrt(1.0 / near.size + 1.0 / far.size)
        zs.append(abs(float(np.mean(near) - np.mean(far))) / se)
    if max(zs) >= Z_FLAT:
        return None
    return (
        f"no signal: c2 is flat within the noise at every angle (short-lag vs long-lag "
        f"difference at most {max(zs):.2g} standard errors, < {Z_FLAT:g}); the fitted "
        "parameters are not determined by these data"
    )
