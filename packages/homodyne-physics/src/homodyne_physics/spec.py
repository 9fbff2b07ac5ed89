"""``ModelSpec``: the one description of a model that every engine fits.

A spec holds the analysis mode, the convention, the rheometer gap and, for every physical
parameter of the mode (plus the per-angle ``contrast`` and ``offset``), its start value,
bounds, prior and whether it is held fixed. It is validated once, here; the least-squares
engine, the sampler, the simulator and the CLI read it by parameter name. It is frozen and
hashable, and round-trips through JSON (:meth:`ModelSpec.to_dict` / :meth:`ModelSpec.from_dict`)
so that results record the spec they were made with.

This module does not import JAX: :meth:`ModelSpec.model` imports the kernel on first use.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from .binning import check_bin_width
from .errors import ModeError, ParameterError
from .parameters import PARAMETERS, Prior, canonical_mode, canonical_name, parameter_names

if TYPE_CHECKING:  # pragma: no cover
    from .kernel import C2Model

__all__ = ["CONVENTIONS", "SCALING_NAMES", "Convention", "ModelSpec", "ParamSetting"]

#: The model conventions: the one source of the allowed values.
Convention = Literal["physical", "homodyne2"]
CONVENTIONS: tuple[str, ...] = get_args(Convention)

#: Registry names of the per-angle scaling parameters.
SCALING_NAMES = ("contrast", "offset")


def check_convention(convention: str) -> str:
    """Return ``convention`` when it is one of :data:`CONVENTIONS`, else raise ModeError."""
    if convention not in CONVENTIONS:
        raise ModeError(
            f"unknown convention {convention!r}; expected one of {', '.join(CONVENTIONS)}"
        )
    return convention


@dataclass(frozen=True)
class ParamSetting:
    """Settings of one parameter: start value, bounds, prior (truncated to the bounds) and
    whether it is held fixed (then ``start`` is its value). ``start`` is None for a scaling
    parameter whose start is estimated from the data, and may be one value per angle
    (a tuple) for a scaling parameter."""

    name: str
    start: float | tuple[float, ...] | None
    low: float
    high: float
    prior: Prior
    fixed: bool = False

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)``."""
        return (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (non-finite bounds as None)."""

        def num(v):
            return float(v) if v is not None and math.isfinite(v) else None

        p = self.prior
        start = [float(v) for v in self.start] if isinstance(self.start, tuple) else num(self.start)
        return {
            "start": start,
            "min": num(self.low),
            "max": num(self.high),
            "fixed": self.fixed,
            "prior": {
                "family": p.family,
                "mean": float(p.mean),
                "sd": float(p.sd),
                "min": num(p.low),
                "max": num(p.high),
            },
        }

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> "ParamSetting":
        """Inverse of :meth:`to_dict` (None bounds read as infinite)."""

        def lo(v):
            return -math.inf if v is None else float(v)

        def hi(v):
            return math.inf if v is None else float(v)

        p = d["prior"]
        prior = Prior(
            str(p["family"]), float(p["mean"]), float(p["sd"]), lo(p["min"]), hi(p["max"])
        )
        start = d.get("start")
        if start is not None:
            start = tuple(map(float, start)) if isinstance(start, list) else float(start)
        return cls(name, start, lo(d["min"]), hi(d["max"]), prior, bool(d.get("fixed", False)))


def _as_prior(name: str, value: Any) -> Prior:
    if isinstance(value, Prior):
        return value
    if isinstance(value, Mapping):
        base = PARAMETERS[name].prior
        try:
            return Prior(
                str(value.get("family", base.family)),
                float(value.get("mean", base.mean)),
                float(value.get("sd", base.sd)),
                float(value.get("low", value.get("min", base.low))),
                float(value.get("high", value.get("max", base.high))),
            )
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"priors[{name!r}]: {exc}") from None
    raise ParameterError(
        f"priors[{name!r}]: expected a homodyne_physics.Prior or a mapping with "
        f"family/mean/sd/low/high, got {type(value).__name__}"
    )


def _by_name(what: str, given: Mapping[str, Any] | None, allowed: tuple[str, ...], mode: str):
    """Canonicalise the keys of ``given`` (aliases, suggestions) and check the mode has them."""
    out: dict[str, Any] = {}
    for key, val in (given or {}).items():
        name = canonical_name(str(key))
        if name not in allowed:
            raise ParameterError(
                f"{what}[{key!r}]: {name!r} is not a parameter of mode {mode!r} "
                f"(its parameters: {', '.join(allowed)})"
            )
        if name in out:
            raise ParameterError(f"{what}: parameter {name!r} given twice (as {key!r})")
        out[name] = val
    return out


def _fixed_map(fixed, allowed, mode) -> dict[str, float | None]:
    if fixed is None:
        return {}
    if isinstance(fixed, str):
        fixed = [fixed]
    if not isinstance(fixed, Mapping):
        fixed = dict.fromkeys(fixed)
    return _by_name("fixed", fixed, allowed, mode)


def _pair(name: str, pair: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ParameterError(
            f"bounds[{name!r}]: expected a pair (min, max), got {pair!r}"
        ) from None
    if not lo < hi:
        raise ParameterError(f"bounds[{name!r}]: expected min < max, got [{lo:g}, {hi:g}]")
    return lo, hi


def _setting(name, start, bounds, prior, fixed, physical: bool) -> ParamSetting:
    reg = PARAMETERS[name]
    prior_obj = _as_prior(name, prior) if prior is not None else None
    if bounds is not None:
        lo, hi = _pair(name, bounds)
    elif prior_obj is not None:
        lo, hi = prior_obj.low, prior_obj.high
    else:
        lo, hi = reg.bounds
    prior_obj = replace(prior_obj or reg.prior, low=lo, high=hi)
    is_fixed = fixed is not False
    if is_fixed and fixed is not None:
        start = fixed
    if start is None and physical:
        start = reg.default
    if start is not None:
        per_angle = not physical and np.ndim(start) == 1
        values = list(np.asarray(start, dtype=np.float64)) if per_angle else [start]
        checked = tuple(_check_value(name, v, lo, hi, is_fixed) for v in values)
        start = checked if per_angle else checked[0]
    return ParamSetting(name, start, lo, hi, prior_obj, is_fixed)


def _check_value(name: str, value: Any, lo: float, hi: float, is_fixed: bool) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: expected a number, got {value!r}") from None
    what = "fixed value" if is_fixed else "start value"
    if not math.isfinite(value):
        raise ParameterError(f"{name}: {what} must be finite, got {value!r}")
    if not lo <= value <= hi:
        raise ParameterError(f"{name}: {what} {value:g} is outside its bounds [{lo:g}, {hi:g}]")
    return value


@dataclass(frozen=True)
class ModelSpec:
    """Mode, convention, gap and per-parameter settings; build with :meth:`create`.

    ``parameters`` hold the physical parameters of the mode in kernel order; ``scaling`` the
    settings of ``contrast`` and ``offset`` (applied to every angle's entry).
    """

    mode: str
    convention: Convention
    gap: float
    parameters: tuple[ParamSetting, ...]
    scaling: tuple[ParamSetting, ...]
    phi_bin_width: float | tuple[float, ...] | None = None

    @classmethod
    def create(
        cls,
        mode: str,
        *,
        convention: Convention = "physical",
        gap: float = 2e6,
        initial: Mapping[str, float] | None = None,
        bounds: Mapping[str, tuple[float, float]] | None = None,
        priors: Mapping[str, Any] | None = None,
        fixed: Mapping[str, float | None] | Iterable[str] | None = None,
        phi_bin_width: float | Iterable[float] | None = None,
    ) -> "ModelSpec":
        """Validated spec.

        Parameters
        ----------
        mode
            ``static`` or ``laminar_flow`` (aliases accepted).
        convention
            ``physical`` or ``homodyne2``.
        gap
            Stator-rotor gap, Angstrom.
        initial, bounds, priors
            By parameter name (aliases accepted; ``contrast``/``offset`` too): start values,
            ``(min, max)`` pairs, :class:`Prior` objects (or mappings family/mean/sd/low/high).
            Without bounds, a given prior's bounds are the bounds; priors are truncated to
            the bounds.
        fixed
            Parameters held fixed: a mapping name -> value (None: the start value) or names.
        phi_bin_width
            Angular width of the data's bins, degrees (one number or one per angle; None or 0:
            the shear term at the bin centre); passed to :class:`C2Model` by :meth:`model`.

        Raises
        ------
        UnknownParameterError, ParameterError, ModeError
            Unknown names (with a suggestion), values outside bounds, bad bounds or mode.
        """
        mode = canonical_mode(mode)
        check_convention(convention)
        gap = float(gap)
        if not (math.isfinite(gap) and gap > 0):
            raise ModeError(f"gap must be a positive finite number (Angstrom), got {gap!r}")
        names = parameter_names(mode)
        allowed = names + SCALING_NAMES
        init = _by_name("initial", initial, allowed, mode)
        bnds = _by_name("bounds", bounds, allowed, mode)
        pri = _by_name("priors", priors, allowed, mode)
        fix = _fixed_map(fixed, names, mode)
        params = tuple(
            _setting(n, init.get(n), bnds.get(n), pri.get(n), fix.get(n, False), True)
            for n in names
        )
        scal = tuple(
            _setting(n, init.get(n), bnds.get(n), pri.get(n), False, False) for n in SCALING_NAMES
        )
        width = check_bin_width(phi_bin_width, "phi_bin_width")
        return cls(mode, convention, gap, params, scal, width)

    # ------------------------------------------------------------------ views by name
    @property
    def names(self) -> tuple[str, ...]:
        """Physical parameter names, kernel order."""
        return tuple(p.name for p in self.parameters)

    @property
    def free_names(self) -> tuple[str, ...]:
        """Physical parameters that are fitted, kernel order."""
        return tuple(p.name for p in self.parameters if not p.fixed)

    @property
    def fixed_names(self) -> tuple[str, ...]:
        """Physical parameters held fixed, kernel order."""
        return tuple(p.name for p in self.parameters if p.fixed)

    @property
    def free_index(self) -> tuple[int, ...]:
        """Kernel positions of the free parameters."""
        return tuple(k for k, p in enumerate(self.parameters) if not p.fixed)

    @property
    def fixed_values(self) -> dict[str, float]:
        """Fixed parameter -> value."""
        return {p.name: float(p.start) for p in self.parameters if p.fixed}

    @property
    def start(self) -> dict[str, float]:
        """Physical parameter -> start value (the value itself when fixed)."""
        return {p.name: float(p.start) for p in self.parameters}

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """Parameter -> ``(min, max)``, physical then ``contrast``/``offset``."""
        return {p.name: p.bounds for p in self.parameters + self.scaling}

    @property
    def priors(self) -> dict[str, Prior]:
        """Parameter -> prior (truncated to the bounds), physical then ``contrast``/``offset``."""
        return {p.name: p.prior for p in self.parameters + self.scaling}

    @property
    def scaling_start(self) -> dict[str, float | tuple[float, ...]]:
        """``contrast``/``offset`` start values that were given (one, or one per angle);
        the others come from the data."""
        return {p.name: p.start for p in self.scaling if p.start is not None}

    def setting(self, name: str) -> ParamSetting:
        """The :class:`ParamSetting` of a parameter (alias accepted)."""
        name = canonical_name(name)
        for p in self.parameters + self.scaling:
            if p.name == name:
                return p
        raise ParameterError(f"{name!r} is not a parameter of mode {self.mode!r}")

    def theta(self, free_vector, xp=np):
        """Full physical vector (kernel order) from the free entries (``xp``: numpy or jnp)."""
        base = xp.asarray([float(p.start) for p in self.parameters], dtype=xp.float64)
        idx = self.free_index
        free = xp.asarray(free_vector, dtype=xp.float64).reshape(-1)
        if free.shape[0] != len(idx):
            raise ParameterError(
                f"expected {len(idx)} free values ({', '.join(self.free_names)}), "
                f"got {free.shape[0]}"
            )
        if xp is np:
            base[list(idx)] = free
            return base
        return base.at[np.asarray(idx, dtype=np.int32)].set(free)

    def free_vector(self, theta) -> np.ndarray:
        """The free entries of a full physical vector (kernel order)."""
        theta = np.asarray(theta, np.float64).reshape(-1)
        if theta.shape[0] != len(self.parameters):
            raise ParameterError(
                f"expected {len(self.parameters)} values ({', '.join(self.names)}), "
                f"got {theta.shape[0]}"
            )
        return theta[list(self.free_index)].copy()

    def model(self, q: float, dt: float) -> "C2Model":
        """The :class:`homodyne_physics.C2Model` of this spec for one dataset."""
        from .kernel import C2Model

        return C2Model(
            self.mode,
            q=q,
            dt=dt,
            gap=self.gap,
            convention=self.convention,
            phi_bin_width=self.phi_bin_width,
        )

    def with_bin_width(self, width: float | Iterable[float] | None) -> "ModelSpec":
        """A copy whose models average the shear term over bins of ``width`` degrees."""
        return self._rebuild(phi_bin_width=width)

    # ------------------------------------------------------------------ variants and JSON
    def with_start(self, values: Mapping[str, float]) -> "ModelSpec":
        """A copy with new start values of free physical parameters (fixed ones kept)."""
        given = _by_name("with_start", values, self.names, self.mode)
        init = {**self.start, **{n: v for n, v in given.items() if n not in self.fixed_values}}
        return self._rebuild(initial=init)

    def with_fixed(self, fixed: Mapping[str, float | None] | Iterable[str]) -> "ModelSpec":
        """A copy with more parameters held fixed."""
        return self._rebuild(
            fixed={**self.fixed_values, **_fixed_map(fixed, self.names, self.mode)}
        )

    def _rebuild(self, **kw) -> "ModelSpec":
        args = {
            "convention": self.convention,
            "gap": self.gap,
            "initial": {**self.start, **self.scaling_start},
            "bounds": self.bounds,
            "priors": self.priors,
            "fixed": self.fixed_values,
            "phi_bin_width": self.phi_bin_width,
            **kw,
        }
        return ModelSpec.create(self.mode, **args)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (inverse: :meth:`from_dict`)."""
        return {
            "mode": self.mode,
            "convention": self.convention,
            "gap": self.gap,
            "parameters": {p.name: p.to_dict() for p in self.parameters},
            "scaling": {p.name: p.to_dict() for p in self.scaling},
            **({} if self.phi_bin_width is None else {"phi_bin_width": self.phi_bin_width}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelSpec":
        """Read a spec written by :meth:`to_dict` (validated again)."""
        try:
            params = {n: ParamSetting.from_dict(n, v) for n, v in d["parameters"].items()}
            scal = {n: ParamSetting.from_dict(n, v) for n, v in d.get("scaling", {}).items()}
            mode, convention, gap = str(d["mode"]), str(d["convention"]), float(d["gap"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(
                f"not a homodyne model spec (missing or bad entry {exc}); expected keys mode, "
                "convention, gap, parameters"
            ) from None
        every = {**params, **scal}
        return cls.create(
            mode,
            convention=convention,  # type: ignore[arg-type]
            gap=gap,
            initial={n: p.start for n, p in every.items() if p.start is not None},
            bounds={n: p.bounds for n, p in every.items()},
            priors={n: p.prior for n, p in every.items()},
            fixed=[n for n, p in params.items() if p.fixed],
            phi_bin_width=d.get("phi_bin_width"),
        )
