"""Memory estimates made before allocating, so that a too-large request is refused with the
estimate and the limit instead of aborting inside XLA with a C++ stack.

The limit is 80% of the memory available now (``MemAvailable`` of ``/proc/meminfo``; the
physical memory elsewhere), or ``HOMODYNE_MEMORY_LIMIT_GB`` when set.
"""

import os

from .errors import EXIT_USAGE, CLIError

__all__ = [
    "MemoryLimitError",
    "SIMULATE_COPIES",
    "RUN_MODEL_COPIES",
    "check_memory",
    "check_model_memory",
    "c2_bytes",
    "memory_limit",
]

#: simulate: kernel temporaries, the noiseless and the noisy matrices, the file buffer
SIMULATE_COPIES = 5
#: run, after the load: model matrices (float64), residuals and float32 copies for
#: fitted_data.npz, plot buffers
RUN_MODEL_COPIES = 4
_FRACTION = 0.8


class MemoryLimitError(CLIError):
    """A request would need more memory than this machine can give."""

    exit_code = EXIT_USAGE


def c2_bytes(n_phi: int, n_t: int, copies: int = 1) -> int:
    """Bytes of ``copies`` float64 matrices of shape ``(n_phi, n_t, n_t)``."""
    return int(copies) * int(n_phi) * int(n_t) ** 2 * 8


def _available() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic system
        return 1 << 62


def memory_limit() -> tuple[int, str]:
    """The limit in bytes and where it comes from."""
    env = os.environ.get("HOMODYNE_MEMORY_LIMIT_GB")
    if env:
        try:
            return int(float(env) * 1e9), "HOMODYNE_MEMORY_LIMIT_GB"
        except ValueError:
            pass
    avail = _available()
    return int(_FRACTION * avail), f"80% of the {avail / 1e9:.3g} GB available"


def check_memory(what: str, need: int, hint: str) -> None:
    """Raise :class:`MemoryLimitError` naming ``what``, the estimate and the limit when
    ``need`` bytes exceed the limit."""
    limit, source = memory_limit()
    if need > limit:
        raise MemoryLimitError(
            f"{what} would need about {need / 1e9:.3g} GB of memory (estimate), more than the "
            f"limit of {limit / 1e9:.3g} GB ({source}); {hint}"
        )


def check_model_memory(data) -> None:
    """``run``, after the load: room for the model matrices of ``fitted_data.npz`` and the
    plots (same shape as the data; for point sets, one value per point)."""
    if not data.is_dense:
        check_memory(
            f"model values for {data.n_phi} angle(s) x {data.n_points} points "
            "(fitted_data.npz, plots)",
            RUN_MODEL_COPIES * data.n_phi * data.n_points * 8,
            "select fewer angles (--phi-range)",
        )
        return
    check_memory(
        f"model matrices for {data.n_phi} angle(s) x {data.n_t} x {data.n_t} frames "
        "(fitted_data.npz, plots)",
        c2_bytes(data.n_phi, data.n_t, RUN_MODEL_COPIES),
        "select fewer frames (--start-frame/--end-frame) or angles (--phi-range)",
    )
