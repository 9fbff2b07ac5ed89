"""What differs when the data are a point set ((age, lag) grid, multi-tau two-time).

The fit itself is the same streamed least squares, with each point's likelihood weight in the
normal equations (``ProblemArrays.wt``). What needs a full frame grid is left out, with a
reason: the frame-correlated (sandwich) covariance scans residuals along the diagonals of the
(t1, t2) grid.
"""

__all__ = ["point_set_error_model"]


def point_set_error_model() -> dict[str, str]:
    """The error-model record of a point-set fit: independent noise, and why."""
    return {
        "used": "independent",
        "reason": (
            "point-set data (no full frame grid): the frame-correlated covariance needs "
            "residuals on every (t1, t2) diagonal, so the independent-noise covariance with "
            "each point's weight is used"
        ),
    }
