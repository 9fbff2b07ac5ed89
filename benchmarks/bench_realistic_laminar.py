"""Realistic laminar CMC benchmark: NLSQ then CMC with DEFAULT settings, as ``--method both``.

The case of issue 14: laminar_flow, 8 angles x 300 frames (358,800 points), dt 0.1 s,
q 0.0054 1/A, contrast 0.27, noise 0.011; truth D0 15000, alpha -0.3, D_offset 500,
gamma_dot_t0 1e-4, beta 0.2, gamma_dot_t_offset 2e-5, phi0 3 deg. The NLSQ fit starts from
the registry's start values (as a new configuration file does) with the default
``NLSQConfig``; CMC runs with the default ``CMCConfig`` (no shard cache), the same calls as
``homodyne run --method both``.

On these data D0 and D_offset form a near-degenerate ridge (only D(t) over the measured ages
is determined). Real data are worse than this simulation: finite angular bins average the
shear term over a range of angles, which weakens the angular signature that separates the
shear parameters and lengthens the ridges.

Usage::

    uv run python benchmarks/bench_realistic_laminar.py [--sampling-space auto|unconstrained]
        [--frames 300] [--angles 8] [--warmup W --samples S] [--out result.json]

Prints a table (NLSQ time and result, per-shard time, leapfrog steps per iteration, R-hat,
bulk ESS, D(t) and gamma_dot(t) at three ages) and one JSON object (also written to ``--out``).
"""

import argparse
import json
import os
import sys
import time
import warnings

from _common import REALISTIC_TRUTH as TRUTH
from _common import load


def simulate_case(n_phi: int = 8, n_frames: int = 300, seed: int = 0):
    """The realistic_laminar dataset (simulated)."""
    import numpy as np

    from homodyne_data import simulate

    phi = tuple(np.linspace(0.0, 157.5, n_phi))
    return simulate(
        "laminar_flow", TRUTH, phi=phi, n_frames=n_frames, q=0.0054, dt=0.1,
        contrast=0.27, offset=1.0, noise=0.011, seed=seed,
    )  # fmt: skip


def transport_at(theta, ages):
    """D(t) and gamma_dot(t) at ``ages`` for physical draws ``theta`` (..., 7): (mean, sd)."""
    import numpy as np

    th = np.asarray(theta, np.float64).reshape(-1, theta.shape[-1])
    out = {}
    for sym, (a, b, c) in {"D": (0, 1, 2), "gamma_dot": (3, 4, 5)}.items():
        for t in ages:
            v = th[:, a] * t ** th[:, b] + th[:, c]
            out[f"{sym}(t={t:.3g}s)"] = (float(v.mean()), float(v.std()))
    return out


def _progress(p) -> None:
    last = p.last
    extra = f" shard {last.index}: {last.wall_seconds:.1f} s" if last is not None else ""
    print(
        f"  [{p.elapsed_s:7.1f} s] done {p.done}/{p.total} running {p.running}{extra} "
        f"load {load(all_windows=True)}",
        file=sys.stderr,
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--angles", type=int, default=8)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--sampling-space", default=None, help="auto|reference|unconstrained")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    import numpy as np

    from homodyne_cmc import CMCConfig, fit_cmc
    from homodyne_nlsq import NLSQConfig, fit_nlsq
    from homodyne_physics import ModelSpec

    load0 = load(all_windows=True)
    sim = simulate_case(args.angles, args.frames)
    spec = ModelSpec.create("laminar_flow")
    t0 = time.perf_counter()
    nlsq = fit_nlsq(sim.data, spec, NLSQConfig())
    t_nlsq = time.perf_counter() - t0
    kw = {}
    if args.sampling_space is not None:
        kw["sampling_space"] = args.sampling_space
    if args.warmup is not None:
        kw["num_warmup"] = args.warmup
    if args.samples is not None:
        kw["num_samples"] = args.samples
    cfg = CMCConfig(**kw)
    print(f"NLSQ {t_nlsq:.1f} s: " + ", ".join(
        f"{n}={v:.5g}" for n, v in zip(nlsq.names, nlsq.theta, strict=False)
    ), file=sys.stderr, flush=True)  # fmt: skip
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_cmc(sim.data, nlsq, cfg, progress=_progress)
    wall = time.perf_counter() - t0
    t = np.asarray(sim.data.t)
    ages = (float(t[1]), float(np.sqrt(t[1] * t[-1])), float(t[-1]))
    names = list(res.names)
    out = {
        "case": f"realistic_laminar {args.angles}x{args.frames}",
        "n_points": res.n_points,
        "cpu_count": os.cpu_count(),
        "load_avg_start": load0,
        "load_avg_end": load(all_windows=True),
        "nlsq_s": t_nlsq,
        "nlsq": dict(zip(nlsq.names, map(float, nlsq.theta), strict=False)),
        "cmc_wall_s": wall,
        "timing": res.timing,
        "n_shards": res.n_shards,
        "backend": res.backend,
        "sampling_coordinates": res.combination.get("sampling"),
        "shard_wall_s": [s["wall_s"] for s in res.shards],
        "leapfrog_steps_per_iteration": res.sampler["leapfrog_steps_mean"],
        "shard_leapfrog_steps": [s["sampler"]["leapfrog_steps_mean"] for s in res.shards],
        "divergences": res.sampler["divergences"],
        "r_hat": {n: res.summary[n]["r_hat"] for n in names},
        "ess_bulk": {n: res.summary[n]["ess_bulk"] for n in names},
        "posterior": {n: (res.summary[n]["mean"], res.summary[n]["sd"]) for n in names},
        "transport_cmc": transport_at(res.theta_draws(), ages),
        "transport_truth": transport_at(np.array([list(TRUTH.values())]), ages),
        "truth": TRUTH,
        "warnings": [str(w.message) for w in caught],
    }
    _table(out)
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


def _table(o: dict) -> None:
    print(f"{o['case']}: {o['n_points']} points, load {o['load_avg_start']} -> {o['load_avg_end']}")
    print(f"NLSQ  {o['nlsq_s']:.1f} s  " + "  ".join(f"{k}={v:.4g}" for k, v in o["nlsq"].items()))
    print(f"CMC   {o['cmc_wall_s']:.1f} s, {o['n_shards']} shards ({o['backend']}), coordinates "
          f"{o['sampling_coordinates']}")  # fmt: skip
    for k, (w, s) in enumerate(zip(o["shard_wall_s"], o["shard_leapfrog_steps"], strict=True)):
        print(f"  shard {k}: {w:7.1f} s, {s:6.1f} leapfrog steps / iteration")
    print(f"{'parameter':>24} {'mean':>12} {'sd':>10} {'R-hat':>7} {'ESS bulk':>9}")
    for n, (m, s) in o["posterior"].items():
        print(f"{n:>24} {m:12.5g} {s:10.3g} {o['r_hat'][n]:7.4f} {o['ess_bulk'][n]:9.0f}")
    print(f"{'transport':>24} {'CMC mean':>12} {'CMC sd':>10} {'truth':>12}")
    for n, (m, s) in o["transport_cmc"].items():
        print(f"{n:>24} {m:12.5g} {s:10.3g} {o['transport_truth'][n][0]:12.5g}")


if __name__ == "__main__":
    main()
