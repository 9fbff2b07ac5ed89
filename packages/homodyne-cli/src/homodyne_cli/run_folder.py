"""The result folder of one ``homodyne run``: staged, locked, swapped into place only at the end.

A run never writes into its final folder. It writes into a hidden sibling
``.<name>.partial-<stamp>`` and, when it has finished, the new entries are moved into
``<name>`` (a plain rename when ``<name>`` does not exist; otherwise the previous entries are
first moved aside to ``.<name>.previous-<stamp>`` and deleted only once every new entry is in
place). So ``--overwrite`` never loses the previous results to a crash, a Ctrl-C or a failed
fit.

A run that fails or is interrupted after its data loaded leaves ``<name>.failed-<stamp>``
holding its log (which ends with the outcome) and a ``summary.json`` with its status; the
requested folder is untouched and the next run is not diverted to ``-run2`` by it.

A lock file ``.<name>.lock`` next to the folder (``fcntl.flock``; released by the kernel even
when the process is killed) refuses a second run into the same folder while the first one is
still going. Staging folders left by a killed run are renamed ``<name>.failed-<stamp>`` by
the next run into that folder, which also ends their log with ``outcome: killed``.
"""

import contextlib
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import OutputError
from .outputs import RESULT_ENTRIES, _check_writable, has_previous_run

__all__ = ["RunFolder", "swap_into_place"]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"


def _alive(stamp: str) -> bool:
    """Whether the process that made a ``<time>-<pid>`` stamp still runs."""
    try:
        pid = int(stamp.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class _Lock:
    """An exclusive, non-blocking lock on ``path`` (fcntl where available, else O_EXCL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, what: Path) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            fcntl = None
        while True:
            flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if fcntl is None else 0)
            try:
                fd = os.open(self.path, flags, 0o644)
            except FileExistsError:  # pragma: no cover - not POSIX
                raise self._busy(what) from None
            except OSError as exc:
                raise OutputError(
                    f"output folder {what}: cannot create the lock file {self.path}: "
                    f"{exc.strerror or exc}"
                ) from None
            if fcntl is None:  # pragma: no cover
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._busy(what) from None
            try:  # the holder before us may have unlinked the file: lock the current one
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _busy(self, what: Path) -> OutputError:
        holder = ""
        with contextlib.suppress(OSError, ValueError):
            holder = f" (pid {int(self.path.read_text().split()[0])})"
        return OutputError(
            f"output folder {what} is in use by another homodyne run{holder}; wait for it to "
            f"finish or choose another --output-dir (lock file {self.path})"
        )

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def swap_into_place(staging: Path, target: Path, stamp: str) -> None:
    """Move every entry of ``staging`` into ``target``; previous entries are kept aside until
    all new ones are in place, and put back if a move fails."""
    if not target.exists():
        os.rename(staging, target)
        return
    backup = target.parent / f".{target.name}.previous-{stamp}"
    backup.mkdir()
    new = sorted(p.name for p in staging.iterdir())
    aside: list[str] = []
    placed: list[str] = []
    try:
        for name in sorted(set(RESULT_ENTRIES) | set(new)):
            if os.path.lexists(target / name):
                os.rename(target / name, backup / name)
                aside.append(name)
        for name in new:
            os.rename(staging / name, target / name)
            placed.append(name)
    except OSError as exc:
        for name in placed:
            with contextlib.suppress(OSError):
                os.rename(target / name, staging / name)
        for name in aside:
            with contextlib.suppress(OSError):
                os.rename(backup / name, target / name)
        with contextlib.suppress(OSError):
            backup.rmdir()
        raise OutputError(
            f"could not move the new results into {target}: {exc.strerror or exc}; the previous "
            f"results are unchanged and the new ones are in {staging}"
        ) from None
    shutil.rmtree(backup, ignore_errors=True)
    staging.rmdir()


def _end_log_of_killed_run(log: Path) -> None:
    """Append the outcome a killed run could not write to its log (when it has one)."""
    if not log.is_file():
        return
    when = datetime.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
    line = "outcome: killed (the run ended without recording an outcome; found by a later run)"
    with contextlib.suppress(OSError), open(log, "a+b") as fh:
        fh.seek(max(0, fh.seek(0, os.SEEK_END) - 1))
        cut = fh.read(1) not in (b"", b"\n")  # killed in the middle of a line
        fh.write((("\n" if cut else "") + f"{when} ERROR {line}\n").encode())


class RunFolder:
    """Where one run writes: planned (and locked) before any work, created after the load.

    Attributes
    ----------
    requested
        The folder the user asked for.
    target
        Where the results go at the end (``requested`` or a new ``-runN`` sibling).
    staging
        The hidden sibling the run writes into.
    note
        A sentence for the user ('' when nothing special happens).
    recovered
        Sentences about staging folders of killed runs that were renamed ``*.failed-*``.
    """

    def __init__(self, requested: str | Path, *, overwrite: bool = False) -> None:
        folder = Path(requested).expanduser()
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"output path {folder} exists and is not a folder")
        _check_writable(folder)
        self.requested = folder
        self.stamp = _stamp()
        self._lock = _Lock(folder.parent / f".{folder.name}.lock")
        if folder.parent.is_dir():
            self._lock.acquire(folder)
        self.recovered = self._recover_killed_runs()
        self.note = ""
        target = folder
        if has_previous_run(folder):
            if overwrite:
                self.note = (
                    f"--overwrite: the results in {folder} will be replaced when this run "
                    "has finished (they are kept if it fails)"
                )
            else:
                k = 2
                while (target := folder.with_name(f"{folder.name}-run{k}")).exists():
                    k += 1
                self.note = (
                    f"{folder} already holds results; writing this run to {target} "
                    "(use --overwrite to replace them)"
                )
        self.target = target
        self.staging = target.parent / f".{target.name}.partial-{self.stamp}"
        self.created = False
        self.failed_folder: Path | None = None
        self.current_job: Any = None

    def _recover_killed_runs(self) -> list[str]:
        parent, name = self.requested.parent, self.requested.name
        notes: list[str] = []
        if not parent.is_dir():
            return notes
        for pattern, what in ((".partial-", "was killed"), (".previous-", "was killed while")):
            for old in sorted(parent.glob(f".{name}*{pattern}*")):
                base, _, stamp = old.name[1:].partition(pattern)
                if (base != name and not base.startswith(f"{name}-run")) or _alive(stamp):
                    continue
                kind = "previous" if pattern == ".previous-" else "failed"
                dest = parent / f"{base}.{kind}-{stamp}"
                with contextlib.suppress(OSError):
                    os.rename(old, dest)
                    if kind == "failed":
                        _end_log_of_killed_run(dest / "homodyne.log")
                    notes.append(
                        f"an earlier run into {parent / base} {what}"
                        + (" moving its results into place" if pattern == ".previous-" else "")
                        + f"; its files are in {dest}"
                    )
        return notes

    def create(self) -> Path:
        """Create the staging folder (after the data loaded) and check that it is writable."""
        if self.created:
            return self.staging
        try:
            self.staging.mkdir(parents=True)
            fd, probe = tempfile.mkstemp(prefix=".homodyne-write-test.", dir=self.staging)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            with contextlib.suppress(OSError):
                self.staging.rmdir()
            reason = exc.strerror or str(exc)
            raise OutputError(f"output folder {self.target} is not writable: {reason}") from None
        self.created = True
        return self.staging

    def commit(self) -> Path:
        """Put the finished results in place; returns the final folder."""
        if self.created:
            swap_into_place(self.staging, self.target, self.stamp)
        return self.target

    def fail(self) -> Path | None:
        """Name the staging folder of a failed run ``<target>.failed-<stamp>`` (removed when it
        holds nothing at all); returns that folder or None."""
        if not self.created or not self.staging.exists():
            return None
        if not any(self.staging.iterdir()):
            self.staging.rmdir()
            return None
        dest = self.target.with_name(f"{self.target.name}.failed-{self.stamp}")
        os.rename(self.staging, dest)
        self.failed_folder = dest
        return dest

    def release(self) -> None:
        """Give up the lock (the kernel does it too when the process dies)."""
        self._lock.release()
