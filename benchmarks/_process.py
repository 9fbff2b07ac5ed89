"""Whole-process measurements for the run benchmarks: wall, CPU and peak RSS of a command.

``measure`` starts a command, waits for it with ``os.wait4`` (the resource usage of that
child and everything it waited for) and returns wall seconds, CPU seconds (user + system)
and the peak resident set size in MB. ``simulate_laminar`` writes the realistic laminar data
set of issue 14 with ``homodyne simulate``.
"""

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _common import REALISTIC_TRUTH as REALISTIC


@dataclass
class Measured:
    """One finished process: exit code, wall s, CPU s (user + sys), peak RSS MB."""

    rc: int
    wall: float
    cpu: float
    rss_mb: float
    log: Path


def homodyne_exe() -> str:
    """The ``homodyne`` script of this environment (next to the running interpreter)."""
    here = Path(sys.executable).parent / "homodyne"
    return str(here) if here.exists() else (shutil.which("homodyne") or "homodyne")


def measure(cmd: list[str], log: Path, *, cwd: Path | None = None, env=None) -> Measured:
    """Run ``cmd`` (stdout and stderr into ``log``); return its wall, CPU and peak RSS."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(proc.returncode, wall, cpu, usage.ru_maxrss / 1024.0, log)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for measured runs: byte-code caching on (as for any installed
    package: a variable that switches it off would make every run recompile its imports)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def angles(n_phi: int) -> list[float]:
    """``n_phi`` angles spread over the full circle, degrees."""
    return [round(-180.0 + 360.0 * k / n_phi + 5.0, 2) for k in range(n_phi)]


def simulate_laminar(folder: Path, n_phi: int, n_t: int, *, seed: int = 1) -> Path:
    """Write (once) ``folder/laminar_<n_phi>x<n_t>.h5`` and its config with homodyne simulate."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"laminar_{n_phi}x{n_t}.h5"
    if path.exists() and path.with_suffix(".yaml").exists():
        return path
    cmd = [homodyne_exe(), "simulate", "-o", str(path), "--mode", "laminar_flow"]
    for name, value in REALISTIC.items():
        cmd += ["--param", f"{name}={value}"]
    cmd += ["--phi=" + ",".join(f"{a:g}" for a in angles(n_phi)), "--n-frames", str(n_t)]
    cmd += ["--contrast", "0.27", "--noise", "0.011", "--q", "0.0054", "--dt", "0.1"]
    cmd += ["--seed", str(seed), "--write-config", "--force"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=child_env())
    if done.returncode != 0:
        raise SystemExit(f"homodyne simulate failed for {path}:\n{done.stderr}")
    return path


def parse_size(text: str) -> tuple[int, int]:
    """``'8x500'`` -> ``(8, 500)``."""
    a, _, b = text.lower().partition("x")
    return int(a), int(b)
