"""Small helpers shared by the benchmark scripts (timing and memory on Linux)."""

import os
import statistics
import time

# the laminar truth the benchmarks simulate (the same as the nlsq tests' LAMINAR_TRUTH)
LAMINAR_TRUTH = {
    "D0": 8000.0,
    "alpha": -0.6,
    "D_offset": 400.0,
    "gamma_dot_t0": 2.0e-3,
    "beta": -0.5,
    "gamma_dot_t_offset": 2.0e-4,
    "phi0": 3.0,
}

# the realistic_laminar data set of issue 14 (dt 0.1 s, q 0.0054 1/A, contrast 0.27, noise 0.011)
REALISTIC_TRUTH = {
    "D0": 1.5e4,
    "alpha": -0.3,
    "D_offset": 500.0,
    "gamma_dot_t0": 1e-4,
    "beta": 0.2,
    "gamma_dot_t_offset": 2e-5,
    "phi0": 3.0,
}


def rss_mb() -> float:
    """Current resident set size, MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size since the last :func:`reset_peak`, MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak() -> None:
    """Reset the kernel's peak-RSS counter for this process (Linux: clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def timed(fn, repeats: int):
    """Run ``fn`` ``repeats`` times; return (median s, min s, last result)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), out


def load(all_windows: bool = False) -> str:
    """The 1-minute load average (or the 1/5/15-minute ones), to print beside timings."""
    if all_windows:
        return "/".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{os.getloadavg()[0]:.2f}"
