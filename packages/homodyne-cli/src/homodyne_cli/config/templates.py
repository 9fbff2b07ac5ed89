"""Commented configuration templates for ``homodyne config new``."""

from importlib import resources

__all__ = ["TEMPLATE_MODES", "render_template"]

TEMPLATE_MODES = ("static", "laminar_flow")


def render_template(
    mode: str,
    *,
    file: str = "./data/sample_twotime.hdf",
    q: float | None = 0.0054,
    dt: float | None = None,
) -> str:
    """Template text for ``mode`` with the data file, q (1/Angstrom) and dt (s) filled in."""
    if mode in ("static_isotropic", "static_anisotropic"):
        mode = "static"
    if mode not in TEMPLATE_MODES:
        raise ValueError(f"no template for mode {mode!r}; expected one of {TEMPLATE_MODES}")
    text = resources.files("homodyne_cli").joinpath("templates", f"{mode}.yaml").read_text()

    def num(v: float | None) -> str:
        return "null" if v is None else repr(float(v))

    return text.format(file=file, q=num(q), dt=num(dt))
