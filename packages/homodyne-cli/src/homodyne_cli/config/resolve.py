"""From a YAML document (plus command-line values) to one frozen :class:`RunConfig`.

The run configuration is composed of the typed settings of the packages that use them
(``DataSelection``, ``NLSQConfig``, ``CMCConfig``) and the few values only the command line
reads; this layer adds the YAML line numbers and the file context.
"""

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homodyne_data import DataSelection
from homodyne_nlsq import NLSQConfig
from homodyne_physics import MODE_ALIASES

from ..errors import ConfigError
from .layout import ConfigIssue, Found, layout, walk
from .params import bounds_and_priors, fixed_parameters, initial_values
from .sections import Override, Reporter, build
from .yamlio import KeyPath, LoadedYAML, load_yaml, parse_yaml

__all__ = ["Override", "RunConfig", "load_config", "resolve"]


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs, resolved and frozen (defaults filled, aliases mapped).

    Times in s, q in 1/Angstrom, angles in degrees, gap in Angstrom. ``data``, ``nlsq`` and
    ``cmc`` are the typed settings of homodyne-data, homodyne-nlsq and homodyne-cmc (``cmc`` is
    None when the file has no CMC settings: :func:`.typed.cmc_config` then uses the defaults).
    ``fixed`` maps registry names to the value they are held at (None: at the start value).
    """

    source: str | None
    mode: str
    convention: str = "physical"
    method: str = "nlsq"
    seed: int = 0
    files: tuple[str, ...] = ()
    q: tuple[float | tuple[float, ...] | None, ...] = (None,)
    q_range: tuple[float, float] | None = None
    data: DataSelection = field(default_factory=DataSelection)
    gap: float = 2e6
    phi_bin_width: float | tuple[float, ...] | None = None
    initial: dict[str, float] | None = None
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    priors: dict[str, dict[str, Any]] = field(default_factory=dict)
    fixed: dict[str, float | None] = field(default_factory=dict)
    nlsq: NLSQConfig = field(default_factory=NLSQConfig)
    cmc: Any = None
    max_reduced_chi2: float | None = None
    plots: bool = True
    max_display: int = 300
    threads: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    lines: dict[KeyPath, int] = field(default_factory=dict, repr=False)
    sources: dict[str, str] = field(default_factory=dict, repr=False)

    # the data selection, under the names the rest of the command line uses
    phi_ranges = property(lambda self: self.data.phi_ranges)
    start_frame = property(lambda self: self.data.start_frame)
    end_frame = property(lambda self: self.data.end_frame)
    dt = property(lambda self: self.data.dt)
    q_tolerance = property(lambda self: self.data.q_tolerance)
    nan_threshold = property(lambda self: self.data.nan_threshold)
    cache_dir = property(lambda self: self.data.cache_dir)

    @property
    def joint_q(self) -> bool:
        """True when each file's rings are fitted jointly (a q list with joint_q, or q_range)."""
        return self.q_range is not None or any(isinstance(q, tuple) for q in self.q)

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

    def key_path(self, section: str, name: str) -> str | None:
        """The YAML key a setting was read from, e.g. ``('cmc', 'num_warmup')`` ->
        ``'optimization.mcmc.num_warmup'`` (None for defaults)."""
        return self.sources.get(f"{section}.{name}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe resolved configuration (for summary.json)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key in ("lines", "sources", "data", "nlsq", "cmc"):
            d.pop(key)
        d.update(dataclasses.asdict(self.data))
        d["phi_ranges"] = None if self.phi_ranges is None else [list(r) for r in self.phi_ranges]
        d["issues"] = [str(i) for i in self.issues]
        d["nlsq"] = self.nlsq.to_dict()
        d["cmc"] = None if self.cmc is None else self.cmc.to_dict()
        d["bounds"] = {k: list(v) for k, v in self.bounds.items()}
        return d


def _set(d: dict, path: KeyPath, value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(d.get(key), dict):
            d[key] = {}
        d = d[key]
    d[path[-1]] = value


def _resolve_file(name: str, config_dir: Path | None) -> str:
    p = Path(name).expanduser()
    if p.is_absolute() or p.exists() or config_dir is None:
        return str(p)
    beside = config_dir / p
    return str(beside) if beside.exists() else str(p)


def _files(run: Any, config_dir: Path | None) -> tuple[str, ...]:
    names: list[str] = []
    if run.file_paths:
        names.extend(run.file_paths)
    elif run.file_path:
        names.append(run.file_path)
    elif run.data_file_name:
        names.append(str(Path(run.data_folder_path or ".") / run.data_file_name))
    return tuple(_resolve_file(n, config_dir) for n in names)


def _phi_ranges(run: Any, rep: Reporter):
    if run.phi_filtering:
        if not run.target_ranges:
            rep.error(("phi_filtering",), "enabled but no target_ranges given")
            return None
        return tuple((r.min_angle, r.max_angle) for r in run.target_ranges)
    if run.target_ranges:
        rep.warn(
            ("phi_filtering", "enabled"),
            "target_ranges are given but enabled is false: all angles are used",
        )
    return None


def _mode(run: Any, found: Found, rep: Reporter) -> str:
    if run.mode is None:
        rep.warn(("analysis_mode",), "not given; using 'static'")
    mode = MODE_ALIASES.get(run.mode or "static", run.mode or "static")
    if run.model and MODE_ALIASES.get(run.model, run.model) != mode:
        rep.warn(
            ("parameter_space", "model"),
            f"says {run.model!r} but analysis_mode is {mode!r}; analysis_mode wins",
        )
    return mode


def _cmc(lay, found: dict[str, Found], run: Any, rep: Reporter):
    """CMCConfig when the file has CMC settings or asks for CMC; 2.x values mapped (warned)."""
    cmc = found["cmc"]
    if not cmc.values and (run is None or run.method == "nlsq"):
        return None
    cls = lay.classes["cmc"]
    for name, (value, path) in list(cmc.values.items()):
        table = cls.YAML_VALUES.get(name, {})
        if isinstance(value, str) and value in table:
            if value != "auto":
                shown = ".".join(map(str, path))
                rep.warn(path, f"2.x value {value!r} of {shown} runs as {table[value]!r}")
            cmc.values[name] = (table[value], path)
    seed = run.seed if run is not None else 0
    return build(cls, cmc, ("optimization", "cmc"), rep, seed=seed)


def _prepare(doc: LoadedYAML, overrides: list[Override], fix: dict) -> tuple:
    """Apply the command-line values; 2.x layouts that are not plain renames are resolved."""
    raw = copy.deepcopy(doc.data)
    for ov in overrides:
        _set(raw, ov.path, ov.value)
    nl = (raw.get("optimization") or {}).get("nlsq")
    if isinstance(nl, Mapping):
        raw["optimization"]["nlsq"] = NLSQConfig.yaml_section(nl)
    doc = LoadedYAML(raw, doc.lines, doc.source)
    flags = [
        Override(("--fix", n), "" if v is None else f"{n}={v:g}", "--fix") for n, v in fix.items()
    ]
    return doc, Reporter(doc, [*overrides, *flags])


def _parameters(run: Any, found: Found, rep: Reporter, fix: dict, doc: LoadedYAML) -> dict:
    """Mode, files and the model parameters (bounds, priors, start values, fixed)."""
    mode = _mode(run, found, rep)
    bounds, priors = bounds_and_priors(run, mode, rep)
    source = doc.source
    config_dir = Path(source).resolve().parent if source not in ("<string>", None) else None
    files = _files(run, config_dir)
    if not files:
        rep.error(
            ("experimental_data",),
            "no data file given: set experimental_data.file_path "
            "(or data_folder_path + data_file_name), or pass --data-file",
        )
    return {
        "mode": mode,
        "bounds": bounds,
        "priors": priors,
        "initial": initial_values(run, mode, bounds, rep),
        "fixed": fixed_parameters(run, mode, bounds, rep, fix),
        "files": files,
        "convention": run.convention,
        "method": run.method,
        "seed": run.seed,
        **_q_jobs(run, rep),
        "gap": run.gap,
        "phi_bin_width": _bin_width(run.phi_bin_width),
        "max_reduced_chi2": run.max_reduced_chi2 if run.quality_gate else None,
        "plots": run.plots,
        "max_display": run.max_display,
    }


def _bin_width(widths) -> float | tuple[float, ...] | None:
    """``analyzer_parameters.scattering.phi_bin_width``: one width, one per angle, or None."""
    if not widths:
        return None
    return float(widths[0]) if len(widths) == 1 else tuple(float(w) for w in widths)


def _q_jobs(run: Any, rep: Reporter) -> dict:
    """The q of each job of a file: one per ring, or one joint job (a tuple of rings)."""
    where = ("analyzer_parameters", "scattering")
    qs = tuple(float(q) for q in run.wavevector_q) if run.wavevector_q else ()
    if run.q_range is not None:
        lo, hi = (float(v) for v in run.q_range)
        if qs:
            rep.error((*where, "q_range"), "give wavevector_q or q_range, not both")
        if lo > hi:
            rep.error((*where, "q_range"), f"expected [min, max] with min <= max, got {[lo, hi]}")
        return {"q": (None,), "q_range": (lo, hi)}
    if run.joint_q:
        if len(qs) < 2:
            rep.error(
                (*where, "joint_q"),
                "joint_q needs at least two rings: a wavevector_q list (or --q repeated) "
                "or a q_range",
            )
            return {"q": (None,)}
        return {"q": (qs,)}
    return {"q": qs or (None,)}


def resolve(
    doc: LoadedYAML,
    overrides: list[Override] = (),
    *,
    strict: bool = False,
    fix: Mapping[str, float | None] | None = None,
) -> RunConfig:
    """Check ``doc`` (after applying ``overrides`` and ``fix``) and resolve it.

    Raises
    ------
    ConfigError
        Listing every error (key path and YAML line, or the flag), when any error is found;
        with ``strict`` warnings count as errors.
    """
    fix = dict(fix or {})
    doc, rep = _prepare(doc, list(overrides), fix)
    lay = layout()
    found = walk(doc, lay, rep.issues)
    run = build(lay.classes["run"], found["run"], (), rep)
    params = _parameters(run, found["run"], rep, fix, doc) if run is not None else {}
    phi = {"phi_ranges": _phi_ranges(run, rep)} if run is not None else {}
    data = build(lay.classes["data"], found["data"], (), rep, **phi)
    seed = run.seed if run is not None else 0
    nlsq = build(lay.classes["nlsq"], found["nlsq"], ("optimization", "nlsq"), rep, seed=seed)
    cmc = _cmc(lay, found, run, rep)
    if rep.errors:
        _raise(rep.issues, doc.source)
    if strict and (warnings := [i for i in rep.issues if i.level == "warning"]):
        _raise(warnings, doc.source, strict=True)
    return RunConfig(
        source=None if doc.source == "<string>" else doc.source,
        data=data,
        nlsq=nlsq,
        cmc=cmc,
        overrides={o.flag: o.value for o in overrides} | ({"--fix": fix} if fix else {}),
        issues=rep.issues,
        lines=dict(doc.lines),
        sources={
            f"{name}.{key}": ".".join(map(str, path))
            for name, sec in found.items()
            for key, (_v, path) in sec.values.items()
        },
        **params,
    )


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
    fix: Mapping[str, float | None] | None = None,
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
    fix
        Parameters to hold fixed (``--fix``): name -> value, or None for the start value.

    Raises
    ------
    ConfigError
        With every problem found, each naming its key path and YAML line (or its flag).
    """
    if text is not None:
        doc = parse_yaml(text)
    elif path is not None:
        doc = load_yaml(path)
    else:
        doc = LoadedYAML({}, {}, "<defaults>")
    return resolve(doc, list(overrides), strict=strict, fix=fix)
