"""Fault injection (issue 15): every fault leaves the previous results byte-for-byte intact.

Run with ``uv run pytest -m faults tests/cli/test_faults.py`` (not in the default suite).
Each case: a folder with previous results, a ``run --method both --overwrite`` into it with
one fault injected, then: the exit code, the message, and the checksums of every previous
result file before and after. Faults are injected by a small driver that wraps one function
of a phase (load, NLSQ fit, NLSQ write, CMC sampling, CMC write) and signals its own process
there, so each case is deterministic; the CMC stage is entered without sampling.

| fault                                  | exit | previous results intact |
|----------------------------------------|------|-------------------------|
| SIGINT / SIGKILL in load               | 130 / -9 | yes |
| SIGINT / SIGKILL in NLSQ fit           | 130 / -9 | yes |
| SIGINT / SIGKILL in NLSQ write         | 130 / -9 | yes |
| SIGINT / SIGKILL in CMC sampling       | 130 / -9 | yes |
| SIGINT / SIGKILL in CMC write          | 130 / -9 | yes |
| full disk (ENOSPC in the atomic writer)| 2    | yes |
| unreadable selection cache             | 0 (cache ignored, data reread) | yes |
| concurrent second run, same folder     | 2    | yes |
| corrupted shard file in the shard cache| resampled (tests/cmc/test_store_checksum.py) | n/a |

SIGINT and SIGKILL at each CMC stage are in ``test_faults_cmc_stages.py``; Dask workers outliving
a SIGKILLed run in ``tests/distributed/test_dask_parent_death.py``. With
``HOMODYNE_FAULT_TABLE=<file>`` every case appends its row (fault, exit code, previous results
intact) to that file: the table of the closing note.
"""

import errno
import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TRACEBACK, write
from .test_run_folder import CONFIG, previous_results, tree_digest

pytestmark = pytest.mark.faults


def record_fault(fault: str, code: int, intact: bool) -> None:
    """Append ``| fault | exit code | previous results intact |`` to ``$HOMODYNE_FAULT_TABLE``."""
    table = os.environ.get("HOMODYNE_FAULT_TABLE")
    if table:
        with open(table, "a") as fh:
            fh.write(f"| {fault} | {code} | {'yes' if intact else 'no'} |\n")


DRIVER = r"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
phase, sig = os.environ["FAULT_PHASE"], getattr(signal, os.environ["FAULT_SIGNAL"])

def fault(*args, **kwargs):
    os.kill(os.getpid(), sig)
    time.sleep(30)  # the handler raises KeyboardInterrupt here (SIGKILL: never returns)
    raise AssertionError("signal not delivered")

import homodyne_cli.job as pl
if phase == "load":
    import homodyne_data; homodyne_data.load_data = fault
elif phase == "fit":
    import homodyne_nlsq; homodyne_nlsq.fit_nlsq = fault
elif phase == "write":
    pl.write_nlsq = fault
elif phase == "cmc":
    import homodyne_cmc; homodyne_cmc.fit_cmc = fault
elif phase == "cmc_write":
    import homodyne_cmc
    class Fake:  # a finished CMC run whose writing is interrupted
        converged, shards, n_cached = True, [], 0
        def write(self, folder, data):
            fault()
    homodyne_cmc.fit_cmc = lambda *a, **k: Fake()
    pl.report_cmc = lambda cres, ui: None
    pl.cmc_quality = lambda cres, ui: None  # no posterior to draw transport curves from
from homodyne_cli.app import main
main()
"""


def _run(tmp_path, cfg, out, phase, sig, timeout=600):
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        NO_COLOR="1",
        FAULT_PHASE=phase,
        FAULT_SIGNAL=sig,
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
    )
    args = ["run", "-c", str(cfg), "-o", str(out), "--method", "both", "--overwrite"]
    return subprocess.run(
        [sys.executable, "-c", DRIVER, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def setup(sim_files, tmp_path):
    cfg = write(tmp_path / "c.yaml", CONFIG.format(file=sim_files["static"]))
    out = tmp_path / "res"
    return cfg, out, previous_results(out)


@pytest.mark.parametrize("phase", ["load", "fit", "write", "cmc", "cmc_write"])
@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_signal_in_each_phase_keeps_previous_results(setup, tmp_path, phase, sig):
    cfg, out, before = setup
    r = _run(tmp_path, cfg, out, phase, sig)
    record_fault(f"{sig} in {phase}", r.returncode, tree_digest(out) == before)
    assert tree_digest(out) == before, (phase, sig, r.stderr[-2000:])
    assert TRACEBACK not in r.stderr
    if sig == "SIGINT":
        assert r.returncode == 130, r.stderr[-2000:]
        assert "interrupted" in r.stderr
        failed = sorted(tmp_path.glob("res.failed-*"))
        if phase == "load":  # nothing was created before the data loaded
            assert failed == []
        else:
            (folder,) = failed
            log = (folder / "homodyne.log").read_text().strip().splitlines()
            assert log[-1].endswith("outcome: interrupted")
    else:
        assert r.returncode == -signal.SIGKILL
        # the next run into the folder renames the killed run's staging folder
        from homodyne_cli.run_folder import RunFolder

        plan = RunFolder(out, overwrite=True)
        plan.release()
        if phase != "load":
            assert len(list(tmp_path.glob("res.failed-*"))) == 1, plan.recovered
        assert not list(tmp_path.glob(".res.partial-*"))
    assert tree_digest(out) == before


def test_full_disk_keeps_previous_results(setup, sim_files, tmp_path, monkeypatch):
    """ENOSPC from the atomic writer (injected) while writing the NLSQ results."""
    import homodyne_cli.outputs as outputs
    import homodyne_cmc
    from homodyne_cli.errors import exit_code_for
    from homodyne_cli.run_folder import RunFolder

    from .test_run_folder import pipeline

    cfg, out, before = setup
    real = outputs.atomic_write_bytes

    def full(path, data):
        if Path(path).name == "parameters.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(outputs, "atomic_write_bytes", full)
    monkeypatch.setattr(homodyne_cmc, "fit_cmc", lambda *a, **k: pytest.fail("no CMC"))
    with pytest.raises(OSError) as e:
        pipeline(sim_files, tmp_path, out, overwrite=True)
    record_fault(
        "full disk (ENOSPC writing results)", exit_code_for(e.value), tree_digest(out) == before
    )
    assert e.value.errno == errno.ENOSPC and exit_code_for(e.value) == 2
    assert tree_digest(out) == before
    (failed,) = tmp_path.glob("res.failed-*")
    log = (failed / "homodyne.log").read_text().strip().splitlines()
    assert "No space left on device" in log[-1]
    RunFolder(out).release()  # not locked any more


def test_unreadable_cache_is_ignored_and_previous_results_intact(sim_files, tmp_path):
    """A selection-cache file that cannot be read is ignored; the data are read again."""
    from homodyne_cli.config import data_config, load_config
    from homodyne_cli.console import UI
    from homodyne_cli.pipeline import run_pipeline
    from homodyne_data import load_data

    cache = tmp_path / "cache"
    text = CONFIG.format(file=sim_files["static"]).replace(
        "experimental_data:\n", f"experimental_data:\n  cache_file_path: {cache}\n"
    )
    run = load_config(write(tmp_path / "c.yaml", text))
    assert run.cache_dir == str(cache)
    good = load_data(data_config(run, run.files[0], None))  # fills the cache
    files = list(cache.rglob("*.npz"))
    assert files
    for f in files:
        f.write_bytes(b"\0" * 64)  # unreadable
    out = tmp_path / "res"
    before = previous_results(out)
    jobs = run_pipeline(run, output_dir=out, ui=UI(-1), argv=["h"], method="nlsq")
    assert (jobs[0].data.c2 == good.c2).all()
    assert jobs[0].folder == tmp_path / "res-run2"  # a folder with results is never reused
    assert (tmp_path / "res-run2" / "summary.json").exists()
    record_fault("unreadable selection cache (ignored, data reread)", 0, tree_digest(out) == before)
    assert tree_digest(out) == before


def test_concurrent_second_run_is_refused(setup, tmp_path):
    from homodyne_cli.run_folder import RunFolder

    cfg, out, before = setup
    first = RunFolder(out, overwrite=True)  # a run in progress holds the folder
    try:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "homodyne_cli",
                "run",
                "-c",
                str(cfg),
                "-o",
                str(out),
                "--overwrite",
            ],
            cwd=tmp_path,
            env=dict(os.environ, JAX_PLATFORMS="cpu", NO_COLOR="1"),
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        first.release()
    record_fault("concurrent second run, same folder", r.returncode, tree_digest(out) == before)
    assert r.returncode == 2, r.stderr
    assert "in use by another homodyne run" in r.stderr and TRACEBACK not in r.stderr
    assert tree_digest(out) == before


def test_checksums_helper_sees_a_change(tmp_path):
    (tmp_path / "a").write_text("1")
    d = tree_digest(tmp_path)
    (tmp_path / "a").write_text("2")
    assert tree_digest(tmp_path) != d
    assert d["a"] == hashlib.sha256(b"1").hexdigest()
