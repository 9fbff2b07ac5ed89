"""homodyne-data: read, select, validate and simulate XPCS two-time correlation data.

* :func:`load` / :func:`load_data`: APS-U, APS legacy and NeXus NXxpcs HDF5 results files,
  (age, lag) two-time grids (ESRF style) and multi-tau two-time files (layout detected from
  content) and bare arrays (``.npy``, ``.npz``, plain HDF5) -> :class:`XPCSData` for one q
  ring (dense matrices, or a :class:`PointSet` of (t1, t2) values with weights); units read
  from ``units`` attributes;
* :func:`inspect_file`: what a file holds; :func:`diagnose`: every problem of a (broken) file;
  :func:`quality_report`: per-angle data quality;
* :func:`simulate`: synthetic data from the physics kernel; :func:`simulate_speckle`:
  correlator output of simulated speckle frames (frame-correlated noise); :func:`write_aps_u`,
  :func:`write_aps_legacy`, :func:`write_nxxpcs`, :func:`write_agelag`, :func:`write_multitau`:
  genuine files in each layout; :func:`coarsen_multitau`, :func:`simulate_multitau`:
  multi-tau two-time data from matrices or straight from the kernel;
* every error is a :class:`DataError` (a ``HomodyneError``) naming the file and dataset.
"""

from importlib.metadata import version as _dist_version

from .agelag import write_agelag
from .config import DataConfig, DataSelection
from .dataset import PointSet, Provenance, XPCSData
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
from .multitau import MultitauSimulation, coarsen_multitau, simulate_multitau, write_multitau
from .nexus_writer import write_nxxpcs
from .quality import QualityReport, quality_report
from .reader import load, load_data
from .rings import join_rings, load_rings, ring_values, split_rings
from .selection import diagonal_corrected, normalize_angle, select_angles
from .speckle import SpeckleSimulation, simulate_speckle
from .summary import FileSummary, inspect_file
from .synthetic import Simulation, simulate
from .writers import INVENTED_ATTR, invented_values, write_aps_legacy, write_aps_u

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
    "MultitauSimulation",
    "NoAnglesSelectedError",
    "NonFiniteDataError",
    "NotHDF5Error",
    "PointSet",
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
    "coarsen_multitau",
    "diagnose",
    "diagonal_corrected",
    "inspect_file",
    "invented_values",
    "join_rings",
    "load",
    "load_data",
    "load_rings",
    "normalize_angle",
    "quality_report",
    "ring_values",
    "select_angles",
    "simulate",
    "simulate_multitau",
    "simulate_speckle",
    "split_rings",
    "write_agelag",
    "write_aps_legacy",
    "write_aps_u",
    "write_multitau",
    "write_nxxpcs",
]
