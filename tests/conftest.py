"""Test-wide JAX settings: float64 on, CPU. Fixtures import homodyne packages inside bodies."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

# The test session owns its process, so it may set the global flag (the library never does).
jax.config.update("jax_enable_x64", True)
