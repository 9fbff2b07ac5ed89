"""Optional on-disk cache of selected data (.npz, never pickled).

The cache key is a SHA-256 over the data file's identity (resolved path, size, mtime in ns),
every selection parameter, the cache format and the package version, so a cache can never be
used for another file, another selection or after the file changed. A cache file that cannot be
read, is not ours, or holds another key is ignored (and rebuilt by the caller) with a log line.
Writes are atomic (temporary file + ``os.replace``).
"""

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from homodyne_physics import atomic_path

from .dataset import Provenance, XPCSData

__all__ = ["CACHE_FORMAT", "cache_key", "cache_path", "read_cache", "write_cache"]

log = logging.getLogger("homodyne_data.cache")

CACHE_FORMAT = 1
_FIELDS = ("c2", "phi", "frames", "q", "dt", "key", "metadata_json", "provenance_json")


def _version() -> str:
    from . import __version__

    return __version__


def cache_key(file: str, selection: dict[str, Any]) -> str:
    """Hex SHA-256 of the file identity and the selection (JSON, sorted keys)."""
    real = os.path.realpath(file)
    st = os.stat(real)
    ident = {
        "format": CACHE_FORMAT,
        "version": _version(),
        "path": real,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "selection": selection,
    }
    blob = json.dumps(ident, sort_keys=True, default=_default).encode()
    return hashlib.sha256(blob).hexdigest()


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple | set):
        return list(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def cache_path(cache_dir: str, file: str, key: str) -> Path:
    """Where the cache of ``file`` with ``key`` lives."""
    stem = Path(file).name.replace(".", "_")
    return Path(cache_dir) / f"{stem}.{key[:20]}.homodyne-cache.npz"


def read_cache(path: Path, key: str) -> XPCSData | None:
    """The cached data at ``path`` if it is intact and has ``key``; ``None`` (logged) otherwise."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _FIELDS if k not in z.files]
            if missing:
                raise ValueError(f"missing arrays {missing}")
            stored = str(z["key"])
            if stored != key:
                raise ValueError("key mismatch (another file, selection or package version)")
            meta = json.loads(str(z["metadata_json"]))
            prov = json.loads(str(z["provenance_json"]))
            data = XPCSData(
                c2=np.asarray(z["c2"], dtype=np.float64),
                phi=np.array(z["phi"]),
                q=float(z["q"]),
                dt=float(z["dt"]),
                frames=np.array(z["frames"]),
                metadata=meta,
                provenance=Provenance(
                    file=prov["file"],
                    layout=prov["layout"],
                    selection=prov["selection"],
                    q_available=tuple(prov["q_available"]),
                    notes=tuple(prov["notes"]) + (f"read from cache {path}",),
                    warnings=tuple(prov.get("warnings", ())),
                ),
            )
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("ignoring cache %s (%s); rebuilding it from the data file", path, exc)
        return None
    log.info("using cache %s", path)
    return data


def write_cache(path: Path, key: str, data: XPCSData) -> None:
    """Store ``data`` under ``key`` atomically; failures are logged, never raised."""
    prov = data.provenance
    payload = {
        "c2": data.c2,
        "phi": data.phi,
        "frames": data.frames,
        "q": np.float64(data.q),
        "dt": np.float64(data.dt),
        "key": np.str_(key),
        "metadata_json": np.str_(json.dumps(dict(data.metadata), default=_default)),
        "provenance_json": np.str_(
            json.dumps(
                {
                    "file": prov.file,
                    "layout": prov.layout,
                    "selection": dict(prov.selection),
                    "q_available": list(prov.q_available),
                    "notes": list(prov.notes),
                    "warnings": list(prov.warnings),
                },
                default=_default,
            )
        ),
    }
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **payload)
        log.info("wrote cache %s", path)
    except (OSError, TypeError, ValueError) as exc:
        log.warning("could not write cache %s: %s", path, exc)
