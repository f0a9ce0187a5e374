"""Praxis numerics: the 2-D Gaussian mean by gradient ascent, torch.optim and mini-batch SGD.

Every function returns data (arrays and numbers); reports/ draws and writes them up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp
import torch

from derivations.engine import derive, n_obs
from derivations.model import InputError
from numerics import inputs
from numerics.compile import Compiled, compiled
from sheets.exercise3_demos.praxis_theory import (  # noqa: F401  (n_sym re-exported for px.n_sym)
    exact_sigma,
    mean_model,
    n_sym,
    step_size_theory,
)

GRID = (-5.0, 5.0)
SETTING_WORDS = {
    "lr": "rate",
    ("nesterov", True): "Nesterov's look-ahead",
    ("line_search_fn", "strong_wolfe"): "strong Wolfe line search",
}  # read, not code
HIDDEN_SETTINGS = {"max_iter", "max_eval", "tolerance_grad", "tolerance_change"}  # plumbing, not the method
ANISOTROPIC_SIGMA = (
    (sp.Rational(21, 8), sp.Rational(19, 8)),
    (sp.Rational(19, 8), sp.Rational(21, 8)),
)  # eigenvalues 5, 1/4


@dataclass(frozen=True)
class PraxisConfig:
    n: int = 10_000
    seed: int = 0
    mu: tuple[float, float] = (1.0, 1.0)
    sigma: tuple = ((5, 0), (0, 5))

    def __post_init__(self):
        inputs.whole("n", self.n)
        inputs.whole("seed", self.seed, 0, 2**32 - 1)
        inputs.point("mu", self.mu, 2)
        exact_sigma(self.sigma)


@dataclass
class Praxis:
    """One configured sample with its derivation, compiled once."""

    config: PraxisConfig = field(default_factory=PraxisConfig)

    @cached_property
    def sigma_exact(self) -> sp.Matrix:
        return exact_sigma(self.config.sigma)

    @cached_property
    def sigma(self) -> np.ndarray:
        return np.array(self.sigma_exact.tolist(), dtype=float)

    @cached_property
    def derivation(self):
        return derive(mean_model(self.config.sigma, self.config.mu))

    @cached_property
    def compiled(self) -> Compiled:
        return compiled(self.derivation)

    @cached_property
    def theory(self):
        return step_size_theory(self.config.sigma)

    @cached_property
    def data(self) -> np.ndarray:
        rng = np.random.default_rng(self.config.seed)
        return rng.multivariate_normal(np.asarray(self.config.mu, float), self.sigma, self.config.n)

    @cached_property
    def data_torch(self) -> dict[str, torch.Tensor]:
        return columns_torch(self.data)

    @cached_property
    def stats(self) -> dict[str, float]:
        return self.compiled.statistics(columns(self.data))

    @cached_property
    def mle(self) -> np.ndarray:
        est = self.compiled.estimate(self.stats)
        return np.array([est["mu1"], est["mu2"]])

    def loglik(self, mu1: float, mu2: float) -> float:
        """L(mu) through the sufficient statistics, constant included (heatmap() evaluates whole grids)."""
        return self.compiled.objective({"mu1": mu1, "mu2": mu2}, self.stats)

    def constant(self) -> float:
        """The per-dataset constant the sheet's L drops: L(mu) restricted to n, i.e. n (-log 2 pi - log|Sigma| / 2)."""
        d = self.derivation
        zero = {s.symbol: 0 for s in d.statistics if s.symbol != n_obs}
        per_obs = sp.diff(d.loglik.subs(zero).subs({p: 0 for p in d.params}), n_obs).subs(d.model.constants)
        return float(per_obs) * self.config.n


def columns(x: np.ndarray) -> dict[str, np.ndarray]:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise InputError(f"data must have shape (n, 2), got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise InputError(f"data must be numeric, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise InputError("data must be finite (no NaN or inf)")
    return {"x1": x[:, 0], "x2": x[:, 1]}


def columns_torch(x: np.ndarray) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in columns(x).items()}


# --- the sheet's own helper, kept as the baseline for checks and benchmarks --------------------------
def sheet_L(X: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The exercise sheet's L, verbatim: drops the constant."""
    diff = X - mu
    z = -0.5 * diff @ sigma.inverse() * diff
    return z.sum()


def sheet_relative_error(p: Praxis, mu=(0.0, 0.0)) -> float:
    """|(L through the statistics - its constant) - the sheet's L| / |the sheet's L| at mu."""
    theirs = float(sheet_L(torch.tensor(p.data), torch.tensor(mu, dtype=torch.float64), torch.tensor(p.sigma)))
    return abs(float(p.loglik(*mu)) - p.constant() - theirs) / abs(theirs)


def sheet_heatmap(X: torch.Tensor, sigma: torch.Tensor, resolution: int = 100) -> np.ndarray:
    """The sheet's vizualize() grid: np.vectorize over one torch call per grid point."""
    loss = np.vectorize(lambda a, b: L_point(X, a, b, sigma))
    space = np.linspace(*GRID, resolution)
    x, y = np.meshgrid(space, space)
    return np.array(loss(np.ravel(x), np.ravel(y))).reshape(x.shape)


def L_point(X, a, b, sigma) -> float:
    return float(sheet_L(X, torch.tensor([a, b], dtype=torch.float64), sigma))


def heatmap(
    p: Praxis, resolution: int = 100, stats: dict[str, float] | None = None, bounds=GRID
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L over bounds^2 (the sheet's [-5, 5]^2) through the sufficient statistics, in one broadcast expression."""
    inputs.whole("heatmap resolution", resolution, 2)
    space = np.linspace(*bounds, resolution)
    m1, m2 = np.meshgrid(space, space, sparse=True)
    # L is the quadratic form mu^T A mu + b^T mu + c. With a row of mu1 and a column of mu2 the terms in one
    # coordinate cost `resolution` elements each; only the cross term and the final sum fill the grid.
    A, b, c = p.compiled.quadratic_coefficients(stats or p.stats)
    values = (A[0, 0] * m1 + b[0]) * m1 + ((A[1, 1] * m2 + b[1]) * m2 + c)
    cross = A[0, 1] + A[1, 0]
    if cross:
        values = values + cross * (m1 * m2)
    return np.broadcast_to(m1, values.shape), np.broadcast_to(m2, values.shape), values


def streamed_statistics(p: Praxis, n: int, chunk: int = 1_000_000, seed: int = 0) -> dict[str, float]:
    """Sufficient statistics of n seeded draws, generated and summed chunk by chunk (memory O(chunk))."""
    rng = np.random.default_rng(seed)
    total: dict[str, float] = {}
    for size in _chunks(n, chunk):
        part = p.compiled.statistics(columns(rng.multivariate_normal(np.asarray(p.config.mu, float), p.sigma, size)))
        for k, v in part.items():
            total[k] = total.get(k, 0.0) + v
    return total


def _chunks(n: int, chunk: int) -> Iterator[int]:
    for start in range(0, n, chunk):
        yield min(chunk, n - start)


# --- Task 1: gradient ascent (numerics.study runs it; the iteration's closed-form step count is here) -----
def divergence_limit(p: Praxis, mu0) -> float:
    """An iterate this far from the optimum (10^6 times the start's distance) has diverged."""
    return 1e6 * (float(np.linalg.norm(np.asarray(mu0, float) - p.mle)) + 1.0)


def left_bounds(mu: np.ndarray, p: Praxis, limit: float) -> bool:
    return not np.all(np.isfinite(mu)) or float(np.linalg.norm(mu - p.mle)) > limit


def predicted_steps(p: Praxis, lr: float, mu0=(0.0, 0.0), gtol: float = 1e-6, max_steps: int = 5000) -> int | None:
    """Steps until ||Sigma^-1 (I - lr n Sigma^-1)^t e0|| <= gtol, from the derived iteration; None if never.

    Sigma^-1 and the iteration matrix share eigenvectors, so the t-th gradient is diagonal in that basis.
    """
    inputs.learning_rate(lr)
    mu0 = inputs.point("mu0", mu0, 2)
    inputs.positive("gtol", gtol)
    inputs.whole("max_steps", max_steps)
    evals, vecs = np.linalg.eigh(p.sigma)
    rho = 1 - lr * p.config.n / evals
    if np.max(np.abs(rho)) >= 1:
        return None
    coeffs = vecs.T @ (np.asarray(mu0, float) - p.mle) / evals
    t = np.arange(max_steps + 1)[:, None]
    norms = np.linalg.norm(coeffs * rho**t, axis=1)
    hit = np.flatnonzero(norms <= gtol)
    return int(hit[0]) if hit.size else None


# --- Task 2: torch.optim --------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimizerRun:
    name: str
    settings: str
    steps: int | None  # to ||mu - mu_hat|| <= tol; None if not within the budget
    evaluations: int | None
    path: np.ndarray  # finite: a diverged run stops before its first non-finite iterate
    errors: np.ndarray
    status: str = "converged"  # "converged", "diverged" or "max_steps"


def optimizer_settings(p: Praxis) -> list[tuple[str, type, dict]]:
    """The compared optimizers. Rates for the SGD family come from the derivation: the objective is
    -L/n, whose Hessian is Sigma^-1, so plain steps are stable below 2 sigma_min."""
    evals = np.linalg.eigvalsh(p.sigma)
    smin, smax = float(evals[0]), float(evals[-1])
    plain = 0.5 * smin
    optimal = 2 * smin * smax / (smin + smax)
    return [
        ("SGD", torch.optim.SGD, {"lr": plain}),
        ("SGD, optimal rate", torch.optim.SGD, {"lr": optimal}),
        ("SGD + momentum", torch.optim.SGD, {"lr": plain, "momentum": 0.9}),
        ("Nesterov", torch.optim.SGD, {"lr": plain, "momentum": 0.9, "nesterov": True}),
        ("Adagrad", torch.optim.Adagrad, {"lr": 0.5}),
        ("RMSprop", torch.optim.RMSprop, {"lr": 0.01}),
        ("Adam", torch.optim.Adam, {"lr": 0.1}),
        (
            "LBFGS",
            torch.optim.LBFGS,
            {
                "lr": 1.0,
                "max_iter": 1,
                "max_eval": 25,
                "line_search_fn": "strong_wolfe",
                "tolerance_grad": 1e-12,
                "tolerance_change": 1e-15,
            },
        ),
    ]


def run_optimizer(
    p: Praxis, name: str, cls: type, kwargs: dict, tol: float = 1e-6, max_steps: int = 3000, mu0=(0.0, 0.0)
) -> OptimizerRun:
    """torch.optim on -L/n, evaluated through the sufficient statistics (autograd differentiates that)."""
    inputs.positive("tol", tol)
    inputs.whole("max_steps", max_steps)
    mu0 = inputs.point("mu0", mu0, 2)
    mu = torch.tensor(mu0, dtype=torch.float64, requires_grad=True)
    opt = cls([mu], **kwargs)
    evaluations = 0
    n = p.config.n
    limit = divergence_limit(p, mu0)

    def closure():
        nonlocal evaluations
        evaluations += 1
        opt.zero_grad()
        loss = -p.compiled.objective_stats_torch({"mu1": mu[0], "mu2": mu[1]}, p.stats) / n
        loss.backward()
        return loss

    path = [mu.detach().numpy().copy()]
    steps = evals_at = None
    status = "max_steps"
    for step in range(1, max_steps + 1):
        opt.step(closure)
        if left_bounds(mu.detach().numpy(), p, limit):
            status = "diverged"
            break
        path.append(mu.detach().numpy().copy())
        if np.linalg.norm(path[-1] - p.mle) <= tol:
            steps, evals_at, status = step, evaluations, "converged"
            break
    arr = np.array(path)
    shown = {k: v for k, v in kwargs.items() if k not in HIDDEN_SETTINGS}
    settings = ", ".join(
        f"{SETTING_WORDS.get(k, k)} {v:.4g}"
        if isinstance(v, float)
        else SETTING_WORDS.get((k, v), f"{SETTING_WORDS.get(k, k)} {v}")
        for k, v in shown.items()
    )
    return OptimizerRun(name, settings, steps, evals_at, arr, np.linalg.norm(arr - p.mle, axis=1), status)


def compare_optimizers(p: Praxis, tol: float = 1e-6, max_steps: int = 3000) -> list[OptimizerRun]:
    return [run_optimizer(p, name, cls, kw, tol, max_steps) for name, cls, kw in optimizer_settings(p)]


# Task 3 lives in numerics/minibatch.py; its names are re-exported here for `from sheets.exercise3_demos import praxis as px`.
from sheets.exercise3_demos.minibatch import (  # noqa: E402,F401
    SGDRun,
    SubsetLandscape,
    VarianceCheck,
    batch_indices,
    minibatch_gradient_variance,
    population_covariance,
    sgd,
    sgd_noise_floor,
    subset_landscapes,
)
