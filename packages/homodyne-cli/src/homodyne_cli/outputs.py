"""Writing results: atomic files, NaN-safe JSON, run folders that never clobber a previous run.

Every file is written to a temporary name in its final folder and moved into place with
``os.replace``, so a crash never leaves a half-written result behind.
"""

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from homodyne_physics import atomic_write_bytes, json_safe

from .errors import OutputError

__all__ = [
    "PACKAGES",
    "RESULT_ENTRIES",
    "atomic_write_bytes",
    "atomic_write_csv",
    "atomic_write_json",
    "atomic_write_npz",
    "atomic_write_text",
    "file_sha256",
    "has_previous_run",
    "default_shard_cache",
    "json_safe",
    "OutputPlan",
    "plan_output_dir",
    "prepare_output_dir",
    "utc_now",
    "versions",
]

PACKAGES = ("homodyne-physics", "homodyne-data", "homodyne-nlsq", "homodyne-cmc", "homodyne-cli")
RESULT_ENTRIES = ("summary.json", "nlsq", "cmc", "plots", "homodyne.log", "summary.csv")


def default_shard_cache() -> Path:
    """Where CMC keeps finished shards between runs: ``$XDG_CACHE_HOME/homodyne/cmc-shards``.

    Entries are keyed by a hash of the data, the shard and every sampler setting, so a rerun
    of an interrupted command resumes and nothing stale can be picked up.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "homodyne" / "cmc-shards"


def utc_now() -> str:
    """Current time, ISO 8601 UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``json_safe(obj)`` as indented, strictly valid JSON (no NaN tokens)."""
    text = json.dumps(json_safe(obj), indent=2, allow_nan=False, sort_keys=False)
    return atomic_write_text(path, text + "\n")


def atomic_write_npz(path: str | Path, /, compress: bool = True, **arrays: Any) -> Path:
    """Write an ``.npz`` atomically (plain arrays only: loads without pickle).

    ``compress=False`` stores the arrays as they are: for matrices of noisy float32 values
    zlib saves about a quarter of the size at the price of the slowest step of writing the
    results, so the large result files use it. The archive is written straight to its
    temporary file (no copy in memory).
    """
    from homodyne_physics import atomic_path

    save = np.savez_compressed if compress else np.savez
    with atomic_path(path) as tmp:
        save(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
    return Path(path)


def atomic_write_csv(path: str | Path, header: list[str], rows: Iterable[list[Any]]) -> Path:
    """Write a CSV table atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return atomic_write_text(path, buf.getvalue())


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def versions() -> dict[str, str | None]:
    """Installed versions of the five homodyne packages and the main numerical libraries."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in PACKAGES + ("jax", "jaxlib", "numpy", "h5py", "matplotlib", "numpyro"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def has_previous_run(folder: Path) -> bool:
    """True when ``folder`` holds results of an earlier run."""
    return folder.is_dir() and any((folder / e).exists() for e in RESULT_ENTRIES)


def _nearest_existing(folder: Path) -> Path:
    p = folder.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_writable(folder: Path) -> None:
    """Refuse early (before any work) when ``folder`` could not be created or written."""
    base = _nearest_existing(folder)
    if not base.is_dir():
        raise OutputError(f"output folder {folder} cannot be created: {base} is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        what = (
            "is not writable"
            if base == folder.absolute()
            else f"cannot be created ({base} is not writable)"
        )
        raise OutputError(f"output folder {folder} {what}")


class OutputPlan:
    """Where a run will write, decided before any work and created only when needed.

    Attributes
    ----------
    folder
        The folder results go to (a new ``-runN`` sibling when the requested one holds results).
    note
        A sentence for the user ('' when nothing special happens).
    """

    def __init__(self, folder: Path, note: str, replace: bool) -> None:
        self.folder = folder
        self.note = note
        self._replace = replace
        self.created = False

    def create(self) -> Path:
        """Create the folder (removing the previous results first with --overwrite)."""
        if self.created:
            return self.folder
        if self._replace:
            for entry in RESULT_ENTRIES:
                p = self.folder / entry
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".homodyne-write-test.", dir=self.folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OutputError(f"output folder {self.folder} is not writable: {reason}") from None
        self.created = True
        return self.folder


def plan_output_dir(requested: str | Path, *, overwrite: bool = False) -> OutputPlan:
    """Decide the folder a run writes into, without creating anything yet.

    A folder that already holds results is never overwritten silently: with ``overwrite`` its
    previous result entries are removed when the run starts writing; otherwise the run goes to
    a new sibling folder ``<name>-run2``, ``<name>-run3``, ... and the previous one is left
    untouched.

    Raises
    ------
    OutputError
        When the folder could not be created or written.
    """
    folder = Path(requested).expanduser()
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"output path {folder} exists and is not a folder")
    note, replace = "", False
    if has_previous_run(folder):
        if overwrite:
            replace = True
            note = f"--overwrite: replacing the previous results in {folder}"
        else:
            k = 2
            while (candidate := folder.with_name(f"{folder.name}-run{k}")).exists():
                k += 1
            note = (
                f"{folder} already holds results; writing this run to {candidate} "
                "(use --overwrite to replace them)"
            )
            folder = candidate
    _check_writable(folder)
    return OutputPlan(folder, note, replace)


def prepare_output_dir(requested: str | Path, *, overwrite: bool = False) -> tuple[Path, str]:
    """:func:`plan_output_dir` and create the folder at once; returns ``(folder, note)``."""
    plan = plan_output_dir(requested, overwrite=overwrite)
    return plan.create(), plan.note
