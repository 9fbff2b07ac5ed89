"""Errors raised by homodyne-data.

Every error derives from :class:`DataError` (itself a
:class:`homodyne_physics.HomodyneError`) and carries the file and the dataset path it concerns,
so a message reads ``"<file>: <dataset>: <what was wrong>; <what was expected>"`` (the file is
left out for in-memory data and configuration values).
"""

from homodyne_physics import HomodyneError

__all__ = [
    "DataConfigError",
    "DataError",
    "DataFileNotFoundError",
    "DatasetTypeError",
    "EmptyDatasetError",
    "EmptyFrameRangeError",
    "InvalidTimeStepError",
    "MissingDatasetError",
    "MissingMetadataError",
    "MissingTimeStepError",
    "NoAnglesSelectedError",
    "NonFiniteDataError",
    "NotHDF5Error",
    "SelectionError",
    "ShapeMismatchError",
    "UnknownLayoutError",
]


class DataError(HomodyneError, ValueError):
    """Base class of every homodyne-data error.

    Parameters
    ----------
    what
        What was wrong and what was expected.
    file
        Path of the file concerned (``None`` for in-memory data).
    dataset
        HDF5 dataset/group path, array key or configuration key concerned.
    """

    def __init__(self, what: str, *, file: str | None = None, dataset: str | None = None):
        self.what = what
        self.file = None if file is None else str(file)
        self.dataset = dataset
        super().__init__(self._format())

    def _format(self) -> str:
        where = [self.file] if self.file is not None else []
        if self.dataset:
            where.append(self.dataset)
        return ": ".join(where + [self.what])

    def __str__(self) -> str:
        return self._format()

    def __reduce__(self):  # keep pickling (multiprocessing) working with keyword arguments
        return (_rebuild, (type(self), self.what, self.file, self.dataset))


def _rebuild(cls, what, file, dataset):
    return cls(what, file=file, dataset=dataset)


class DataFileNotFoundError(DataError, FileNotFoundError):
    """The data file does not exist or is not a regular file."""


class NotHDF5Error(DataError):
    """The file is neither HDF5 nor a .npy/.npz array."""


class UnknownLayoutError(DataError):
    """An HDF5 file whose content matches no known layout (APS-U, APS legacy)."""


class MissingDatasetError(DataError, KeyError):
    """A dataset or group the layout requires is absent."""


class MissingMetadataError(DataError):
    """A value needed to interpret the data (q, phi, dt) is neither in the file nor given."""


class DatasetTypeError(DataError):
    """A dataset has the wrong kind of content (strings, complex numbers, ...)."""


class EmptyDatasetError(DataError):
    """A required dataset or group exists but holds no data."""


class ShapeMismatchError(DataError):
    """Shapes or counts disagree (bins vs matrices, non-square matrices, ...)."""


class NonFiniteDataError(DataError):
    """The fraction of NaN/inf values of a selected matrix exceeds the threshold."""


class InvalidTimeStepError(DataError):
    """dt is missing, non-finite or not positive."""


class MissingTimeStepError(InvalidTimeStepError, MissingMetadataError):
    """dt was not given and the file has no frame time to derive it from."""


class SelectionError(DataError):
    """A selection request cannot be satisfied (q out of tolerance, bad range, ...)."""


class NoAnglesSelectedError(SelectionError):
    """No angle of the selected q ring lies inside any configured phi range."""


class EmptyFrameRangeError(SelectionError):
    """start_frame/end_frame leave fewer than two frames."""


class DataConfigError(DataError):
    """A data configuration value is invalid (type or range)."""
