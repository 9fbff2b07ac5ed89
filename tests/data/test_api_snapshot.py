"""API snapshot of homodyne_data: the exact public names and the signatures of its entry points.

A change here is an API change: update the snapshot on purpose, and the CHANGELOG with it.
"""

import homodyne_data


def test_public_names():
    assert sorted(homodyne_data.__all__) == [
        "DataConfig",
        "DataConfigError",
        "DataError",
        "DataFileNotFoundError",
        "DataSelection",
        "DatasetTypeError",
        "Diagnosis",
        "EmptyDatasetError",
        "EmptyFrameRangeError",
        "FileSummary",
        "INVENTED_ATTR",
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
    for name in homodyne_data.__all__:
        assert hasattr(homodyne_data, name), name


def test_signature_of_simulate(signature):
    assert signature(homodyne_data.simulate) == [
        "spec",
        "params=None",
        "*phi=(0.0,)",
        "*q=0.0054",
        "*dt=0.1",
        "*n_frames=200",
        "*start_frame=1",
        "*contrast=0.3",
        "*offset=1.0",
        "*noise=0.01",
        "*lag_noise=0.0",
        "*seed=0",
    ]


def test_signature_of_load_data(signature):
    assert signature(homodyne_data.load_data) == [
        "config",
        "*array_q=None",
        "*array_phi=None",
    ]
