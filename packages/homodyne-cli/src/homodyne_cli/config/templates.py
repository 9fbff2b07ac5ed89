"""Commented configuration templates for ``homodyne config new``."""

from importlib import resources

from homodyne_physics.parameters import MODES

__all__ = ["TEMPLATE_MODES", "render_template"]

TEMPLATE_MODES = tuple(MODES)


def render_template(
    mode: str,
    *,
    file: str = "./data/sample_twotime.hdf",
    q: float | None = 0.0054,
    dt: float | None = None,
    initial: dict[str, float] | None = None,
) -> str:
    """Template text for ``mode`` with the data file, q (1/Angstrom) and dt (s) filled in.

    ``initial`` (name -> start value, every parameter of the mode) replaces ``values: null``.
    """
    if mode in ("static_isotropic", "static_anisotropic"):
        mode = "static"
    if mode not in TEMPLATE_MODES:
        raise ValueError(f"no template for mode {mode!r}; expected one of {TEMPLATE_MODES}")
    text = resources.files("homodyne_cli").joinpath("templates", f"{mode}.yaml").read_text()

    def num(v: float | None) -> str:
        return "null" if v is None else repr(float(v))

    text = text.format(file=file, q=num(q), dt=num(dt))
    if initial:
        names = _NAMES[mode]
        values = ", ".join(repr(float(initial[n])) for n in names)
        text = text.replace(
            "  values: null                 # null = start from registry defaults / data estimates",
            f"  values: [{values}]   # start values, same order as parameter_names",
        )
    return text


_NAMES = MODES
