"""Benchmark of the frame-correlated (sandwich) covariance that runs inside every ``fit_nlsq``.

Laminar_flow data from ``homodyne_data.simulate`` (independent noise, sigma 0.01), auto scaling,
fit from the registry defaults. For each size (angles x frames): the warm fit time without the
robust covariance (``fit_nlsq`` total minus the robust covariance), the warm time of
``robust_covariance`` at the fitted vector (block-aggregated middle term, the default), their
ratio, and the time of the exact point-by-point Bartlett sum (``block_size=1``, what every fit
ran before); at the first size also the largest relative change of the robust errors between
the two. Issue 18 asks for a ratio under 10 % at 23 x 1000.

Run: ``uv run python benchmarks/bench_robust_covariance.py [--sizes 8x300,8x500,23x1000]``.
"""

import argparse
import importlib
import os
import time

from homodyne_physics import ModelSpec

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

import homodyne_data as hd  # noqa: E402
import homodyne_physics as hp  # noqa: E402
from _common import load  # noqa: E402
from homodyne_nlsq import NLSQConfig, fit_nlsq  # noqa: E402

# the module, not the function of the same name re-exported by the package
RC = importlib.import_module("homodyne_nlsq.robust_covariance")

TRUTH = {
    "D0": 8000.0,
    "alpha": -0.6,
    "D_offset": 400.0,
    "gamma_dot_t0": 2.0e-3,
    "beta": -0.5,
    "gamma_dot_t_offset": 2.0e-4,
    "phi0": 3.0,
}


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def measure(n_phi: int, n_t: int, exact: bool) -> dict:
    """Warm fit and robust-covariance times at one size (one fit to compile, one timed)."""
    data = hd.simulate(
        "laminar_flow", TRUTH, phi=np.linspace(-170.0, 170.0, n_phi), n_frames=n_t, seed=0
    ).data
    cfg = NLSQConfig(scaling_mode="auto")
    seen = {}
    inner = RC.robust_covariance

    def capture(problem, x, **kw):
        seen["problem"], seen["x"] = problem, x
        t, out = _timed(lambda: inner(problem, x, **kw))
        seen["t_in_fit"] = t
        return out

    RC.robust_covariance = capture
    try:
        fit_nlsq(data, ModelSpec.create("laminar_flow"), cfg)  # compile
        total, _ = _timed(lambda: fit_nlsq(data, ModelSpec.create("laminar_flow"), cfg))
    finally:
        RC.robust_covariance = inner
    out = {"fit": total - seen["t_in_fit"]}
    with hp.float64():
        out["robust"], fast = _timed(lambda: inner(seen["problem"], seen["x"]))
        if exact:
            out["exact"], ref = _timed(lambda: inner(seen["problem"], seen["x"], block_size=1))
            out["change"] = float(np.max(np.abs(fast.errors / ref.errors - 1.0)))
    out["bandwidths"] = sorted(set(fast.bandwidths))
    return out


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8x300,8x500,23x1000")
    args = ap.parse_args()
    print(f"robust covariance inside fit_nlsq, laminar_flow; load avg {load()}")
    print(
        f"{'angles x frames':>16s} {'warm fit (s)':>13s} {'robust (s)':>11s} {'ratio':>7s} "
        f"{'exact (s)':>10s} {'max rel change':>15s} {'bandwidths':>11s} {'load':>6s}"
    )
    for n, size in enumerate(args.sizes.split(",")):
        n_phi, n_t = (int(v) for v in size.lower().split("x"))
        m = measure(n_phi, n_t, exact=n == 0)
        exact = f"{m['exact']:10.2f}" if "exact" in m else f"{'-':>10s}"
        change = f"{m['change']:15.3%}" if "change" in m else f"{'-':>15s}"
        print(
            f"{size:>16s} {m['fit']:13.2f} {m['robust']:11.3f} {m['robust'] / m['fit']:7.1%} "
            f"{exact} {change} {str(m['bandwidths']):>11s} {load():>6s}",
            flush=True,
        )


if __name__ == "__main__":
    main()
