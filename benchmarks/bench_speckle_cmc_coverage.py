"""Coverage of CMC intervals on laminar speckle data with the adjusted likelihood (issue 18).

The sets, priors and counting of the acceptance test ``tests/cmc/test_cmc_speckle_coverage.py``
(loaded from that file, one definition), with options to vary them. For each seed: simulate
correlator output (``homodyne_data.simulate_speckle``, 4 bins x 100 frames x 200 pixels, 512
scatterers per q vector, dt 0.25 s, bins turned by 15 deg so that the sign of phi0 is
identified, offsets held at the truth), fit NLSQ from the truth, run CMC from that warm start
(``likelihood_adjustment`` 'auto': the curvature adjustment of ``homodyne_cmc.adjust`` when
NLSQ used the frame-correlated covariance; one shard, 2 chains x (200 + 300) draws) and count
how often the central 68 % / 95 % posterior intervals of D(t), gamma_dot(t) at 3, 10, 25 s and
of phi0 hold the truth, beside the NLSQ Wald intervals on the same sets.

    uv run python benchmarks/bench_speckle_cmc_coverage.py --seeds 40
    uv run python benchmarks/bench_speckle_cmc_coverage.py --priors registry --seeds 8

Cost: 20-40 s per seed alone on the 2-core machine (a seed with D0 on its bound: ~3 min).
"""

import argparse
import importlib.util
import time
from pathlib import Path

import homodyne_data as hd
from homodyne_cmc import CMCConfig, fit_cmc
from homodyne_nlsq import NLSQConfig, fit_nlsq
from homodyne_physics import ModelSpec

_TEST = Path(__file__).resolve().parents[1] / "tests" / "cmc" / "test_cmc_speckle_coverage.py"
_spec = importlib.util.spec_from_file_location("cmc_speckle_coverage", _TEST)
cov = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cov)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--first-seed", type=int, default=200)
    ap.add_argument("--skip", type=int, nargs="*", default=(), help="seeds to leave out")
    ap.add_argument("--adjustment", default="auto", choices=("auto", "curvature", "none"))
    ap.add_argument("--scatterers", type=int, default=cov.SIZE["n_scatterers"])
    ap.add_argument("--middle", default="speckle", choices=("speckle", "bartlett"))
    ap.add_argument("--max-tree-depth", type=int, default=10)
    ap.add_argument(
        "--priors",
        default="wide",
        choices=("wide", "registry"),
        help="the test's weak priors (default) or the registry's (see the test's docstring)",
    )
    args = ap.parse_args()
    cfg = CMCConfig(
        **cov.SAMPLER, likelihood_adjustment=args.adjustment, max_tree_depth=args.max_tree_depth
    )
    spec = ModelSpec.create(
        "laminar_flow",
        initial=cov.LAMINAR,
        phi_bin_width=4.0,
        fixed=cov.FIXED,
        priors=cov.PRIORS if args.priors == "wide" else None,
    )
    size = {**cov.SIZE, "n_scatterers": args.scatterers}
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if seed in args.skip:
            continue
        t0 = time.perf_counter()
        sim = hd.simulate_speckle("laminar_flow", cov.LAMINAR, phi=cov.PHI, seed=seed, **size)
        nl = fit_nlsq(sim.data, spec, NLSQConfig(robust_middle=args.middle))
        res = fit_cmc(sim.data, nl, cfg)
        hits, nlsq = cov.cmc_hits(res), cov.nlsq_hits(nl)
        rows.append((hits, nlsq))
        print(
            f"seed {seed}: {time.perf_counter() - t0:.0f} s, NLSQ {nl.error_model['used']} "
            f"({nl.error_model.get('middle')}), CMC 95 % intervals hold the truth for "
            f"{sum(v[1] for v in hits.values())} of {len(hits)} quantities",
            flush=True,
        )
        flags = {k: "".join("y" if x else "n" for x in v) for k, v in hits.items()}
        print("   ", flags, flush=True)
    print(f"\nCMC ({args.adjustment} adjustment, {args.middle} middle term, {args.priors} priors)")
    cov.print_counts(rows)


if __name__ == "__main__":
    main()
