"""The mirror check of the flow angle (laminar_flow with ``phi0`` free).

The shear term depends on the angle only through ``sinc^2(k cos(phi0 - phi) Gamma)``, which
is even in ``phi0 - phi`` and has a period of 180 deg in ``phi0``. When the angle set maps
onto itself under the reflection ``phi -> 2 c - phi`` (mod 180) about an axis ``c``, the
model at ``phi0' = 2 c - phi0`` is the model at ``phi0`` with the curves handed to the
mirrored angles (a bin average over a symmetric bin keeps this). The per-angle data tell the
two apart only through the differences between mirrored angles, so chi^2 has a second
minimum near ``phi0'``: close to the first when ``phi0`` lies near an axis, and exactly as
deep when every angle is its own mirror (bins along c and c + 90 only, e.g. -180, -90, 0,
90 deg: the sign of ``phi0 - c`` is then not identified at all). On other symmetric sets
(e.g. 8 bins 45 deg apart) the mirrored angles carry different data and the mirror minimum
is higher, by 20-60 sigma^2 for phi0 = 1.5 deg at noise 0.05 and 8 x 60 frames.

After the fit, :func:`search_mirror` looks for the axes that map the set onto itself to
within :data:`AXIS_TOLERANCE` deg (reflection axes pass through the midpoint of two angles,
mod 90, so the candidates are the pairwise midpoints), takes the mirror of the fitted
``phi0`` about each (those inside the ``phi0`` bounds, at most :data:`MAX_CANDIDATES`) and
refits from there, cheaply first: the bounded Levenberg-Marquardt solver on the strided
subset of the start search (scaling re-solved), then on all points only when the subset says
the mirror can be competitive (:func:`screen_threshold`). A lower full-data minimum replaces
the fit. :func:`mirror_record` then compares the two chi^2 values in units of the noise
variance, divided by the frame-correlation inflation of ``phi0`` (see there), and warns when
they differ by less than :data:`INDISTINGUISHABLE`.

Why axes and not a ``phi0`` profile: the fine ``phi0`` sweep of the start search already
profiles the lobes on the subset, with the other parameters held; the mirror minimum is the
one lobe a profile cannot be trusted with (its chi^2 differs from the fit's by little more
than the subset's noise), and its position is known in closed form. A set with no axis within
the tolerance has no mirror degeneracy to check; the record says so.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .lm import LMOutcome, levenberg_marquardt
from .problem import FitProblem

__all__ = [
    "AXIS_TOLERANCE",
    "INDISTINGUISHABLE",
    "MirrorSearch",
    "mirror_candidates",
    "mirror_record",
    "search_mirror",
    "symmetry_axes",
]

#: largest angle (deg) by which the reflected set may miss the set for an axis to count
AXIS_TOLERANCE = 1.0
#: Delta chi^2 (noise-variance units, frame-correlation scaled) below which the two minima
#: are called indistinguishable: a likelihood ratio below e^2 = 7.4, i.e. with equal prior
#: odds the other minimum keeps more than 1 / (1 + e^2) = 12 % probability
INDISTINGUISHABLE = 4.0
#: most mirror candidates refitted (with the default phi0 box of 20 deg there is at most one)
MAX_CANDIDATES = 4
#: a mirror refit replaces the fit only when its chi^2 is lower by more than this many units
#: of the noise variance (exactly symmetric data give equal minima up to the solver's ftol)
_TIE = 0.01
#: points of the subset refit (the start search's subset)
SUBSET_POINTS = 20000


def _wrap(x):
    """Signed distance on the circle of period 180 deg, in (-90, 90]."""
    return 90.0 - np.mod(90.0 - np.asarray(x, np.float64), 180.0)


def symmetry_axes(phi, tol: float = AXIS_TOLERANCE) -> list[tuple[float, float]]:
    """Axes ``c`` (deg, in [0, 90)) whose reflection maps the angle set onto itself mod 180
    to within ``tol``, best first, as ``(c, mismatch)``: ``mismatch`` is the largest distance
    from a reflected angle to the nearest angle of the set. ``c`` and ``c + 90`` are the same
    axis for this purpose (they give the same mirror ``2 c - phi0`` mod 180)."""
    a = np.unique(np.round(np.mod(np.asarray(phi, np.float64).ravel(), 180.0), 9))
    if a.size == 0:
        return []
    mids = np.mod(0.5 * (a[:, None] + a[None, :]), 90.0)[np.triu_indices(a.size)]
    mids = np.unique(np.round(mids, 9))
    # mismatch of every candidate: reflected angle 2c - a_i against the nearest a_j
    refl = 2.0 * mids[:, None, None] - a[None, :, None] - a[None, None, :]
    mismatch = np.abs(_wrap(refl)).min(axis=2).max(axis=1)
    axes: list[tuple[float, float]] = []
    for n in np.argsort(mismatch, kind="stable"):
        c, m = float(mids[n]), float(mismatch[n])
        if m > tol:
            break
        # near-symmetric sets give a cluster of midpoints per axis: keep its best
        if all(abs(_wrap(2.0 * (c - other))) > 2.0 * tol for other, _ in axes):
            axes.append((c, m))
    return axes


def mirror_candidates(phi0: float, axes, lower: float, upper: float) -> list[tuple[float, float]]:
    """``(phi0', c)``: the mirrors ``2 c - phi0 + 180 k`` inside ``[lower, upper]``, apart
    from ``phi0`` itself (an axis through ``phi0`` mirrors it onto itself), nearest first."""
    out: list[tuple[float, float]] = []
    for c, _ in axes:
        base = 2.0 * c - phi0
        for k in range(
            int(np.floor((lower - base) / 180.0)), int(np.ceil((upper - base) / 180.0)) + 1
        ):
            m = base + 180.0 * k
            if (
                lower <= m <= upper
                and abs(m - phi0) > 1e-6
                and all(abs(m - o) > 1e-6 for o, _ in out)
            ):
                out.append((float(m), c))
    out.sort(key=lambda mc: abs(mc[0] - phi0))
    return out[:MAX_CANDIDATES]


def screen_threshold(ratio: float) -> float:
    """Projected full-data Delta chi^2 (noise units, scaled) below which the subset result
    sends a mirror to the full refit; ``ratio`` = all points / subset points.

    The subset's Delta is about ``Delta / ratio`` with a noise sd of ``2 sqrt(Delta / ratio)``
    (the cross term between the noise and the model difference), so its projection
    ``ratio x Delta_subset`` has sd ``2 sqrt(ratio Delta)``: 4 + 3 sd at Delta = 4 keeps a
    full-data Delta of 4 from being screened out at 3 sigma."""
    return INDISTINGUISHABLE + 3.0 * 2.0 * np.sqrt(ratio * INDISTINGUISHABLE)


@dataclass(eq=False)
class MirrorSearch:
    """What :func:`search_mirror` found: the axes, one dict per candidate, and the full-data
    refit that beat the fit (``outcome``, else None)."""

    axes: list[tuple[float, float]]
    phi0_fit: float
    cost_fit: float
    candidates: list[dict[str, Any]] = field(default_factory=list)
    outcome: LMOutcome | None = None
    start: np.ndarray | None = None
    seconds: float = 0.0
    note: str | None = None


def _profiled(problem: FitProblem, theta, s) -> tuple[np.ndarray, float]:
    if problem.scaling.n_params:
        return problem.profile(theta)
    x = np.concatenate([theta, s])
    return x, problem.cost(x)


def _subset_solve(sub: FitProblem, x0, cost0: float) -> tuple[np.ndarray, float]:
    out = levenberg_marquardt(
        sub.fused, sub.cost, x0, sub.lower, sub.upper,
        max_iterations=100, ftol=1e-6, xtol=1e-6, gtol=1e-6,
    )  # fmt: skip
    return (out.x, float(out.cost)) if out.cost <= cost0 else (np.asarray(x0), float(cost0))


def _subset_minimum(sub: FitProblem, x) -> float:
    """The subset's chi^2 at its own optimum near the full-data solution ``x`` (one fused pass:
    chi^2 at ``x`` less the Gauss-Newton decrement ``g^T A^-1 g``), so that the mirror's subset
    optimum is compared with a subset optimum (at ``x`` itself the subset's chi^2 is higher
    by about the number of parameters, which the projection to all points would magnify)."""
    cost, jtj, jtr = sub.fused(x)
    d = np.sqrt(np.diag(jtj))
    d[~(d > 0)] = 1.0
    step = np.linalg.lstsq(jtj / np.outer(d, d), jtr / d, rcond=1e-12)[0]
    return float(cost - max(0.0, float(jtr / d @ step)))


def applies(problem: FitProblem) -> bool:
    """laminar_flow with ``phi0`` free."""
    return problem.model.has_shear and "phi0" in problem.free_names


def search_mirror(
    problem: FitProblem,
    outcome: LMOutcome,
    s2: float,
    inflation: float,
    refit: Callable[[np.ndarray], LMOutcome],
) -> MirrorSearch:
    """Refit from the mirror(s) of the fitted ``phi0`` (module docstring).

    ``s2``: the noise variance in cost units; ``inflation``: the frame-correlation factor of
    Delta chi^2 (>= 1); ``refit(x0)``: the full-data local solver. Call inside
    ``homodyne_physics.float64()``.

    A fit that ended exactly on an axis (its own mirror; there the slope in ``phi0`` is zero
    by symmetry, so the solver cannot leave a saddle) is refitted from one fine-sweep step off
    the axis, and a lower minimum found there has its own mirror refitted in turn."""
    t0 = time.perf_counter()
    k = problem.n_theta
    p = problem.free_names.index("phi0")
    lo, hi = float(problem.lower[p]), float(problem.upper[p])
    x = np.asarray(outcome.x, np.float64)
    phi0 = float(x[p])
    axes = symmetry_axes(np.asarray(problem.arrs.phi))
    found = MirrorSearch(axes, phi0, float(outcome.cost))
    # (start, axis, kind, phi0 and x of the minimum it mirrors)
    queue = [(m, c, "mirror", phi0, x) for m, c in mirror_candidates(phi0, axes, lo, hi)]
    axis = _axis_through(phi0, axes)
    if axis is not None:
        step = (hi - lo) / 64.0  # the start search's fine phi0 grid
        queue.append((phi0 + step if phi0 + step <= hi else phi0 - step, axis, "off_axis", phi0, x))
    if not axes:
        found.note = f"the angle set has no mirror axis within {AXIS_TOLERANCE:g} deg"
    elif not queue:
        found.note = "no mirror of phi0 inside its bounds"
    sub = problem.subsample(SUBSET_POINTS)
    ratio = problem.n_valid / sub.n_valid
    cost_fit_sub = _subset_minimum(sub, x) if queue and sub is not problem else outcome.cost
    best_cost = float(outcome.cost)
    while queue:
        m, c, kind, base, xb = queue.pop(0)
        theta = xb[:k].copy()
        theta[p] = m
        row: dict[str, Any] = {"axis": c, "kind": kind, "phi0_start": m}
        if sub is not problem and base == phi0:  # screened on the subset first
            xs, cs = _subset_solve(sub, *_profiled(sub, theta, xb[k:]))
            projected = (cs - cost_fit_sub) / s2 * ratio / inflation
            row.update(
                subset_points=sub.n_valid, subset_phi0=float(xs[p]), subset_delta_chi2=projected
            )
            if _same_lobe(float(xs[p]), base, m):
                found.candidates.append({**row, "stage": "same_minimum", "phi0": float(xs[p])})
                continue
            if projected >= screen_threshold(ratio):
                found.candidates.append({**row, "stage": "subset", "phi0": float(xs[p])})
                continue
            theta[p] = xs[p]  # the other parameters from the full-data fit
        x0, _ = _profiled(problem, theta, xb[k:])
        out = refit(x0)
        new = float(out.x[p])
        stage = "same_minimum" if _same_lobe(new, base, m) else "full"
        row.update(stage=stage, phi0=new, cost=out.cost, iterations=out.iterations)
        found.candidates.append(row)
        # a lower distinct minimum replaces the fit; a tie keeps it (no flip on rounding)
        if stage == "full" and out.cost < best_cost - _TIE * s2:
            found.outcome, found.start, best_cost = out, x0, float(out.cost)
            if kind == "off_axis":  # left the axis: now check this minimum's mirror
                xo = np.asarray(out.x, np.float64)
                queue += [
                    (mm, cc, "mirror", new, xo) for mm, cc in mirror_candidates(new, axes, lo, hi)
                ]
    found.seconds = time.perf_counter() - t0
    return found


def _axis_through(phi0: float, axes) -> float | None:
    """The axis ``phi0`` lies on (mod 90, to 1e-6 deg), else None."""
    for c, _ in axes:
        if abs(_wrap(2.0 * (phi0 - c))) < 2e-6:
            return c
    return None


def _same_lobe(found: float, phi0: float, start: float) -> bool:
    """The refit from the mirror ``start`` went back to the fit's own minimum."""
    return abs(found - phi0) < 0.5 * abs(start - phi0)


def inflation_of(error_model: dict[str, Any]) -> float:
    """Variance inflation of ``phi0`` by frame-correlated noise: (robust / independent sd)^2
    when the sandwich covariance is used, else 1 (never below 1).

    The two minima differ mainly along ``phi0`` (the sign of ``phi0 - c``), so their chi^2
    difference in independent-noise units overstates the evidence by about the factor by
    which the independent-noise variance of ``phi0`` understates the true one."""
    if error_model.get("used") != "frame-correlated":
        return 1.0
    r = (error_model.get("ratio") or {}).get("phi0")
    return max(1.0, float(r) ** 2) if r is not None and np.isfinite(r) else 1.0


def mirror_record(
    search: MirrorSearch, cost: float, phi0: float, s2: float, inflation: float, unit: float
) -> tuple[dict[str, Any], str | None]:
    """The JSON-safe record of the check for the reported fit (``cost``, ``phi0``) and the
    warning when the best other minimum is statistically indistinguishable from it. ``unit``
    converts costs to the result's chi^2 (sigma^2 for a given sigma, else 1)."""
    flipped = search.outcome is not None
    rows = [dict(r) for r in search.candidates]
    for row in rows:
        if "cost" in row:
            row["chi2"] = row.pop("cost") / unit
            row["delta_chi2"] = (row["chi2"] * unit - cost) / s2 / inflation
    # the distinct minima found (the first fit and the full-data refits), less the reported
    winner = next((r["axis"] for r in rows if r.get("chi2", 0.0) * unit == cost), None)
    minima = [(search.cost_fit, search.phi0_fit, winner)] + [
        (r["chi2"] * unit, r["phi0"], r["axis"]) for r in rows if r["stage"] == "full"
    ]
    others = sorted(mm for mm in minima if not (mm[0] == cost and mm[1] == phi0))
    record: dict[str, Any] = {
        "axes": [{"axis": c, "mismatch": m} for c, m in search.axes],
        "phi0": phi0,
        "chi2": cost / unit,
        "phi0_first_fit": search.phi0_fit,
        "flipped": flipped,
        "candidates": rows,
        "inflation": inflation,
        "threshold": INDISTINGUISHABLE,
        "seconds": search.seconds,
        "indistinguishable": False,
    }
    if search.note:
        record["note"] = search.note
    warning = None
    if others:
        other_cost, other_phi0, axis = others[0]
        delta = (other_cost - cost) / s2 / inflation
        record.update(phi0_other=other_phi0, chi2_other=other_cost / unit, delta_chi2=delta)
        record["indistinguishable"] = bool(delta < INDISTINGUISHABLE)
        if delta < INDISTINGUISHABLE:
            scaled = " after the frame-correlation scaling" if inflation > 1.0 else ""
            warning = (
                f"phi0 = {phi0:.4g} and its mirror image phi0 = {other_phi0:.4g} (about the "
                f"angle set's symmetry axis {axis:.4g} deg, mod 90) fit equally well: chi2 "
                f"differs by {abs(delta):.2f} sigma^2{scaled} (< {INDISTINGUISHABLE:g}); the "
                "sign of the flow direction relative to the bins is not determined by these "
                "data (both minima in mirror_check)"
            )
    record["warning"] = warning
    return record, warning
