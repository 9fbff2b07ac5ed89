"""Turn stored two-time matrices (upper half, lower half or full) into full float64 matrices.

The correlators store the two-time matrix of a bin either as its upper triangle (lower
triangle zero, boost_corr), or in full. The storage is detected from the content of the block
actually read, so half and full matrices (and a mix of both in one file) are all accepted.
Only the selected frame window is read from disk (h5py hyperslab): the window of a triangular
matrix is itself triangular.
"""

from typing import Any

import numpy as np

from .errors import DatasetTypeError, EmptyDatasetError, NonFiniteDataError, ShapeMismatchError

__all__ = ["check_matrix_dataset", "read_block", "storage_of"]

# Relative asymmetry above which a "full" matrix is reported (and symmetrised).
_ASYM_RTOL = 1e-5


def check_matrix_dataset(ds: Any, *, file: str | None, dataset: str) -> int:
    """Check that ``ds`` (h5py dataset or array) is a non-empty real square matrix; return N."""
    shape = tuple(getattr(ds, "shape", ()))
    dtype = np.dtype(getattr(ds, "dtype", np.float64))
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ShapeMismatchError(
            f"expected a square two-time matrix (N, N), got shape {shape}",
            file=file,
            dataset=dataset,
        )
    if shape[0] == 0:
        raise EmptyDatasetError("the two-time matrix is empty (0 x 0)", file=file, dataset=dataset)
    if dtype.kind not in "fiu":
        raise DatasetTypeError(
            f"expected a real numeric matrix (float32/float64), got dtype {dtype}",
            file=file,
            dataset=dataset,
        )
    return int(shape[0])


def _has_values(tri: np.ndarray) -> bool:
    """True when a triangle holds at least one finite non-zero value."""
    return bool(np.any((tri != 0) & np.isfinite(tri)))


def storage_of(block: np.ndarray) -> str:
    """``'upper'``, ``'lower'`` or ``'full'`` from the content of a square block.

    A triangle counts as empty when all its values are zero or NaN. A block whose strictly
    lower and upper triangles are both empty (N = 1, or only a diagonal) is reported as
    ``'upper'``, which reads back unchanged.
    """
    lower = _has_values(np.tril(block, -1))
    upper = _has_values(np.triu(block, 1))
    if lower and upper:
        return "full"
    if lower:
        return "lower"
    return "upper"


def read_block(
    ds: Any,
    window: slice,
    out: np.ndarray,
    *,
    nan_threshold: float,
    file: str | None,
    dataset: str,
) -> dict[str, Any]:
    """Read ``ds[window, window]`` into ``out`` (float64, full symmetric, modified in place).

    Parameters
    ----------
    ds
        h5py dataset or numpy array of shape ``(N, N)``.
    window
        Row/column slice (same on both axes).
    out
        Destination, float64, shape ``(n, n)`` with ``n`` the window length.
    nan_threshold
        Largest accepted fraction of non-finite values; above it :class:`NonFiniteDataError`.

    Returns
    -------
    dict
        ``storage`` ('upper' | 'lower' | 'full'), ``n_nonfinite``, ``asymmetry`` (max relative
        asymmetry of a full matrix, 0 for halves).
    """
    block = np.asarray(ds[window, window])
    if block.dtype.kind in "iu":
        block = block.astype(np.float64)
    n = block.shape[0]
    if block.shape != out.shape:
        raise ShapeMismatchError(
            f"read a block of shape {block.shape}, expected {out.shape}", file=file, dataset=dataset
        )
    storage = storage_of(block)
    asym = 0.0
    diag = np.arange(n)
    if storage == "full":
        out[...] = block
        diff = np.abs(out - out.T)
        scale = np.nanmax(np.abs(out)) if n else 1.0
        asym = float(np.nanmax(diff) / scale) if np.isfinite(scale) and scale > 0 else 0.0
        if not np.isfinite(asym):
            asym = 0.0
        if asym > _ASYM_RTOL:
            out += out.T
            out *= 0.5
    else:
        half = np.triu(block) if storage == "upper" else np.tril(block)  # zero the empty side
        out[...] = half
        out += half.T
        out[diag, diag] = half[diag, diag]  # the diagonal was counted twice: halve it back
    finite = np.isfinite(out)
    n_bad = int(out.size - np.count_nonzero(finite))
    if n_bad:
        frac = n_bad / out.size
        if frac > nan_threshold:
            r, c = np.argwhere(~finite)[0]
            raise NonFiniteDataError(
                f"{100 * frac:.3g}% of the selected values are NaN/inf (threshold "
                f"{100 * nan_threshold:g}%); first at row {window.start + r}, column "
                f"{window.start + c} (0-based, file frames {window.start + r + 1}, "
                f"{window.start + c + 1})",
                file=file,
                dataset=dataset,
            )
        out[~finite] = np.nan  # inf -> NaN: one marker for missing values
    return {"storage": storage, "n_nonfinite": n_bad, "asymmetry": asym}
