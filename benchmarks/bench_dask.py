"""Dask overhead: the same CMC on the local process pool and on a Dask LocalCluster (issue 7).

Runs ``bench_cmc.py`` twice in fresh processes, once with ``--backend local`` and once with
``--backend dask`` (a LocalCluster with one single-threaded worker per core, the same layout as
the local pool), each with its own empty JAX compilation cache so neither profits from the
other's compilations, and prints wall times and the ratio (target: Dask within 1.15x).

Usage::

    uv run python benchmarks/bench_dask.py --case 1m [--warmup W --samples S --chains C]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(backend: str, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{backend}-") as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        cmd = [
            sys.executable,
            str(HERE / "bench_cmc.py"),
            "--backend",
            backend,
            "--out",
            str(out),
            *extra,
        ]
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def main() -> None:
    """Run both backends and print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="small")
    ap.add_argument("--warmup", default="500")
    ap.add_argument("--samples", default="1000")
    ap.add_argument("--chains", default="4")
    ap.add_argument("--shards", default=None)
    args = ap.parse_args()
    extra = [
        "--case",
        args.case,
        "--warmup",
        args.warmup,
        "--samples",
        args.samples,
        "--chains",
        args.chains,
    ]
    if args.shards:
        extra += ["--shards", args.shards]
    rows = {b: _run(b, extra) for b in ("local", "dask")}
    print(
        f"CMC case {args.case}: {rows['local']['n_points']} points, "
        f"{rows['local']['n_shards']} shards, load avg {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'backend':8s} {'CMC wall (s)':>13s} {'max shard (s)':>14s} {'max R-hat':>10s} "
        f"{'min bulk ESS':>13s}"
    )
    for name, r in rows.items():
        print(
            f"{name:8s} {r['cmc_wall_s']:13.1f} {max(r['shard_wall_s']):14.1f} "
            f"{r['max_r_hat']:10.4f} {r['min_ess_bulk']:13.0f}"
        )
    ratio = rows["dask"]["cmc_wall_s"] / rows["local"]["cmc_wall_s"]
    print(f"Dask / local wall-time ratio: {ratio:.3f} (target <= 1.15)")


if __name__ == "__main__":
    main()
