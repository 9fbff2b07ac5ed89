"""Shared truths of the CMC tests."""

import pytest

# the realistic_laminar case of issue 14 (the same values as benchmarks/_common.REALISTIC_TRUTH;
# tests do not import the benchmarks): D0/D_offset form a near-degenerate ridge on these data
_REALISTIC_TRUTH = {
    "D0": 1.5e4,
    "alpha": -0.3,
    "D_offset": 500.0,
    "gamma_dot_t0": 1e-4,
    "beta": 0.2,
    "gamma_dot_t_offset": 2e-5,
    "phi0": 3.0,
}


@pytest.fixture
def realistic_truth() -> dict[str, float]:
    """The realistic_laminar truth (laminar_flow, kernel order), a fresh copy per test."""
    return dict(_REALISTIC_TRUTH)
