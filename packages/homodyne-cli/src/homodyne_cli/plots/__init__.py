"""All figures of homodyne (matplotlib, Agg backend), fed by plain arrays (posterior figures:
by ArviZ from the CMC DataTree).

Large matrices are block-averaged for display only (the title says so); the fit always uses
every point.
"""

from .cuts import plot_lag_cuts
from .data import plot_data_all, plot_data_heatmap, plot_lag_profiles
from .heatmaps import plot_fit_heatmaps, plot_fit_heatmaps_all, plot_overview
from .points import plot_point_lag_cuts, plot_point_maps
from .posterior import plot_cmc_all, plot_convergence
from .q_consistency import plot_q_consistency
from .residual_structure import plot_residual_structure
from .residuals import plot_residual_histogram
from .transport import plot_transport

__all__ = [
    "plot_cmc_all",
    "plot_convergence",
    "plot_data_all",
    "plot_data_heatmap",
    "plot_fit_heatmaps",
    "plot_fit_heatmaps_all",
    "plot_lag_cuts",
    "plot_lag_profiles",
    "plot_overview",
    "plot_point_lag_cuts",
    "plot_point_maps",
    "plot_q_consistency",
    "plot_residual_histogram",
    "plot_residual_structure",
    "plot_transport",
]
