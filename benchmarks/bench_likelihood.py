"""Benchmark of the shard log-likelihood and its gradient (issue 14, item 1).

One CMC-sized shard of laminar_flow data: 3 angles x 817 frames, a random sixth of the
(t1 < t2) pairs at every angle -> 3 x 55,556 = 166,668 points (the 1M benchmark's shard size).
Prints median wall and process-CPU times over interleaved repeats, in one process, for:

* the NLSQ cost-only streamed pass (chi^2 only; the reference cost of "one value"),
* the plain shard log-likelihood (the kernel + residuals, as the sampler wrote it) value, and its
  value + gradient by ordinary reverse-mode autodiff,
* :func:`homodyne_physics.gaussian_loglik` value, and value + gradient (custom JVP, one fused
  pass),

each also as a ratio to the cost-only pass. The machine may be shared: read the ratios, and the
load average printed with them.

Run: ``uv run python benchmarks/bench_likelihood.py [--repeats 21] [--chunks auto,512,2048]
[--convention physical]``.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import homodyne_physics as hp  # noqa: E402
from _common import load  # noqa: E402
from homodyne_nlsq import ProblemArrays, cost_only  # noqa: E402

TRUTH = np.array([2.0e4, -0.5, 1000.0, 2e-4, 0.3, 1e-4, 3.0])


def _plain_loglik(model, theta, contrast, offset, sigma, t, phi, i, j, y, w):
    g = hp.g1sq_pairs(model, theta, t, phi, i, j)
    r = (y - offset[:, None] - contrast[:, None] * g) * w
    return -0.5 * jnp.sum(r * r) / (sigma * sigma) - jnp.sum(w) * jnp.log(sigma)


def _shard(model, n_phi, n_t, fraction, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(1, n_t + 1) * model.dt
    phi = np.linspace(0.0, 150.0, n_phi)
    i_all, j_all = hp.pair_indices(n_t, model.first_fitted_frame)
    pick = np.sort(rng.choice(i_all.size, int(round(fraction * i_all.size)), replace=False))
    i, j = i_all[pick], j_all[pick]
    clean = np.asarray(hp.c2_pairs(model, TRUTH, 0.3, 1.0, t, phi, i, j))
    y = clean + 0.01 * rng.standard_normal(clean.shape)
    return t, phi, i, j, y, np.ones_like(y)


def _interleaved(rows, repeats):
    """Median wall and process-CPU seconds of each row, timed in interleaved rounds (every row
    once per round) so that a change of machine load hits all rows alike."""
    wall = [[] for _ in rows]
    cpu = [[] for _ in rows]
    for _ in range(repeats):
        for k, (_, fn) in enumerate(rows):
            w0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn())
            wall[k].append(time.perf_counter() - w0)
            cpu[k].append(time.process_time() - c0)
    return [statistics.median(x) for x in wall], [statistics.median(x) for x in cpu]


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--angles", type=int, default=3)
    ap.add_argument("--frames", type=int, default=817)
    ap.add_argument("--fraction", type=float, default=1.0 / 6.0)
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--chunks", type=str, default="auto,512,2048")
    ap.add_argument("--convention", choices=hp.CONVENTIONS, default="physical")
    args = ap.parse_args()

    with hp.float64():
        model = hp.C2Model("laminar_flow", q=0.0054, dt=0.1, convention=args.convention)
        t, phi, i, j, y, w = _shard(model, args.angles, args.frames, args.fraction)
        n_points = y.size
        arrs = ProblemArrays.create(y, t, phi, i, j)
        dev = [jnp.asarray(a) for a in (t, phi, i, j, y, w)]
        theta = jnp.asarray(TRUTH * 1.01)
        contrast = jnp.full((phi.size,), 0.3)
        offset = jnp.full((phi.size,), 1.0)
        sigma = jnp.float64(0.01)
        params = (theta, contrast, offset, sigma)
        argnums = (0, 1, 2, 3)

        plain_v = jax.jit(lambda *p: _plain_loglik(model, *p, *dev))
        plain_vg = jax.jit(jax.value_and_grad(lambda *p: _plain_loglik(model, *p, *dev), argnums))
        rows = [
            (
                "cost-only streamed pass (NLSQ, chunk 16384)",
                lambda: cost_only(model, theta, contrast, offset, arrs, chunk=16384),
            ),
            ("plain value", lambda: plain_v(*params)),
            ("plain value+grad (reverse-mode autodiff)", lambda: plain_vg(*params)),
        ]
        for chunk in [None if c == "auto" else int(c) for c in args.chunks.split(",")]:

            def new(*p, c=chunk):
                return hp.gaussian_loglik(model, *p, *dev, chunk=c)

            new_v = jax.jit(new)
            new_vg = jax.jit(jax.value_and_grad(new, argnums))
            label = "auto" if chunk is None else chunk
            rows.append((f"gaussian_loglik value (chunk {label})", lambda f=new_v: f(*params)))
            rows.append(
                (f"gaussian_loglik value+grad (chunk {label})", lambda f=new_vg: f(*params))
            )

        print(
            f"laminar_flow ({args.convention}), {phi.size} angles x {i.size} pairs = "
            f"{n_points} points; load avg {load()} (1 min; /proc/loadavg "
            f"{open('/proc/loadavg').read().split()[:3]})"
        )
        for _, fn in rows:
            jax.block_until_ready(fn())  # compile
        wall, cpu = _interleaved(rows, args.repeats)
        print(
            f"{'pass':46s} {'wall ms':>8s} {'ns/pt':>6s} {'x cost':>7s} "
            f"{'cpu ms':>8s} {'ns/pt':>6s} {'x cost':>7s}"
        )
        for (name, _), w_s, c_s in zip(rows, wall, cpu, strict=True):
            print(
                f"{name:46s} {1e3 * w_s:8.2f} {1e9 * w_s / n_points:6.1f} {w_s / wall[0]:7.2f} "
                f"{1e3 * c_s:8.2f} {1e9 * c_s / n_points:6.1f} {c_s / cpu[0]:7.2f}"
            )
        print(f"load avg after: {load()}")


if __name__ == "__main__":
    main()
