"""homodyne-data: read, select, validate and simulate XPCS two-time correlation data.

* :func:`load` / :func:`load_data`: APS-U, APS legacy and NeXus NXxpcs HDF5 results files
  (layout detected from content) and bare arrays (``.npy``, ``.npz``, plain HDF5) ->
  :class:`XPCSData` for one q ring; units read from ``units`` attributes;
* :func:`inspect_file`: what a file holds; :func:`diagnose`: every problem of a (broken) file;
  :func:`quality_report`: per-angle data quality;
* :func:`simulate`: synthetic data from the physics kernel; :func:`simulate_speckle`:
  correlator output of simulated speckle frames (frame-correlated noise); :func:`write_aps_u`,
  :func:`write_aps_legacy`: genuine files in both layouts;
* every error is a :class:`DataError` (a ``HomodyneError``) naming the file and dataset.
"""

from importlib.metadata import version as _dist_version

from .config import DataConfig, DataSelection
from .dataset import Provenance, XPCSData
from .diagnose import Diagnosis, Problem, diagnose
from .errors import (
    DataConfigError,
    DataError,
    DataFileNotFoundError,
    DatasetTypeError,
    EmptyDatasetError,
    EmptyFrameRangeError,
    InvalidTimeStepError,
    MissingDatasetError,
    MissingMetadataError,
    MissingTimeStepError,
    NoAnglesSelectedError,
    NonFiniteDataError,
    NotHDF5Error,
    SelectionError,
    ShapeMismatchError,
    UnknownLayoutError,
)
from .quality import QualityReport, quality_report
from .reader import load, load_data
from .selection import diagonal_corrected, normalize_angle, select_angles
from .speckle import SpeckleSimulation, simulate_speckle
from .summary import FileSummary, inspect_file
from .synthetic import Simulation, simulate
from .writers import INVENTED_ATTR, invented_values, write_aps_legacy, write_aps_u, write_nxxpcs

__version__ = _dist_version("homodyne-data")  # pyproject.toml, via the installed metadata

__all__ = [
    "INVENTED_ATTR",
    "DataConfig",
    "DataSelection",
    "DataConfigError",
    "DataError",
    "DataFileNotFoundError",
    "DatasetTypeError",
    "Diagnosis",
    "EmptyDatasetError",
    "EmptyFrameRangeError",
    "FileSummary",
    "InvalidTimeStepError",
    "MissingDatasetError",
    "MissingMetadataError",
    "MissingTimeStepError",
    "NoAnglesSelectedError",
    "NonFiniteDataError",
    "NotHDF5Error",
    "Problem",
    "Provenance",
    "QualityReport",
    "SelectionError",
    "ShapeMismatchError",
    "Simulation",
    "SpeckleSimulation",
    "UnknownLayoutError",
    "XPCSData",
    "__version__",
    "diagnose",
    "diagonal_corrected",
    "inspect_file",
    "invented_values",
    "load",
    "load_data",
    "normalize_angle",
    "quality_report",
    "select_angles",
    "simulate",
    "simulate_speckle",
    "write_aps_legacy",
    "write_aps_u",
    "write_nxxpcs",
]
