"""homodyne: the Python API over the homodyne-* packages, imported lazily.

``import homodyne`` is instant; the first use of a name imports the package that owns it::

    import homodyne
    run = homodyne.load_config("my.yaml")                 # homodyne 2.x configs accepted
    data = homodyne.load_data("sample.hdf", q=0.0054)      # or load_data(DataConfig(...))
    with homodyne.float64():
        res = homodyne.fit_nlsq(data, homodyne.ModelSpec.create("static", fixed={"alpha": 0}))

Names: ``load_config``, ``RunConfig``, ``load_data``, ``load``, ``inspect_file``,
``quality_report``, ``simulate``, ``write_aps_u``, ``write_aps_legacy``, ``XPCSData``,
``DataConfig``, ``fit_nlsq``, ``NLSQConfig``, ``NLSQResult``, ``fit_cmc``, ``CMCConfig``,
``CMCResult``, ``ModelSpec``, ``C2Model``, ``c2_matrix``, ``float64``, ``HomodyneError``.
"""

import importlib
from typing import Any

from homodyne_cli import __version__

_LAZY: dict[str, tuple[str, str]] = {
    "load_config": ("homodyne_cli.config", "load_config"),
    "RunConfig": ("homodyne_cli.config", "RunConfig"),
    "load": ("homodyne_data", "load"),
    "inspect_file": ("homodyne_data", "inspect_file"),
    "quality_report": ("homodyne_data", "quality_report"),
    "simulate": ("homodyne_data", "simulate"),
    "write_aps_u": ("homodyne_data", "write_aps_u"),
    "write_aps_legacy": ("homodyne_data", "write_aps_legacy"),
    "XPCSData": ("homodyne_data", "XPCSData"),
    "DataConfig": ("homodyne_data", "DataConfig"),
    "Simulation": ("homodyne_data", "Simulation"),
    "fit_nlsq": ("homodyne_nlsq", "fit_nlsq"),
    "NLSQConfig": ("homodyne_nlsq", "NLSQConfig"),
    "NLSQResult": ("homodyne_nlsq", "NLSQResult"),
    "fit_cmc": ("homodyne_cmc", "fit_cmc"),
    "CMCConfig": ("homodyne_cmc", "CMCConfig"),
    "CMCResult": ("homodyne_cmc", "CMCResult"),
    "ModelSpec": ("homodyne_physics", "ModelSpec"),
    "C2Model": ("homodyne_physics", "C2Model"),
    "c2_matrix": ("homodyne_physics", "c2_matrix"),
    "float64": ("homodyne_physics", "float64"),
    "HomodyneError": ("homodyne_physics", "HomodyneError"),
}

__all__ = ["__version__", "load_data", *sorted(_LAZY)]


def load_data(source: Any, **selection: Any):
    """Load XPCS data: ``load_data(DataConfig(...))`` or ``load_data(path, q=..., ...)``.

    A :class:`homodyne_data.DataConfig` goes to ``homodyne_data.load_data``; a path (with the
    keyword selection of ``homodyne_data.load``) goes to ``homodyne_data.load``.
    """
    import homodyne_data

    if isinstance(source, homodyne_data.DataConfig):
        return homodyne_data.load_data(source, **selection)
    return homodyne_data.load(source, **selection)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        try:
            value = getattr(importlib.import_module(module), attr)
        except AttributeError:
            raise AttributeError(
                f"homodyne.{name} is not available: {module} does not provide {attr!r} in this "
                "installation"
            ) from None
        globals()[name] = value
        return value
    raise AttributeError(f"module 'homodyne' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
