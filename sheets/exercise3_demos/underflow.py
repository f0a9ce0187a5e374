"""Theory 2.1 on data: the product of densities underflows float64, the sum of log-densities does not."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats


@dataclass(frozen=True)
class Underflow:
    n: int
    product: float  # prod_i p(x_i) in float64
    log_likelihood: float  # sum_i log p(x_i)
    first_zero_n: int  # the smallest n whose running product is exactly 0.0
    smallest_positive: float  # the smallest positive subnormal float64
    argmax_small_n: tuple[float, float]  # argmax of L and of log L over a grid, small n
    grid_step: float
    small_n: int
    mean: float
    variance: float


def underflow(n: int = 10_000, seed: int = 0, small_n: int = 20, mean: float = 1.0, variance: float = 5.0) -> Underflow:
    """The praxis distribution (one coordinate of N((1, 1), 5 I)) by default."""
    rng = np.random.default_rng(seed)
    sd = np.sqrt(variance)
    x = rng.normal(mean, sd, n)
    dens = scipy.stats.norm.pdf(x, mean, sd)
    running = np.cumprod(dens)
    zeros = np.flatnonzero(running == 0.0)
    grid = np.linspace(mean - 2.0, mean + 2.0, 4001)
    sub = x[:small_n, None]
    like = np.prod(scipy.stats.norm.pdf(sub, grid[None, :], sd), axis=0)
    loglike = np.sum(scipy.stats.norm.logpdf(sub, grid[None, :], sd), axis=0)
    return Underflow(
        n=n,
        product=float(running[-1]),
        log_likelihood=float(np.sum(np.log(dens))),
        first_zero_n=int(zeros[0]) + 1 if zeros.size else -1,
        smallest_positive=float(np.nextafter(0.0, 1.0)),
        argmax_small_n=(float(grid[np.argmax(like)]), float(grid[np.argmax(loglike)])),
        grid_step=float(grid[1] - grid[0]),
        small_n=small_n,
        mean=mean,
        variance=variance,
    )
