"""Whole-run comparison with homodyne 2.23.3 on the same files (issue 14).

homodyne 2.23.3 is installed into its own virtual environment (never a dependency of this
project): ``uv venv <peer> && uv pip install --python <peer> homodyne==2.23.3`` (done by
``--install`` when ``<peer>/bin/homodyne`` is missing). For each size the realistic laminar
data set of issue 14 is simulated once (APS-U layout, which 2.23.3 reads too), and both
programs fit it by NLSQ with their result files and plots, alternating (ours, peer, ours,
peer, ...), ``--repeats`` times each. The table gives the median wall time, CPU time (user +
system) and peak RSS of the whole processes and the ratios peer / ours.

The 2.x configuration is written to match ours: laminar_flow, the same q ring (2.x fits the
first q only), dt, frames, bounds; per-angle mode ``auto`` (one averaged contrast and offset,
as ours), its default NLSQ path (trust-region reflective), explicit start values (2.x cannot
start from ``values: null``). Both keep their caches between repeats (our JAX compilation
cache, 2.x's cache of the selected matrices): the medians describe a user's repeated runs.

Run: ``uv run python benchmarks/peer_compare.py [--sizes 8x500,23x1000] [--repeats 3]
[--peer /tmp/peer] [--install]``. Target (issue 14): >= 30x less wall time than 2.23.3.
"""

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

from _common import load
from _process import child_env, homodyne_exe, measure, parse_size, simulate_laminar

PEER_VERSION = "2.23.3"
START = {  # 2.x start values: its template's order of magnitude, not the truth
    "D0": 1000.0,
    "alpha": 0.0,
    "D_offset": 0.0,
    "gamma_dot_t0": 1e-3,
    "beta": 0.0,
    "gamma_dot_t_offset": 0.0,
    "phi0": 0.0,
}
BOUNDS = {
    "contrast": (0.0, 1.0),
    "offset": (0.5, 1.5),
    "D0": (100.0, 1e5),
    "alpha": (-2.0, 2.0),
    "D_offset": (-1e5, 1e5),
    "gamma_dot_t0": (1e-6, 0.5),
    "beta": (-2.0, 2.0),
    "gamma_dot_t_offset": (-0.1, 0.1),
    "phi0": (-10.0, 10.0),
}


def install_peer(peer: Path) -> None:
    """Create ``peer`` as a virtual environment holding homodyne 2.23.3 (needs the network)."""
    subprocess.run(["uv", "venv", "--python", "3.12", str(peer)], check=True)
    spec = f"homodyne=={PEER_VERSION}"
    subprocess.run(["uv", "pip", "install", "--python", str(peer), spec], check=True)


def _num(x: float) -> str:
    """A YAML 1.1 float (PyYAML reads ``1e-06`` without a dot as a string)."""
    return f"{x:.6e}"


def peer_config(data: Path, folder: Path) -> Path:
    """A homodyne 2.x YAML for ``data`` that matches our run of the same file."""
    bounds = "\n".join(
        f"    - {{name: {n}, min: {_num(lo)}, max: {_num(hi)}}}" for n, (lo, hi) in BOUNDS.items()
    )
    text = f"""analysis_mode: laminar_flow
analyzer_parameters:
  dt: 0.1
  start_frame: 1
  end_frame: -1
  scattering: {{wavevector_q: 0.0054}}
  geometry: {{stator_rotor_gap: 2000000}}
experimental_data:
  data_folder_path: {data.parent}/
  data_file_name: {data.name}
  cache_file_path: {folder / "cache"}/
phi_filtering: {{enabled: false}}
initial_parameters:
  parameter_names: [{", ".join(START)}]
  values: [{", ".join(_num(v) for v in START.values())}]
parameter_space:
  model: laminar_flow
  bounds:
{bounds}
optimization:
  method: nlsq
  nlsq:
    anti_degeneracy: {{enable: true, per_angle_mode: auto, constant_scaling_threshold: 3}}
    cmaes: {{enable: false}}
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "homodyne2_config.yaml"
    path.write_text(text)
    return path


def compare(work: Path, peer: Path, n_phi: int, n_t: int, repeats: int) -> dict:
    data = simulate_laminar(work / "data", n_phi, n_t)
    ours_cfg = data.with_suffix(".yaml")
    peer_dir = work / f"peer-{n_phi}x{n_t}"
    peer_cfg = peer_config(data, peer_dir)
    env = child_env()
    runs: dict[str, list] = {"ours": [], "peer": []}
    for k in range(repeats):
        out = work / f"ours-{n_phi}x{n_t}"
        cmd = [homodyne_exe(), "run", "--config", str(ours_cfg), "--output-dir", str(out)]
        cmd += ["--overwrite", "--method", "nlsq"]
        runs["ours"].append(measure(cmd, work / f"ours-{n_phi}x{n_t}-{k}.log", env=env))
        cmd = [str(peer / "bin" / "homodyne"), "--config", str(peer_cfg), "--method", "nlsq"]
        cmd += ["--output-dir", str(peer_dir / f"out-{k}")]
        log = peer_dir / f"run-{k}.log"
        runs["peer"].append(measure(cmd, log, cwd=peer_dir, env=env))
        for who, ms in runs.items():
            m = ms[-1]
            print(
                f"  {n_phi}x{n_t} {who} #{k + 1}: rc {m.rc}, wall {m.wall:.1f} s, "
                f"CPU {m.cpu:.1f} s, RSS {m.rss_mb:.0f} MB, load {load()}",
                flush=True,
            )
    return {
        who: {
            "rc": max(m.rc for m in ms),
            "wall": statistics.median(m.wall for m in ms),
            "cpu": statistics.median(m.cpu for m in ms),
            "rss": statistics.median(m.rss_mb for m in ms),
        }
        for who, ms in runs.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8x500,23x1000")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each program (median)")
    ap.add_argument("--peer", type=Path, default=Path("/tmp/peer"), help="2.23.3 environment")
    ap.add_argument("--install", action="store_true", help="create the peer environment")
    ap.add_argument("--work", type=Path, default=None, help="folder for data and results")
    args = ap.parse_args()
    if not (args.peer / "bin" / "homodyne").exists():
        if not args.install:
            raise SystemExit(f"no homodyne {PEER_VERSION} in {args.peer}: pass --install")
        install_peer(args.peer)
    work = args.work or Path(tempfile.mkdtemp(prefix="peer_compare_"))
    print(f"ours: {homodyne_exe()}; peer: {args.peer}; work {work}; load average {load()}")
    rows = [
        (s, compare(work, args.peer, *parse_size(s), args.repeats)) for s in args.sizes.split(",")
    ]
    print(f"\nmedian of {args.repeats}, alternating; load average now {load()}")
    head = ("size", "ours wall", "peer wall", "wall x", "ours CPU", "peer CPU", "CPU x")
    print(
        ("{:<9}" + "{:>11}" * 6).format(*head)
        + "{:>10}{:>10}{:>7}".format("ours MB", "peer MB", "RSS x")
    )
    for size, r in rows:
        o, p = r["ours"], r["peer"]
        print(
            ("{:<9}" + "{:>11.1f}{:>11.1f}{:>11.1f}" * 2).format(
                size,
                o["wall"],
                p["wall"],
                p["wall"] / o["wall"],
                o["cpu"],
                p["cpu"],
                p["cpu"] / o["cpu"],
            )
            + "{:>10.0f}{:>10.0f}{:>7.1f}".format(o["rss"], p["rss"], p["rss"] / o["rss"])
            + (
                ""
                if o["rc"] in (0, 1) and p["rc"] == 0
                else f"   exit codes ours {o['rc']} peer {p['rc']}"
            )
        )
        verdict = "meets" if p["wall"] >= 30 * o["wall"] else "below"
        print(f"{size}: {p['wall'] / o['wall']:.1f}x less wall time ({verdict} the 30x target)")


if __name__ == "__main__":
    main()
