"""Exit-code table (issue 15): each command on each class of failure gives the code the README
documents: 0 ok; 1 did not converge / quality gate / check failed; 2 usage, configuration or
output error (also a folder in use, a size beyond memory); 3 data error; 130 interrupted.

In-process (``main(argv)`` and its ``SystemExit``), so the whole table runs in seconds; the
signal cases (130) are in test_commands.py and test_faults.py."""

import signal

import numpy as np
import pytest

from .conftest import TRACEBACK, write

GOOD = """
experimental_data:
  file_path: {file}
analysis_mode: static
analyzer_parameters:
  dt: 0.1
"""


@pytest.fixture(scope="module")
def files(sim_files, tmp_path_factory):
    from homodyne_data import load, write_aps_u

    d = tmp_path_factory.mktemp("exit")
    data = load(sim_files["static"])
    import dataclasses

    write_aps_u(d / "ones.hdf", dataclasses.replace(data, c2=np.ones(data.c2.shape)))
    (d / "text.hdf").write_text("not hdf5")
    (d / "afile").write_text("x")
    write(d / "good.yaml", GOOD.format(file=sim_files["static"]))
    write(d / "ones.yaml", GOOD.format(file=d / "ones.hdf"))
    write(d / "missing.yaml", GOOD.format(file=d / "missing.hdf"))
    write(d / "frames.yaml", GOOD.format(file=sim_files["static"]) + "  end_frame: 500\n")
    write(d / "badmode.yaml", "analysis_mode: lamnar\n")
    write(d / "badyaml.yaml", "analysis_mode: [static\n")
    return d


TABLE = [
    # (command, failure class, argv with {d} = fixture folder, expected exit code)
    ("run", "usage", ["run", "-c", "{d}/good.yaml", "--method", "bogus"], 2),
    ("run", "config", ["run", "-c", "{d}/badmode.yaml"], 2),
    ("run", "config", ["run", "-c", "{d}/badyaml.yaml"], 2),
    ("run", "data", ["run", "-c", "{d}/missing.yaml", "-o", "{d}/o1"], 3),
    ("run", "data", ["run", "-c", "{d}/frames.yaml", "-o", "{d}/o2", "-q"], 3),
    ("run", "data", ["run", "-c", "{d}/ones.yaml", "-o", "{d}/o3", "-q"], 3),
    ("run", "output", ["run", "-c", "{d}/good.yaml", "-o", "{d}/afile/o"], 2),
    ("config new", "usage", ["config", "new", "--mode", "bogus"], 2),
    ("config new", "output", ["config", "new", "-o", "{d}/good.yaml"], 2),
    ("config validate", "config", ["config", "validate", "{d}/badmode.yaml"], 2),
    ("config validate", "config", ["config", "validate", "{d}/nothere.yaml"], 2),
    ("config validate", "ok", ["config", "validate", "{d}/missing.yaml"], 0),
    ("config validate", "data", ["config", "validate", "{d}/missing.yaml", "--with-data"], 3),
    ("config validate", "data", ["config", "validate", "{d}/frames.yaml", "--with-data"], 3),
    ("inspect", "data", ["inspect", "{d}/missing.hdf"], 3),
    ("inspect", "data", ["inspect", "{d}/text.hdf"], 3),
    ("plot-data", "data", ["plot-data", "-c", "{d}/missing.yaml", "-o", "{d}/p1"], 3),
    ("plot-data", "output", ["plot-data", "-c", "{d}/good.yaml", "-o", "{d}/afile/p"], 2),
    ("simulate", "usage", ["simulate", "-o", "{d}/s.hdf", "--layout", "bogus"], 2),
    ("simulate", "memory", ["simulate", "-o", "{d}/s.hdf", "--n-frames", "100000"], 2),
    ("simulate", "output", ["simulate", "-o", "{d}/afile/s.hdf", "--n-frames", "20"], 2),
    ("demo", "output", ["demo", "-o", "{d}/afile/demo"], 2),
    ("check", "ok", ["check", "--json"], 0),
]


@pytest.mark.parametrize(
    ("command", "failure", "argv", "code"),
    TABLE,
    ids=[f"{c}-{f}-{i}" for i, (c, f, _, _) in enumerate(TABLE)],
)
def test_exit_code_table(files, capsys, command, failure, argv, code):
    from homodyne_cli.app import main

    old = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as e:
            main([a.format(d=files) for a in argv])
    finally:
        signal.signal(signal.SIGINT, old)
    captured = capsys.readouterr()
    err = captured.err
    # `inspect` reports a broken file's problems as its output (a table), not as one error line
    shown = captured.out + err if command == "inspect" else err
    assert e.value.code == code, (command, failure, err[-1500:])
    assert TRACEBACK not in shown and "internal error" not in shown
    if code:
        assert "error" in shown.lower() or "usage" in shown.lower()
