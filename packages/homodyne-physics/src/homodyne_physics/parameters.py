"""The parameter registry: names, units, defaults, bounds, priors and the analysis modes.

Every layer asks this module about parameters: the least-squares engine for bounds and
defaults, the sampler for priors, the CLI and the plots for names and units. Values follow
``shared/reference/model.md`` (physical convention).
"""

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .errors import ModeError, ParameterError, UnknownParameterError

__all__ = [
    "ALIASES",
    "MODES",
    "MODE_ALIASES",
    "PARAMETERS",
    "PRIOR_FAMILIES",
    "ParameterSpec",
    "Prior",
    "canonical_mode",
    "canonical_name",
    "check_values",
    "default_values",
    "get_spec",
    "mode_bounds",
    "parameter_names",
]

PRIOR_FAMILIES = ("TruncatedNormal", "Normal", "Uniform", "LogNormal", "HalfNormal", "BetaScaled")


@dataclass(frozen=True)
class Prior:
    """A prior on one parameter.

    ``mean`` and ``sd`` are the location and scale the user wrote (for ``LogNormal`` they are the
    mean and sd of the log); ``low``/``high`` are the bounds that truncate it.
    """

    family: str
    mean: float
    sd: float
    low: float
    high: float

    def __post_init__(self) -> None:
        if self.family not in PRIOR_FAMILIES:
            raise ParameterError(
                f"unknown prior family {self.family!r}; expected one of {', '.join(PRIOR_FAMILIES)}"
            )
        if not (np.isfinite(self.sd) and self.sd > 0):
            raise ParameterError(f"prior sd must be a positive number, got {self.sd!r}")
        if not self.low < self.high:
            raise ParameterError(
                f"prior bounds must satisfy low < high, got [{self.low}, {self.high}]"
            )


@dataclass(frozen=True)
class ParameterSpec:
    """Everything the code knows about one model parameter."""

    name: str
    symbol: str
    unit: str
    default: float
    low: float
    high: float
    prior: Prior
    description: str

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)``: the closed interval the parameter may take."""
        return (self.low, self.high)

    def with_bounds(self, low: float, high: float, prior: Prior | None = None) -> "ParameterSpec":
        """Return a copy with new bounds (and prior), validated."""
        if not low < high:
            raise ParameterError(f"{self.name}: bounds must satisfy min < max, got [{low}, {high}]")
        if prior is None:
            prior = replace(self.prior, low=low, high=high)
        return replace(self, low=float(low), high=float(high), prior=prior)


def _spec(name, symbol, unit, default, low, high, mu, sd, description) -> ParameterSpec:
    prior = Prior("TruncatedNormal", float(mu), float(sd), float(low), float(high))
    return ParameterSpec(
        name, symbol, unit, float(default), float(low), float(high), prior, description
    )


PARAMETERS: dict[str, ParameterSpec] = {
    p.name: p
    for p in (
        _spec("contrast", "beta_c", "1", 0.5, 0.0, 1.0, 0.5, 0.25, "speckle contrast of one angle"),
        _spec("offset", "c_0", "1", 1.0, 0.5, 1.5, 1.0, 0.25, "baseline of c2 for one angle"),
        _spec(
            "D0",
            "D_0",
            "A^2 s^-(1+alpha)",
            1000.0,
            100.0,
            1e5,
            1000.0,
            1000.0,
            "prefactor of the transport coefficient D(t) = D0 t^alpha + D_offset",
        ),
        _spec("alpha", "alpha", "1", 0.5, -2.0, 2.0, 0.5, 0.5, "exponent of D(t)"),
        _spec(
            "D_offset", "D_offset", "A^2/s", 10.0, -1e5, 1e5, 10.0, 200.0, "constant part of D(t)"
        ),
        _spec(
            "gamma_dot_t0",
            "gamma_dot_0",
            "s^-(1+beta)",
            0.01,
            1e-6,
            0.5,
            0.01,
            0.1,
            "prefactor of the shear rate gamma_dot(t) = gamma_dot_t0 t^beta + offset",
        ),
        _spec("beta", "beta", "1", 0.5, -2.0, 2.0, 0.0, 0.5, "exponent of gamma_dot(t)"),
        _spec(
            "gamma_dot_t_offset",
            "gamma_dot_offset",
            "1/s",
            0.0,
            -0.1,
            0.1,
            0.0,
            0.02,
            "constant part of gamma_dot(t)",
        ),
        _spec(
            "phi0",
            "phi_0",
            "deg",
            0.0,
            -10.0,
            10.0,
            0.0,
            5.0,
            "angle between the flow direction and phi = 0",
        ),
    )
}

ALIASES: dict[str, str] = {
    "gamma_dot_0": "gamma_dot_t0",
    "gamma_dot_offset": "gamma_dot_t_offset",
    "phi_0": "phi0",
}

MODES: dict[str, tuple[str, ...]] = {
    "static": ("D0", "alpha", "D_offset"),
    "laminar_flow": (
        "D0",
        "alpha",
        "D_offset",
        "gamma_dot_t0",
        "beta",
        "gamma_dot_t_offset",
        "phi0",
    ),
}

MODE_ALIASES: dict[str, str] = {"static_isotropic": "static", "static_anisotropic": "static"}


def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def canonical_name(name: str) -> str:
    """Return the registry name for ``name`` (registry name or alias).

    Raises
    ------
    UnknownParameterError
        When the name is neither, with a suggestion when one is close.
    """
    if name in PARAMETERS:
        return name
    if name in ALIASES:
        return ALIASES[name]
    known = list(PARAMETERS) + list(ALIASES)
    raise UnknownParameterError(
        f"unknown parameter {name!r}{_suggest(name, known)} (known: {', '.join(PARAMETERS)})"
    )


def canonical_mode(mode: str) -> str:
    """Return ``'static'`` or ``'laminar_flow'`` for a mode name or alias."""
    if mode in MODES:
        return mode
    if mode in MODE_ALIASES:
        return MODE_ALIASES[mode]
    known = list(MODES) + list(MODE_ALIASES)
    raise ModeError(
        f"unknown analysis mode {mode!r}{_suggest(str(mode), known)} (known: {', '.join(known)})"
    )


def get_spec(name: str) -> ParameterSpec:
    """Return the :class:`ParameterSpec` of a parameter (alias accepted)."""
    return PARAMETERS[canonical_name(name)]


def parameter_names(mode: str) -> tuple[str, ...]:
    """Physical parameter names of a mode, in kernel order."""
    return MODES[canonical_mode(mode)]


def default_values(mode: str) -> np.ndarray:
    """Registry defaults of the physical parameters of ``mode``, float64."""
    return np.array([PARAMETERS[n].default for n in parameter_names(mode)], dtype=np.float64)


def mode_bounds(mode: str) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` arrays of the physical parameters of ``mode``."""
    names = parameter_names(mode)
    return (
        np.array([PARAMETERS[n].low for n in names], dtype=np.float64),
        np.array([PARAMETERS[n].high for n in names], dtype=np.float64),
    )


def check_values(
    mode: str,
    values: Mapping[str, float] | Sequence[float] | np.ndarray,
    *,
    specs: Mapping[str, ParameterSpec] | None = None,
    check_bounds: bool = True,
) -> np.ndarray:
    """Validate physical parameter values for ``mode`` and return them in kernel order.

    Parameters
    ----------
    mode
        Analysis mode (aliases accepted).
    values
        Either a mapping name -> value (aliases accepted; every parameter of the mode exactly
        once) or a sequence in kernel order.
    specs
        Optional overrides of the registry (e.g. user bounds from a config).
    check_bounds
        Refuse values outside the bounds.
    """
    names = parameter_names(mode)
    specs = {**PARAMETERS, **(specs or {})}
    if isinstance(values, Mapping):
        given: dict[str, float] = {}
        for key, val in values.items():
            canon = canonical_name(str(key))
            if canon in given:
                raise ParameterError(f"parameter {canon!r} given twice (as {key!r})")
            if canon not in names:
                raise ParameterError(
                    f"parameter {canon!r} is not part of mode {canonical_mode(mode)!r} "
                    f"(its parameters: {', '.join(names)})"
                )
            given[canon] = val
        missing = [n for n in names if n not in given]
        if missing:
            raise ParameterError(
                f"mode {canonical_mode(mode)!r} needs values for {', '.join(missing)}"
            )
        arr = np.array([given[n] for n in names], dtype=np.float64)
    else:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        if arr.size != len(names):
            raise ParameterError(
                f"mode {canonical_mode(mode)!r} takes {len(names)} parameters "
                f"({', '.join(names)}), got {arr.size}"
            )
    for n, v in zip(names, arr, strict=True):
        if not np.isfinite(v):
            raise ParameterError(f"parameter {n!r} must be finite, got {v}")
        lo, hi = specs[n].bounds
        if check_bounds and not lo <= v <= hi:
            raise ParameterError(f"parameter {n!r} = {v:g} is outside its bounds [{lo:g}, {hi:g}]")
    return arr
