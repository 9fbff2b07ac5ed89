"""Benchmark of joint fits over several q rings (issue 16): one NLSQ fit of 4 rings x 6 angles
against the 4 single-ring fits, laminar flow, q spanning a factor of 3.

Prints, per parameter, the joint value and standard error, the best single ring's SE and their
ratio; then wall times: each fit's first call (with JIT compilation) and its warm median. The
acceptance target: the joint fit (warm) costs at most 1.3x the sum of the single-ring fits.

Run: ``uv run python benchmarks/bench_joint_q.py [--n-t 60] [--repeats 3] [--seed 0]``.
"""

import argparse
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

import homodyne_physics as hp  # noqa: E402
from _common import LAMINAR_TRUTH as TRUTH  # noqa: E402
from _common import load, timed  # noqa: E402
from homodyne_data import XPCSData, join_rings  # noqa: E402
from homodyne_nlsq import NLSQConfig, fit_nlsq  # noqa: E402

Q_RINGS = (0.003, 0.005, 0.007, 0.009)
PHI = np.linspace(0.0, 180.0, 6, endpoint=False) + 5.0


def ring_data(q: float, n_t: int, seed: int, *, d_factor: float = 1.0) -> XPCSData:
    """One ring: model matrices plus independent noise (0.01) per (t1 < t2) pair, mirrored.

    ``d_factor`` scales D0 and D_offset of this ring (data whose D does not scale as q^2).
    """
    model = hp.C2Model("laminar_flow", q=q, dt=0.1)
    truth = dict(TRUTH, D0=TRUTH["D0"] * d_factor, D_offset=TRUTH["D_offset"] * d_factor)
    theta = np.array([truth[n] for n in model.parameter_names])
    frames = np.arange(1, n_t + 1)
    with hp.float64():
        clean = np.asarray(hp.c2_matrix(model, theta, 0.3, 1.0, frames * 0.1, PHI))
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.standard_normal(clean.shape), 1) * 0.01
    return XPCSData(clean + upper + np.swapaxes(upper, 1, 2), PHI, q, 0.1, frames)


def rings(n_t: int, seed: int, q_rings=Q_RINGS, d_factors=None) -> list[XPCSData]:
    """The single-ring datasets (seed + k for ring k)."""
    factors = d_factors or (1.0,) * len(q_rings)
    return [
        ring_data(q, n_t, seed + k, d_factor=f)
        for k, (q, f) in enumerate(zip(q_rings, factors, strict=True))
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-t", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    spec = hp.ModelSpec.create("laminar_flow")
    cfg = NLSQConfig()
    parts = rings(args.n_t, args.seed)
    joint = join_rings(parts)
    print(f"4 rings x {PHI.size} angles x {args.n_t} frames, q = {Q_RINGS} 1/A; load {load()}")
    rows = []
    singles = []
    for k, d in enumerate(parts):
        first, _, _ = timed(lambda d=d: fit_nlsq(d, spec, cfg), 1)
        warm, _, res = timed(lambda d=d: fit_nlsq(d, spec, cfg), args.repeats)
        singles.append(res)
        rows.append((f"ring {k} (q={d.q:g})", first, warm, res.iterations))
    first, _, _ = timed(lambda: fit_nlsq(joint, spec, cfg), 1)
    warm, _, jres = timed(lambda: fit_nlsq(joint, spec, cfg), args.repeats)
    rows.append(("joint", first, warm, jres.iterations))
    print(
        f"\n{'parameter':>20} {'truth':>11} {'joint':>11} {'SE joint':>10} {'best ring SE':>12}"
        f" {'ratio':>7} {'pull':>6}"
    )
    for n in jres.parameter_names:
        best = min(r.errors[n] for r in singles)
        se = jres.errors[n]
        pull = (jres.values[n] - TRUTH[n]) / se
        print(
            f"{n:>20} {TRUTH[n]:11.4g} {jres.values[n]:11.4g} {se:10.3g} {best:12.3g}"
            f" {best / se:7.2f} {pull:6.2f}"
        )
    print(f"\n{'fit':>18} {'first s':>8} {'warm s':>8} {'iters':>6}")
    for name, a, b, it in rows:
        print(f"{name:>18} {a:8.2f} {b:8.2f} {it:6d}")
    total = sum(r[2] for r in rows[:-1])
    print(
        f"\nwarm: joint {rows[-1][2]:.2f} s / sum of single rings {total:.2f} s = "
        f"{rows[-1][2] / total:.2f} (target <= 1.3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
