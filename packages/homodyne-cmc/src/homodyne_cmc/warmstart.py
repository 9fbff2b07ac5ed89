"""The NLSQ warm start: where it comes from, and the quality gate in front of sampling.

A warm start is read from an in-process :class:`homodyne_nlsq.NLSQResult`, from a previous
run's output (a folder holding ``nlsq/parameters.json`` or ``parameters.json``, or the file
itself), or computed by running :func:`homodyne_nlsq.fit_nlsq` with a given
:class:`homodyne_physics.ModelSpec`. It carries the model spec (mode, convention, gap, bounds,
priors, fixed parameters: CMC samples exactly the model NLSQ fitted), the starting point
(physical values, per-angle contrast/offset) and the noise level; the whitening is then
computed from the full-data Laplace approximation started there. A ``parameters.json``
written before the spec was recorded gets the spec of its mode, convention and gap.

Quality gate: :mod:`homodyne_cmc.gate` (the noise level it uses is :func:`noise_level`).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from homodyne_data import XPCSData
from homodyne_physics import HomodyneError, ModelSpec, canonical_mode, parameter_names

from .errors import WarmStartError

__all__ = ["WarmStart", "check_warm_start", "load_warm_start", "noise_level"]


@dataclass(frozen=True, eq=False)
class WarmStart:
    """What CMC takes from a least-squares fit.

    ``theta``: physical values ``(P,)`` in kernel order (fixed ones at their value);
    ``errors``: their standard errors (may be NaN; 0 for fixed ones); ``contrast``/``offset``:
    per angle ``(n_phi,)``; ``sigma``: noise per point; ``sigma_source``: ``estimated`` or
    ``user``; ``source``: where it came from; ``spec``: the model spec of the fit;
    ``frame_correlation``: NLSQ's error model (``used``, ``names`` of its fitted vector,
    ``cov_independent``, ``cov_robust``; None when absent), for :mod:`homodyne_cmc.adjust`.
    """

    mode: str
    convention: str
    theta: np.ndarray
    errors: np.ndarray
    contrast: np.ndarray
    offset: np.ndarray
    sigma: float
    sigma_source: str
    reduced_chi2: float
    converged: bool
    scaling_mode: str | None
    source: str
    spec: ModelSpec
    age_scaling: dict[str, Any] | None = None

    @property
    def age_orders(self) -> tuple[int, int]:
        """``(contrast_age_order, offset_age_order)`` of the NLSQ fit (0, 0: constant in age)."""
        a = self.age_scaling or {}
        return int(a.get("contrast_age_order", 0)), int(a.get("offset_age_order", 0))

    frame_correlation: dict | None = None

    @property
    def values(self) -> dict[str, float]:
        """Physical name -> value."""
        return dict(zip(parameter_names(self.mode), map(float, self.theta), strict=True))


def _from_mapping(d: Mapping[str, Any], source: str) -> WarmStart:
    if "mode" not in d and isinstance(d.get("details"), Mapping):
        d = d["details"]  # the CLI's nlsq/parameters.json keeps NLSQResult.to_dict() there
    try:
        mode = canonical_mode(str(d["mode"]))
        names = parameter_names(mode)
        params = d["parameters"]
        theta = np.array([float(params[n]["value"]) for n in names])
        errors = np.array(
            [np.nan if params[n].get("error") is None else float(params[n]["error"]) for n in names]
        )
        contrast = np.atleast_1d(np.asarray(d["contrast"], np.float64))
        offset = np.atleast_1d(np.asarray(d["offset"], np.float64))
        sigma = float(d["sigma"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WarmStartError(
            f"{source}: not a homodyne NLSQ result (missing or bad entry "
            f"{exc}); expected keys mode, parameters, contrast, offset, "
            "sigma"
        ) from None
    red = d.get("reduced_chi2")
    try:
        spec = (
            ModelSpec.from_dict(d["spec"])
            if d.get("spec")
            else ModelSpec.create(
                mode,
                convention=str(d.get("convention", "physical")),  # type: ignore[arg-type]
                gap=float(d.get("gap") or 2e6),
            )
        )
    except HomodyneError as exc:
        raise WarmStartError(f"{source}: bad model spec: {exc}") from None
    if spec.mode != mode:
        raise WarmStartError(f"{source}: mode {mode!r} but its spec says {spec.mode!r}")
    return WarmStart(
        mode,
        spec.convention,
        theta,
        errors,
        contrast,
        offset,
        sigma,
        str(d.get("sigma_source", "estimated")),
        float("nan") if red is None else float(red),
        bool(d.get("converged", True)),
        d.get("scaling_mode"),
        source,
        spec,
        _age_scaling(d.get("age_scaling"), source, contrast.shape[0]),
        _frame_correlation(d),
    )


def _age_scaling(a: Any, source: str, n_phi: int) -> dict[str, Any] | None:
    """The NLSQ fit's age-dependent scaling (orders, age range, per-angle coefficients)."""
    if not a:
        return None
    try:
        out = {
            "contrast_age_order": int(a["contrast_age_order"]),
            "offset_age_order": int(a["offset_age_order"]),
            "age_range_s": tuple(float(v) for v in a["age_range_s"]),
            "contrast": np.asarray(a["contrast"], np.float64).reshape(n_phi, -1),
            "offset": np.asarray(a["offset"], np.float64).reshape(n_phi, -1),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise WarmStartError(
            f"{source}: bad age_scaling entry ({exc}); expected contrast_age_order, "
            "offset_age_order, age_range_s and per-angle contrast/offset coefficients"
        ) from None
    return out


def _frame_correlation(d: Mapping[str, Any]) -> dict | None:
    em = d.get("error_model")
    if not isinstance(em, Mapping) or not d.get("names"):
        return None
    return {
        "used": em.get("used"),
        "names": list(d["names"]),
        "cov_independent": em.get("covariance_independent"),
        "cov_robust": d.get("covariance_robust"),
    }


def load_warm_start(nlsq: Any) -> WarmStart:
    """A :class:`WarmStart` from an ``NLSQResult``, a mapping, a folder or a JSON file.

    A folder is searched for ``nlsq/parameters.json`` and then ``parameters.json``.
    """
    if isinstance(nlsq, WarmStart):
        return nlsq
    if isinstance(nlsq, str | Path):
        path = Path(nlsq)
        candidates = (
            [path]
            if path.is_file()
            else [path / "nlsq" / "parameters.json", path / "parameters.json"]
        )
        for cand in candidates:
            if cand.is_file():
                try:
                    d = json.loads(cand.read_text())
                except (OSError, json.JSONDecodeError) as exc:
                    raise WarmStartError(f"{cand}: cannot read the NLSQ result ({exc})") from None
                return _from_mapping(d, str(cand))
        raise WarmStartError(
            f"no NLSQ result found at {path} (looked for {', '.join(str(c) for c in candidates)})"
        )
    if isinstance(nlsq, Mapping):
        return _from_mapping(nlsq, "mapping")
    if hasattr(nlsq, "to_dict"):
        ws = _from_mapping(nlsq.to_dict(), "NLSQResult")
        spec = getattr(nlsq, "spec", None) or ws.spec
        return WarmStart(
            ws.mode,
            ws.convention,
            np.asarray(nlsq.theta, np.float64),
            ws.errors,
            np.asarray(nlsq.contrast, np.float64),
            np.asarray(nlsq.offset, np.float64),
            float(nlsq.sigma),
            ws.sigma_source,
            ws.reduced_chi2,
            ws.converged,
            ws.scaling_mode,
            "NLSQResult",
            spec,
            ws.age_scaling,
            ws.frame_correlation,
        )
    raise WarmStartError(
        f"cannot use {type(nlsq).__name__} as an NLSQ warm start; pass an "
        "NLSQResult, a previous run's folder or its parameters.json"
    )


def noise_level(data: XPCSData) -> float:
    """Model-free noise sd of the data: robust spread of neighbouring-point differences.

    Differences ``c2[a, i, j+1] - c2[a, i, j]`` over the upper triangle (j > i) have variance
    ``2 sigma^2`` where the model is smooth; the median absolute deviation (x 1.4826) makes
    the estimate insensitive to the steep region near the diagonal. Point sets: see
    :func:`homodyne_cmc.points.point_set_noise_level` (noise of a unit-weight point).
    """
    if not data.is_dense:
        from .points import point_set_noise_level

        return point_set_noise_level(data)
    c2 = data.c2
    n_t = c2.shape[1]
    i, j = np.triu_indices(n_t - 1, k=1)
    diff = c2[:, i, j + 1] - c2[:, i, j]
    diff = diff[np.isfinite(diff)]
    if diff.size < 10:
        return float("nan")
    mad = np.median(np.abs(diff - np.median(diff)))
    return float(1.4826 * mad / np.sqrt(2.0))


def check_warm_start(
    ws: WarmStart,
    data: XPCSData,
    max_reduced_chi2: float,
    force: bool,
    *,
    max_noise_ratio: float = 10.0,
) -> dict[str, Any]:
    """Check that the warm start fits these data and passes the quality gate
    (:func:`homodyne_cmc.gate.quality_gate`: ``max_reduced_chi2`` for a user-given sigma,
    ``max_noise_ratio`` for an estimated one; not enforced for frame-correlated noise).

    Returns the gate's dict for the report. Raises :class:`WarmStartError` on an angle
    mismatch, and when the gate fails unless ``force``. (Mode, convention, gap and the rest of
    the model come from the warm start's spec, so they cannot disagree.)
    """
    if ws.contrast.shape[0] != data.n_phi or ws.offset.shape[0] != data.n_phi:
        raise WarmStartError(
            f"the NLSQ warm start ({ws.source}) has {ws.contrast.shape[0]} "
            f"angles, the data have {data.n_phi}"
        )
    if not (np.all(np.isfinite(ws.theta)) and np.isfinite(ws.sigma) and ws.sigma > 0):
        raise WarmStartError(
            f"the NLSQ warm start ({ws.source}) has non-finite values or sigma {ws.sigma!r}"
        )
    from .gate import quality_gate

    return quality_gate(
        ws, data, max_reduced_chi2=max_reduced_chi2, max_noise_ratio=max_noise_ratio, force=force
    )
