"""The ``optimization.nlsq`` configuration section: a small frozen, validated dataclass.

Only this package knows what its settings mean; the CLI composes the sections of a run
configuration and hands the plain mapping of this one to :meth:`NLSQConfig.from_dict`, which
names the offending key (``optimization.nlsq.ftol``) in every error.
"""

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError
from pydantic.dataclasses import dataclass

from homodyne_data.settings import (
    Flag,
    Integer,
    Number,
    describe_errors,
    format_path,
    raise_as,
    settings_config,
)
from homodyne_physics import SCALING_MODES

__all__ = ["SOLVERS", "NLSQConfig", "NLSQConfigError"]

from .errors import NLSQConfigError
from .normal_equations import LOSSES
from .robust_passes import ERROR_MODES

SOLVERS = ("lm", "nlsq")
# the allowed values come from the code that implements them (one source each)
Loss = Literal[LOSSES]
ScalingMode = Literal[SCALING_MODES]
Solver = Literal[SOLVERS]
ErrorMode = Literal[ERROR_MODES]
MiddleTerm = Literal["speckle", "bartlett"]


def _errors(cls: Any, exc: ValidationError, path: str = "optimization.nlsq") -> NLSQConfigError:
    problems = [(format_path(path, loc), msg) for loc, msg in describe_errors(cls, exc)]
    return NLSQConfigError("; ".join(f"{k}: {m}" for k, m in problems), problems)


def _expect(text: str) -> dict[str, Any]:
    return {"expected": text}


_POS_INT = _expect("an integer >= 1")
_POS_NUM = _expect("a positive finite number")


@raise_as(_errors)
@dataclass(frozen=True, config=settings_config())
class NLSQConfig:
    """Settings of :func:`homodyne_nlsq.fit_nlsq`.

    Attributes
    ----------
    max_iterations
        Most accepted Levenberg-Marquardt steps (each costs one fused pass over the data).
    ftol, xtol, gtol
        Stop when the relative decrease of chi^2 of an accepted step is below ``ftol``, when
        every parameter moves by less than ``xtol`` relative to its size, or when the largest
        cosine between the residual vector and a free Jacobian column is below ``gtol``.
    chunk_size
        Frame pairs per chunk of the streamed passes (memory per chunk ~ chunk x n_phi x P).
    loss, f_scale
        ``linear`` (least squares) or a robust loss (``soft_l1``, ``huber``, ``cauchy``) with
        residual scale ``f_scale`` (same units as c2), applied by reweighting.
    scaling_mode, fourier_order
        Per-angle contrast/offset model (``individual``, ``auto``, ``constant``, ``fourier``).
    contrast_age_order, offset_age_order
        Age dependence of the per-angle contrast / offset: Legendre polynomials of this order
        in the age (t1 + t2)/2 over the data's age range (0: constant in age, the default;
        1: a linear drift). Each order adds one more copy of the scaling's linear columns,
        solved with them. Not with ``scaling_mode: constant``.
    sigma
        Absolute noise of one c2 value; ``None`` estimates it from the residuals.
    solver
        ``lm`` (streaming Levenberg-Marquardt, default) or ``nlsq`` (the optional ``nlsq``
        library's ``curve_fit``; small and medium data only).
    multistart
        Number of extra starts (Latin hypercube over the bounds), each refined by the solver.
    cmaes, cmaes_generations, cmaes_popsize, cmaes_sigma
        CMA-ES global search before the local solver: generations, population size (``None``:
        the library's default 4 + 3 ln n) and initial step in bound-normalised units.
    seed
        Seed of the multi-start design and of CMA-ES.
    start_search
        Refine the start on a subset of the points before the full solve (coordinate sweeps
        over the bounds, then the local solver; see :mod:`homodyne_nlsq.start_search`).
    lambda_init
        Initial Marquardt damping relative to the scaled normal matrix (diagonal 1).
    max_rejections
        Trial steps rejected in a row before the solver gives up on improving.
    robust_covariance
        ``auto``: test the residuals for frame correlation (one cheap pass) and compute and
        use the sandwich covariance only when the test fires; ``always``: compute it also when
        the test is quiet (reported beside the independent-noise one, not used); ``never``.
        See :mod:`homodyne_nlsq.robust_covariance`.
    robust_middle
        The middle term of the frame-correlated covariance: ``speckle`` (default), the
        speckle-statistics covariance of correlator estimates computed from the fitted g1
        (:mod:`homodyne_nlsq.speckle_statistics`; dense matrices up to its frame limit, else
        the Bartlett sum); ``bartlett``, the non-parametric 2-D Bartlett sum over the scores.
    speckle_pixels
        Independent pixels per angular bin for the speckle middle term when known (from the
        detector's q-phi partition); ``None`` calibrates it from the residuals.
    robust_fixed_b
        Divide each angle's Bartlett middle term of the sandwich by its fixed-b factor
        ``1 - sum K / N^2`` (:mod:`homodyne_nlsq.fixed_b`); off by default: the factor is always
        reported in ``error_model['fixed_b_factor']``.
    mirror_check
        laminar_flow with ``phi0`` free: after the fit, refit from the mirror image of
        ``phi0`` about the angle set's symmetry axis (if it has one), keep the lower minimum
        and warn when the two are indistinguishable (see :mod:`homodyne_nlsq.mirror`).
    """

    max_iterations: Integer = Field(
        200, ge=1, description="most accepted LM steps", json_schema_extra=_POS_INT
    )
    ftol: Number = Field(
        1e-8, gt=0, description="relative chi^2 decrease to stop", json_schema_extra=_POS_NUM
    )
    xtol: Number = Field(
        1e-8, gt=0, description="relative parameter step to stop", json_schema_extra=_POS_NUM
    )
    gtol: Number = Field(
        1e-8, gt=0, description="gradient cosine to stop", json_schema_extra=_POS_NUM
    )
    chunk_size: Integer = Field(
        4096, ge=1, description="frame pairs per streamed chunk", json_schema_extra=_POS_INT
    )
    loss: Loss = Field("linear", description="least squares or a robust loss")
    f_scale: Number = Field(
        1.0,
        gt=0,
        description="residual scale of a robust loss, c2 units",
        json_schema_extra=_POS_NUM,
    )
    scaling_mode: ScalingMode = Field("auto", description="per-angle contrast/offset model")
    fourier_order: Integer = Field(
        2,
        ge=1,
        le=10,
        description="order of the fourier scaling",
        json_schema_extra=_expect("an integer between 1 and 10"),
    )
    contrast_age_order: Integer = Field(
        0,
        ge=0,
        le=3,
        description="order of the contrast's age polynomial; 0 = constant in age",
        json_schema_extra=_expect("an integer between 0 and 3"),
    )
    offset_age_order: Integer = Field(
        0,
        ge=0,
        le=3,
        description="order of the offset's age polynomial; 0 = constant in age",
        json_schema_extra=_expect("an integer between 0 and 3"),
    )
    sigma: Number | None = Field(
        None,
        gt=0,
        description="noise of one c2 value; null = estimated",
        json_schema_extra=_expect("null (estimate from residuals) or a positive finite number"),
    )
    solver: Solver = Field("lm", description="lm (streaming LM) or nlsq (the nlsq library)")
    multistart: Integer = Field(
        0,
        ge=0,
        description="extra Latin-hypercube starts",
        json_schema_extra=_expect("a non-negative integer"),
    )
    cmaes: Flag = Field(
        False,
        description="CMA-ES global search before the local solver",
        json_schema_extra=_expect("true or false"),
    )
    cmaes_generations: Integer = Field(
        60, ge=1, description="CMA-ES generations", json_schema_extra=_POS_INT
    )
    cmaes_popsize: Integer | None = Field(
        None,
        ge=2,
        description="CMA-ES population; null = 4 + 3 ln n",
        json_schema_extra=_expect("null or an integer >= 2"),
    )
    cmaes_sigma: Number = Field(
        0.25, gt=0, description="CMA-ES initial step, bound-normalised", json_schema_extra=_POS_NUM
    )
    seed: Integer = Field(
        0,
        ge=0,
        description="seed of multi-start and CMA-ES",
        json_schema_extra=_expect("a non-negative integer"),
    )
    start_search: Flag = Field(
        True,
        description="refine the start on a subset first",
        json_schema_extra=_expect("true or false"),
    )
    lambda_init: Number = Field(
        1e-3, gt=0, description="initial Marquardt damping", json_schema_extra=_POS_NUM
    )
    max_rejections: Integer = Field(
        12,
        ge=1,
        description="rejected trial steps in a row before stopping",
        json_schema_extra=_POS_INT,
    )
    robust_covariance: ErrorMode = Field(
        "auto",
        description="frame-correlated covariance: auto (when the residual test fires), "
        "always (also computed beside), never",
    )
    robust_middle: MiddleTerm = Field(
        "speckle",
        description="middle term of the frame-correlated covariance: speckle (model-based, "
        "where it applies) or bartlett (non-parametric)",
    )
    speckle_pixels: Number | None = Field(
        None,
        gt=0,
        description="pixels per bin for the speckle middle term; null = calibrated",
        json_schema_extra=_expect("null (calibrate from the residuals) or a positive number"),
    )
    robust_fixed_b: Flag = Field(
        False,
        description="fixed-b correction of the sandwich's middle term (see homodyne_nlsq.fixed_b)",
        json_schema_extra=_expect("true or false"),
    )
    mirror_check: Flag = Field(
        True,
        description="laminar_flow: refit from the mirror image of phi0 about the angle "
        "set's symmetry axis and keep the lower minimum",
        json_schema_extra=_expect("true or false"),
    )

    def __post_init__(self) -> None:
        if self.scaling_mode == "constant" and (self.contrast_age_order or self.offset_age_order):
            key = "contrast_age_order" if self.contrast_age_order else "offset_age_order"
            raise ValueError(
                f"{key} > 0 needs a fitted per-angle scaling, but scaling_mode is 'constant' "
                "(contrast and offset held fixed); expected 0 or another scaling_mode"
            )

    # where homodyne 2.x files keep these settings, relative to optimization.nlsq
    YAML_KEYS: ClassVar[dict[str, str]] = {
        "tolerance": "ftol",
        "per_angle_mode": "scaling_mode",
        "anti_degeneracy.per_angle_mode": "scaling_mode",
        "anti_degeneracy.fourier_order": "fourier_order",
        "multi_start.n_starts": "multistart",
        "multi_start.seed": "seed",
        "cmaes.enable": "cmaes",
    }
    YAML_LEGACY: ClassVar[dict[str, str]] = {
        "anti_degeneracy.constant_scaling_threshold": "'constant_scaling_threshold' is fixed at "
        "3 angles in homodyne 3; ignored",
        **dict.fromkeys(
            [f"anti_degeneracy.{k}" for k in ("fourier_auto_threshold", "hierarchical")]
            + [f"anti_degeneracy.{k}" for k in ("regularization", "gradient_monitoring")]
            + ["anti_degeneracy.shear_weighting"]
            + [f"multi_start.{k}" for k in ("sampling_strategy", "n_workers", "use_screening")]
            + [f"multi_start.{k}" for k in ("screen_keep_fraction", "refine_top_k")]
            + [f"multi_start.{k}" for k in ("refinement_ftol", "degeneracy_threshold")]
            + ["workflow", "goal", "memory_fraction", "trust_region_scale", "x_scale_map"]
            + ["progress", "diagnostics", "hybrid_streaming", "streaming", "stratification"]
            + ["recovery", "method"],
            "",
        ),
    }
    YAML_INFO: ClassVar[tuple[str, ...]] = (
        "anti_degeneracy.enable",
        "multi_start.enable",
        "cmaes.*",
    )

    @classmethod
    def yaml_section(cls, section: Mapping[str, Any]) -> dict[str, Any]:
        """2.x spellings that are not plain renames: ``multi_start.enable`` gates ``n_starts``
        (10 when enabled without a number). Returns the section with ``multi_start`` resolved."""
        out = dict(section)
        ms = out.get("multi_start")
        if isinstance(ms, Mapping):
            ms = dict(ms)
            if ms.get("enable") is True:
                ms.setdefault("n_starts", 10)
            else:
                ms.pop("n_starts", None)
                ms.pop("seed", None)
            out["multi_start"] = ms
        return out

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any] | None, path: str = "optimization.nlsq"
    ) -> "NLSQConfig":
        """Build from a plain mapping (e.g. a YAML section); unknown keys are errors.

        Parameters
        ----------
        d
            Mapping of setting name to value; ``None`` or empty gives the defaults.
        path
            Dotted location of the section in the run configuration, used in messages.

        Raises
        ------
        NLSQConfigError
            Naming ``path.key`` and what was expected.
        """
        if d is None:
            d = {}
        if not isinstance(d, Mapping):
            raise NLSQConfigError(f"{path}: expected a mapping of settings, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise NLSQConfigError(
                    f"{path}.{key}: unknown setting (known: {', '.join(sorted(known))})"
                )
        try:
            cfg = cls.__pydantic_validator__.validate_python(dict(d))
        except ValidationError as exc:
            raise _errors(cls, exc, path) from None
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict of every setting."""
        return asdict(self)
