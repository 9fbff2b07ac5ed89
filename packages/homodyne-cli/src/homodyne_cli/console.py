"""Human output: a rich console on stderr, verbosity levels, timed phases and the run log."""

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape

__all__ = ["UI", "get_ui", "plain", "set_ui"]

LOG = logging.getLogger("homodyne")
LIBRARY_LOGGERS = ("homodyne_physics", "homodyne_data", "homodyne_nlsq", "homodyne_cmc")


def plain(msg: str) -> str:
    """``msg`` without its Rich markup (``[green]ok[/green]`` -> ``ok``); text that is not
    valid markup is returned as it is."""
    if "[" not in msg:
        return msg
    from rich.errors import MarkupError
    from rich.text import Text

    try:
        return Text.from_markup(msg).plain
    except MarkupError:
        return msg


class UI:
    """What the command prints, at verbosity ``-1`` (quiet), ``0``, ``1`` (-v) or ``2`` (-vv).

    Messages go to stderr (stdout is kept for data such as tables and JSON) and to the run log
    once :meth:`attach_log` has been called.
    """

    def __init__(self, verbosity: int = 0) -> None:
        self.verbosity = verbosity
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.out = Console(highlight=False, soft_wrap=True)
        self._log_handler: logging.Handler | None = None
        self._pending: list[logging.LogRecord] = []
        self.timings: dict[str, float] = {}
        level = logging.DEBUG if verbosity >= 2 else logging.INFO
        self._console_handler = logging.StreamHandler(sys.stderr)
        self._console_handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self._console_handler.setLevel(level if verbosity >= 1 else logging.CRITICAL + 1)
        for name in LIBRARY_LOGGERS:
            lib = logging.getLogger(name)
            lib.setLevel(logging.DEBUG)
            for h in list(lib.handlers):
                if getattr(h, "_homodyne_cli", False):
                    lib.removeHandler(h)
            self._console_handler._homodyne_cli = True  # type: ignore[attr-defined]
            lib.addHandler(self._console_handler)

    # plain messages -------------------------------------------------------------------------
    def info(self, msg: str) -> None:
        """A normal progress message (hidden by -q); may hold Rich markup (not logged)."""
        self._to_log(logging.INFO, plain(msg))
        if self.verbosity >= 0:
            self.err.print(msg)

    def detail(self, msg: str) -> None:
        """Shown with -v only; always in the run log."""
        self._to_log(logging.INFO, msg)
        if self.verbosity >= 1:
            self.err.print(f"[dim]{escape(msg)}[/dim]")

    def warn(self, msg: str) -> None:
        """A warning (shown unless -q)."""
        self._to_log(logging.WARNING, msg)
        if self.verbosity >= 0:
            self.err.print(f"[yellow]warning:[/yellow] {escape(msg)}", markup=True)

    def error(self, msg: str) -> None:
        """An error (always shown)."""
        self._to_log(logging.ERROR, msg)
        self.err.print(f"[bold red]error:[/bold red] {escape(msg)}", markup=True)

    def _to_log(self, level: int, msg: str) -> None:
        record = LOG.makeRecord("homodyne", level, "", 0, msg, (), None)
        if self._log_handler:
            self._log_handler.handle(record)
        else:  # kept until a run log is attached
            self._pending.append(record)

    # phases ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator["_Phase"]:
        """Show a spinner while the block runs, then ``done <name> (1.23 s)``; time is recorded."""
        ph = _Phase(self, name)
        start = time.perf_counter()
        status = None
        if self.verbosity >= 0 and self.err.is_terminal:
            status = self.err.status(f"{name} ...")
            status.start()
        ph._status = status
        try:
            yield ph
        finally:
            if status is not None:
                status.stop()
            elapsed = time.perf_counter() - start
            self.timings[name] = self.timings.get(name, 0.0) + elapsed
        self._to_log(logging.INFO, f"{name}: {elapsed:.2f} s")
        if self.verbosity >= 0:
            self.err.print(f"[green]done[/green] {name} [dim]({elapsed:.2f} s)[/dim]")

    # run log --------------------------------------------------------------------------------
    def attach_log(self, path: Path) -> None:
        """Start writing every message (all levels) to ``path``."""
        self.detach_log()
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handler.setLevel(logging.DEBUG)
        handler._homodyne_cli = True  # type: ignore[attr-defined]
        self._log_handler = handler
        for record in self._pending:
            handler.handle(record)
        self._pending.clear()
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).addHandler(handler)

    def detach_log(self) -> None:
        """Close the run log."""
        if self._log_handler is not None:
            for name in LIBRARY_LOGGERS:
                logging.getLogger(name).removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None


class _Phase:
    def __init__(self, ui: UI, name: str) -> None:
        self.ui = ui
        self.name = name
        self._status = None

    def update(self, text: str) -> None:
        """Change the spinner text (e.g. iteration and chi^2); also logged at debug level."""
        if self._status is not None:
            self._status.update(f"{self.name}: {text}")
        elif self.ui.verbosity >= 2:
            self.ui.err.print(f"[dim]{self.name}: {text}[/dim]")
        self.ui._to_log(logging.DEBUG, f"{self.name}: {text}")

    def milestone(self, text: str) -> None:
        """A rare event worth a line of its own (a CMC shard finished): the spinner text on a
        terminal, a printed and logged line otherwise (batch-job logs keep it)."""
        if self._status is not None:
            self._status.update(f"{self.name}: {text}")
            self.ui._to_log(logging.INFO, f"{self.name}: {text}")
        else:
            self.ui.info(f"  {self.name}: {text}")


_UI = UI(0)


def get_ui() -> UI:
    """The process-wide UI."""
    return _UI


def set_ui(ui: UI) -> UI:
    """Replace the process-wide UI (done by the command callback from -v/-q)."""
    global _UI
    _UI = ui
    return ui
