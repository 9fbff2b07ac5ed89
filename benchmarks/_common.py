"""Small helpers shared by the benchmark scripts (timing and memory on Linux)."""

import os
import statistics
import time


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


def load() -> str:
    """The 1-minute load average, to print beside timings."""
    return f"{os.getloadavg()[0]:.2f}"
