"""Compiled programs kept on disk between processes: no tracing, lowering or compilation on reuse.

JAX's persistent compilation cache saves the XLA compilation, but every new process still
traces each jitted function and lowers it to StableHLO to compute the cache key; for the
fit's streamed passes that is most of the cost (about 0.1-0.35 s per program, 1-1.5 s of a
fresh 8 x 500 laminar fit). :func:`cached_jit` wraps a function like ``jax.jit`` and, while a
folder is set with :func:`set_program_cache`, keeps each compiled executable there
(``jax.experimental.serialize_executable``). A later process with the same program finds it by
a key computed from the call alone, without tracing:

* the program's name (module and qualified name, unique) and a fingerprint of the source
  files of its top-level package and of ``homodyne_physics`` (any edit makes a new key);
* the values of the static arguments (pickled), the tree structure of the others and their
  shapes, dtypes and weak types;
* the JAX and jaxlib versions, the float64 switch, the backend platform and version, the
  device kind, ``XLA_FLAGS`` and, on Linux, the CPU's instruction-set flags (an executable
  compiled for one processor must not run on another that shares the folder).

Without a folder (the library default) a wrapped function is ``jax.jit`` plus one check.
Calls made while tracing (inside another ``jit``, ``vmap`` or ``grad``) always go through
``jax.jit``. Files are written atomically, so several processes can share the folder; a file
that cannot be read, loaded or run is compiled again and replaced (a program is pure: its
first call is simply repeated). The :data:`MAX_PROGRAMS` most recently used files are kept.
Loading an executable runs code from the folder: point it only at a folder you own (the CLI
uses ``programs/`` in its JAX cache folder).
"""

import contextlib
import functools
import hashlib
import inspect
import os
import pickle
import sys
import threading
from pathlib import Path

import jax

from ._lazy import PROGRAM_NAMES
from .atomicio import atomic_write_bytes

__all__ = list(PROGRAM_NAMES)

_STATE: dict = {"folder": None}
_FINGERPRINTS: dict[str, str] = {}
_NAMES: set[str] = set()
_SUFFIX = ".jaxexe"
# most programs kept in a folder (a fit uses about a dozen, 50 kB - 0.3 MB each)
MAX_PROGRAMS = 400


def set_program_cache(folder: str | os.PathLike | None) -> Path | None:
    """Keep compiled programs in ``folder`` (created if needed); ``None`` switches it off.

    Returns the folder in use (``None`` when off or when it cannot be created)."""
    if folder is None:
        _STATE["folder"] = None
        return None
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        _STATE["folder"] = None
        return None
    _STATE["folder"] = path
    return path


def program_cache_dir() -> Path | None:
    """The folder set by :func:`set_program_cache`, or ``None``."""
    return _STATE["folder"]


def _package_fingerprint(package: str) -> str:
    """sha256 over the paths and contents of the ``.py`` files of a top-level package."""
    if package not in _FINGERPRINTS:
        h = hashlib.sha256()
        root = Path(sys.modules[package].__file__).parent
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _FINGERPRINTS[package] = h.hexdigest()
    return _FINGERPRINTS[package]


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


@functools.cache
def _environment() -> bytes:
    import jaxlib

    device = jax.devices()[0]
    parts = (
        jax.__version__,
        jaxlib.__version__,
        device.platform,
        device.device_kind,
        getattr(device.client, "platform_version", ""),
        os.environ.get("XLA_FLAGS", ""),
        _cpu_flags(),
    )
    return "\n".join(map(str, parts)).encode()


def _aval(x) -> tuple:
    a = jax.typeof(x)
    return (tuple(a.shape), str(a.dtype), bool(getattr(a, "weak_type", False)))


class CachedProgram:
    """A jitted function whose compiled programs persist (see the module docstring)."""

    def __init__(self, fun, static_argnames: tuple[str, ...] = (), name: str | None = None):
        self.name = name or f"{fun.__module__}.{fun.__qualname__}"
        if self.name in _NAMES:  # the name is the program's identity on disk
            raise ValueError(f"cached_jit: a program named {self.name!r} exists already")
        _NAMES.add(self.name)
        self._fun = fun
        self._jit = jax.jit(fun, static_argnames=static_argnames)
        names = list(inspect.signature(fun).parameters)
        self._static_names = frozenset(static_argnames)
        self._static_pos = frozenset(k for k, n in enumerate(names) if n in self._static_names)
        self._memo: dict = {}
        self._lock = threading.Lock()  # one load or compilation per key (the pass threads)
        # name, docstring and __wrapped__ only: copying fun's __dict__ (``updated``) would
        # overwrite these attributes when fun is a transform of another CachedProgram
        functools.update_wrapper(self, fun, updated=())

    def lower(self, *args, **kwargs):
        """``jax.jit(fun).lower`` (a method: ``functools.wraps`` copies instance attributes)."""
        return self._jit.lower(*args, **kwargs)

    def _split(self, args, kwargs):
        dyn = tuple(a for k, a in enumerate(args) if k not in self._static_pos)
        dyn_kw = {k: v for k, v in kwargs.items() if k not in self._static_names}
        static = tuple(a for k, a in enumerate(args) if k in self._static_pos)
        static += tuple(sorted((k, v) for k, v in kwargs.items() if k in self._static_names))
        return dyn, dyn_kw, static

    def _file(self, folder: Path, static, tree, avals) -> Path:
        h = hashlib.sha256()
        package = self._fun.__module__.split(".")[0]
        for part in (
            self.name,
            _package_fingerprint(package),
            _package_fingerprint("homodyne_physics"),
            str(bool(jax.config.jax_enable_x64)),
        ):
            h.update(part.encode() + b"\0")
        h.update(_environment())
        h.update(pickle.dumps(static, protocol=5))
        h.update(str(tree).encode())
        h.update(repr(avals).encode())
        return folder / f"{self.name.rsplit('.', 1)[-1]}-{h.hexdigest()[:40]}{_SUFFIX}"

    def _load(self, path: Path):
        """The executable stored at ``path``, or None (missing, damaged or foreign)."""
        from jax.experimental.serialize_executable import deserialize_and_load

        try:
            payload, in_tree, out_tree = pickle.loads(path.read_bytes())
            loaded = deserialize_and_load(payload, in_tree, out_tree)
            os.utime(path)  # recently used: kept by _prune
            return loaded
        except Exception:  # noqa: BLE001 - missing, damaged or foreign: compiled (again)
            return None

    def _compile(self, path: Path, args, kwargs):
        """Compile (bypassing JAX's persistent cache) and store the executable at ``path``."""
        from jax.experimental.serialize_executable import serialize

        lowered = self._jit.lower(*args, **kwargs)
        # An executable that JAX loaded from its own cache serialises without some of its
        # functions on CPU (a later load fails with "Function wrapped_log not found"), so
        # the program is compiled here from its StableHLO.
        with _without_jax_cache():
            compiled = lowered.compile()
        try:
            atomic_write_bytes(path, pickle.dumps(serialize(compiled), protocol=5))
            _prune(path.parent)
        except Exception:  # noqa: BLE001 - no space, read-only folder, unserialisable: run on
            pass
        return compiled

    def __call__(self, *args, **kwargs):
        folder = _STATE["folder"]
        if folder is None:
            return self._jit(*args, **kwargs)
        dyn, dyn_kw, static = self._split(args, kwargs)
        leaves, tree = jax.tree_util.tree_flatten((dyn, dyn_kw))
        if any(isinstance(x, jax.core.Tracer) for x in leaves):
            return self._jit(*args, **kwargs)
        avals = tuple(map(_aval, leaves))
        key = (folder, static, tree, avals)
        compiled = self._memo.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._memo.get(key)  # another thread may have got it meanwhile
                if compiled is None:
                    return self._first_call(folder, key, args, kwargs, dyn, dyn_kw)
        return compiled(*dyn, **dyn_kw)

    def _first_call(self, folder: Path, key, args, kwargs, dyn, dyn_kw):
        """Load (or compile and store) the program of ``key``, run it, remember it."""
        _, static, tree, avals = key
        path = self._file(folder, static, tree, avals)
        loaded = self._load(path)
        if loaded is not None:
            try:  # the first run of a loaded program (waited for: errors come on completion)
                out = jax.block_until_ready(loaded(*dyn, **dyn_kw))
                self._memo[key] = loaded
                return out
            except jax.errors.JaxRuntimeError:
                pass
        compiled = self._compile(path, args, kwargs)
        self._memo[key] = compiled
        return compiled(*dyn, **dyn_kw)


def _prune(folder: Path) -> None:
    """Keep the :data:`MAX_PROGRAMS` most recently used programs (an upgrade or an edit of the
    sources leaves the old ones unused)."""
    files = list(folder.glob(f"*{_SUFFIX}"))
    if len(files) <= MAX_PROGRAMS:
        return
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[MAX_PROGRAMS:]:
        old.unlink(missing_ok=True)


def _without_jax_cache():
    """Context in which ``compile()`` neither reads nor writes JAX's persistent cache."""
    try:
        from jax._src import config as jax_config

        return jax_config.enable_compilation_cache(False)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - other JAX versions
        return contextlib.nullcontext()


def cached_jit(fun=None, *, static_argnames: tuple[str, ...] = (), name: str | None = None):
    """``jax.jit`` whose compiled programs persist in :func:`program_cache_dir`.

    Use as ``@cached_jit`` or ``@cached_jit(static_argnames=(...))``. ``name`` (default
    ``module.qualname`` of ``fun``) identifies the program on disk and must be unique: give
    one to a transformed function (``cached_jit(jax.jacfwd(f), name=...)``), which carries
    the name of ``f``."""
    if fun is None:
        return functools.partial(cached_jit, static_argnames=tuple(static_argnames), name=name)
    return CachedProgram(fun, tuple(static_argnames), name)
