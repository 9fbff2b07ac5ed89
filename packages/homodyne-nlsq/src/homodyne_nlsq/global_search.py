"""Starting points for hard problems: Latin-hypercube multi-start and CMA-ES.

Both explore only the physical parameters: for each candidate the per-angle scaling is solved
exactly (:meth:`FitProblem.profile`), so a candidate's cost is the best the scaling can do for
that physics. Coordinates are normalised to the unit box; a positive parameter whose bounds
span two decades or more (D0, gamma_dot_t0) is searched in log space.

CMA-ES uses the ``cmaes`` package: small, maintained, pure numpy (no second JAX-based optimiser
stack), with box bounds and seeding built in.
"""

import numpy as np

from .problem import FitProblem

__all__ = ["UnitBox", "cmaes_search", "latin_hypercube_starts"]


class UnitBox:
    """Map between the physical box of ``problem`` and the unit cube (log axes where wide)."""

    def __init__(self, problem: FitProblem) -> None:
        k = problem.n_theta
        self.lo = problem.lower[:k].copy()
        self.hi = problem.upper[:k].copy()
        if not (np.isfinite(self.lo).all() and np.isfinite(self.hi).all()):
            raise ValueError("global search needs finite bounds on every physical parameter")
        self.log = (self.lo > 0) & (self.hi / np.where(self.lo > 0, self.lo, 1.0) >= 100.0)
        self._a = np.where(self.log, np.log(np.where(self.log, self.lo, 1.0)), self.lo)
        self._b = np.where(self.log, np.log(np.where(self.log, self.hi, 1.0)), self.hi)

    def to_theta(self, u) -> np.ndarray:
        """Physical parameters of unit-cube point(s) ``u``."""
        v = self._a + np.clip(np.asarray(u, np.float64), 0.0, 1.0) * (self._b - self._a)
        v = np.where(self.log, np.exp(np.where(self.log, v, 0.0)), v)
        return np.clip(v, self.lo, self.hi)

    def to_unit(self, theta) -> np.ndarray:
        """Unit-cube coordinates of physical parameters ``theta``."""
        theta = np.asarray(theta, np.float64)
        v = np.where(self.log, np.log(np.where(self.log, theta, 1.0)), theta)
        return np.clip((v - self._a) / (self._b - self._a), 0.0, 1.0)


def latin_hypercube_starts(problem: FitProblem, n: int, seed: int) -> list[np.ndarray]:
    """``n`` starting vectors ``x = (theta, s*)`` from a seeded Latin hypercube over the bounds."""
    if n <= 0:
        return []
    box = UnitBox(problem)
    from scipy.stats import qmc  # here: 1.5 s to import, a local fit never needs it

    design = qmc.LatinHypercube(d=problem.n_theta, rng=np.random.default_rng(seed)).random(n)
    return [problem.profile(box.to_theta(u))[0] for u in design]


def cmaes_search(
    problem: FitProblem, theta0, *, generations: int, sigma: float, popsize: int | None, seed: int
) -> tuple[np.ndarray, dict]:
    """CMA-ES over the physical parameters from ``theta0``; returns the best ``x`` and a summary.

    Parameters
    ----------
    problem
        The fit problem.
    theta0
        Mean of the first generation (physical units).
    generations, sigma, popsize, seed
        CMA-ES settings; ``sigma`` in unit-cube coordinates.

    Returns
    -------
    (x, info)
        Best full vector found and ``{"evaluations", "generations", "best_cost"}``.
    """
    from cmaes import CMA  # imported here: only needed when CMA-ES is asked for

    box = UnitBox(problem)
    opt = CMA(
        mean=box.to_unit(theta0),
        sigma=float(sigma),
        bounds=np.tile([0.0, 1.0], (problem.n_theta, 1)),
        seed=int(seed),
        population_size=popsize,
    )
    best_x, best_cost = None, np.inf
    evaluations = 0
    done = 0
    for gen in range(1, generations + 1):
        done = gen
        told = []
        for _ in range(opt.population_size):
            u = opt.ask()
            x, cost = problem.profile(box.to_theta(u))
            evaluations += 1
            cost = cost if np.isfinite(cost) else 1e300
            told.append((u, cost))
            if cost < best_cost:
                best_x, best_cost = x, cost
        opt.tell(told)
        if opt.should_stop():
            break
    assert best_x is not None
    return best_x, {"evaluations": evaluations, "generations": done, "best_cost": float(best_cost)}
