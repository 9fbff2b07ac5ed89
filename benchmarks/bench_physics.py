"""Benchmark of the physics kernel and of the NLSQ inner loop (issue 2).

laminar_flow, 23 angles x 1000 frames -> 11.5M points (t1 < t2). Prints a table of median/min
wall times over repeats and the peak memory above the data for:

* model evaluation at every point (materialises the (23, 499500) model array),
* a streamed cost-only pass (chi^2, chunked, nothing materialised),
* one fused streamed pass giving cost, J^T r and J^T J over all 9 parameters
  (7 physical + shared contrast and offset), never forming the N x 9 Jacobian.

Run: ``uv run python benchmarks/bench_physics.py [--frames 1000] [--angles 23] [--repeats 5]``.
"""

import argparse
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import homodyne_physics as hp  # noqa: E402
from _common import load, peak_rss_mb, reset_peak, rss_mb, timed  # noqa: E402
from homodyne_nlsq import ProblemArrays, accumulate, cost_only  # noqa: E402


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--angles", type=int, default=23)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chunks", type=str, default="2048,4096,8192")
    args = ap.parse_args()

    with hp.float64():
        model = hp.C2Model("laminar_flow", q=0.0054, dt=0.1)
        n_t, n_phi = args.frames, args.angles
        t = np.arange(1, n_t + 1) * model.dt
        phi = np.linspace(-170.0, 170.0, n_phi)
        i, j = hp.pair_indices(n_t)
        theta = jnp.array([1500.0, 0.2, 5.0, 2e-3, 0.1, 1e-4, 1.0])
        rng = np.random.default_rng(0)
        y_model = hp.c2_pairs(model, theta, 0.3, 1.0, t, phi, i, j)
        y = np.asarray(y_model) + 0.01 * rng.standard_normal(y_model.shape)
        del y_model
        base = rss_mb()
        arrs = ProblemArrays.create(y, t, phi, i, j)
        del y
        data_mb = arrs.y.nbytes / 2**20 + 2 * arrs.i.nbytes / 2**20
        scaling = hp.make_scaling("auto", phi)
        s = jnp.array([0.3, 1.0])
        contrast, offset = scaling.apply(s, xp=jnp)
        n_points = arrs.n_points

        print(
            f"laminar_flow, {n_phi} angles x {n_t} frames = {n_points / 1e6:.2f}M points "
            f"(t1 < t2); data on device {data_mb:.0f} MB; load avg {load()}"
        )
        print(
            f"{'pass':46s} {'first (s)':>10s} {'median (s)':>11s} {'min (s)':>9s} "
            f"{'ns/point':>9s} {'peak above data (MB)':>21s}"
        )

        def row(name, fn):
            reset_peak()
            before = rss_mb()
            first, _, _ = timed(fn, 1)
            med, best, _ = timed(fn, args.repeats)
            peak = peak_rss_mb() - before
            print(
                f"{name:46s} {first:10.3f} {med:11.3f} {best:9.3f} "
                f"{1e9 * med / n_points:9.1f} {peak:21.0f}"
            )

        model_eval = jax.jit(
            lambda th: hp.c2_pairs(model, th, contrast, offset, arrs.t, arrs.phi, arrs.i, arrs.j)
        )
        row(
            "model evaluation (all points materialised)",
            lambda: model_eval(theta).block_until_ready(),
        )
        for chunk in [int(c) for c in args.chunks.split(",")]:
            row(
                f"cost-only streamed pass (chunk {chunk} pairs)",
                lambda c=chunk: cost_only(
                    model, theta, contrast, offset, arrs, chunk=c
                ).block_until_ready(),
            )
        for chunk in [int(c) for c in args.chunks.split(",")]:
            row(
                f"fused cost+J^T r+J^T J, 9 params (chunk {chunk})",
                lambda c=chunk: jax.block_until_ready(
                    accumulate(model, theta, s, scaling, arrs, chunk=c)
                ),
            )
        print(f"process RSS {rss_mb():.0f} MB (before device data {base:.0f} MB)")


if __name__ == "__main__":
    main()
