"""Frame-correlated noise in CMC: a curvature-adjusted likelihood (issue 18, item 3).

Correlator two-time matrices carry noise that is correlated across neighbouring frames, so the
Gaussian likelihood of independent points is a *composite* (independence) likelihood: its
maximum is still consistent, but its curvature ``H`` overstates the information, and a
posterior built on it is as much too narrow as the independent-noise NLSQ errors (10-40x on
speckle data). NLSQ measures the honest spread with the sandwich ``H^-1 M H^-1``
(:mod:`homodyne_nlsq.robust_covariance`; its middle term ``M`` from the speckle statistics of
the fitted g1 on short matrices, :mod:`homodyne_nlsq.speckle_statistics`).

Following the curvature adjustment of composite likelihoods (Chandler & Bate 2007,
Biometrika 94:167; Ribatet, Cooley & Davison 2012, Statistica Sinica 22:813, section 3.2),
the likelihood is evaluated at

    theta* = theta_hat + C (theta - theta_hat),    C^T H C = H_adj = (H^-1 M H^-1)^-1,

which keeps the maximum at ``theta_hat`` and gives the adjusted log likelihood the curvature
of the sandwich, so the (Laplace) posterior covariance of the physical parameters is the
robust covariance. With the independent-noise covariance ``Sigma = A A^T`` and the robust one
``Sigma_r = B B^T`` (Cholesky factors), ``C = A B^-1`` solves the equation. Applied to the
free physical parameters (the scaling entries and sigma are left alone); their marginal
posterior covariance becomes ``C^-1 Sigma C^-T = Sigma_r`` exactly in the Gaussian limit.

The curvature adjustment is not invariant under a change of coordinates (Ribatet et al.,
section 3.2): it is exact where the log likelihood is quadratic and should be made in the
coordinates where it is closest to that. The map is therefore linear in ``v``: ``log`` of a
transport law's prefactor (``D0``, ``gamma_dot_t0``; positive by their bounds) and the other
parameters as they are. On the data's ages the prefactor and exponent of ``A t^b`` trade along
the ridge ``log A + b log t_p = const``: straight in ``(log A, b)``, curved in ``(A, b)``. The
adjusted likelihood widens the posterior 5-10x along that ridge on correlator data; a map
linear in ``(A, b)`` stretches the ridge's tangent, which leaves the real ridge within a
fraction of that width (and NUTS took twice as long on laminar speckle sets).

Consensus: every shard evaluates its likelihood at the same ``theta*(theta)`` (one global
``C`` and ``theta_hat``), so the product of the shard likelihoods is the adjusted full-data
likelihood ``prod_s L_s(theta*) = L(theta*)`` and consensus combines exactly as before.
``C`` comes from the NLSQ warm start (its sandwich, its independent-noise covariance); the
centre is the CMC Laplace maximum.
"""

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = ["ADJUSTMENTS", "LikelihoodAdjustment", "curvature_matrix", "plan_adjustment"]

ADJUSTMENTS = ("auto", "curvature", "none")
#: parameters adjusted in log coordinates: the prefactors of the transport laws
LOG_COORDINATES = ("D0", "gamma_dot_t0")


@dataclass(frozen=True, eq=False)
class LikelihoodAdjustment:
    """The adjustment applied to every shard's likelihood.

    ``kind``: ``'curvature'`` or ``'none'``; ``reason``: why; ``names``: the physical
    parameters it acts on (the leading free entries of x); ``center`` ``(k,)`` (physical
    units), ``log_scale`` ``(k,)`` bool and ``matrix`` ``(k, k)``:
    ``v* = v(center) + matrix (v(theta) - v(center))`` in the coordinates ``v`` (``log`` where
    ``log_scale``), ``theta* = v^-1(v*)``; ``sd_ratio``: robust / independent-noise sd per
    name (the widening it gives).
    """

    kind: str
    reason: str
    names: tuple[str, ...] = ()
    center: np.ndarray | None = None
    matrix: np.ndarray | None = None
    sd_ratio: dict[str, float] = field(default_factory=dict)
    log_scale: np.ndarray | None = None

    @property
    def active(self) -> bool:
        """Whether the likelihood is adjusted."""
        return self.kind == "curvature"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record for the result and the posterior file's attributes."""
        out: dict[str, Any] = {"kind": self.kind, "reason": self.reason}
        if self.active:
            out.update(
                names=list(self.names),
                coordinates=[
                    f"log {n}" if lg else n for n, lg in zip(self.names, self.log_mask, strict=True)
                ],
                center=[float(v) for v in self.center],
                matrix=np.asarray(self.matrix).tolist(),
                sd_ratio=self.sd_ratio,
                reference="Chandler & Bate (2007) Biometrika 94:167; Ribatet, Cooley & "
                "Davison (2012) Statistica Sinica 22:813",
            )
        return out

    @property
    def log_mask(self) -> np.ndarray:
        """``(k,)`` bool: the entries adjusted in log coordinates."""
        k = len(self.names)
        return np.zeros(k, bool) if self.log_scale is None else np.asarray(self.log_scale, bool)

    def linear_map(self) -> np.ndarray:
        """``d theta* / d theta`` at the centre: ``J^-1 matrix J`` with ``J = d v / d theta``."""
        jac = _log_jacobian(self.log_mask, self.center)
        return self.matrix * jac[None, :] / jac[:, None]

    def adjusted_covariance(self, cov: np.ndarray) -> np.ndarray:
        """Laplace covariance of x under the adjusted likelihood: ``T^-1 cov T^-T`` with
        ``T = diag(linear_map(), I)`` (the scaling/sigma block unchanged)."""
        if not self.active:
            return cov
        k = len(self.names)
        t_inv = np.eye(cov.shape[0])
        t_inv[:k, :k] = np.linalg.inv(self.linear_map())
        out = t_inv @ cov @ t_inv.T
        return 0.5 * (out + out.T)


def curvature_matrix(cov_independent: np.ndarray, cov_robust: np.ndarray) -> np.ndarray:
    """``C = A B^-1`` with ``A A^T = cov_independent``, ``B B^T = cov_robust``, so that
    ``C^T cov_independent^-1 C = cov_robust^-1``."""
    a = np.linalg.cholesky(np.asarray(cov_independent, np.float64))
    b = np.linalg.cholesky(np.asarray(cov_robust, np.float64))
    return np.linalg.solve(b.T, a.T).T  # A B^-1


def _nlsq_covariances(frame: dict | None, names: tuple[str, ...]):
    """Independent-noise and robust covariances of ``names`` from the warm start's record
    (physical coordinates)."""
    if not frame or frame.get("cov_robust") is None or frame.get("cov_independent") is None:
        return None
    order = list(frame["names"])
    if any(n not in order for n in names):
        return None
    idx = [order.index(n) for n in names]
    naive = np.asarray(frame["cov_independent"], np.float64)[np.ix_(idx, idx)]
    robust = np.asarray(frame["cov_robust"], np.float64)[np.ix_(idx, idx)]
    if not (np.all(np.isfinite(naive)) and np.all(np.isfinite(robust))):
        return None
    return naive, robust


def _log_scale(names: tuple[str, ...], center: np.ndarray) -> np.ndarray:
    """Entries adjusted in log coordinates: the transport prefactors, when positive."""
    return np.array(
        [n in LOG_COORDINATES and c > 0 for n, c in zip(names, center, strict=True)], bool
    )


def _log_jacobian(log_mask: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Diagonal of ``d v / d theta`` at ``center``: ``1 / theta`` where ``log_mask``, else 1
    (no division where the mask is off: a centre entry may be 0)."""
    center = np.asarray(center, np.float64)
    return np.where(log_mask, 1.0 / np.where(log_mask, center, 1.0), 1.0)


def plan_adjustment(
    frame: dict | None, names: tuple[str, ...], center: np.ndarray, mode: str = "auto"
) -> LikelihoodAdjustment:
    """The adjustment for the free physical parameters ``names`` (centre: their Laplace MAP).

    ``mode``: ``'auto'`` adjusts when NLSQ used the frame-correlated covariance,
    ``'curvature'`` whenever NLSQ computed one, ``'none'`` never. ``frame``: the warm start's
    :attr:`WarmStart.frame_correlation`. The NLSQ covariances are carried to the log
    coordinates of :data:`LOG_COORDINATES` by the delta method at the centre.
    """
    if mode not in ADJUSTMENTS:
        raise ValueError(f"likelihood_adjustment: expected one of {ADJUSTMENTS}, got {mode!r}")
    if mode == "none":
        return LikelihoodAdjustment("none", "likelihood_adjustment = 'none'")
    used = (frame or {}).get("used")
    if mode == "auto" and used != "frame-correlated":
        return LikelihoodAdjustment(
            "none",
            f"the NLSQ warm start used the {used or 'independent-noise'} covariance: "
            "independent-noise likelihood kept",
        )
    pair = _nlsq_covariances(frame, names) if names else None
    if pair is None:
        return LikelihoodAdjustment(
            "none", "the warm start carries no usable frame-correlated covariance"
        )
    center = np.asarray(center, np.float64)
    log_scale = _log_scale(names, center)
    jac = _log_jacobian(log_scale, center)
    scale = np.outer(jac, jac)
    try:
        matrix = curvature_matrix(pair[0] * scale, pair[1] * scale)
    except np.linalg.LinAlgError as exc:
        return LikelihoodAdjustment("none", f"covariances not positive definite ({exc})")
    ratio = np.sqrt(np.diag(pair[1]) / np.diag(pair[0]))
    med = float(np.median(ratio))
    return LikelihoodAdjustment(
        "curvature",
        f"NLSQ found frame-correlated residuals: curvature-adjusted likelihood (the posterior "
        f"of {', '.join(names)} takes the sandwich covariance; median sd ratio {med:.1f}x)",
        tuple(names),
        center,
        matrix,
        {n: float(r) for n, r in zip(names, ratio, strict=True)},
        log_scale,
    )


def adjust_laplace(lap, adjustment: LikelihoodAdjustment):
    """The Laplace result with the adjusted covariance (for the whitening and the checks)."""
    if not adjustment.active:
        return lap
    return replace(lap, cov=adjustment.adjusted_covariance(np.asarray(lap.cov)))
