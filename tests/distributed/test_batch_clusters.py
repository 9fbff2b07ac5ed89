"""Batch-system clusters: the generated PBS job script, a PBS run through a fake qsub that runs
jobs locally, and a real single-node Slurm cluster (tests marked ``slurm``)."""

import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

pytest.importorskip("dask_jobqueue")

from .conftest import shard_draws_by_id  # noqa: E402


def _pbs_config(**kw):
    from homodyne_cmc.dask_backend import DaskConfig

    base = dict(
        cluster="pbs",
        queue="debug",
        account="XPCS-beamtime",
        walltime="00:30:00",
        cores=2,
        memory="4GB",
        job_extra=("-l filesystems=home:eagle",),
        prologue=("module load hdf5",),
        n_workers=1,
        interface="lo",
        compilation_cache_dir="/tmp/homodyne-jax-cache",
    )
    base.update(kw)
    return DaskConfig(**base)


def test_pbs_job_script_carries_directives_environment_and_worker_command():
    from homodyne_cmc.dask_backend import make_cluster

    cluster = make_cluster(_pbs_config(), start_jobs=False)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    assert "#PBS -q debug" in lines
    assert "#PBS -A XPCS-beamtime" in lines
    assert "#PBS -l walltime=00:30:00" in lines
    assert any(ln.startswith("#PBS -l select=1:ncpus=2:mem=") for ln in lines)
    assert "#PBS -l filesystems=home:eagle" in lines
    # the environment of this interpreter, JAX settings, then the user's prologue
    assert f"export PATH={os.path.join(sys.prefix, 'bin')}:$PATH" in lines
    assert "export JAX_ENABLE_X64=1" in lines
    assert "export OMP_NUM_THREADS=1" in lines
    assert "export JAX_COMPILATION_CACHE_DIR=/tmp/homodyne-jax-cache" in lines
    assert lines.index("module load hdf5") > lines.index("export JAX_ENABLE_X64=1")
    worker = [ln for ln in lines if "distributed.cli.dask_worker" in ln]
    assert len(worker) == 1 and worker[0].startswith(sys.executable)
    assert "--nthreads 1" in worker[0] and "--nworkers 2" in worker[0]


def test_config_errors_name_the_key():
    from homodyne_cmc.dask_backend import DaskConfig
    from homodyne_cmc.errors import CMCConfigError

    with pytest.raises(CMCConfigError, match=r"optimization\.cmc\.dask\.cluster"):
        DaskConfig(cluster="sge")
    with pytest.raises(CMCConfigError, match=r"optimization\.cmc\.dask\.address"):
        DaskConfig(cluster="address")
    with pytest.raises(CMCConfigError, match=r"dask\.job_extra: expected a list"):
        DaskConfig.from_dict({"cluster": "pbs", "job_extra": "-l x"})
    with pytest.raises(CMCConfigError, match=r"dask\.queues: unknown key; did you mean 'queue'"):
        DaskConfig.from_dict({"cluster": "pbs", "queues": "debug"})
    cfg = DaskConfig.from_dict({"cluster": "slurm", "max_jobs": 4, "job_extra": ["--qos=x"]})
    assert cfg.job_extra == ("--qos=x",) and cfg.max_jobs == 4


FAKE_QSUB = """\
#!/usr/bin/env bash
# fake qsub: copy the job script (as a real qsub does at submission; the caller deletes its
# temporary file at once), run the copy locally in the background, print a PBS-style job id
set -euo pipefail
script="${@: -1}"
id=$(( (RANDOM << 8) + $$ % 256 )).fakepbs
cp "$script" "$FAKE_PBS_DIR/$id.sh"
log="$FAKE_PBS_DIR/$id.log"
nohup bash "$FAKE_PBS_DIR/$id.sh" > "$log" 2>&1 &
echo $! > "$FAKE_PBS_DIR/$id.pid"
echo "$id"
"""
FAKE_QDEL = """\
#!/usr/bin/env bash
for id in "$@"; do
  pid=$(cat "$FAKE_PBS_DIR/$id.pid" 2>/dev/null || true)
  [ -n "$pid" ] && pkill -TERM -P "$pid" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -f "$FAKE_PBS_DIR/$id.pid"
done
exit 0
"""
FAKE_QSTAT = """\
#!/usr/bin/env bash
for f in "$FAKE_PBS_DIR"/*.pid; do [ -e "$f" ] && echo "$(basename "$f" .pid) R"; done
exit 0
"""


@pytest.fixture
def fake_pbs(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, body in (("qsub", FAKE_QSUB), ("qdel", FAKE_QDEL), ("qstat", FAKE_QSTAT)):
        path = bindir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PBS_DIR", str(jobs))
    yield jobs
    for pidfile in jobs.glob("*.pid"):
        subprocess.run(["bash", str(bindir / "qdel"), pidfile.stem], check=False)


@pytest.mark.filterwarnings("ignore::homodyne_cmc.errors.CMCWarning")
def test_pbs_backend_drives_jobs_to_completion(small_cmc_problem, tmp_path, fake_pbs):
    from homodyne_cmc import fit_cmc
    from homodyne_cmc.backends import SequentialBackend
    from homodyne_cmc.dask_backend import DaskBackend

    sim, nlsq, config = small_cmc_problem
    reference = fit_cmc(sim.data, nlsq, config(tmp_path / "seq"), backend=SequentialBackend())
    backend = DaskBackend(
        _pbs_config(
            cores=2,
            processes=2,
            n_workers=1,
            worker_timeout=180.0,  # a broken job fails the test in minutes, not hangs CI
            log_directory=str(tmp_path / "pbs-logs"),
        )
    )
    result = fit_cmc(sim.data, nlsq, config(tmp_path / "pbs"), backend=backend)
    assert list(fake_pbs.glob("*.sh")), "qsub was never called"
    assert not result.failed
    a, b = shard_draws_by_id(reference), shard_draws_by_id(result)
    assert sorted(a) == sorted(b)
    for sid in a:
        np.testing.assert_allclose(b[sid], a[sid], rtol=1e-9, atol=1e-12)


def _slurm_up() -> str | None:
    if not shutil.which("sinfo"):
        return "sinfo not found: Slurm is not installed (run `bash .ci/slurm start`)"
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    if out.returncode != 0 or not any(
        s.startswith(("idle", "mix", "alloc")) for s in out.stdout.split()
    ):
        return f"no Slurm node is up (sinfo: {out.stdout.strip() or out.stderr.strip()})"
    return None


@pytest.mark.slurm
@pytest.mark.filterwarnings("ignore::homodyne_cmc.errors.CMCWarning")
def test_slurm_cluster_runs_cmc_end_to_end(small_cmc_problem, tmp_path):
    reason = _slurm_up()
    if reason:
        pytest.skip(f"SLURM TESTS SKIPPED: {reason}")
    from homodyne_cmc import fit_cmc
    from homodyne_cmc.backends import SequentialBackend
    from homodyne_cmc.dask_backend import DaskBackend, DaskConfig

    sim, nlsq, config = small_cmc_problem
    reference = fit_cmc(sim.data, nlsq, config(tmp_path / "seq"), backend=SequentialBackend())
    cfg = DaskConfig(
        cluster="slurm",
        queue="debug",
        walltime="00:20:00",
        cores=1,
        memory="2GB",
        min_jobs=1,
        max_jobs=2,
        interface="lo",
        worker_timeout=300.0,
        log_directory=str(tmp_path / "slurm-logs"),
    )
    result = fit_cmc(sim.data, nlsq, config(tmp_path / "slurm"), backend=DaskBackend(cfg))
    logs = list((tmp_path / "slurm-logs").glob("*"))
    assert logs, "no Slurm job wrote a log: the jobs did not run through sbatch"
    assert not result.failed
    a, b = shard_draws_by_id(reference), shard_draws_by_id(result)
    assert sorted(a) == sorted(b)
    for sid in a:
        np.testing.assert_allclose(b[sid], a[sid], rtol=1e-9, atol=1e-12)
    # the jobs are gone once the backend closed its cluster
    out = subprocess.run(
        ["squeue", "-h", "-u", os.environ.get("USER", "root")], capture_output=True, text=True
    )
    assert "dask-wor" not in out.stdout, textwrap.shorten(out.stdout, 200)


def test_backend_dask_is_selected_from_the_cmc_config():
    from homodyne_cmc import CMCConfig, DaskBackend, make_backend

    cfg = CMCConfig.from_dict(
        {
            "backend": "dask",
            "compilation_cache_dir": "/tmp/jc",
            "dask": {"cluster": "pbs", "queue": "prod", "max_jobs": 8},
        }
    )
    backend = make_backend(cfg, n_shards=16)
    assert isinstance(backend, DaskBackend)
    assert backend.config.cluster == "pbs" and backend.config.max_jobs == 8
    assert backend.config.compilation_cache_dir == "/tmp/jc"
    assert cfg.to_dict()["dask"]["queue"] == "prod"


def test_batch_worker_nanny_leaves_malloc_trim_threshold_unset():
    """A `dask worker` started with the job script's environment (as PBS/Slurm jobs start it)
    spawns its worker process without the nanny's MALLOC_TRIM_THRESHOLD_; without that line
    the nanny sets it (the control)."""
    from distributed import Client, LocalCluster
    from homodyne_cmc.dask_backend import environment_prologue

    exports = dict(
        ln[len("export ") :].split("=", 1)
        for ln in environment_prologue()
        if ln.startswith("export DASK_")
    )
    inherit = exports["DASK_INTERNAL_INHERIT_CONFIG"].strip("'")
    seen = {}
    with (
        LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        for label, extra in (("ours", {"DASK_INTERNAL_INHERIT_CONFIG": inherit}), ("plain", {})):
            env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
            env.update(extra)
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    cluster.scheduler_address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                client.wait_for_workers(1, timeout=60)
                seen[label] = list(
                    client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()
                )
            finally:
                client.retire_workers()
                proc.terminate()
                proc.wait(timeout=30)
            for _ in range(100):
                if not client.scheduler_info()["workers"]:
                    break
                time.sleep(0.1)
    assert seen["ours"] == [None]
    assert seen["plain"] == ["65536"]
