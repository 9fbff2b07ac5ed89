"""Float64 without surprising the user's own JAX session.

homodyne never flips JAX's global ``jax_enable_x64`` flag when it is imported. Instead:

* the high-level entry points of the packages above (simulation, fits, the CLI) run their work
  inside :func:`float64`, a thread-local scope that JAX restores on exit;
* the kernel functions call :func:`require_float64` while tracing, so calling them in a float32
  session fails loudly instead of returning silently degraded numbers.

To use the kernels directly, either wrap your code in ``with homodyne_physics.float64(): ...``
or start Python with ``JAX_ENABLE_X64=1`` (or call ``jax.config.update("jax_enable_x64", True)``
yourself before creating arrays).
"""

import contextlib
from collections.abc import Iterator

import jax

from ._lazy import PRECISION_NAMES
from .errors import PrecisionError

__all__ = list(PRECISION_NAMES)


def x64_enabled() -> bool:
    """Return True when JAX currently creates float64 arrays (globally or in a scope)."""
    return bool(jax.config.jax_enable_x64)


@contextlib.contextmanager
def float64() -> Iterator[None]:
    """Run the enclosed block with JAX float64 enabled, restoring the previous state after."""
    with jax.enable_x64(True):
        yield


def require_float64() -> None:
    """Raise :class:`PrecisionError` unless JAX float64 is enabled."""
    if not x64_enabled():
        raise PrecisionError(
            "homodyne computes in float64 but JAX is in float32 mode. Wrap the call in "
            "`with homodyne_physics.float64():`, set JAX_ENABLE_X64=1, or call "
            "jax.config.update('jax_enable_x64', True) before creating arrays."
        )
