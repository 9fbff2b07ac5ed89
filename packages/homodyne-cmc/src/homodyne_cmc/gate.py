"""The quality gate in front of sampling: is the NLSQ warm start a fit worth sampling around?

A poor least-squares fit means a misspecified model (wrong mode, bad frames, a local minimum),
and sampling around it only wastes hours. Two statistics, each with its own threshold:

* sigma given by the user: the fit's reduced chi^2, against ``max_reduced_chi2``.
* sigma estimated from the residuals (the usual case): chi^2 / dof is 1 by construction, so
  the fit's residual variance is compared with a model-free noise level of the data
  (:func:`homodyne_cmc.warmstart.noise_level`, the robust spread of differences between
  neighbouring points of each matrix row): ``(sigma_nlsq / sigma_noise)^2`` is about 1 for a
  good fit and must stay below ``max_noise_ratio``.

Frame-correlated noise (speckle data, measured correlators): differences of neighbouring points
cancel the part of the noise that is shared by neighbouring frames, so ``sigma_noise`` sees only
the independent part and the ratio is large for a good fit (13 on the speckle test set). When
the NLSQ warm start found its residuals frame-correlated (it then reports the frame-correlated
covariance, and CMC adjusts its likelihood to it, :mod:`homodyne_cmc.adjust`), the ratio is no
test of the model: it is reported (``enforced: false``) and the gate passes with a note. The
misfit checks that remain are NLSQ's own (its residual-structure report).
"""

from typing import Any

import numpy as np

from homodyne_data import XPCSData

from .errors import WarmStartError

__all__ = ["frame_correlated", "quality_gate"]


def frame_correlated(ws: Any) -> bool:
    """Whether the warm start's NLSQ fit used the frame-correlated covariance."""
    fc = getattr(ws, "frame_correlation", None) or {}
    return fc.get("used") == "frame-correlated"


def _statistic(ws: Any, data: XPCSData, max_reduced_chi2: float, max_noise_ratio: float):
    if ws.sigma_source == "user":
        return "nlsq reduced chi2", ws.reduced_chi2, max_reduced_chi2, "max_reduced_chi2"
    from .warmstart import noise_level

    value = (ws.sigma / noise_level(data)) ** 2
    return "(sigma_nlsq / sigma_noise)^2", value, max_noise_ratio, "max_noise_ratio"


def quality_gate(
    ws: Any,
    data: XPCSData,
    *,
    max_reduced_chi2: float = 10.0,
    max_noise_ratio: float = 10.0,
    force: bool = False,
) -> dict[str, Any]:
    """The gate's verdict for a :class:`~homodyne_cmc.warmstart.WarmStart` on ``data``.

    Returns ``statistic``, ``value``, ``threshold``, ``key`` (the ``optimization.cmc`` setting
    of the threshold), ``enforced`` (False for frame-correlated noise, see the module),
    ``passed``, ``forced``, ``source`` and ``note`` (why it was not enforced, else empty).
    Raises :class:`WarmStartError` when an enforced gate fails and ``force`` is off.
    """
    stat, value, threshold, key = _statistic(ws, data, max_reduced_chi2, max_noise_ratio)
    within = bool(np.isfinite(value) and value <= threshold)
    enforced = not (key == "max_noise_ratio" and frame_correlated(ws))
    note = ""
    if not enforced:
        note = (
            f"{stat} = {value:.3g} not gated: the NLSQ residuals are frame-correlated, and the "
            "neighbour-difference noise level misses the frame-correlated part of the noise "
            "(the likelihood adjustment accounts for it)"
        )
    passed = within or not enforced
    gate = {
        "statistic": stat,
        "value": float(value),
        "threshold": float(threshold),
        "key": key,
        "enforced": enforced,
        "passed": passed,
        "forced": bool(force and not passed),
        "source": ws.source,
        "note": note,
    }
    if not passed and not force:
        raise WarmStartError(
            f"CMC skipped: the NLSQ fit ({ws.source}) is poor, {stat} = {value:.3g} > "
            f"{threshold:g} (optimization.cmc.{key}). Check the mode, the frame range and the "
            "angles, improve the NLSQ fit, or set optimization.cmc.force: true to sample anyway."
        )
    return gate
