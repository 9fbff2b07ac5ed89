"""Model parameters of a run: bounds and priors, start values and fixed parameters.

Names are resolved to registry names once, here (aliases such as ``gamma_dot_0`` accepted);
an unknown name is an error with a suggestion and the line of the key that holds it.
"""

from collections.abc import Mapping
from typing import Any

from homodyne_data.settings import suggest
from homodyne_physics import ALIASES, MODES, PARAMETERS, ParameterError, Prior

from .sections import Reporter

__all__ = ["bounds_and_priors", "fixed_parameters", "initial_values"]

_ALL = MODES["laminar_flow"]
_SCALING = ("contrast", "offset")
_INIT = ("initial_parameters",)


def _canon(name: Any) -> str:
    return ALIASES.get(str(name), str(name))


def bounds_and_priors(settings: Any, mode: str, rep: Reporter):
    """``parameter_space.bounds`` -> ``({name: (lo, hi)}, {name: prior dict})``."""
    names = MODES[mode]
    bounds: dict[str, tuple[float, float]] = {}
    priors: dict[str, dict[str, Any]] = {}
    for k, entry in enumerate(settings.bounds or ()):
        path = ("parameter_space", "bounds", k)
        name, lo, hi = _canon(entry.name), entry.min, entry.max
        if not lo < hi:
            rep.error((*path, "min"), f"{name}: min must be < max, got min={lo:g}, max={hi:g}")
            continue
        if name not in names and name not in _SCALING:
            continue  # e.g. shear bounds in a static config: harmless
        bounds[name] = (lo, hi)
        if entry.type is not None or entry.prior_mu is not None or entry.prior_sigma is not None:
            priors[name] = {
                "family": entry.type or "TruncatedNormal",
                "mean": (lo + hi) / 2 if entry.prior_mu is None else entry.prior_mu,
                "sd": (hi - lo) / 4 if entry.prior_sigma is None else entry.prior_sigma,
                "low": lo,
                "high": hi,
            }
    priors.update(cmc_section_priors(settings, mode, rep))
    return bounds, priors


def cmc_section_priors(settings: Any, mode: str, rep: Reporter) -> dict[str, dict[str, Any]]:
    """``optimization.cmc.priors`` -> ``{name: prior dict}`` (these win over the bounds
    entries' priors). Missing numbers come from the registry's prior; an entry with min/max
    but no mean is centred mid-range with sd = (max - min) / 4."""
    out: dict[str, dict[str, Any]] = {}
    for key, entry in (getattr(settings, "cmc_priors", None) or {}).items():
        path = ("optimization", "cmc", "priors", key)
        name = _name_in_mode(key, mode, path, rep)
        if name is None:
            continue
        base = PARAMETERS[name].prior
        low = next((v for v in (entry.min, entry.low) if v is not None), base.low)
        high = next((v for v in (entry.max, entry.high) if v is not None), base.high)
        if not low < high:
            rep.error(path, f"{name}: min must be < max, got min={low:g}, max={high:g}")
            continue
        ends_given = any(v is not None for v in (entry.min, entry.max, entry.low, entry.high))
        if entry.mean is not None or not ends_given:
            mean = base.mean if entry.mean is None else entry.mean
            sd = base.sd if entry.sd is None else entry.sd
        else:
            mean = 0.5 * (low + high)
            sd = (high - low) / 4.0 if entry.sd is None else entry.sd
        prior = {"family": entry.family or "TruncatedNormal", "mean": mean, "sd": sd}
        prior |= {"low": float(low), "high": float(high)}
        try:
            Prior(**prior)
        except ParameterError as exc:  # the prior's own check: it names what is wrong
            rep.error(path, str(exc))
            continue
        out[name] = prior
    return out


def initial_values(settings: Any, mode: str, bounds: dict, rep: Reporter):
    """``initial_parameters.values`` (with ``parameter_names``) -> ``{name: value}`` or None."""
    names = MODES[mode]
    if settings.values is None:
        return None
    pnames = list(settings.parameter_names or names)
    values = list(settings.values)
    if len(pnames) != len(values):
        rep.error(
            (*_INIT, "values"),
            f"{len(values)} values for {len(pnames)} parameter_names ({', '.join(pnames)})",
        )
        return None
    initial: dict[str, float] = {}
    for n, v in zip(pnames, values, strict=True):
        canon = _canon(n)
        if canon not in _ALL:
            rep.error(
                (*_INIT, "parameter_names"),
                f"unknown parameter {n!r} (known: {', '.join(_ALL)}){suggest(n, _ALL)}",
            )
        elif canon in names:
            initial[canon] = float(v)
            lo, hi = bounds.get(canon, (None, None))
            if lo is not None and not lo <= v <= hi:
                rep.error(
                    (*_INIT, "values"),
                    f"initial {canon} = {v:g} is outside its bounds [{lo:g}, {hi:g}]",
                )
        else:
            rep.warn(
                (*_INIT, "parameter_names"),
                f"{canon!r} is not a parameter of mode {mode!r}; ignored",
            )
    return initial


def _name_in_mode(name: Any, mode: str, path, rep: Reporter) -> str | None:
    canon = _canon(name)
    if canon not in _ALL:
        rep.error(path, f"unknown parameter {name!r}{suggest(str(name), _ALL + tuple(ALIASES))}")
        return None
    if canon not in MODES[mode]:
        rep.warn(path, f"{canon!r} is not a parameter of mode {mode!r}; ignored")
        return None
    return canon


def fixed_parameters(
    settings: Any, mode: str, bounds: dict, rep: Reporter, fix: Mapping[str, float | None]
) -> dict[str, float | None]:
    """Parameters held fixed: ``{registry name: value, or None for 'at its start value'}``.

    From ``initial_parameters.active_parameters`` (the others are fixed),
    ``initial_parameters.fixed_parameters`` (names, or name -> value) and ``--fix`` (``fix``,
    applied last). A fixed value must lie inside the parameter's bounds.
    """
    fixed: dict[str, float | None] = {}
    if settings.active_parameters is not None:
        path = (*_INIT, "active_parameters")
        active = {_name_in_mode(n, mode, path, rep) for n in settings.active_parameters}
        fixed.update({n: None for n in MODES[mode] if n not in active})
    given = settings.fixed_parameters
    path = (*_INIT, "fixed_parameters")
    items = given.items() if isinstance(given, Mapping) else ((n, None) for n in given or ())
    for name, value in items:
        canon = _name_in_mode(name, mode, path, rep)
        if canon is not None:
            fixed[canon] = None if value is None else float(value)
    for name, value in fix.items():
        canon = _name_in_mode(name, mode, ("--fix", name), rep)
        if canon is not None:
            fixed[canon] = value
    if fixed and len(fixed) == len(MODES[mode]):
        rep.error(path, f"every parameter of mode {mode!r} is fixed: nothing left to fit")
    for name, value in fixed.items():
        lo, hi = bounds.get(name, (None, None))
        if value is not None and lo is not None and not lo <= value <= hi:
            rep.error(path, f"fixed {name} = {value:g} is outside its bounds [{lo:g}, {hi:g}]")
    return fixed
