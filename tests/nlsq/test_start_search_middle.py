"""The start search's middle stage: on data many times larger than the search subset the
subset's solution is solved again on a middle subset (geometric mean of the two sizes), so
that the full-data solver starts near its optimum instead of crawling along a ridge. It must
change where the full-data solver starts, not where it ends."""

import numpy as np

from homodyne_nlsq import start_search
from homodyne_nlsq.api import plan_starts, run_local
from homodyne_nlsq.config import NLSQConfig
from homodyne_nlsq.problem import build_problem
from homodyne_physics import ModelSpec
from homodyne_physics.precision import float64

from .conftest import LAMINAR_TRUTH, make_data


def _fit(problem, monkeypatch, ratio):
    """Start search on a 2,000-point subset (middle stage from ``ratio`` times that), then the
    full-data solve."""
    import homodyne_nlsq.api as api

    monkeypatch.setattr(start_search, "_MID_RATIO", ratio)
    monkeypatch.setattr(
        api, "search_start", lambda p, x0: start_search.search_start(p, x0, max_points=2000)
    )
    plan = plan_starts(problem, True)
    local = run_local(problem, plan, None)
    return plan, local.outcome


def test_the_middle_stage_shortens_the_full_solve_and_keeps_its_answer(monkeypatch):
    spec = ModelSpec.create("laminar_flow")
    data = make_data(
        "laminar_flow", LAMINAR_TRUTH, [-40.0, 5.0, 50.0, 95.0], n_t=180, noise=0.03, seed=8
    )
    with float64():
        problem = build_problem(data, spec, NLSQConfig(), solve_scaling=False)
        assert problem.n_valid >= 25 * 2000  # 4 x 16,110 points: a middle stage applies
        plan_on, on = _fit(problem, monkeypatch, 25)
        plan_off, off = _fit(problem, monkeypatch, 10**9)
    mid = plan_on.search_info["middle_points"]
    assert plan_off.search_info["middle_points"] is None
    assert 2000 < mid < problem.n_valid  # about sqrt(64,440 x 2,000) = 11,000
    assert abs(mid - np.sqrt(problem.n_valid * plan_on.search_info["subset_points"])) < 0.1 * mid
    assert on.converged and off.converged
    # the same minimum: chi^2 within twice the solver's ftol (1e-8, relative), the parameters
    # within 0.05 of their independent-noise standard errors (s^2 (J^T J)^-1)
    assert abs(on.cost - off.cost) <= 2e-8 * off.cost
    s2 = off.cost / (problem.n_valid - off.x.size)
    sd = np.sqrt(np.diag(np.linalg.inv(off.jtj)) * s2)
    assert np.all(np.abs(on.x - off.x) <= 0.05 * sd), (on.x - off.x) / sd
    assert on.iterations <= off.iterations
