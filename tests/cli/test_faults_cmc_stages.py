"""Fault injection at each CMC stage of ``run --method both --overwrite`` (issue 15).

The stages of ``fit_cmc`` (:mod:`homodyne_cmc.stages`) run for real up to the faulted one:
warm start (``prepare``) -> Laplace (``laplace_stage``) -> shard plan (``plan_shards``) ->
execution (``execute``) -> consensus (``consensus``) -> report (``make_result``) -> write
(``CMCResult.write``). A driver replaces the named stage by a function that records that it was
reached and signals its own process (SIGINT: Ctrl-C; SIGKILL: no cleanup code runs at all).

One real ``run --method both`` makes the previous results (module fixture); every case runs on
a byte copy of them and checks: the exit code, the message, the outcome line of the failed run's
log, the failed run's ``summary.json`` (SIGINT), and the SHA-256 of every previous result file
before and after. The shared ``XDG_CACHE_HOME`` keeps the JAX compilation cache and the shard
cache between the cases, so the stages after execution reuse the shards of the first run.

Each case appends its row to ``$HOMODYNE_FAULT_TABLE`` when that variable is set (see
``test_faults.py``).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TRACEBACK, write
from .test_faults import record_fault
from .test_run_folder import tree_digest

pytestmark = pytest.mark.faults

CONFIG = """
experimental_data:
  file_path: {file}
analysis_mode: static
analyzer_parameters:
  dt: 0.1
initial_parameters:
  values: [8000.0, 0.0, 100.0]
plots: {{enabled: false}}
optimization:
  cmc: {{num_warmup: 40, num_samples: 40, num_chains: 2, num_shards: 2, backend: sequential}}
"""

DRIVER = r"""
import os, signal, time
signal.signal(signal.SIGINT, signal.default_int_handler)
stage, sig = os.environ["FAULT_STAGE"], getattr(signal, os.environ["FAULT_SIGNAL"])

def fault(*args, **kwargs):
    with open(os.environ["FAULT_REACHED"], "w") as fh:
        fh.write(stage)
    os.kill(os.getpid(), sig)
    time.sleep(60)  # the SIGINT handler raises KeyboardInterrupt here; SIGKILL never returns
    raise AssertionError("signal not delivered")

import homodyne_cmc.api as api
import homodyne_cmc.result as result
if stage == "write":
    result.CMCResult.write = fault
else:
    assert callable(getattr(api, stage)), stage
    setattr(api, stage, fault)  # fit_cmc looks its stages up in homodyne_cmc.api
from homodyne_cli.app import main
main()
"""

# stage label -> function replaced (in homodyne_cmc.api, or CMCResult.write)
STAGES = {
    "warm start": "prepare",
    "laplace": "laplace_stage",
    "shard plan": "plan_shards",
    "execution": "execute",
    "consensus": "consensus",
    "report": "make_result",
    "write": "write",
}


def _env(base: Path, **extra: str) -> dict[str, str]:
    return dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        NO_COLOR="1",
        COLUMNS="120",
        XDG_CACHE_HOME=str(base / "xdg"),
        **extra,
    )


@pytest.fixture(scope="module")
def previous(sim_files, tmp_path_factory):
    """A real ``run --method both`` result folder, its config and its checksums."""
    base = tmp_path_factory.mktemp("cmc_stages")
    cfg = write(base / "c.yaml", CONFIG.format(file=sim_files["static"]))
    out = base / "res"
    args = ["-m", "homodyne_cli", "run", "-c", str(cfg), "-o", str(out), "--method", "both"]
    r = subprocess.run(
        [sys.executable, *args], cwd=base, env=_env(base), capture_output=True, text=True,
        timeout=1200,
    )  # fmt: skip
    assert r.returncode in (0, 1), r.stderr[-3000:]  # 1: CMC diagnostics of a short chain
    digest = tree_digest(out)
    assert "cmc/parameters.json" in digest and "nlsq/parameters.json" in digest, sorted(digest)
    return base, cfg, out, digest


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
@pytest.mark.parametrize("stage", list(STAGES))
def test_signal_in_each_cmc_stage_keeps_previous_results(previous, tmp_path, stage, sig):
    base, cfg, src, before = previous
    out = tmp_path / "res"
    shutil.copytree(src, out)
    assert tree_digest(out) == before
    reached = tmp_path / "reached"
    args = ["run", "-c", str(cfg), "-o", str(out), "--method", "both", "--overwrite"]
    env = _env(base, FAULT_STAGE=STAGES[stage], FAULT_SIGNAL=sig, FAULT_REACHED=str(reached))
    r = subprocess.run(
        [sys.executable, "-c", DRIVER, *args], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    tail = r.stderr[-3000:]
    intact = tree_digest(out) == before
    record_fault(f"{sig} in CMC {stage}", r.returncode, intact)
    assert reached.read_text() == STAGES[stage], tail  # the earlier stages ran for real
    assert intact, tail
    assert TRACEBACK not in r.stderr
    if sig == "SIGINT":
        assert r.returncode == 130, tail
        assert "interrupted" in r.stderr.lower(), tail
        (failed,) = tmp_path.glob("res.failed-*")
        log = (failed / "homodyne.log").read_text().strip().splitlines()
        assert log[-1].endswith("outcome: interrupted"), log[-3:]
        summary = json.loads((failed / "summary.json").read_text())
        assert summary["status"] == "interrupted" and summary["method"] == "both"
        assert summary["nlsq"]["converged"] is True  # the finished NLSQ fit is recorded
        assert (failed / "nlsq" / "parameters.json").exists()
    else:
        assert r.returncode == -signal.SIGKILL, tail
        # the killed run left its staging folder; the next run into the folder names it failed
        # and ends its log with the outcome the killed process could not write
        from homodyne_cli.run_folder import RunFolder

        assert len(list(tmp_path.glob(".res.partial-*"))) == 1
        plan = RunFolder(out, overwrite=True)  # the kernel released the killed run's lock
        plan.release()
        assert any("was killed" in n for n in plan.recovered), plan.recovered
        (failed,) = tmp_path.glob("res.failed-*")
        log = (failed / "homodyne.log").read_text().strip().splitlines()
        assert "outcome: killed" in log[-1], log[-3:]
        assert not list(tmp_path.glob(".res.partial-*"))
    assert tree_digest(out) == before
