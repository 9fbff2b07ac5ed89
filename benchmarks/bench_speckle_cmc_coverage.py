"""Coverage of CMC intervals on laminar speckle data with the adjusted likelihood (issue 18).

For each seed: simulate correlator output (``homodyne_data.simulate_speckle``, 4 bins x 100
frames x 200 pixels, 512 scatterers per q vector (``--scatterers``), dt 0.25 s, the laminar
truth and bin set of
``tests/nlsq/test_speckle_coverage.py``: bins turned by 15 deg so that the sign of phi0 is
identified, offsets held at the truth), fit NLSQ from the truth, then run CMC from that warm
start with ``likelihood_adjustment='auto'`` (the curvature adjustment of
``homodyne_cmc.adjust`` whenever NLSQ used the frame-correlated covariance), and count how
often the central 68 % / 95 % posterior intervals of D(t), gamma_dot(t) at 3, 10, 25 s and of
phi0 contain the truth. Small sampler settings (one shard, 2 chains x (200 + 300) draws,
sequential backend): enough for 68 / 95 % quantiles of a near-Gaussian posterior.

    uv run python benchmarks/bench_speckle_cmc_coverage.py --seeds 8

Cost: about 1-2 min per seed on a shared 2-core machine.
"""

import argparse
import time

import numpy as np

import homodyne_data as hd
from homodyne_cmc import CMCConfig, fit_cmc
from homodyne_nlsq import NLSQConfig, fit_nlsq
from homodyne_physics import ModelSpec

LAMINAR = {
    "D0": 1000.0,
    "alpha": 0.5,
    "D_offset": 10.0,
    "gamma_dot_t0": 2.0e-4,
    "beta": 0.3,
    "gamma_dot_t_offset": 0.0,
    "phi0": 3.0,
}
FIXED = {"D_offset": 10.0, "gamma_dot_t_offset": 0.0}
PHI = np.linspace(-180.0, 180.0, 4, endpoint=False) + 15.0
SIZE = {"n_frames": 100, "n_pixels": 200, "dt": 0.25}
AGES = np.array([3.0, 10.0, 25.0])
TRIOS = {
    "D": ("D0", "alpha", "D_offset"),
    "gamma_dot": ("gamma_dot_t0", "beta", "gamma_dot_t_offset"),
}


def _column(res, name: str) -> np.ndarray:
    """Draws of ``name`` (its fixed value when held)."""
    names = list(res.names)
    draws = np.asarray(res.draws)
    draws = draws.reshape(-1, draws.shape[-1])  # (chains * samples, d)
    if name in names:
        return draws[:, names.index(name)]
    return np.full(draws.shape[0], FIXED[name])


def _covered(res) -> dict[str, tuple[bool, bool]]:
    """quantity -> (truth inside the central 68 % interval, inside the 95 % one)."""
    out = {}
    for prefix, trio in TRIOS.items():
        a, b, c = (_column(res, n) for n in trio)
        ta, tb, tc = (LAMINAR[n] for n in trio)
        for t in AGES:
            out[f"{prefix}({t:g})"] = _inside(a * t**b + c, ta * t**tb + tc)
    out["phi0"] = _inside(_column(res, "phi0"), LAMINAR["phi0"])
    return out


def _inside(draws: np.ndarray, truth: float) -> tuple[bool, bool]:
    q = np.quantile(draws, [0.16, 0.84, 0.025, 0.975])
    return bool(q[0] <= truth <= q[1]), bool(q[2] <= truth <= q[3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--first-seed", type=int, default=200)
    ap.add_argument("--adjustment", default="auto", choices=("auto", "curvature", "none"))
    ap.add_argument(
        "--scatterers",
        type=int,
        default=512,
        help="scatterers per q vector (the NLSQ coverage test's 512; see its SIZE)",
    )
    ap.add_argument("--middle", default="speckle", choices=("speckle", "bartlett"))
    args = ap.parse_args()
    cfg = CMCConfig(
        num_warmup=200,
        num_samples=300,
        num_chains=2,
        num_shards=1,
        backend="sequential",
        likelihood_adjustment=args.adjustment,
    )
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.perf_counter()
        sim = hd.simulate_speckle(
            "laminar_flow", LAMINAR, phi=PHI, seed=seed, n_scatterers=args.scatterers, **SIZE
        )
        spec = ModelSpec.create("laminar_flow", initial=LAMINAR, phi_bin_width=4.0, fixed=FIXED)
        nl = fit_nlsq(sim.data, spec, NLSQConfig(robust_middle=args.middle))
        res = fit_cmc(sim.data, nl, cfg)
        cov = _covered(res)
        rows.append(cov)
        hits = sum(v[1] for v in cov.values())
        print(
            f"seed {seed}: {time.perf_counter() - t0:.0f} s, NLSQ {nl.error_model['used']} "
            f"({nl.error_model.get('middle')}), "
            f"95 % intervals hold the truth for {hits} of {len(cov)} quantities",
            flush=True,
        )
        print("   ", {k: "".join("y" if x else "n" for x in v) for k, v in cov.items()}, flush=True)
    n = len(rows)
    print(
        f"\nCMC ({args.adjustment} adjustment, {args.middle} middle term), {n} laminar speckle "
        "seeds: 68 % / 95 % counts"
    )
    for key in rows[0]:
        c68 = sum(r[key][0] for r in rows)
        c95 = sum(r[key][1] for r in rows)
        print(f"  {key:16s} {c68}/{n}  {c95}/{n}")


if __name__ == "__main__":
    main()
