"""Praxis Task 3 numerics: mini-batch SGD on the 2-D Gaussian mean, its noise floor and gradient variance,
and the subset log-likelihood landscapes. Every function returns data; reports/ draws and writes them up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from derivations.model import InputError
from numerics import inputs
from sheets.exercise3_demos.praxis import Praxis, columns, divergence_limit, heatmap, left_bounds
from sheets.exercise3_demos.praxis_theory import k_sym, minibatch_gradient_covariance_scale, n_sym


@dataclass(frozen=True)
class SGDRun:
    k: int
    schedule: str
    lr: float
    path: np.ndarray  # finite: a diverged run stops before its first non-finite iterate
    errors: np.ndarray
    status: str = "finished"  # "finished" (every step taken) or "diverged"
    diverged_at: int | None = None

    @property
    def samples_seen(self) -> np.ndarray:
        return np.arange(len(self.errors)) * self.k


def sgd(
    p: Praxis,
    k: int,
    lr: float,
    steps: int,
    schedule: str = "constant",
    seed: int = 0,
    mu0=(0.0, 0.0),
    sampling: str = "reshuffle",
    gradient: str = "autograd",
) -> SGDRun:
    """Ascent on the subset log-likelihood of k points drawn without replacement; step lr, or lr / t with
    schedule="inverse_t". Gradients by torch autograd.

    sampling="reshuffle" walks a fresh permutation each epoch (every point once per epoch, so a 1/t step
    gives exactly the running mean); "independent" draws each batch afresh, the assumption behind
    sgd_noise_floor (within an epoch reshuffled batches are negatively correlated).

    gradient="derived" uses the lambdified score at the batch's statistics instead of autograd: the same
    gradient (a test holds them together) without torch's per-step overhead, for long studies."""
    n = p.config.n
    k = inputs.batch_size(k, n)
    inputs.learning_rate(lr)
    steps = inputs.whole("steps", steps)
    mu0 = inputs.point("mu0", mu0, 2)
    if schedule not in {"constant", "inverse_t"}:
        raise InputError(f"schedule must be 'constant' or 'inverse_t', got {schedule!r}")
    if sampling not in {"reshuffle", "independent"}:
        raise InputError(f"sampling must be 'reshuffle' or 'independent', got {sampling!r}")
    if gradient not in {"autograd", "derived"}:
        raise InputError(f"gradient must be 'autograd' or 'derived', got {gradient!r}")
    batches = batch_indices(n, k, steps, sampling, np.random.default_rng(seed))
    step_sizes = lr / np.arange(1, steps + 1) if schedule == "inverse_t" else np.full(steps, float(lr))
    limit = divergence_limit(p, mu0)
    if gradient == "derived":
        path = _ascend_derived(p, np.array(list(batches)).reshape(steps, k), step_sizes, mu0, limit)
    else:
        path = _ascend_autograd(p, batches, step_sizes, mu0, limit)
    arr = np.array(path)
    diverged = len(path) <= steps
    return SGDRun(
        k,
        schedule,
        lr,
        arr,
        np.linalg.norm(arr - p.mle, axis=1),
        "diverged" if diverged else "finished",
        len(path) if diverged else None,
    )


def batch_indices(n: int, k: int, steps: int, sampling: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The indices of each step's batch: consecutive slices of a permutation, a fresh one when it runs out
    ("reshuffle"), or a fresh draw without replacement every step ("independent")."""
    order, pos = rng.permutation(n), 0
    for t in range(1, steps + 1):
        if pos + k > n or (sampling == "independent" and t > 1):
            order, pos = rng.permutation(n) if sampling == "reshuffle" else rng.choice(n, k, replace=False), 0
        yield order[pos : pos + k]
        pos += k


def _ascend_autograd(
    p: Praxis, batches: Iterator[np.ndarray], step_sizes: np.ndarray, mu0, limit: float
) -> list[np.ndarray]:
    """The iterates, stopping before the first one that leaves the bounds (diverged)."""
    mu = torch.tensor(mu0, dtype=torch.float64, requires_grad=True)
    path = [mu.detach().numpy().copy()]
    for idx, step in zip(batches, step_sizes):
        # NumPy's row gather, then views: torch's own indexing costs about 0.5 ms per 10^4 points.
        batch = torch.from_numpy(p.data[idx])
        mu.grad = None
        p.compiled.objective_torch({"mu1": mu[0], "mu2": mu[1]}, {"x1": batch[:, 0], "x2": batch[:, 1]}).backward()
        with torch.no_grad():
            mu += step * mu.grad
        if left_bounds(mu.detach().numpy(), p, limit):
            break
        path.append(mu.detach().numpy().copy())
    return path


def _ascend_derived(p: Praxis, batches: np.ndarray, step_sizes: np.ndarray, mu0, limit: float) -> list[np.ndarray]:
    """The derived score at each batch's statistics, which are computed for every step at once (a batch's
    draw does not depend on where the iterate is)."""
    drawn = p.data[batches]  # (steps, k, 2)
    stats = p.compiled.statistics_rows({"x1": drawn[..., 0], "x2": drawn[..., 1]})
    mu = np.asarray(mu0, dtype=float)
    path = [mu]
    for t, step in enumerate(step_sizes):
        mu = mu + step * p.compiled.score(
            {"mu1": mu[0], "mu2": mu[1]}, {name: values[t] for name, values in stats.items()}
        )
        if left_bounds(mu, p, limit):
            break
        path.append(mu)
    return path


def population_covariance(p: Praxis) -> np.ndarray:
    return np.cov(p.data.T, bias=True)


def sgd_noise_floor(p: Praxis, k: int, lr: float) -> float:
    """Predicted stationary RMS of ||mu_t - mu_hat|| for constant-rate SGD with batch k.

    In the eigenbasis of Sigma each coordinate is an AR(1): e <- (1 - a) e + a xi with a = lr k / sigma_i and
    Var(xi) = c_ii (n - k) / (k (n - 1)), whose stationary variance is a / (2 - a) Var(xi).
    """
    n = p.config.n
    k = inputs.batch_size(k, n)
    inputs.learning_rate(lr)
    evals, vecs = np.linalg.eigh(p.sigma)
    bound = 2 * float(evals[0]) / k
    if lr >= bound:
        raise InputError(
            f"learning rate must be below the stability bound 2 sigma_min / k = {bound:.6g} for a noise floor to exist, got {lr!r}"
        )
    c = np.diag(vecs.T @ population_covariance(p) @ vecs)
    a = lr * k / evals
    return float(np.sqrt(np.sum(a / (2 - a) * c * (n - k) / (k * (n - 1)))))


@dataclass(frozen=True)
class VarianceCheck:
    k: int
    predicted_trace: float
    measured_trace: float
    replications: int


def minibatch_gradient_variance(
    p: Praxis, k: int, replications: int = 2000, seed: int = 1, mu=(0.0, 0.0)
) -> VarianceCheck:
    """tr Cov of the unbiased mini-batch gradient (n/k) sum_B Sigma^-1 (x_i - mu): derived vs Monte Carlo."""
    n = p.config.n
    k = inputs.batch_size(k, n)
    replications = inputs.whole("replications", replications, 2)
    mu = inputs.point("mu", mu, 2)
    prec = np.linalg.inv(p.sigma)
    scale = float(minibatch_gradient_covariance_scale().subs({n_sym: n, k_sym: k}))
    predicted = scale * n * float(np.trace(prec @ population_covariance(p) @ prec))
    rng = np.random.default_rng(seed)
    z = (p.data - np.asarray(mu)) @ prec
    grads = np.array([(n / k) * z[rng.choice(n, k, replace=False)].sum(axis=0) for _ in range(replications)])
    return VarianceCheck(k, predicted, float(np.trace(np.cov(grads.T))), replications)


@dataclass(frozen=True)
class SubsetLandscape:
    k: int
    values: np.ndarray  # L-hat over the grid
    subset_mean: np.ndarray
    grid_argmax: np.ndarray
    hessian: np.ndarray  # -k Sigma^-1, from the derived Hessian at the subset's statistics
    distance_to_mle: float


def subset_landscapes(
    p: Praxis, ks, resolution: int = 100, seed: int = 2
) -> tuple[np.ndarray, np.ndarray, list[SubsetLandscape]]:
    inputs.whole("heatmap resolution", resolution, 2)
    ks = [inputs.batch_size(k, p.config.n) for k in ks]
    if not ks:
        raise InputError("subset sizes ks must name at least one batch size")
    rng = np.random.default_rng(seed)
    order = rng.permutation(p.config.n)
    out = []
    m1 = m2 = None
    for k in ks:
        sub = p.data[order[:k]]
        stats = p.compiled.statistics(columns(sub))
        m1, m2, values = heatmap(p, resolution, stats)
        best = np.unravel_index(np.argmax(values), values.shape)
        mean = sub.mean(axis=0)
        out.append(
            SubsetLandscape(
                k,
                values,
                mean,
                np.array([m1[best], m2[best]]),
                p.compiled.hessian({"mu1": 0.0, "mu2": 0.0}, stats),
                float(np.linalg.norm(mean - p.mle)),
            )
        )
    return m1, m2, out
