"""What a fit means: transport curves (csv, table, plot), identifiability and goodness of fit.

Called by the pipeline after each fit; everything it computes also goes into that method's
``parameters.json`` (keys ``transport``, ``identifiability``, ``goodness_of_fit``).
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .console import UI
from .outputs import atomic_write_csv

__all__ = [
    "cmc_quality",
    "nlsq_quality",
    "print_transport_table",
    "quality_gate",
    "write_cmc_quality",
    "write_nlsq_quality",
    "write_transport_csv",
    "write_transport_plot",
]


def write_transport_csv(path: Path, curves: Any) -> Path:
    """``transport.csv``: t and per quantity the curve and its 68 % / 95 % band edges; the
    units are in the header (``D [A^2/s]``)."""
    cols = curves.columns()
    units = {"t": "s", **curves.units}
    header = []
    for name in cols:
        base = name.split("_lo")[0].split("_hi")[0]
        header.append(f"{name} [{units.get(base, '')}]")
    rows = np.column_stack([np.asarray(v, np.float64) for v in cols.values()])
    return atomic_write_csv(path, header, ([f"{x:.10g}" for x in row] for row in rows))


def _ages(curves: Mapping[str, Any], n: int) -> np.ndarray:
    first = next(iter(curves.values()))
    lo, hi = first.age_range or (first.times[0], first.times[-1])
    return np.geomspace(lo, hi, n) if hi > lo else np.array([lo])


def print_transport_table(curves: Mapping[str, Any], ui: UI, n_ages: int = 5) -> None:
    """A short table of D(t) (and gamma_dot(t)) with 68 % bands at a few ages per method."""
    if ui.verbosity < 0 or not curves:
        return
    from rich.table import Table

    ages = _ages(curves, n_ages)
    keys = [k for k in ("D", "gamma_dot") if any(k in c.curves for c in curves.values())]
    units = next(iter(curves.values())).units
    table = Table(
        title="transport coefficients (68 % band in brackets; all ages in transport.csv)",
        caption="D: A^2/s; gamma_dot: 1/s",
    )
    table.add_column("age t (s)", justify="right")
    for key in keys:
        for method in curves:
            table.add_column(f"{key} {method} [{units[key]}]", justify="right", no_wrap=True)
    sampled = {m: c.at(ages) for m, c in curves.items()}
    for k, age in enumerate(ages):
        cells = [f"{age:.3g}"]
        for key in keys:
            for cols in sampled.values():
                if key not in cols:
                    cells.append("")
                    continue
                v, lo, hi = cols[key][k], cols[f"{key}_lo68"][k], cols[f"{key}_hi68"][k]
                cells.append(f"{v:.4g} [{lo:.4g}, {hi:.4g}]")
        table.add_row(*cells)
    ui.out.print(table)


def write_transport_plot(folder: Path, curves: Mapping[str, Any], q: float | None) -> Path:
    """``plots/transport.png`` from every method's curves."""
    from .plots import plot_transport

    return plot_transport(folder / "transport.png", curves, q=q)


def nlsq_quality(res: Any, data: Any, c2_fit: np.ndarray, ui: UI) -> dict[str, Any]:
    """Transport curves, identifiability and goodness of fit of an NLSQ result.

    Prints the noise comparison and one warning each for identifiability and residual
    structure. Returns ``{'transport': TransportCurves, 'goodness': GoodnessOfFit, 'json': {...}}``
    (``json`` goes into ``nlsq/parameters.json``).
    """
    from homodyne_nlsq.goodness import goodness_of_fit

    curves = res.transport()
    ident = res.identifiability(curves)
    good = goodness_of_fit(res, data, c2_fit)
    for line in good.lines():
        ui.info(f"  {line}")
    if ident.warning:
        ui.warn(ident.warning)
    if good.structure.warning:
        ui.warn("NLSQ " + good.structure.warning)
    return {
        "transport": curves,
        "goodness": good,
        "json": {
            "transport": curves.to_dict(),
            "identifiability": ident.to_dict(),
            "goodness_of_fit": good.to_dict(),
        },
    }


def quality_gate(res: Any, goodness: Any, threshold: float | None) -> str | None:
    """The NLSQ quality gate (``optimization.nlsq.quality_validation``): a problem message, or
    None when the fit passes (or no gate is set).

    A reduced chi2 means something only when the noise is known: with a user-given sigma the
    gate compares it with ``threshold``. When sigma is estimated from the residuals, chi2/dof
    is 1 by construction (it is the residual variance in c2 units), so the gate uses the
    residual-structure test instead: the fit fails when the binned mean residuals show a
    pattern (age drift, short-lag excess) that the noise cannot explain.
    """
    if threshold is None:
        return None
    if getattr(res, "sigma_source", "estimated") == "user":
        if res.reduced_chi2 > threshold:
            return (
                f"quality gate: reduced chi2 {res.reduced_chi2:.3g} > {threshold:g} with the "
                "given sigma (optimization.nlsq.quality_validation)"
            )
        return None
    structure = goodness.structure
    if structure.ok:
        return None
    return (
        f"quality gate: the residual-structure test failed ({'; '.join(structure.patterns)}); "
        "sigma was estimated, so the reduced chi2 is not gated "
        "(optimization.nlsq.quality_validation)"
    )


def cmc_quality(cres: Any, ui: UI) -> Any:
    """Transport curves of a CMC result (posterior quantiles) and its identifiability warning;
    ``None`` when the result holds no frame times."""
    report = cres.identifiability()
    if report.warning:
        ui.warn(report.warning)
    if getattr(cres, "data", None) is None:
        return None
    return cres.transport()


def write_nlsq_quality(
    folder: Path, quality: Mapping[str, Any], q: float, plots: bool
) -> list[Path]:
    """``nlsq/transport.csv`` and (with ``plots``) ``plots/transport.png`` and
    ``plots/residual_structure.png``."""
    paths = [write_transport_csv(folder / "nlsq" / "transport.csv", quality["transport"])]
    if plots:
        from .plots import plot_residual_structure

        paths.append(write_transport_plot(folder / "plots", {"NLSQ": quality["transport"]}, q))
        paths.append(
            plot_residual_structure(
                folder / "plots" / "residual_structure.png",
                quality["goodness"].structure,
                label="NLSQ",
            )
        )
    return paths


def write_cmc_quality(folder: Path, curves: Mapping[str, Any], q: float, plots: bool) -> list[Path]:
    """``cmc/transport.csv`` and (with ``plots``) ``plots/transport.png`` with every method."""
    if "CMC" not in curves:
        return []
    paths = [write_transport_csv(folder / "cmc" / "transport.csv", curves["CMC"])]
    if plots:
        paths.append(write_transport_plot(folder / "plots", curves, q))
    return paths
