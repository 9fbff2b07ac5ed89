"""The start search on a 100 s multi-tau laminar run (issue 13): the coarse coordinate sweeps
pick a mirrored shear lobe (phi0 = -2.8 instead of 3); the fine phi0 sweep after the subset
solve finds the true one."""

import numpy as np
import pytest

from homodyne_data.multitau import simulate_multitau
from homodyne_nlsq.config import NLSQConfig
from homodyne_nlsq.problem import build_problem
from homodyne_nlsq.start_search import search_start
from homodyne_physics import ModelSpec
from homodyne_physics.precision import float64

from .conftest import LAMINAR_TRUTH as TRUTH


@pytest.mark.slow  # 20,000 frames simulated, ~200 subset evaluations: ~40 s here
def test_start_search_finds_the_true_shear_lobe_on_a_long_run():
    spec = ModelSpec.create("laminar_flow")
    sim = simulate_multitau(
        spec, TRUTH, phi=np.linspace(-20, 90, 4), dt=0.005, n_frames=20000, levels=11, seed=5
    )
    with float64():
        problem = build_problem(sim.data, spec, NLSQConfig(), solve_scaling=False)
        truth = np.array([TRUTH[n] for n in problem.free_names])
        _, truth_cost = problem.subsample(20000).profile(truth)
        x, info = search_start(problem, problem.x0)
    found = dict(zip(problem.free_names, x[: problem.n_theta], strict=True))
    assert info["fine_sweep_moved"] == {"phi0": True}  # the coarse sweeps ended in -2.8
    assert abs(found["phi0"] - 3.0) < 0.02, found
    assert abs(found["gamma_dot_t0"] / 2.0e-3 - 1) < 0.01, found
    assert info["cost_after"] <= truth_cost * 1.001
