"""From a checked YAML document (plus command-line overrides) to one resolved :class:`RunConfig`.

The resolved configuration holds plain values only; the typed configs of the lower packages
(``DataConfig``, ``NLSQConfig``, ``CMCConfig``) are built from it in :mod:`.typed`.
"""

import copy
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from homodyne_physics.parameters import ALIASES as _NAME_ALIASES
from homodyne_physics.parameters import MODE_ALIASES as _MODE_ALIASES
from homodyne_physics.parameters import MODES as _MODE_PARAMS

from ..errors import ConfigError
from .schema import SCHEMA
from .spec import ConfigIssue, check
from .yamlio import KeyPath, LoadedYAML, format_path, load_yaml, parse_yaml

__all__ = ["Override", "RunConfig", "load_config", "resolve"]

_ALL_PARAMS = _MODE_PARAMS["laminar_flow"]


@dataclass(frozen=True)
class Override:
    """A command-line value that replaces one config key (``path`` as in the YAML)."""

    path: KeyPath
    value: Any
    flag: str


@dataclass
class RunConfig:
    """Everything a run needs, fully resolved (defaults filled, aliases mapped).

    Times in s, q in 1/Angstrom, angles in degrees, gap in Angstrom.
    """

    source: str | None
    mode: str
    convention: str = "physical"
    method: str = "nlsq"
    seed: int = 0
    files: tuple[str, ...] = ()
    q: tuple[float | None, ...] = (None,)
    phi_ranges: tuple[tuple[float, float], ...] | None = None
    start_frame: int = 1
    end_frame: int = -1
    dt: float | None = None
    q_tolerance: float = 0.1
    nan_threshold: float = 0.05
    cache_dir: str | None = None
    gap: float = 2e6
    initial: dict[str, float] | None = None
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    priors: dict[str, dict[str, Any]] = field(default_factory=dict)
    nlsq: dict[str, Any] = field(default_factory=dict)
    cmc: dict[str, tuple[Any, str]] = field(default_factory=dict)
    max_reduced_chi2: float | None = None
    plots: bool = True
    max_display: int = 300
    threads: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    lines: dict[KeyPath, int] = field(default_factory=dict, repr=False)

    @property
    def warnings(self) -> list[ConfigIssue]:
        """The warnings found while reading the configuration."""
        return [i for i in self.issues if i.level == "warning"]

    def line_of(self, dotted: str) -> int | None:
        """Line of a dotted key path in the YAML (or of its nearest parent)."""
        path: tuple = tuple(p for p in dotted.split(".") if p)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe resolved configuration (for summary.json)."""
        d = asdict(self)
        d.pop("lines")
        d["issues"] = [str(i) for i in self.issues]
        d["cmc"] = {k: v for k, (v, _p) in self.cmc.items()}
        d["phi_ranges"] = None if self.phi_ranges is None else [list(r) for r in self.phi_ranges]
        d["bounds"] = {k: list(v) for k, v in self.bounds.items()}
        return d


def _get(d: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d or d[key] is None:
            return default
        d = d[key]
    return d


def _set(d: dict, path: KeyPath, value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(d.get(key), dict):
            d[key] = {}
        d = d[key]
    d[path[-1]] = value


def _num(v: Any) -> Any:
    return float(v) if isinstance(v, str) else v


def _resolve_file(name: str, config_dir: Path | None) -> str:
    p = Path(name).expanduser()
    if p.is_absolute() or p.exists() or config_dir is None:
        return str(p)
    beside = config_dir / p
    return str(beside) if beside.exists() else str(p)


def _files(raw: dict, config_dir: Path | None) -> tuple[str, ...]:
    ed = raw.get("experimental_data") or {}
    names: list[str] = []
    if ed.get("file_paths"):
        names.extend(ed["file_paths"])
    elif ed.get("file_path"):
        names.append(ed["file_path"])
    elif ed.get("data_file_name"):
        folder = ed.get("data_folder_path") or "."
        names.append(str(Path(folder) / ed["data_file_name"]))
    return tuple(_resolve_file(n, config_dir) for n in names)


def resolve(doc: LoadedYAML, overrides: list[Override] = (), *, strict: bool = False) -> RunConfig:
    """Check ``doc`` (after applying ``overrides``) and resolve it into a :class:`RunConfig`.

    Raises
    ------
    ConfigError
        Listing every error (key path and YAML line), when any error is found; with
        ``strict`` warnings count as errors.
    """
    raw = copy.deepcopy(doc.data)
    for ov in overrides:
        _set(raw, ov.path, ov.value)
    doc = LoadedYAML(raw, doc.lines, doc.source)
    issues = check(doc, SCHEMA)

    def err(path: KeyPath, msg: str) -> None:
        issues.append(ConfigIssue("error", path, doc.line(path), msg, doc.source))

    def warn(path: KeyPath, msg: str) -> None:
        issues.append(ConfigIssue("warning", path, doc.line(path), msg, doc.source))

    errors = [i for i in issues if i.level == "error"]
    if errors:
        _raise(issues, doc.source)

    mode_raw = raw.get("analysis_mode") or "static"
    if "analysis_mode" not in raw:
        warn(("analysis_mode",), "not given; using 'static'")
    mode = _MODE_ALIASES.get(mode_raw, mode_raw)
    model = _get(raw, "parameter_space", "model")
    if model and _MODE_ALIASES.get(model, model) != mode:
        warn(
            ("parameter_space", "model"),
            f"says {model!r} but analysis_mode is {mode!r}; analysis_mode wins",
        )
    names = _MODE_PARAMS[mode]

    # parameter bounds and priors
    bounds: dict[str, tuple[float, float]] = {}
    priors: dict[str, dict[str, Any]] = {}
    for k, entry in enumerate(_get(raw, "parameter_space", "bounds", default=[]) or []):
        path = ("parameter_space", "bounds", k)
        if "name" not in entry or "min" not in entry or "max" not in entry:
            err(path, "each bounds entry needs name, min and max")
            continue
        name = _NAME_ALIASES.get(entry["name"], entry["name"])
        lo, hi = float(_num(entry["min"])), float(_num(entry["max"]))
        if not lo < hi:
            err(path + ("min",), f"{name}: min must be < max, got min={lo:g}, max={hi:g}")
            continue
        if name not in names and name not in ("contrast", "offset"):
            continue  # e.g. shear bounds in a static config: harmless
        bounds[name] = (lo, hi)
        if any(key in entry for key in ("type", "prior_mu", "prior_sigma")):
            priors[name] = {
                "family": entry.get("type") or "TruncatedNormal",
                "mean": _num(entry.get("prior_mu"))
                if entry.get("prior_mu") is not None
                else (lo + hi) / 2,
                "sd": _num(entry.get("prior_sigma"))
                if entry.get("prior_sigma") is not None
                else (hi - lo) / 4,
                "low": lo,
                "high": hi,
            }

    # initial values
    initial: dict[str, float] | None = None
    ip = raw.get("initial_parameters") or {}
    values = ip.get("values")
    pnames = ip.get("parameter_names")
    if values is not None:
        pnames = pnames or list(names)
        if len(pnames) != len(values):
            err(
                ("initial_parameters", "values"),
                f"{len(values)} values for {len(pnames)} parameter_names ({', '.join(pnames)})",
            )
        else:
            initial = {}
            for n, v in zip(pnames, values, strict=True):
                canon = _NAME_ALIASES.get(n, n)
                if canon not in _ALL_PARAMS:
                    err(
                        ("initial_parameters", "parameter_names"),
                        f"unknown parameter {n!r} (known: {', '.join(_ALL_PARAMS)})",
                    )
                elif canon in names:
                    initial[canon] = float(v)
                    lo, hi = bounds.get(canon, (None, None))
                    if lo is not None and not lo <= v <= hi:
                        err(
                            ("initial_parameters", "values"),
                            f"initial {canon} = {v:g} is outside its bounds [{lo:g}, {hi:g}]",
                        )
                else:
                    warn(
                        ("initial_parameters", "parameter_names"),
                        f"{canon!r} is not a parameter of mode {mode!r}; ignored",
                    )
    for key in ("active_parameters", "fixed_parameters"):
        if ip.get(key):
            active = ip.get(key)
            if key == "active_parameters" and set(active) >= set(names):
                continue
            warn(
                ("initial_parameters", key),
                "holding parameters fixed is not implemented in "
                "homodyne 3; every parameter of the mode is fitted",
            )

    # data selection
    ap = raw.get("analyzer_parameters") or {}
    q = _get(ap, "scattering", "wavevector_q")
    q_list: tuple = (
        tuple(float(x) for x in q)
        if isinstance(q, list)
        else ((float(q),) if q is not None else (None,))
    )
    if not q_list:
        q_list = (None,)
    phi_ranges = None
    pf = raw.get("phi_filtering") or {}
    if pf.get("enabled"):
        ranges = []
        for k, r in enumerate(pf.get("target_ranges") or []):
            if "min_angle" not in r or "max_angle" not in r:
                err(("phi_filtering", "target_ranges", k), "needs min_angle and max_angle")
                continue
            ranges.append((float(_num(r["min_angle"])), float(_num(r["max_angle"]))))
        if not ranges:
            err(("phi_filtering",), "enabled but no target_ranges given")
        phi_ranges = tuple(ranges)
    elif pf.get("target_ranges"):
        warn(
            ("phi_filtering", "enabled"),
            "target_ranges are given but enabled is false: all angles are used",
        )
    start, end = int(ap.get("start_frame", 1)), int(ap.get("end_frame", -1))
    if end != -1 and end < start:
        err(("analyzer_parameters", "end_frame"), f"end_frame {end} is before start_frame {start}")

    ed = raw.get("experimental_data") or {}
    config_dir = Path(doc.source).resolve().parent if doc.source not in ("<string>", None) else None
    files = _files(raw, config_dir)
    if not files:
        err(
            ("experimental_data",),
            "no data file given: set experimental_data.file_path "
            "(or data_folder_path + data_file_name), or pass --data-file",
        )

    # optimisation
    opt = raw.get("optimization") or {}
    nl = opt.get("nlsq") or {}
    ad = nl.get("anti_degeneracy") or {}
    ms = nl.get("multi_start") or {}
    seed = int(raw.get("seed", 0))
    nlsq: dict[str, Any] = {}
    for key, value in (
        ("max_iterations", nl.get("max_iterations")),
        ("ftol", _num(nl.get("ftol", nl.get("tolerance")))),
        ("xtol", _num(nl.get("xtol"))),
        ("gtol", _num(nl.get("gtol"))),
        ("loss", nl.get("loss")),
        ("f_scale", _num(nl.get("f_scale"))),
        ("chunk_size", nl.get("chunk_size")),
        ("sigma", _num(nl.get("sigma"))),
        ("solver", nl.get("solver")),
        ("scaling_mode", nl.get("per_angle_mode", ad.get("per_angle_mode"))),
        ("fourier_order", nl.get("fourier_order", ad.get("fourier_order"))),
        ("multistart", int(ms.get("n_starts", 10)) if ms.get("enable") else None),
        ("cmaes", (nl.get("cmaes") or {}).get("enable")),
        ("seed", ms.get("seed", seed) if ms.get("enable") else seed),
    ):
        if value is not None:
            nlsq[key] = value
    qv = nl.get("quality_validation") or {}
    max_chi2 = qv.get("reduced_chi_squared_threshold") if qv.get("enable", False) else None

    cmc = _cmc_candidates(opt, seed)
    plots = raw.get("plots") or {}
    if errors := [i for i in issues if i.level == "error"]:
        _raise(issues, doc.source)
    if strict and (warnings := [i for i in issues if i.level == "warning"]):
        _raise(warnings, doc.source, strict=True)

    return RunConfig(
        source=None if doc.source == "<string>" else doc.source,
        mode=mode,
        convention=raw.get("convention", "physical"),
        method=opt.get("method", "nlsq"),
        seed=seed,
        files=files,
        q=q_list,
        phi_ranges=phi_ranges,
        start_frame=start,
        end_frame=end,
        dt=_num(ap.get("dt")),
        q_tolerance=float(ed.get("q_tolerance", 0.1)),
        nan_threshold=float(ed.get("nan_threshold", 0.05)),
        cache_dir=ed.get("cache_file_path"),
        gap=float(_get(ap, "geometry", "stator_rotor_gap", default=2e6)),
        initial=initial,
        bounds=bounds,
        priors=priors,
        nlsq=nlsq,
        cmc=cmc,
        max_reduced_chi2=max_chi2,
        plots=bool(plots.get("enabled", True)),
        max_display=int(plots.get("max_display", 300)),
        overrides={o.flag: o.value for o in overrides},
        issues=issues,
        lines=dict(doc.lines),
    )


def _cmc_candidates(opt: dict, seed: int) -> dict[str, tuple[Any, str]]:
    """CMC settings under our names, each with the key path it came from."""
    out: dict[str, tuple[Any, str]] = {}
    cm = opt.get("cmc") or {}
    mc = opt.get("mcmc") or {}
    shard_mc = cm.get("per_shard_mcmc") or {}
    for key in (
        "num_warmup",
        "num_samples",
        "num_chains",
        "target_accept_prob",
        "max_tree_depth",
        "chain_method",
    ):
        if key in shard_mc:
            out[key] = (shard_mc[key], f"optimization.cmc.per_shard_mcmc.{key}")
        elif key in mc:
            out[key] = (mc[key], f"optimization.mcmc.{key}")
    for key in ("dense_mass", "dense_mass_matrix"):
        for sec, name in ((shard_mc, "optimization.cmc.per_shard_mcmc"), (mc, "optimization.mcmc")):
            if key in sec and "dense_mass" not in out:
                out["dense_mass"] = (sec[key], f"{name}.{key}")
    simple = {
        "scaling_mode": ("per_angle_mode",),
        "prior_tempering": ("prior_tempering",),
        "per_shard_timeout": ("per_shard_timeout",),
        "num_shards": ("sharding", "num_shards"),
        "max_points_per_shard": ("sharding", "max_points_per_shard"),
        "shard_strategy": ("sharding", "strategy"),
        "min_points_per_shard": ("sharding", "min_points_per_shard"),
        "combination": ("combination", "method"),
        "min_success_rate": ("combination", "min_success_rate"),
        "combination_space": ("combination", "space"),
        "backend": ("backend_config", "name"),
        "min_ess": ("validation", "min_per_shard_ess"),
        "max_rhat": ("validation", "max_per_shard_rhat"),
        "max_divergence_rate": ("validation", "max_divergence_rate"),
        "use_nlsq_priors": ("validation", "use_nlsq_informed_priors"),
        "nlsq_prior_width": ("validation", "nlsq_prior_width_factor"),
        "max_parameter_cv": ("validation", "max_parameter_cv"),
        "heterogeneity_abort": ("validation", "heterogeneity_abort"),
        "require_nlsq_warmstart": ("validation", "require_nlsq_warmstart"),
    }
    # homodyne 3 names, written directly under optimization.cmc, win over the 2.x spellings
    for key in ("backend", "dask", "workers", "threads_per_worker", "cache_dir", "force"):
        simple[key] = (key,)
    for ours, path in simple.items():
        v = _get(cm, *path)
        if v is not None:
            out[ours] = (v, "optimization.cmc." + ".".join(path))
    out["seed"] = (cm.get("seed", seed), "optimization.cmc.seed" if "seed" in cm else "seed")
    return out


def _raise(issues: list[ConfigIssue], source: str, strict: bool = False) -> None:
    bad = [i for i in issues if i.level == "error" or strict]
    head = f"{source}: {len(bad)} problem{'s' if len(bad) != 1 else ''} in the configuration"
    raise ConfigError(head + ":\n" + "\n".join(f"  - {i}" for i in bad), issues)


def load_config(
    path: str | Path | None = None,
    *,
    text: str | None = None,
    overrides: list[Override] = (),
    strict: bool = False,
) -> RunConfig:
    """Read a YAML configuration (homodyne 2.x keys accepted) and resolve it.

    Parameters
    ----------
    path
        YAML file. Relative data paths are looked up in the working folder first, then next
        to the config file.
    text
        YAML text instead of a file.
    overrides
        Command-line values replacing config keys.
    strict
        Treat warnings (unknown keys, unimplemented 2.x keys) as errors.

    Raises
    ------
    ConfigError
        With every problem found, each naming its key path and YAML line.
    """
    if text is not None:
        doc = parse_yaml(text)
    elif path is not None:
        doc = load_yaml(path)
    else:
        doc = LoadedYAML({}, {}, "<defaults>")
    return resolve(doc, list(overrides), strict=strict)


def describe_path(path: KeyPath) -> str:
    """Dotted form of a key path (re-exported for messages)."""
    return format_path(path)
