"""Uncertainties from the normal matrix at the optimum: covariance, errors, correlation.

Two noise models:

* ``sigma`` unknown (default): the residuals are taken as equal-variance noise of unknown size,
  ``s^2 = chi^2 / (N - p)`` with chi^2 the plain sum of squared residuals, and
  ``Cov = s^2 (J^T J)^-1`` (scipy's ``absolute_sigma=False``);
* ``sigma`` given: ``chi^2 = sum r^2 / sigma^2`` and ``Cov = sigma^2 (J^T J)^-1`` (absolute).

With a robust loss ``J^T J`` carries the IRLS weights ``rho'`` of the final residuals and chi^2
is the robust cost; the errors are then the usual asymptotic approximation.

The inverse is taken on the scaled matrix ``D^-1 J^T J D^-1`` (``D = sqrt(diag)``, unit
diagonal), whose condition number is reported; directions with eigenvalues below ``1e-13``
of the largest are treated as undetermined (pseudo-inverse) and reported.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Uncertainty", "covariance_from_normal_matrix"]

_SINGULAR = 1e-13


@dataclass(frozen=True)
class Uncertainty:
    """Everything derived from ``J^T J`` and chi^2 at the optimum."""

    covariance: np.ndarray
    errors: np.ndarray
    correlation: np.ndarray
    chi2: float
    reduced_chi2: float
    dof: int
    sigma: float
    sigma_source: str
    condition_number: float
    rank: int
    notes: tuple[str, ...]

    @property
    def noise_variance(self) -> float:
        """The noise variance in cost units: ``sigma^2`` as given, or the estimate
        ``chi2 / (N - p)`` (which ``sigma`` then is the root of)."""
        return self.sigma**2

    @property
    def chi2_unit(self) -> float:
        """Cost units per unit of the reported chi^2: ``sigma^2`` when given, else 1."""
        return self.sigma**2 if self.sigma_source == "user" else 1.0


def covariance_from_normal_matrix(
    jtj, cost: float, n_points: int, *, sigma: float | None = None, names=None
) -> Uncertainty:
    """Covariance of the fitted vector from ``J^T J`` and the cost at the optimum.

    Parameters
    ----------
    jtj
        Normal matrix ``(p, p)`` at the optimum.
    cost
        Sum of squared residuals (or robust cost) at the optimum, c2 units squared.
    n_points
        Number of data points that entered the fit (valid, t1 < t2).
    sigma
        Absolute noise per point, or ``None`` to estimate it.
    names
        Parameter names for the notes.
    """
    a = np.asarray(jtj, np.float64)
    p = a.shape[0]
    names = list(names) if names is not None else [f"x{k}" for k in range(p)]
    dof = int(n_points - p)
    notes: list[str] = []
    if dof <= 0:
        raise ValueError(f"{n_points} data points cannot determine {p} parameters")
    if sigma is None:
        chi2 = float(cost)
        s2 = chi2 / dof
        sigma_val, source = float(np.sqrt(s2)), "estimated"
        notes.append(
            "sigma estimated from the residuals: covariance = s^2 (J^T J)^-1 with "
            "s^2 = chi2 / (N - p) (chi2 = sum of squared residuals)"
        )
    else:
        sigma_val, source = float(sigma), "user"
        s2 = sigma_val**2
        chi2 = float(cost) / s2
    d = np.sqrt(np.clip(np.diag(a), 0.0, None))
    undetermined = d <= 0
    d_safe = np.where(undetermined, 1.0, d)
    scaled = a / np.outer(d_safe, d_safe)
    evals, evecs = np.linalg.eigh(scaled)
    top = float(evals.max()) if evals.size else 1.0
    keep = evals > _SINGULAR * top
    rank = int(keep.sum())
    smallest = float(evals.min()) if evals.size else 1.0
    cond = float(top / smallest) if smallest > 0 else float("inf")
    inv_scaled = (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T
    cov = s2 * inv_scaled / np.outer(d_safe, d_safe)
    cov = 0.5 * (cov + cov.T)  # exactly symmetric
    var = np.diag(cov).copy()
    if rank < p or undetermined.any():
        weak = np.abs(evecs[:, ~keep]).max(axis=1) > 0.3 if rank < p else np.zeros(p, bool)
        bad = [names[k] for k in range(p) if weak[k] or undetermined[k]]
        notes.append(
            f"J^T J is singular (rank {rank} of {p}); the data do not determine "
            f"{', '.join(bad) or 'a combination of parameters'}: their errors are set to inf"
        )
        var[weak | undetermined] = np.inf
        cov[weak | undetermined, :] = np.nan
        cov[:, weak | undetermined] = np.nan
        np.fill_diagonal(cov, var)
    errors = np.sqrt(np.clip(var, 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(errors, errors)
    finite_err = np.isfinite(errors) & (errors > 0)
    corr[~finite_err, :] = np.nan
    corr[:, ~finite_err] = np.nan
    np.fill_diagonal(corr, 1.0)
    return Uncertainty(
        covariance=cov,
        errors=errors,
        correlation=corr,
        chi2=chi2,
        reduced_chi2=chi2 / dof,
        dof=dof,
        sigma=sigma_val,
        sigma_source=source,
        condition_number=cond,
        rank=rank,
        notes=tuple(notes),
    )


def scaling_errors(cov_s, design):
    """Per-angle standard errors of ``design @ s`` from the covariance of ``s``."""
    design = np.asarray(design, np.float64)
    if design.shape[1] == 0:
        return np.zeros(design.shape[0])
    var = np.einsum("ak,kl,al->a", design, np.asarray(cov_s), design)
    return np.sqrt(np.clip(var, 0.0, None))
