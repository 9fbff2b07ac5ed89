"""Open a possibly broken data file and list every problem: :func:`diagnose` -> Diagnosis.

Unlike :func:`load`, which stops at the first problem, :func:`diagnose` keeps going: a bad time
step is recorded and a placeholder dt used to look at the matrices; the matrices are read with
no NaN threshold so the NaN fraction of every angle (and where the NaNs sit) can be reported;
metadata that disagrees with the matrices is listed; the quality report is computed on what
could be read.
"""

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .assemble import jsonable
from .consistency import nan_locations
from .dataset import XPCSData
from .errors import DataError, InvalidTimeStepError
from .quality import NAN_FLAG, QualityReport, quality_report
from .reader import load
from .summary import FileSummary, inspect_file

__all__ = ["Diagnosis", "Problem", "diagnose"]

_KINDS = {
    "InvalidTimeStepError": "time step",
    "MissingTimeStepError": "time step",
    "MissingMetadataError": "metadata",
    "ShapeMismatchError": "metadata",
    "DataConfigError": "metadata",
    "SelectionError": "selection",
    "NoAnglesSelectedError": "selection",
    "EmptyFrameRangeError": "selection",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file.

    Attributes
    ----------
    kind
        ``'nan'``, ``'time step'``, ``'metadata'``, ``'selection'``, ``'layout'`` or ``'read'``.
    what
        What is wrong, naming what disagrees.
    dataset
        Dataset, attribute or option concerned (``None`` when general).
    severity
        ``'error'`` (the file cannot be fitted as it is) or ``'warning'`` (it can, with the
        stated assumption).
    """

    kind: str
    what: str
    dataset: str | None = None
    severity: str = "error"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "dataset": self.dataset,
            "what": self.what,
        }


@dataclass(frozen=True, eq=False)
class Diagnosis:
    """Everything :func:`diagnose` found: problems, the summary, data and quality if readable."""

    file: str
    problems: tuple[Problem, ...]
    summary: FileSummary | None = None
    data: XPCSData | None = None
    quality: QualityReport | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when no problem (error or warning) was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return jsonable(
            {
                "file": self.file,
                "ok": self.ok,
                "problems": [p.to_dict() for p in self.problems],
                "notes": list(self.notes),
            }
        )


def _problem(exc: DataError, default: str) -> Problem:
    kind = _KINDS.get(type(exc).__name__, default)
    return Problem(kind, exc.what, exc.dataset)


def _point_nan_locations(points, bad: np.ndarray) -> str:
    """Where the missing values of one angle of a point set sit: lag and age ranges (and the
    multi-tau levels)."""
    lag, age = points.lag[bad], points.age[bad]
    text = (
        f"at lags {lag.min():.4g}-{lag.max():.4g} s and ages {age.min():.4g}-{age.max():.4g} s "
        f"(of {points.lag.min():.4g}-{points.lag.max():.4g} s and "
        f"{points.age.min():.4g}-{points.age.max():.4g} s)"
    )
    if points.level is not None:
        levels, counts = np.unique(points.level[bad], return_counts=True)
        text += "; per level " + ", ".join(f"{v}: {c}" for v, c in zip(levels, counts, strict=True))
    return text


def _nan_problems(data: XPCSData, threshold: float) -> list[Problem]:
    out = []
    iu = np.triu_indices(data.n_t, 1) if data.is_dense else None
    for k, phi in enumerate(data.phi):
        if data.is_dense:
            c = data.c2[k]
            frac = float(np.mean(~np.isfinite(c[iu]))) if iu[0].size else 0.0
        else:  # point sets: every (t1, t2) value of the angle
            bad = ~np.isfinite(data.points.values[k])
            frac = float(np.mean(bad)) if bad.size else 0.0
        if frac <= NAN_FLAG:
            continue
        where = nan_locations(c) if data.is_dense else _point_nan_locations(data.points, bad)
        severity = "error" if frac > threshold else "warning"
        out.append(
            Problem(
                "nan",
                f"phi = {phi:g} deg: {100 * frac:.3g}% of the values are NaN/inf (threshold "
                f"{100 * threshold:g}%); {where}",
                data.provenance.selection.get("datasets", [None] * data.n_phi)[k],
                severity,
            )
        )
    return out


def _load_kwargs(summary: FileSummary | None, kw: dict[str, Any], notes: list[str]):
    kw = {k: v for k, v in kw.items() if v is not None}
    if kw.get("q") is None and summary is not None and len(summary.q) > 1:
        kw["q"] = summary.q[0]
        notes.append(f"{len(summary.q)} q rings; the first ({summary.q[0]:.6g} 1/A) is examined")
    return kw


def diagnose(
    path: str | os.PathLike,
    *,
    q: float | None = None,
    dt: float | None = None,
    array_q: float | None = None,
    array_phi=None,
    axis_order: str | None = None,
    nan_threshold: float = 0.05,
) -> Diagnosis:
    """List every problem of a data file (see module docstring).

    Parameters
    ----------
    path
        Any file :func:`load` reads.
    q, dt, array_q, array_phi, axis_order
        As for :func:`load` (bare arrays need q, phi and dt from here).
    nan_threshold
        NaN fraction above which an angle is an error (between 1 % and it: a warning).

    Returns
    -------
    Diagnosis
        ``problems`` (empty for a good file), and the summary, data and quality report when
        they could be made.
    """
    file = os.fspath(path)
    problems: list[Problem] = []
    notes: list[str] = []
    try:
        summary = inspect_file(file)
    except DataError as exc:
        return Diagnosis(file, (_problem(exc, "layout"),))
    if summary.dt_problem is not None and dt is None:
        problems.append(Problem("time step", summary.dt_problem, summary.dt_source))
    kw = _load_kwargs(
        summary,
        {"q": q, "dt": dt, "array_q": array_q, "array_phi": array_phi, "axis_order": axis_order},
        notes,
    )
    placeholder = summary.dt_problem is not None and dt is None
    if placeholder:
        kw["dt"] = 1.0
        notes.append("the file gives no usable dt: the matrices were examined with dt = 1")
    data = None
    try:
        data = load(file, nan_threshold=1.0, **kw)
    except InvalidTimeStepError as exc:
        problems.append(_problem(exc, "time step"))
    except DataError as exc:
        problems.append(_problem(exc, "read"))
    quality = None
    if data is not None:
        for w in data.provenance.warnings:
            if placeholder and ("the given dt" in w or "but dt is" in w):
                continue
            problems.append(Problem("metadata", w, None, "warning"))
        problems.extend(_nan_problems(data, nan_threshold))
        quality = quality_report(data)
    return Diagnosis(file, tuple(problems), summary, data, quality, tuple(notes))
