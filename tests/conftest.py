"""Test-wide JAX settings: float64 on, CPU. Fixtures import homodyne packages inside bodies."""

import inspect
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

# The test session owns its process, so it may set the global flag (the library never does).
jax.config.update("jax_enable_x64", True)


@pytest.fixture
def signature():
    """Render a callable's parameters stably for the API snapshots.

    ``name``; ``*name`` for keyword-only (and ``*args``); ``**name`` for ``**kwargs``;
    ``=default`` where there is one.
    """

    def render(f) -> list[str]:
        out = []
        for p in inspect.signature(f).parameters.values():
            default = "" if p.default is inspect.Parameter.empty else f"={p.default!r}"
            prefix = "*" if p.kind in (p.KEYWORD_ONLY, p.VAR_POSITIONAL) else ""
            prefix = "**" if p.kind is p.VAR_KEYWORD else prefix
            out.append(f"{prefix}{p.name}{default}")
        return out

    return render
