"""Fixed parameters end to end (issue 11 acceptance): a homodyne 2.x config with
``initial_parameters.active_parameters`` runs unchanged, in the 2.x command form, and fixes the
other parameters; ``--fix`` is repeatable. In-process, so the runs share the session's JIT.

Slow (about 35 s on the shared 2-core machine, the first fit's compilation): the default suite
checks the same at the configuration level (tests/cli/test_config_fixed_flags.py) and the
degrees of freedom in tests/nlsq/test_fixed.py."""

import json
import signal
import sys

import pytest

from homodyne_cli.app import main

from .conftest import write
from .test_commands import FILE_PATH_ONLY, STATIC_2X

pytestmark = pytest.mark.slow


@pytest.fixture
def homodyne(monkeypatch):
    """``homodyne ARGS`` in this process -> exit code (the handlers main installs undone)."""
    monkeypatch.setenv("HOMODYNE_JAX_CACHE", "off")
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)
    handler = signal.getsignal(signal.SIGINT)

    def call(*args) -> int:
        with pytest.raises(SystemExit) as e:
            main([str(a) for a in args])
        return e.value.code

    yield call
    signal.signal(signal.SIGINT, handler)


def _read(folder, name):
    return json.loads((folder / name).read_text())


def test_2x_config_with_active_parameters_runs_unchanged_and_fixes_the_others(
    sim_files, tmp_path, homodyne
):
    truth = sim_files["static_truth"]  # alpha -0.2: the 2.x file starts alpha there
    text = STATIC_2X.format(folder=sim_files["folder"]).replace("8000.0, 0.0,", "8000.0, -0.2,")
    cfg = write(
        tmp_path / "active.yaml",
        text.replace("  values:", "  active_parameters: [D0, D_offset]\n  values:"),
    )
    out = tmp_path / "res"
    # the 2.x command form (no subcommand); the degrees of freedom: tests/nlsq/test_fixed.py
    assert homodyne("--config", cfg, "--method", "nlsq", "-o", out, "--no-plots", "-q") == 0
    fixed, summary = _read(out / "nlsq", "parameters.json"), _read(out, "summary.json")
    alpha = fixed["parameters"]["alpha"]
    assert alpha["fixed"] is True and alpha["value"] == -0.2 and alpha["uncertainty"] == 0.0
    assert summary["spec"]["parameters"]["alpha"]["fixed"] is True
    assert summary["config"]["fixed"] == {"alpha": None}
    for name in ("D0", "D_offset"):
        p = fixed["parameters"][name]
        assert p["fixed"] is False
        assert abs(p["value"] - truth[name]) < 3 * p["uncertainty"], (name, p)


def test_fix_flag_is_repeatable(sim_files, tmp_path, homodyne):
    cfg = write(tmp_path / "c.yaml", FILE_PATH_ONLY.format(file=sim_files["static"]))
    out = tmp_path / "o"
    args = ("run", "-c", cfg, "-o", out, "--method", "nlsq", "--no-plots", "-q")
    assert homodyne(*args, "--fix", "alpha=0", "--fix", "D_offset") == 0
    params = _read(out / "nlsq", "parameters.json")["parameters"]
    assert params["alpha"] == {**params["alpha"], "value": 0.0, "uncertainty": 0.0, "fixed": True}
    # D_offset without a value: held at its start value (initial_parameters.values)
    assert params["D_offset"]["value"] == 100.0 and params["D_offset"]["fixed"] is True
    assert params["D0"]["fixed"] is False and params["D0"]["uncertainty"] > 0
    spec = _read(out, "summary.json")["spec"]
    assert {n for n, p in spec["parameters"].items() if p["fixed"]} == {"alpha", "D_offset"}
