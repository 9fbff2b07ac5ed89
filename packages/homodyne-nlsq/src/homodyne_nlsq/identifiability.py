"""What the data determine: correlations, conditioning and undetermined parameter directions.

On real data the physical parameters are often not separately determined while the curves they
build are (D0 and D_offset can trade off almost exactly when alpha is near 0). This module reads
the covariance of the physical parameters (from a fit, or from posterior draws) and states in
parameter names what is and is not determined:

* pairs with ``|correlation| > 0.99``;
* the condition number of the correlation matrix (the scaled covariance);
* eigen-directions of the correlation matrix whose eigenvalue is below ``1e-4``: the
  combination along such a direction is known far better (by more than 100x) than the
  parameters in it; when one of them is also poorly known on its own (standard error above
  25 % of its value) they are "not separately determined"; when the parameters are those of D(t) (or
  gamma_dot(t)) the statement names the curve and the age range over which it is determined;
* parameters at a bound, and (CMC) parameters whose posterior is mostly the prior.

Fixed parameters have zero rows and columns in the covariance: they are listed as fixed and left
out of the analysis. Rows that are NaN (the fit found no information at all) name the parameter
as undetermined.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "IdentifiabilityReport",
    "identifiability_report",
    "nlsq_identifiability",
    "nlsq_transport",
]

CORRELATION_LIMIT = 0.99
EIGEN_LIMIT = 1e-4
RELATIVE_ERROR_LIMIT = 0.25
_COMPONENT = 0.2  # share of a unit eigenvector that names a parameter as part of the direction
_CURVES = {
    ("D0", "D_offset", "alpha"): "D(t) = D0 t^alpha + D_offset",
    ("beta", "gamma_dot_t0", "gamma_dot_t_offset"): (
        "gamma_dot(t) = gamma_dot_t0 t^beta + gamma_dot_t_offset"
    ),
}


@dataclass(frozen=True)
class IdentifiabilityReport:
    """See :func:`identifiability_report`. ``warning`` is ``None`` when nothing is wrong."""

    names: tuple[str, ...]
    correlated: list[tuple[str, str, float]]
    condition_number: float
    undetermined: list[dict[str, Any]]
    at_bound: list[str]
    fixed: list[str]
    prior_dominated: list[str] = field(default_factory=list)
    warning: str | None = None

    @property
    def ok(self) -> bool:
        """True when no warning was raised."""
        return self.warning is None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {
            "ok": self.ok,
            "warning": self.warning,
            "condition_number": self.condition_number,
            "correlated_pairs": [{"a": a, "b": b, "correlation": r} for a, b, r in self.correlated],
            "undetermined_directions": self.undetermined,
            "at_bound": self.at_bound,
            "fixed": self.fixed,
            "prior_dominated": self.prior_dominated,
            "thresholds": {"correlation": CORRELATION_LIMIT, "eigenvalue": EIGEN_LIMIT},
        }


def _join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _statement(involved: list[str], age_range, transport) -> str:
    head = f"{_join(involved)} are not separately determined by these data"
    span = f" over {age_range[0]:.3g}-{age_range[1]:.3g} s" if age_range else ""
    for members, curve in _CURVES.items():
        if set(involved) <= set(members):
            key = "D" if members[0] == "D0" else "gamma_dot"
            prec = ""
            if transport is not None and key in transport.curves:
                half = 0.5 * (transport.hi68[key] - transport.lo68[key])
                rel = np.abs(half / transport.curves[key])
                rel = rel[np.isfinite(rel)]
                if rel.size:
                    prec = f" (to {100 * rel.min():.2g}-{100 * rel.max():.2g} %)"
            return f"{head}: only {curve}{span} is{prec}"
    return f"{head}: only a combination of them is"


def _curve_of(involved: list[str]):
    for members in _CURVES:
        if set(involved) <= set(members):
            return members
    return None


def _directions(names, corr, rel_err, age_range, transport) -> list[dict[str, Any]]:
    """Near-null directions of the correlation matrix; those within one curve are merged."""
    evals, evecs = np.linalg.eigh(corr)
    out: list[dict[str, Any]] = []
    for lam, vec in zip(evals, evecs.T, strict=True):
        if lam >= EIGEN_LIMIT:
            continue
        involved = [n for n, v in zip(names, vec, strict=True) if abs(v) >= _COMPONENT]
        if len(involved) < 2 or max(rel_err[n] for n in involved) <= RELATIVE_ERROR_LIMIT:
            continue
        curve = _curve_of(involved)
        same = [d for d in out if curve is not None and _curve_of(d["parameters"]) == curve]
        if same:  # one statement per curve: the union of the parameters, in kernel order
            merged = set(same[0]["parameters"]) | set(involved)
            same[0]["parameters"] = [n for n in names if n in merged]
            same[0]["statement"] = _statement(same[0]["parameters"], age_range, transport)
            same[0]["eigenvalues"].append(float(max(lam, 0.0)))
            continue
        out.append(
            {
                "parameters": involved,
                "eigenvalues": [float(max(lam, 0.0))],
                "direction": {n: float(v) for n, v in zip(names, vec, strict=True)},
                "statement": _statement(involved, age_range, transport),
            }
        )
    return out


def identifiability_report(
    names: Sequence[str],
    covariance,
    *,
    values: Sequence[float] | None = None,
    at_bound: Sequence[str] = (),
    prior_dominated: Sequence[str] = (),
    age_range: tuple[float, float] | None = None,
    transport=None,
    method: str = "NLSQ",
) -> IdentifiabilityReport:
    """Identifiability of the physical parameters from their covariance.

    Parameters
    ----------
    names
        Physical parameter names (rows of ``covariance``).
    covariance
        ``(P, P)``; fixed parameters have zero rows/columns, undetermined ones NaN.
    values
        Parameter values (for the relative errors); without them every near-degenerate
        direction is reported.
    at_bound, prior_dominated
        Names flagged elsewhere (fit at a bound; CMC posterior close to the prior).
    age_range
        ``(first, last)`` frame time, s, for the statements.
    transport
        Optional :class:`homodyne_physics.TransportCurves` to quote the precision of D(t) and
        gamma_dot(t) in the statements.
    """
    names = list(names)
    cov = np.asarray(covariance, np.float64)
    if cov.shape != (len(names), len(names)):
        raise ValueError(f"covariance must be ({len(names)}, {len(names)}), got {cov.shape}")
    var = np.diag(cov)
    nan = ~np.isfinite(var) | np.isnan(cov).any(axis=1)
    fixed = [n for n, v, bad in zip(names, var, nan, strict=True) if not bad and v == 0]
    free = [k for k, n in enumerate(names) if not nan[k] and n not in fixed]
    sub = cov[np.ix_(free, free)]
    sd = np.sqrt(np.diag(sub))
    corr = sub / np.outer(sd, sd) if free else np.zeros((0, 0))
    fnames = [names[k] for k in free]
    pairs = [
        (fnames[a], fnames[b], float(corr[a, b]))
        for a in range(len(free))
        for b in range(a + 1, len(free))
        if abs(corr[a, b]) > CORRELATION_LIMIT
    ]
    if free:
        ev = np.linalg.eigvalsh(corr)
        cond = float(ev.max() / ev.min()) if ev.min() > 0 else float("inf")
    else:
        cond = 1.0
    vals = np.full(len(names), np.nan) if values is None else np.asarray(values, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = {
            n: float(np.nan_to_num(np.sqrt(var[k]) / abs(vals[k]), nan=np.inf))
            for k, n in enumerate(names)
        }
    directions = _directions(fnames, corr, rel, age_range, transport) if free else []
    lines = [d["statement"] for d in directions]
    lines += [
        f"{n} is not determined at all (no information in the data)"
        for n in names
        if nan[names.index(n)]
    ]
    if at_bound:
        lines.append(
            f"at a bound (their error bars are not confidence intervals): {_join(list(at_bound))}"
        )
    if prior_dominated:
        lines.append(
            f"posterior mostly the prior (the data add little): {_join(list(prior_dominated))}"
        )
    warning = None
    if lines:
        if directions and pairs:
            worst = max(pairs, key=lambda p: abs(p[2]))
            lines.append(
                f"largest correlation {worst[0]}-{worst[1]} = {worst[2]:.10g}; condition number "
                f"{cond:.2g}; report the curves (transport.csv), not these parameters"
            )
        warning = f"{method} identifiability: " + "; ".join(lines)
    return IdentifiabilityReport(
        names=tuple(names),
        correlated=pairs,
        condition_number=cond,
        undetermined=directions,
        at_bound=list(at_bound),
        fixed=fixed,
        prior_dominated=list(prior_dominated),
        warning=warning,
    )


def _age_range(frame_times) -> tuple[float, float] | None:
    if frame_times is None or len(frame_times) == 0:
        return None
    return float(np.min(frame_times)), float(np.max(frame_times))


def nlsq_transport(result, times=None):
    """Transport curves of an :class:`NLSQResult` with delta-method bands through its
    covariance (physical block). ``times`` default: :func:`homodyne_physics.transport_grid` of
    the fitted frame times."""
    from homodyne_physics import ParameterError, transport_from_covariance, transport_grid

    ft = result.frame_times
    if times is None:
        if ft is None:
            raise ParameterError("transport: this result holds no frame times; pass times=")
        times = transport_grid(ft)
    k = len(result.parameter_names)
    return transport_from_covariance(
        result.model,
        result.theta,
        np.asarray(result.covariance)[:k, :k],
        times,
        t_first=None if ft is None else float(ft[0]),
        age_range=_age_range(ft),
    )


def nlsq_identifiability(result, transport=None) -> IdentifiabilityReport:
    """:func:`identifiability_report` of an :class:`NLSQResult` (physical parameters).
    ``transport``: its :func:`nlsq_transport` on the default grid when already computed."""
    k = len(result.parameter_names)
    tr = transport
    if tr is None and result.frame_times is not None:
        tr = nlsq_transport(result)
    return identifiability_report(
        result.parameter_names,
        np.asarray(result.covariance)[:k, :k],
        values=result.theta,
        at_bound=[n for n in result.at_bound if n in result.parameter_names],
        age_range=_age_range(result.frame_times),
        transport=tr,
    )
