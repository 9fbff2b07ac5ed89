"""Benchmark of the APS-U reader (issue 3): 23 bins x 1000 x 1000 from a file holding 100 bins.

Writes once (under a temporary directory, or ``--dir``) a genuine APS-U file made by
``homodyne_data.simulate`` + ``write_aps_u``: 4 q rings x 25 angles = 100 bins of 1000 x 1000
float32 upper-triangular matrices (~400 MB). Then reads one ring with a phi filter that keeps
23 of its 25 angles and reports, against the size of the selected data (23 x 1000 x 1000
float64 = 184 MB):

* wall time, cold (the file's pages dropped from the OS cache with posix_fadvise) and warm;
* peak memory: numpy allocations (tracemalloc) and peak RSS above the pre-read RSS
  (HDF5's own buffers included);
* a cached re-read (``cache_dir``) for comparison.

Targets: < 2 s, peak < 3 x the selected data.

Run: ``uv run python benchmarks/bench_data.py [--frames 1000] [--repeats 3] [--dir DIR]``.
"""

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

import homodyne_data as hd  # noqa: E402
from _common import load, peak_rss_mb, reset_peak, rss_mb  # noqa: E402

N_Q, N_PHI, KEEP = 4, 25, 23


def drop_page_cache(path: Path) -> None:
    """Ask the kernel to forget the cached pages of this one file (no effect on others)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def measure(fn):
    """Run ``fn`` once: (seconds, tracemalloc peak MB, RSS peak above start MB, result)."""
    reset_peak()
    base = rss_mb()
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    sec = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return sec, peak / 2**20, peak_rss_mb() - base, out


def main() -> None:
    """Write the file (once), read the selection, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", type=str, default=None, help="keep the file here (default: temp)")
    args = ap.parse_args()
    tmp = None
    if args.dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="homodyne-bench-")
        folder = Path(tmp.name)
    else:
        folder = Path(args.dir)
        folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"apsu_{N_Q * N_PHI}bins_{args.frames}.hdf"
    phi = np.linspace(-180.0, 180.0, N_PHI, endpoint=False)  # step 14.4 deg
    q = 0.0054
    if not path.exists():
        t0 = time.perf_counter()
        sim = hd.simulate(
            "laminar_flow",
            {"D0": 500.0, "gamma_dot_t0": 1e-4},
            phi=phi,
            q=q,
            n_frames=args.frames,
            noise=0.01,
            lag_noise=0.01,
            seed=0,
        )
        hd.write_aps_u(path, sim, n_q=N_Q, q_index=1)
        del sim
        print(
            f"wrote {path} ({path.stat().st_size / 2**20:.0f} MB) in "
            f"{time.perf_counter() - t0:.1f} s"
        )
    ranges = [(-180.0, 150.0)]  # drops 151.2 and 165.6 deg: 23 of 25 angles
    selected_mb = KEEP * args.frames**2 * 8 / 2**20
    on_disk_mb = KEEP * args.frames**2 * 4 / 2**20

    def read(**kw):
        return hd.load(path, q=q, phi_ranges=ranges, **kw)

    print(
        f"APS-U file: {N_Q * N_PHI} bins of {args.frames} x {args.frames} float32 "
        f"({path.stat().st_size / 2**20:.0f} MB); selection: {KEEP} bins -> "
        f"{selected_mb:.0f} MB float64 ({on_disk_mb:.0f} MB float32 read); "
        f"load avg {load()}"
    )
    print(
        f"{'read':34s} {'time (s)':>9s} {'tracemalloc peak':>17s} {'RSS peak':>9s} "
        f"{'peak / selected':>16s}"
    )
    rows = []
    for _rep in range(args.repeats):
        drop_page_cache(path)
        rows.append(("cold (page cache dropped)", *measure(read)[:3]))
    for _rep in range(args.repeats):
        rows.append(("warm (file in page cache)", *measure(read)[:3]))
    cache_dir = folder / "cache"
    read(cache_dir=cache_dir)  # fill the cache
    for _rep in range(args.repeats):
        rows.append(("cache hit (.npz)", *measure(lambda: read(cache_dir=cache_dir))[:3]))
    for name, sec, tm_peak, rss_peak in rows:
        worst = max(tm_peak, rss_peak)
        print(
            f"{name:34s} {sec:9.3f} {tm_peak:14.0f} MB {rss_peak:6.0f} MB "
            f"{worst / selected_mb:15.2f}x"
        )
    data = read()
    assert data.c2.shape == (KEEP, args.frames, args.frames)
    print(
        f"check: shape {data.c2.shape}, phi {data.phi[0]:g}..{data.phi[-1]:g} deg, "
        f"q {data.q:g} 1/A, dt {data.dt:g} s"
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
