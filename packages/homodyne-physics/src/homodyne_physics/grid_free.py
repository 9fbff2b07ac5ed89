"""Point sets (values at arbitrary (t1, t2)): which conventions can fit them, and the time
table that lets every engine evaluate them (numpy only; re-exported by :mod:`.kernel`)."""

from typing import TYPE_CHECKING

import numpy as np

from .errors import ModeError

if TYPE_CHECKING:
    from .kernel import C2Model


def require_grid_free(model: "C2Model", what: str = "point-set data") -> None:
    """Raise :class:`ModeError` unless ``model`` can be evaluated at arbitrary times.

    The physical convention integrates D(t) and gamma_dot(t) in closed form at any time; the
    homodyne2 convention is defined by a trapezoid sum over a full frame grid starting at the
    first selected frame, so it has no value between frames and no meaning for data that are
    not a full matrix.
    """
    if model.convention != "physical":
        raise ModeError(
            f"the {model.convention} convention is defined on a full frame grid only and cannot "
            f"fit {what} (values at arbitrary (t1, t2) points); use convention 'physical'"
        )


def point_set_index(t1, t2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t, i, j)``: the sorted distinct times of the points and the index of each point's
    ``t1`` and ``t2`` in it, so that ``integral_tables(model, theta, t)`` with the pairs
    ``(i, j)`` is the model at the points (physical convention)."""
    t1 = np.asarray(t1, np.float64).reshape(-1)
    t2 = np.asarray(t2, np.float64).reshape(-1)
    t, inv = np.unique(np.concatenate([t1, t2]), return_inverse=True)
    return t, inv[: t1.size].astype(np.int32), inv[t1.size :].astype(np.int32)
