"""Benchmark of a whole ``homodyne run`` process (issue 14): NLSQ with plots, realistic laminar.

For each size (angles x frames; default 8 x 500 and 23 x 1000) the data set of issue 14 is
simulated once with ``homodyne simulate``; then ``homodyne run`` runs ``--repeats`` pairs:
a *first* run with an empty JAX compilation cache and a *second* run of the same shape that
finds the cache the first one filled. Each run is timed as a whole process (wall, CPU = user +
system, peak RSS) and split with the stage timings it records in ``summary.json``: load,
fit (``nlsq``), review (model matrices, goodness of fit, transport curves), write (result
files and plots) and the rest (start-up and imports, folder handling).

A warm-up run on a small data set first fills Python's byte-code cache, so that the first
measured run pays for compilation of the JAX programs, not of the Python sources.

Run: ``uv run python benchmarks/bench_whole_run.py [--sizes 8x500,23x1000] [--repeats 1]``.
Targets (issue 14): review + write < fit at both sizes; second run >= 2 s faster than first.
"""

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

from _common import load
from _process import child_env, homodyne_exe, measure, parse_size, simulate_laminar

STAGES = ("load", "nlsq", "review_nlsq", "write_nlsq")
CPU = ("nlsq_cpu", "review_nlsq_cpu", "write_nlsq_cpu", "plot_imports_cpu", "plot_worker_cpu")


def run_once(config: Path, out: Path, cache: Path, log: Path) -> dict[str, float]:
    """One measured ``homodyne run``; its process figures and stage timings."""
    cmd = [homodyne_exe(), "run", "--config", str(config), "--output-dir", str(out)]
    cmd += ["--overwrite", "--method", "nlsq"]
    m = measure(cmd, log, cwd=config.parent, env=child_env(HOMODYNE_JAX_CACHE=str(cache)))
    if m.rc not in (0, 1):  # 1: a quality gate; the run still wrote everything
        raise SystemExit(f"homodyne run failed (exit {m.rc}); see {log}")
    timing = json.loads((out / "summary.json").read_text())["timing_s"]
    row = {"wall": m.wall, "cpu": m.cpu, "rss": m.rss_mb}
    row.update({k: float(timing.get(k, 0.0)) for k in STAGES + CPU})
    row["rest"] = m.wall - sum(row[k] for k in STAGES)
    return row


def warm_up(work: Path) -> None:
    """Fill the byte-code cache (and leave the compilation cache of the sizes alone)."""
    data = simulate_laminar(work / "data", 3, 60)
    run_once(data.with_suffix(".yaml"), work / "warmup", work / "cache-warmup", work / "w.log")


def bench_size(work: Path, n_phi: int, n_t: int, repeats: int) -> list[tuple[str, dict]]:
    data = simulate_laminar(work / "data", n_phi, n_t)
    config = data.with_suffix(".yaml")
    rows: dict[str, list[dict]] = {"first": [], "second": []}
    for k in range(repeats):
        cache = work / f"cache-{n_phi}x{n_t}-{k}"
        shutil.rmtree(cache, ignore_errors=True)
        for which in ("first", "second"):
            out = work / f"out-{n_phi}x{n_t}-{which}"
            log = work / f"{n_phi}x{n_t}-{which}-{k}.log"
            rows[which].append(run_once(config, out, cache, log))
    med = {
        w: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for w, rs in rows.items()
    }
    return [(f"{n_phi}x{n_t} {w}", med[w]) for w in ("first", "second")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8x500,23x1000")
    ap.add_argument("--repeats", type=int, default=1, help="first/second pairs per size")
    ap.add_argument("--work", type=Path, default=None, help="folder for data and results")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_whole_run_"))
    print(f"homodyne: {homodyne_exe()}; work folder {work}; load average {load()}")
    warm_up(work)
    table = []
    for size in args.sizes.split(","):
        table += bench_size(work, *parse_size(size), args.repeats)
    cols = ("wall", "cpu", "rss", "rest", "load", "nlsq", "review_nlsq", "write_nlsq")
    head = ("run", "wall s", "CPU s", "RSS MB", "start s", "load s", "fit s", "review s")
    print(("{:<15}" + "{:>9}" * 8).format(*head, "write s") + "   review+write < fit")
    for name, r in table:
        ok = "yes" if r["review_nlsq"] + r["write_nlsq"] < r["nlsq"] else "NO"
        print(("{:<15}" + "{:>9.2f}" * 8).format(name, *(r[c] for c in cols)) + f"   {ok}")
    print("CPU seconds per stage (process, its threads and its finished child processes):")
    print(
        ("{:<15}" + "{:>9}" * 5).format("run", "fit", "review", "write", "imports", "worker")
        + "   review+write < fit"
    )
    for name, r in table:
        ok = "yes" if r["review_nlsq_cpu"] + r["write_nlsq_cpu"] < r["nlsq_cpu"] else "NO"
        print(("{:<15}" + "{:>9.2f}" * 5).format(name, *(r[c] for c in CPU)) + f"   {ok}")
    print(
        "(imports: matplotlib and the figure modules, imported by a thread while the fit runs;"
        " left out of the fit's CPU seconds; worker: the plot process, start-up included,"
        " part of write)"
    )
    for k in range(0, len(table), 2):
        gain = table[k][1]["wall"] - table[k + 1][1]["wall"]
        verdict = "ok" if gain >= 2.0 else "below the 2 s target"
        print(
            f"{table[k][0].split()[0]}: second run {gain:.2f} s faster than the first ({verdict})"
        )
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
