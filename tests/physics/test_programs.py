"""Compiled programs kept on disk (``homodyne_physics.programs``): the same numbers as
``jax.jit``, reuse in a new process without tracing, keys that separate programs, and
recovery from damaged or unusable files."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from homodyne_physics import ModelSpec
from homodyne_physics.programs import (
    cached_jit,
    program_cache_dir,
    set_program_cache,
)

THETA = np.array([15000.0, -0.3, 500.0, 1e-4, 0.2, 2e-5, 3.0])
PHI = np.array([-40.0, 5.0, 50.0])


@pytest.fixture
def folder(tmp_path):
    previous = program_cache_dir()
    yield set_program_cache(tmp_path / "programs")
    set_program_cache(previous)


def _model():
    return ModelSpec.create("laminar_flow").model(0.0054, 0.1)


def _args(n_t=40):
    t = jnp.asarray(0.1 * np.arange(1, n_t + 1))
    c, o = jnp.full(PHI.size, 0.2), jnp.ones(PHI.size)
    return jnp.asarray(THETA), c, o, t, jnp.asarray(PHI)


def test_off_by_default_and_same_numbers_as_jit(folder):
    from homodyne_physics import c2_matrix

    set_program_cache(None)
    plain = np.asarray(c2_matrix(_model(), *_args()))
    assert not folder.exists() or not any(folder.iterdir())  # nothing written when off
    set_program_cache(folder)
    cached = np.asarray(c2_matrix(_model(), *_args()))
    assert np.array_equal(plain, cached)
    assert len(list(folder.glob("c2_matrix-*.jaxexe"))) == 1


def test_keys_separate_shapes_statics_and_names(folder):
    from homodyne_physics import c2_matrix

    c2_matrix(_model(), *_args(40))
    c2_matrix(_model(), *_args(40))  # same program: no new file
    assert len(list(folder.glob("c2_matrix-*"))) == 1
    c2_matrix(_model(), *_args(41))  # another shape
    static = ModelSpec.create("laminar_flow").model(0.0060, 0.1)  # another static model
    c2_matrix(static, *_args(40))
    assert len(list(folder.glob("c2_matrix-*"))) == 3
    with pytest.raises(ValueError, match="exists already"):
        cached_jit(c2_matrix.__wrapped__, static_argnames=("model",))


def test_transforms_and_tracing_go_through_jit(folder):
    """A cached function inside ``grad`` is traced as usual; ``jacfwd`` of one (named) gives
    the Jacobian, not the values (the names keep them apart on disk)."""
    from homodyne_physics import transport

    model = _model()
    t = jnp.asarray(np.linspace(0.1, 40.0, 12))
    n = transport._n_grid(model, np.asarray(t), 0.1)
    vals = transport._values(model, jnp.asarray(THETA), t, 0.1, n)
    jac = transport._jacobian(model, jnp.asarray(THETA), t, 0.1, n)
    assert vals["D"].shape == (12,) and jac["D"].shape == (12, 7)
    # d D(t) / d D0 = t^alpha
    assert np.allclose(jac["D"][:, 0], np.asarray(t) ** THETA[1], rtol=1e-12)

    def d_sum(theta):
        return transport._values(model, theta, t, 0.1, n)["D"].sum()

    g = jax.grad(d_sum)(jnp.asarray(THETA))
    assert np.allclose(g, jac["D"].sum(axis=0), rtol=1e-12)


def test_a_damaged_file_is_compiled_again_and_replaced(folder):
    from homodyne_physics import c2_matrix

    expected = np.asarray(c2_matrix(_model(), *_args(30)))
    (path,) = folder.glob("c2_matrix-*")
    path.write_bytes(b"not a program")
    c2_matrix._memo.clear()  # a new process: nothing in memory
    assert np.array_equal(np.asarray(c2_matrix(_model(), *_args(30))), expected)
    assert path.read_bytes() != b"not a program"


_CHILD = textwrap.dedent(
    """
    import os, sys, json
    os.environ["JAX_ENABLE_X64"] = "1"
    import jax, jax.monitoring, numpy as np, jax.numpy as jnp
    traces = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, d, **k: traces.append(event)
        if event == "/jax/core/compile/jaxpr_trace_duration" else None)
    import contextlib
    from homodyne_physics import ModelSpec, c2_matrix, programs
    mode = sys.argv[1]
    if mode == "jax-cache":  # fill JAX's own persistent cache with c2_matrix
        jax.config.update("jax_compilation_cache_dir", sys.argv[3])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    if mode == "unsafe":  # store what JAX loads from its cache (the unusable kind)
        jax.config.update("jax_compilation_cache_dir", sys.argv[3])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        programs._without_jax_cache = contextlib.nullcontext
    if mode != "jax-cache":
        programs.set_program_cache(sys.argv[2])
    model = ModelSpec.create("laminar_flow").model(0.0054, 0.1)
    t = jnp.asarray(0.1 * np.arange(1, 41))
    phi = jnp.asarray([-40.0, 5.0, 50.0])
    theta = jnp.asarray([15000.0, -0.3, 500.0, 1e-4, 0.2, 2e-5, 3.0])
    c, o = jnp.full(3, 0.2), jnp.ones(3)
    del traces[:]  # count only what the call traces
    c2 = np.asarray(c2_matrix(model, theta, c, o, t, phi))
    print(json.dumps({"sum": float(c2.sum()), "traces": len(traces)}))
    """
)


def _child(*argv) -> dict:
    import json

    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_new_process_reuses_the_program_without_tracing(tmp_path):
    first = _child("compile", tmp_path / "p")
    assert first["traces"] >= 1
    second = _child("load", tmp_path / "p")
    assert second["traces"] == 0  # loaded, not traced, lowered or compiled
    assert second["sum"] == first["sum"]


def test_an_unusable_stored_program_is_compiled_again(tmp_path):
    """On CPU, an executable that JAX loaded from its own persistent cache serialises without
    some of its functions ("Function wrapped_log not found" when run). The cache compiles
    around JAX's cache to avoid storing one; should one be stored anyway, its first run fails,
    and it is compiled again and replaced."""
    paths = (tmp_path / "p", tmp_path / "jax")
    reference = _child("jax-cache", *paths)
    _child("unsafe", *paths)  # stores the executable JAX loaded from its cache
    (stored,) = Path(paths[0]).glob("c2_matrix-*")
    before = stored.read_bytes()
    again = _child("load", *paths)
    assert again["sum"] == reference["sum"]
    assert stored.read_bytes() != before  # replaced by one that runs
    assert _child("load", *paths)["traces"] == 0
