"""Fixtures of the CLI tests: a runner for the real command, small simulated files, 2.x configs."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TRACEBACK = "Traceback (most recent call last)"


class Result:
    def __init__(self, proc: subprocess.CompletedProcess, seconds: float) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"<exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}>"


def run_homodyne(
    *args: str, cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> Result:
    """Run ``python -m homodyne_cli ARGS`` in ``cwd`` (a fresh process, like the console script);
    ``env`` adds environment variables."""
    import time

    env = dict(os.environ, JAX_PLATFORMS="cpu", COLUMNS="120", NO_COLOR="1", **(env or {}))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "homodyne_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc, time.perf_counter() - t0)


@pytest.fixture(scope="session")
def sim_files(tmp_path_factory):
    """Small genuine data files: a static APS-U file and a laminar APS legacy file."""
    from homodyne_data import simulate, write_aps_legacy, write_aps_u

    folder = tmp_path_factory.mktemp("data")
    static = simulate(
        "static",
        {"D0": 12000.0, "alpha": -0.2, "D_offset": 200.0},
        phi=(0.0, 60.0, 120.0),
        n_frames=60,
        noise=0.01,
        seed=3,
    )
    write_aps_u(folder / "static.hdf", static)
    laminar = simulate(
        "laminar_flow",
        {
            "D0": 12000.0,
            "alpha": -0.2,
            "D_offset": 200.0,
            "gamma_dot_t0": 3e-4,
            "beta": 0.3,
            "gamma_dot_t_offset": 0.0,
            "phi0": 3.0,
        },
        phi=(-10.0, 0.0, 10.0, 45.0, 90.0, 135.0),
        n_frames=60,
        noise=0.01,
        seed=4,
    )
    write_aps_legacy(folder / "laminar.hdf", laminar)
    return {
        "folder": folder,
        "static": folder / "static.hdf",
        "laminar": folder / "laminar.hdf",
        "static_truth": static.truth,
        "laminar_truth": laminar.truth,
    }


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path
