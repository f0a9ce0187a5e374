"""Why the log, on data: the product of densities underflows float64, the sum of log-densities does not, and
on a few points L and log L peak at the same grid point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlemap.derivations.engine import Derivation
from mlemap.numerics.compile import compiled

GRID_POINTS = 4001


@dataclass(frozen=True)
class Underflow:
    n: int
    product: float  # prod_i p(x_i) in float64
    log_likelihood: float  # sum_i log p(x_i)
    first_zero_n: int  # the smallest n whose running product is exactly 0.0 (-1: never)
    smallest_positive: float  # the smallest positive subnormal float64
    parameter: str  # the parameter the grid runs over, the others at their truth
    argmax_small_n: tuple[float, float]  # argmax of L and of log L over the grid, first small_n points
    grid_step: float
    small_n: int
    truth: dict[str, float]


def underflow(d: Derivation, n: int, seed: int = 0, small_n: int = 20) -> Underflow:
    """n draws of the model's simulate hook at its truth; the grid is truth +- 2 in the first parameter."""
    model, c = d.model, compiled(d)
    assert model.simulate is not None  # LogTheory's declaration requires one
    data = model.draw(np.random.default_rng(seed), n)
    logp, _ = c.numpy_per_observation
    truth = [model.truth[k] for k in c.names]
    columns = [data[s.name] for s in model.data]
    log_densities = np.broadcast_to(np.asarray(logp(*truth, *columns), float), (n,))
    running = np.cumprod(np.exp(log_densities))
    zeros = np.flatnonzero(running == 0.0)
    grid = np.linspace(truth[0] - 2.0, truth[0] + 2.0, GRID_POINTS)
    first = [col[:small_n, None] for col in columns]
    with np.errstate(all="ignore"):
        loglike = np.sum(np.asarray(logp(grid[None, :], *truth[1:], *first), float), axis=0)
    like = np.prod(np.exp(np.asarray(logp(grid[None, :], *truth[1:], *first), float)), axis=0)
    return Underflow(
        n,
        float(running[-1]),
        float(np.sum(log_densities)),
        int(zeros[0]) + 1 if zeros.size else -1,
        float(np.nextafter(0.0, 1.0)),
        c.names[0],
        (float(grid[np.argmax(like)]), float(grid[np.argmax(loglike)])),
        float(grid[1] - grid[0]),
        small_n,
        dict(model.truth),
    )
