"""Benchmark of the least-squares fit (issue 4): ``fit_nlsq`` on laminar_flow data, auto scaling.

Sizes (angles x frames): 3 x 200, 8 x 500, 23 x 1000 (11.5M points with t1 < t2). For each:
wall time of the first call (including JIT compilation for that shape), median warm wall time
over repeats, iterations, and the process peak RSS during the fits. Data are simulated with the
physics kernel plus seeded noise (sigma 0.01); the fit starts from the registry defaults.

Run: ``uv run python benchmarks/bench_nlsq.py [--sizes 3x200,8x500,23x1000] [--repeats 3]``.
Targets on the 2-core development machine: 23 x 1000 < 6 s warm and < 10 s with compile,
peak RSS < 2 GB; 8 x 500 < 1 s warm.
"""

import argparse
import os

from homodyne_physics import ModelSpec

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

import homodyne_physics as hp  # noqa: E402
from _common import LAMINAR_TRUTH as TRUTH  # noqa: E402
from _common import load, peak_rss_mb, reset_peak, rss_mb, timed  # noqa: E402
from homodyne_data import XPCSData  # noqa: E402
from homodyne_nlsq import NLSQConfig, fit_nlsq  # noqa: E402


def simulate(n_phi: int, n_t: int, *, dt: float = 0.1, q: float = 0.0054, seed: int = 0):
    """Laminar-flow data with independent noise per (t1 < t2) pair, built one angle at a time."""
    model = hp.C2Model("laminar_flow", q=q, dt=dt)
    theta = np.array([TRUTH[n] for n in model.parameter_names])
    phi = np.linspace(-170.0, 170.0, n_phi)
    frames = np.arange(1, n_t + 1)
    rng = np.random.default_rng(seed)
    c2 = np.empty((n_phi, n_t, n_t))
    with hp.float64():
        for a in range(n_phi):
            one = phi[a : a + 1]
            clean = np.asarray(hp.c2_matrix(model, theta, [0.3], [1.0], frames * dt, one))
            upper = np.triu(rng.standard_normal((n_t, n_t)), 1) * 0.01
            c2[a] = clean[0] + upper + upper.T
    return XPCSData(c2, phi, q, dt, frames)


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3x200,8x500,23x1000")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cfg = NLSQConfig(scaling_mode="auto")
    print(f"fit_nlsq, laminar_flow, auto scaling, from registry defaults; load avg {load()}")
    header = (
        f"{'angles x frames':>16s} {'points':>10s} {'first (s)':>10s} {'warm median (s)':>16s} "
        f"{'warm min (s)':>13s} {'iterations':>11s} {'peak RSS (MB)':>14s} {'max |pull|':>11s}"
    )
    print(header)
    for size in args.sizes.split(","):
        n_phi, n_t = (int(v) for v in size.lower().split("x"))
        data = simulate(n_phi, n_t)
        data.flat(0)  # the selection the loader hands over (cached on the data object)
        reset_peak()
        first, _, res = timed(lambda d=data: fit_nlsq(d, ModelSpec.create("laminar_flow"), cfg), 1)
        med, best, res = timed(
            lambda d=data: fit_nlsq(d, ModelSpec.create("laminar_flow"), cfg), args.repeats
        )
        peak = peak_rss_mb()
        pull = max(abs(res.values[n] - TRUTH[n]) / res.errors[n] for n in res.parameter_names)
        print(
            f"{size:>16s} {res.n_points:10d} {first:10.2f} {med:16.2f} {best:13.2f} "
            f"{res.iterations:11d} {peak:14.0f} {pull:11.2f}",
            flush=True,
        )
        del data, res
    print(f"load avg after {load()}; process RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
