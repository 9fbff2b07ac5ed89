"""API snapshot of homodyne_cli: the exact public names and the signatures of its entry points.

A change here is an API change: update the snapshot on purpose, and the CHANGELOG with it.
"""

import inspect

import homodyne_cli


def _signature(f) -> list[str]:
    """Parameters as ``name``, ``*name`` (keyword-only) with ``=default``: a stable rendering."""
    out = []
    for p in inspect.signature(f).parameters.values():
        default = "" if p.default is inspect.Parameter.empty else f"={p.default!r}"
        prefix = "*" if p.kind in (p.KEYWORD_ONLY, p.VAR_POSITIONAL) else ""
        prefix = "**" if p.kind is p.VAR_KEYWORD else prefix
        out.append(f"{prefix}{p.name}{default}")
    return out


def test_public_names():
    assert sorted(homodyne_cli.__all__) == [
        "RunConfig",
        "__version__",
        "app",
        "load_config",
        "main",
        "render_template",
        "run_pipeline",
    ]
    for name in homodyne_cli.__all__:
        assert hasattr(homodyne_cli, name), name


def test_signature_of_run_pipeline():
    assert _signature(homodyne_cli.run_pipeline) == [
        "run",
        "*output_dir",
        "*method=None",
        "*overwrite=False",
        "*ui",
        "*argv=None",
    ]


def test_umbrella_package_names():
    import homodyne

    assert sorted(homodyne.__all__) == sorted(["__version__", "load_data", *sorted(homodyne._LAZY)])
    assert {"ModelSpec", "fit_nlsq", "fit_cmc", "simulate"} <= set(homodyne.__all__)
