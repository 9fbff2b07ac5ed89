"""API snapshot of homodyne_cli: the exact public names and the signatures of its entry points.

A change here is an API change: update the snapshot on purpose, and the CHANGELOG with it.
"""

import homodyne_cli


def test_public_names():
    assert sorted(homodyne_cli.__all__) == [
        "RunConfig",
        "__version__",
        "app",
        "load_config",
        "main",
        "point_table",
        "render_template",
        "run_pipeline",
    ]
    for name in homodyne_cli.__all__:
        assert hasattr(homodyne_cli, name), name


def test_signature_of_run_pipeline(signature):
    assert signature(homodyne_cli.run_pipeline) == [
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
