"""The NLSQ mirror check of phi0 reaches the console and nlsq/parameters.json."""

from types import SimpleNamespace

import numpy as np

from homodyne_cli.console import UI
from homodyne_cli.job_report import report_nlsq
from homodyne_cli.results import nlsq_parameters

WARNING = "phi0 = 2.98 and its mirror image phi0 = -2.98 ... fit equally well"


def _result(mirror):
    names = ("phi0",)
    return SimpleNamespace(
        converged=True,
        reduced_chi2=1.0,
        sigma=0.01,
        sigma_source="estimated",
        iterations=5,
        message="ok",
        parameter_names=names,
        names=names,
        values={"phi0": 2.98},
        errors={"phi0": 0.04},
        at_bound=[],
        fixed={},
        mode="laminar_flow",
        convention="physical",
        solver="lm",
        scaling_mode="individual",
        chi2=10.0,
        dof=10,
        n_points=11,
        contrast=np.ones(2),
        offset=np.ones(2),
        contrast_err=np.zeros(2),
        offset_err=np.zeros(2),
        phi=np.zeros(2),
        correlation=np.eye(1),
        timing={},
        spec=None,
        mirror_check=mirror,
        to_dict=lambda: {},
    )


def test_the_mirror_warning_is_shown_and_written(monkeypatch):
    warned = []
    ui = UI(-1)
    monkeypatch.setattr(ui, "warn", warned.append)
    record = {"phi0": 2.98, "phi0_other": -2.98, "indistinguishable": True, "warning": WARNING}
    report_nlsq(_result(record), ui)
    assert warned == [WARNING]
    assert nlsq_parameters(_result(record))["phi0_mirror_check"] == record
    warned.clear()
    report_nlsq(_result({"indistinguishable": False, "warning": None}), ui)
    report_nlsq(_result(None), ui)  # static mode or check off: nothing
    assert warned == []
    assert nlsq_parameters(_result(None))["phi0_mirror_check"] is None
