"""Coverage of NLSQ intervals on speckle-simulated data: independent-noise vs frame-correlated.

For each seed: simulate correlator output with ``homodyne_data.simulate_speckle`` (8 bins x
300 frames x 1000 pixels by default), fit with ``homodyne_nlsq.fit_nlsq`` from the truth, and
check whether the 68 % and 95 % intervals of D(t) (and gamma_dot(t), phi0 in laminar_flow) at
three ages contain the truth, once with the independent-noise errors and once with the
frame-correlated (sandwich) errors. Also prints the seed-to-seed scatter of the fitted curves
over the mean errors of each kind.

    uv run python benchmarks/bench_speckle_calibration.py --mode static --seeds 10
    uv run python benchmarks/bench_speckle_calibration.py --mode laminar_flow --seeds 20
    uv run python benchmarks/bench_speckle_calibration.py --mode laminar_flow --seeds 20 \
        --phi-shift 15 --hold-offsets   # phi0 sign identified, no power-law ridge

The fit models the simulated angular bins (``phi_bin_width``, the shear term averaged over
each bin); ``--no-bin-model`` fits at the bin centres, as before issue 18 found the bias.

Each seed costs one simulation (about 40-70 s for the default size on a shared 2-core machine)
and one fit.
"""

import argparse
import json
import time

import numpy as np

import homodyne_data as hd
from homodyne_nlsq import NLSQConfig, fit_nlsq
from homodyne_physics import ModelSpec

STATIC = {"D0": 1000.0, "alpha": 0.5, "D_offset": 10.0}
LAMINAR = {
    **STATIC,
    "gamma_dot_t0": 2.0e-4,
    "beta": 0.3,
    "gamma_dot_t_offset": 0.0,
    "phi0": 3.0,
}
AGES = np.array([3.0, 10.0, 25.0])
Z68, Z95 = 1.0, 1.96


def _curve(values: dict, prefix: str, names: tuple[str, ...]):
    """Values and gradient rows of a power law ``a t^b + c`` at AGES for (a, b, c) names."""
    a, b, c = (values[n] for n in names)
    val = a * AGES**b + c
    grad = np.stack([AGES**b, a * AGES**b * np.log(AGES), np.ones_like(AGES)], axis=1)
    return {f"{prefix}({t:g})": (v, g) for t, v, g in zip(AGES, val, grad, strict=True)}


def _quantities(res, truth: dict):
    """name -> (fitted, truth, naive sd, robust sd) of the reported quantities."""
    names = [n for n in res.names if n in res.parameter_names]  # free physical, cov order
    k = len(names)
    cov_naive = _naive_covariance(res)[:k, :k]
    cov_rob = res.covariance_robust[:k, :k]
    groups = [("D", ("D0", "alpha", "D_offset"))]
    if res.mode == "laminar_flow":
        groups.append(("gamma_dot", ("gamma_dot_t0", "beta", "gamma_dot_t_offset")))
    out = {}
    for prefix, trio in groups:
        free = [i for i, n in enumerate(trio) if n in names]  # a held one has no error
        idx = [names.index(trio[i]) for i in free]
        fitted = _curve(res.values, prefix, trio)
        true = _curve(truth, prefix, trio)
        for key, (val, grad) in fitted.items():
            g = np.zeros(k)
            g[idx] = grad[free]
            out[key] = (val, true[key][0], np.sqrt(g @ cov_naive @ g), np.sqrt(g @ cov_rob @ g))
    if res.mode == "laminar_flow":
        j = names.index("phi0")
        out["phi0"] = (
            res.values["phi0"],
            truth["phi0"],
            np.sqrt(cov_naive[j, j]),
            np.sqrt(cov_rob[j, j]),
        )
    return out


def _naive_covariance(res) -> np.ndarray:
    """The independent-noise covariance (kept in ``error_model`` whichever was used)."""
    return np.asarray(res.error_model["covariance_independent"], dtype=np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", default="static", choices=("static", "laminar_flow"))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--bins", type=int, default=8)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--pixels", type=int, default=1000)
    ap.add_argument(
        "--bin-width",
        type=float,
        default=4.0,
        help="angular bin width of the simulation, degrees; the fit models it (phi_bin_width) "
        "unless --no-bin-model",
    )
    ap.add_argument("--no-bin-model", action="store_true", help="fit at the bin centres")
    ap.add_argument(
        "--phi-shift",
        type=float,
        default=0.0,
        help="turn the bins by this many degrees; on a set symmetric under phi -> -phi (the "
        "default) the model at -phi0 equals the model at phi0 (sign of phi0 not identified)",
    )
    ap.add_argument(
        "--hold-offsets",
        action="store_true",
        help="hold D_offset (and gamma_dot_t_offset) at the truth: free, short data sets let "
        "the fit ride the D0 t^alpha + D_offset -> A + B log t ridge to the D0 bound",
    )
    ap.add_argument(
        "--scatterers",
        type=int,
        default=64,
        help="scatterers per q vector (the coverage test uses 512: fewer lower the variance)",
    )
    ap.add_argument(
        "--middle",
        default="speckle",
        choices=("speckle", "bartlett"),
        help="NLSQConfig.robust_middle (the speckle model applies up to 128 frames)",
    )
    ap.add_argument("--json", help="also write the per-seed rows here")
    args = ap.parse_args()
    truth = STATIC if args.mode == "static" else LAMINAR
    phi = np.linspace(-180.0, 180.0, args.bins, endpoint=False) + args.phi_shift
    held = {n: truth[n] for n in ("D_offset", "gamma_dot_t_offset") if n in truth}
    width = args.bin_width
    fit_width = None if args.no_bin_model else width
    print(f"bin width {width:g} deg; fit models it: {fit_width is not None}")
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.perf_counter()
        sim = hd.simulate_speckle(
            args.mode,
            truth,
            phi=phi,
            n_frames=args.frames,
            n_pixels=args.pixels,
            bin_width=width,
            n_scatterers=args.scatterers,
            seed=seed,
        )
        t1 = time.perf_counter()
        spec = ModelSpec.create(
            args.mode,
            initial=truth,
            phi_bin_width=fit_width,
            fixed=held if args.hold_offsets else None,
        )
        res = fit_nlsq(sim.data, spec, NLSQConfig(robust_middle=args.middle))
        t2 = time.perf_counter()
        q = _quantities(res, sim.truth)
        rows.append(
            {
                "seed": seed,
                "sim_s": t1 - t0,
                "fit_s": t2 - t1,
                "used": res.error_model["used"],
                "q": q,
            }
        )
        print(
            f"seed {seed}: simulate {t1 - t0:.1f} s, fit {t2 - t1:.1f} s, {res.error_model['used']}"
        )
    keys = list(rows[0]["q"])
    size = f"{args.bins} bins x {args.frames} frames x {args.pixels} pixels"
    print(f"\n{args.mode}: {len(rows)} seeds, {size}")
    print("quantity | truth | scatter/naive | scatter/robust | naive 68/95 | robust 68/95")
    for key in keys:
        arr = np.array([r["q"][key] for r in rows])
        fit, tru, sn, sr = arr.T
        scatter = fit.std(ddof=1) if len(rows) > 1 else float("nan")
        dev = np.abs(fit - tru)
        cov = [int((dev <= z * s).sum()) for s in (sn, sr) for z in (Z68, Z95)]
        print(
            f"{key} | {tru[0]:.4g} | {scatter / np.sqrt((sn**2).mean()):.1f} | "
            f"{scatter / np.sqrt((sr**2).mean()):.2f} | {cov[0]}/{cov[1]} of {len(rows)} | "
            f"{cov[2]}/{cov[3]} of {len(rows)}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, default=float, indent=1)


if __name__ == "__main__":
    main()
