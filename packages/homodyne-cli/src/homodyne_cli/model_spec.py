"""The one place the CLI turns a resolved configuration into a :class:`ModelSpec`.

Pipeline, demo, simulate and check all build their model through :func:`spec_from_run`, so
mode, convention, gap, start values, bounds, priors and fixed parameters reach NLSQ, CMC and
the simulator together.
"""

from typing import TYPE_CHECKING

from homodyne_physics import ModelSpec, Prior

from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .config import RunConfig

__all__ = ["spec_from_run"]


def _prior(entry) -> Prior:
    if isinstance(entry, Prior):
        return entry
    return Prior(
        str(entry["family"]),
        float(entry["mean"]),
        float(entry["sd"]),
        float(entry["low"]),
        float(entry["high"]),
    )


def spec_from_run(run: "RunConfig") -> ModelSpec:
    """The :class:`ModelSpec` of a run configuration.

    Raises
    ------
    ConfigError
        When the values do not make a valid spec (the message names the parameter and the
        config keys to look at).
    """
    from homodyne_physics import HomodyneError

    try:
        return ModelSpec.create(
            run.mode,
            convention=run.convention,  # type: ignore[arg-type]
            gap=run.gap,
            initial=run.initial or None,
            bounds=run.bounds or None,
            priors={n: _prior(p) for n, p in (run.priors or {}).items()} or None,
            fixed=getattr(run, "fixed", None) or None,
            phi_bin_width=getattr(run, "phi_bin_width", None),
        )
    except HomodyneError as exc:
        where = run.source or "the configuration"
        raise ConfigError(f"{where}: initial_parameters / parameter_space / --fix: {exc}") from None


def bin_width_note(spec: ModelSpec) -> str:
    """One line for the run log: the angular bin width the shear term is averaged over."""
    width = spec.phi_bin_width
    if width is None:
        return (
            "angular bins: shear term at the bin centres (phi_bin_width unknown, taken as 0; "
            "set analyzer_parameters.scattering.phi_bin_width to model the bins)"
        )
    shown = f"{width:g}" if isinstance(width, float) else ", ".join(f"{w:g}" for w in width)
    return f"angular bins: shear term averaged over {shown} deg (phi_bin_width)"
