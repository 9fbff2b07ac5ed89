"""Where every setting sits in the YAML file (homodyne 2.x layout plus a few keys of ours).

The settings themselves are declared once, by the package that uses them: ``DataSelection``
(homodyne-data), ``NLSQConfig`` (homodyne-nlsq), ``CMCConfig`` (homodyne-cmc) and, for what
only the command line uses, :class:`RunSettings` here. Each declares ``YAML_KEYS`` (YAML path ->
field, 2.x spellings included), ``YAML_LEGACY`` (2.x keys accepted but not implemented) and
``YAML_INFO`` (descriptive keys). This module joins those tables into one :data:`Layout` and
walks a document against it: unknown keys and unimplemented 2.x keys become warnings with their
line, the values found are handed to each section with the YAML path they came from.

Our additions to the 2.x layout (all optional): top-level ``convention`` and ``seed``;
``experimental_data.file_paths`` (several files), ``q_tolerance``, ``nan_threshold``;
``analyzer_parameters.scattering.wavevector_q`` may be a list (several q rings); every field of
``NLSQConfig`` under ``optimization.nlsq`` and of ``CMCConfig`` under ``optimization.cmc``;
``optimization.cmc.priors`` (name -> prior: read here and put into the model spec with the
priors of the ``parameter_space.bounds`` entries); ``plots.{enabled, max_display}``.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic.dataclasses import dataclass as settings

from homodyne_data.settings import (
    Flag,
    Integer,
    Number,
    PositiveNumber,
    kind_of,
    settings_config,
    suggest,
)
from homodyne_physics import ALIASES, MODE_ALIASES, MODES, PARAMETERS, PRIOR_FAMILIES
from homodyne_physics.spec import CONVENTIONS

from .yamlio import KeyPath, LoadedYAML, format_path

__all__ = ["METHODS", "ConfigIssue", "Layout", "RunSettings", "layout", "walk"]

METHODS = ("nlsq", "cmc", "both")
MODE_NAMES = tuple(MODES) + tuple(MODE_ALIASES)
PARAM_NAMES = tuple(PARAMETERS) + tuple(ALIASES)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration.

    Attributes
    ----------
    level
        ``'error'`` (the run is refused) or ``'warning'`` (reported, run continues).
    path
        Key path, e.g. ``('optimization', 'nlsq', 'max_iterations')``.
    line
        1-based line in the YAML file (None for defaults and command-line values).
    message
        What is wrong and what was expected.
    source
        The file name, used in messages.
    flag
        The command-line value the problem is about (``'--end-frame -5'``), if any: the message
        then names the flag instead of a YAML line.
    """

    level: str
    path: KeyPath
    line: int | None
    message: str
    source: str = "<config>"
    flag: str | None = None

    def __str__(self) -> str:
        if self.flag:
            return f"{self.flag}: {self.message}"
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {format_path(self.path)}: {self.message}"


def _as_list(value: Any) -> Any:
    return (
        [value] if isinstance(value, int | float | str) and not isinstance(value, bool) else value
    )


@settings(frozen=True, config=settings_config())
class AngleRange:
    """One ``phi_filtering.target_ranges`` entry, degrees (``min > max`` wraps through 180)."""

    min_angle: Number = Field(description="lower angle, degrees")
    max_angle: Number = Field(description="upper angle, degrees")
    description: Any = Field(None, description="free text")
    name: Any = Field(None, description="free text")


@settings(frozen=True, config=settings_config())
class BoundEntry:
    """One ``parameter_space.bounds`` entry: a parameter's range and, optionally, its prior."""

    name: Literal[PARAM_NAMES] = Field(description="parameter (registry name or alias)")
    min: Number = Field(description="lower bound, in the parameter's unit")
    max: Number = Field(description="upper bound, in the parameter's unit")
    type: Literal[PRIOR_FAMILIES] | None = Field(None, description="prior family (CMC)")
    prior_mu: Number | None = Field(None, description="prior centre; null = mid-range")
    prior_sigma: Number | None = Field(None, gt=0, description="prior width; null = range/4")
    unit: Any = Field(None, description="free text")
    description: Any = Field(None, description="free text")


@settings(frozen=True, config=settings_config())
class PriorEntry:
    """One ``optimization.cmc.priors`` entry (name -> prior); it goes to the model spec."""

    family: Literal[PRIOR_FAMILIES] | None = Field(None, description="null = TruncatedNormal")
    mean: Number | None = Field(None, description="null = registry, or mid-range with min/max")
    sd: Number | None = Field(None, gt=0, description="null = registry, or range/4 with min/max")
    min: Number | None = Field(None, description="lower end; null = registry")
    max: Number | None = Field(None, description="upper end; null = registry")
    low: Number | None = Field(None, description="same as min")
    high: Number | None = Field(None, description="same as max")


_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
Positives = Annotated[
    tuple[PositiveNumber, ...] | None,
    BeforeValidator(_as_list),
    WithJsonSchema({"anyOf": [_POSITIVE, {"type": "array", "items": _POSITIVE}, {"type": "null"}]}),
]

_WIDTH = {"type": "number", "minimum": 0, "exclusiveMaximum": 180}
BinWidths = Annotated[
    tuple[Annotated[Number, Field(ge=0, lt=180)], ...] | None,
    BeforeValidator(_as_list),
    WithJsonSchema({"anyOf": [_WIDTH, {"type": "array", "items": _WIDTH}, {"type": "null"}]}),
]


@settings(frozen=True, config=settings_config())
class RunSettings:
    """What only the command line reads: mode, method, files, q rings, parameters, plots."""

    mode: Literal[MODE_NAMES] | None = Field(None, description="static or laminar_flow")
    model: Literal[MODE_NAMES] | None = Field(None, description="2.x copy of analysis_mode")
    convention: Literal[CONVENTIONS] = Field(
        "physical", description="physical, or homodyne2 to reproduce homodyne 2.x numbers"
    )
    seed: Integer = Field(0, description="random seed of the run")
    method: Literal[METHODS] = Field("nlsq", description="nlsq, cmc or both")
    gap: Number = Field(2e6, gt=0, description="stator-rotor gap, Angstrom")
    wavevector_q: Positives = Field(None, description="q ring(s), 1/Angstrom; null = the only")
    joint_q: Flag = Field(False, description="fit the wavevector_q rings jointly (one dataset)")
    q_range: tuple[PositiveNumber, PositiveNumber] | None = Field(
        None, description="[min, max] 1/Angstrom: fit every ring inside jointly"
    )
    phi_bin_width: BinWidths = Field(
        None, description="angular bin width, degrees (one, or one per angle); null/0 = centre"
    )
    file_path: str | None = Field(None, description="data file")
    file_paths: tuple[str, ...] | None = Field(None, description="several data files")
    data_folder_path: str | None = Field(None, description="2.x: folder of data_file_name")
    data_file_name: str | None = Field(None, description="2.x: file name in data_folder_path")
    phi_filtering: Flag = Field(False, description="keep only the target_ranges angles")
    target_ranges: tuple[AngleRange, ...] | None = Field(None, description="angle ranges")
    parameter_names: tuple[str, ...] | None = Field(None, description="names of values")
    values: tuple[Number, ...] | None = Field(None, description="start values; null = defaults")
    active_parameters: tuple[str, ...] | None = Field(
        None, description="fitted parameters; the others are fixed at their start values"
    )
    fixed_parameters: tuple[str, ...] | dict[str, Number] | None = Field(
        None, description="fixed parameters: names (at start value) or name -> value"
    )
    bounds: tuple[BoundEntry, ...] | None = Field(None, description="ranges and priors")
    cmc_priors: dict[str, PriorEntry] | None = Field(
        None, description="optimization.cmc.priors: name -> prior, for the model spec"
    )
    quality_gate: Flag = Field(False, description="refuse fits above the chi2 threshold")
    max_reduced_chi2: Number | None = Field(None, gt=0, description="reduced chi^2 threshold")
    plots: Flag = Field(True, description="make plots")
    max_display: Integer = Field(300, ge=1, description="largest matrix side plotted")

    YAML_KEYS: ClassVar[dict[str, str]] = {
        "analysis_mode": "mode",
        "parameter_space.model": "model",
        "convention": "convention",
        "seed": "seed",
        "optimization.method": "method",
        "analyzer_parameters.geometry.stator_rotor_gap": "gap",
        "analyzer_parameters.scattering.wavevector_q": "wavevector_q",
        "analyzer_parameters.scattering.joint_q": "joint_q",
        "analyzer_parameters.scattering.q_range": "q_range",
        "analyzer_parameters.scattering.phi_bin_width": "phi_bin_width",
        **{f"experimental_data.{k}": k for k in ("file_path", "file_paths", "data_folder_path")},
        "experimental_data.data_file_name": "data_file_name",
        "phi_filtering.enabled": "phi_filtering",
        "phi_filtering.target_ranges": "target_ranges",
        **{f"initial_parameters.{k}": k for k in ("parameter_names", "values")},
        **{f"initial_parameters.{k}": k for k in ("active_parameters", "fixed_parameters")},
        "parameter_space.bounds": "bounds",
        "optimization.cmc.priors": "cmc_priors",
        "optimization.nlsq.quality_validation.enable": "quality_gate",
        "optimization.nlsq.quality_validation.reduced_chi_squared_threshold": "max_reduced_chi2",
        "plots.enabled": "plots",
        "plots.max_display": "max_display",
    }
    YAML_LEGACY: ClassVar[dict[str, str]] = {
        "initial_parameters.per_angle_scaling": "'per_angle_scaling' start values are estimated "
        "from the data in homodyne 3; ignored",
        "parameter_space.priors": "'parameter_space.priors' (set priors on the bounds entries "
        "with type/prior_mu/prior_sigma); ignored",
        "logging": "'logging' (use -v/-q; every run writes homodyne.log); ignored",
        "plotting": "'plotting' (plots are always made; use plots.enabled); ignored",
        "output": "'output' (use --output-dir); ignored",
        "q_tolerance_fraction": "'q_tolerance_fraction' (use experimental_data.q_tolerance); "
        "ignored",
        **dict.fromkeys(
            ["analysis_settings", "noise_estimation", "performance", "quality_control"]
            + ["validation", "data_filtering", "v2_features", "preprocessing"]
            + [f"optimization.{k}" for k in ("lsq", "streaming", "stratification")]
            + [f"optimization.{k}" for k in ("sequential", "recovery")],
            "",
        ),
    }
    YAML_INFO: ClassVar[tuple[str, ...]] = (
        "config_version",
        "metadata",
        "initial_parameters.units",
        "optimization.nlsq.quality_validation.*",
    )


@dataclass(frozen=True)
class Entry:
    """One YAML path of the layout: a field of a section, a 2.x leftover or a descriptive key."""

    kind: str  # 'field', 'legacy' or 'info'
    section: str = ""
    field: str = ""
    why: str = ""


@dataclass
class Layout:
    """Every known YAML path (dotted, from the top of the file) and the sections' classes."""

    entries: dict[str, Entry]
    classes: dict[str, Any]
    roots: dict[str, str]

    def children(self, parent: str) -> list[str]:
        """Known keys directly under ``parent`` (for did-you-mean suggestions)."""
        depth = parent.count(".") + 1 if parent else 0
        out = set()
        for path in self.entries:
            if parent and not path.startswith(parent + "."):
                continue
            part = path.split(".")[depth] if len(path.split(".")) > depth else None
            if part and part != "*":
                out.add(part)
        return sorted(out)

    def is_section(self, path: str) -> bool:
        return any(p.startswith(path + ".") for p in self.entries)


def _absolute(root: str, key: str) -> str:
    if key.startswith("/"):
        return key[1:]
    return f"{root}.{key}" if root else key


def layout() -> Layout:
    """The layout of a configuration file, joined from the sections' own tables."""
    from homodyne_cmc.config import CMCConfig
    from homodyne_data import DataSelection
    from homodyne_nlsq import NLSQConfig

    classes = {"run": RunSettings, "data": DataSelection, "nlsq": NLSQConfig, "cmc": CMCConfig}
    roots = {"run": "", "data": "", "nlsq": "optimization.nlsq", "cmc": "optimization.cmc"}
    entries: dict[str, Entry] = {}
    for section, cls in classes.items():
        root = roots[section]
        for key, name in cls.YAML_KEYS.items():
            entries.setdefault(_absolute(root, key), Entry("field", section, name))
        if root:  # the section's own field names are accepted as they are
            for f in dataclasses.fields(cls):
                entries.setdefault(f"{root}.{f.name}", Entry("field", section, f.name))
        for key, why in getattr(cls, "YAML_LEGACY", {}).items():
            entries.setdefault(_absolute(root, key), Entry("legacy", why=why))
        for key in getattr(cls, "YAML_INFO", ()):
            entries.setdefault(_absolute(root, key), Entry("info"))
    return Layout(entries, classes, roots)


@dataclass
class Found:
    """The values of one section found in a document: field -> (value, YAML path)."""

    values: dict[str, tuple[Any, KeyPath]] = dataclasses.field(default_factory=dict)


def walk(doc: LoadedYAML, lay: Layout, issues: list[ConfigIssue]) -> dict[str, Found]:
    """Sort a document's keys into the sections; warn about unknown and 2.x-only keys.

    For a field given under several keys (a 2.x spelling and ours), the key listed first in the
    section's ``YAML_KEYS`` wins; the section's own name for it wins over every 2.x spelling.
    """
    found = {name: Found() for name in lay.classes}
    candidates: dict[tuple[str, str], list[tuple[int, Any, KeyPath]]] = {}
    order = {p: n for n, p in enumerate(lay.entries)}

    def note(level: str, path: KeyPath, msg: str) -> None:
        issues.append(ConfigIssue(level, path, doc.line(path), msg, doc.source))

    def visit(value: Any, path: KeyPath) -> None:
        dotted = ".".join(str(p) for p in path)
        entry = lay.entries.get(dotted)
        if entry is None and path:
            entry = lay.entries.get(".".join([*map(str, path[:-1]), "*"]))
        if entry is not None and entry.kind == "field":
            if isinstance(value, Mapping) and lay.is_section(dotted):
                entry = None  # e.g. 2.x 'cmaes: {enable: ...}' where ours is 'cmaes: true'
        if entry is not None and entry.kind == "field":
            own = lay.roots[entry.section] and dotted == f"{lay.roots[entry.section]}.{entry.field}"
            rank = order.get(dotted, 0) - (10_000 if own else 0)
            candidates.setdefault((entry.section, entry.field), []).append((rank, value, path))
            return
        if entry is not None:
            if entry.kind == "legacy":
                why = entry.why or "not implemented in homodyne 3; ignored"
                note("warning", path, f"homodyne 2.x key {why}")
            return
        if not path or lay.is_section(dotted):
            if value is None:
                return
            if not isinstance(value, Mapping):
                note("error", path, f"expected a mapping of keys, got {kind_of(value)} {value!r}")
                return
            for key, sub in value.items():
                visit(sub, (*path, str(key)))
            return
        parent = ".".join(str(p) for p in path[:-1])
        hint = suggest(str(path[-1]), lay.children(parent))
        note("warning", path, f"unknown key {path[-1]!r}, ignored{hint}")

    visit(doc.data, ())
    for (section, field), options in candidates.items():
        _rank, value, path = min(options, key=lambda o: o[0])
        found[section].values[field] = (value, path)
    return found
