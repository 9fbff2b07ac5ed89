"""The ``optimization.nlsq`` configuration section: a small frozen, validated dataclass.

Only this package knows what its settings mean; the CLI composes the sections of a run
configuration and hands the plain mapping of this one to :meth:`NLSQConfig.from_dict`, which
names the offending key (``optimization.nlsq.ftol``) in every error.
"""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from homodyne_physics import SCALING_MODES, HomodyneError

from .normal_equations import LOSSES

__all__ = ["SOLVERS", "NLSQConfig", "NLSQConfigError"]

SOLVERS = ("lm", "nlsq")


class NLSQConfigError(HomodyneError, ValueError):
    """A setting of the least-squares section is missing, unknown or out of range."""


def _coerce_number(value: Any, kind: Any) -> Any:
    """Ints where floats are expected become floats; YAML's ``1e-8`` (a string) becomes 1e-8."""
    wants_float = kind is float or kind == (float | None)
    if wants_float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if wants_float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


@dataclass(frozen=True)
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
    """

    max_iterations: int = 200
    ftol: float = 1e-8
    xtol: float = 1e-8
    gtol: float = 1e-8
    chunk_size: int = 4096
    loss: str = "linear"
    f_scale: float = 1.0
    scaling_mode: str = "auto"
    fourier_order: int = 2
    sigma: float | None = None
    solver: str = "lm"
    multistart: int = 0
    cmaes: bool = False
    cmaes_generations: int = 60
    cmaes_popsize: int | None = None
    cmaes_sigma: float = 0.25
    seed: int = 0
    start_search: bool = True
    lambda_init: float = 1e-3
    max_rejections: int = 12

    def __post_init__(self) -> None:
        self._validate("optimization.nlsq")

    def _validate(self, path: str) -> None:
        def fail(key: str, what: str) -> None:
            value = getattr(self, key)
            raise NLSQConfigError(f"{path}.{key}: expected {what}, got {value!r}")

        for key in (
            "max_iterations",
            "chunk_size",
            "fourier_order",
            "cmaes_generations",
            "max_rejections",
        ):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                fail(key, "a positive integer")
        for key in ("multistart", "seed"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                fail(key, "a non-negative integer")
        for key in ("ftol", "xtol", "gtol", "f_scale", "cmaes_sigma", "lambda_init"):
            v = getattr(self, key)
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not (math.isfinite(v) and v > 0)
            ):
                fail(key, "a positive finite number")
        if self.sigma is not None and (
            isinstance(self.sigma, bool)
            or not isinstance(self.sigma, int | float)
            or not (math.isfinite(self.sigma) and self.sigma > 0)
        ):
            fail("sigma", "null (estimate from residuals) or a positive finite number")
        if self.cmaes_popsize is not None and (
            isinstance(self.cmaes_popsize, bool)
            or not isinstance(self.cmaes_popsize, int)
            or self.cmaes_popsize < 2
        ):
            fail("cmaes_popsize", "null or an integer >= 2")
        for key in ("cmaes", "start_search"):
            if not isinstance(getattr(self, key), bool):
                fail(key, "true or false")
        if self.loss not in LOSSES:
            fail("loss", f"one of {', '.join(LOSSES)}")
        if self.scaling_mode not in SCALING_MODES:
            fail("scaling_mode", f"one of {', '.join(SCALING_MODES)}")
        if self.solver not in SOLVERS:
            fail("solver", f"one of {', '.join(SOLVERS)}")

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
        obj = object.__new__(cls)
        defaults = cls()
        for f in fields(cls):
            value = d.get(f.name, getattr(defaults, f.name))
            value = _coerce_number(value, f.type)
            object.__setattr__(obj, f.name, value)
        obj._validate(path)
        return obj

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict of every setting."""
        return asdict(self)
