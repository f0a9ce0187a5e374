"""Mini-batch gradient ascent on a quadratic log-likelihood: its runs, its noise floor and gradient covariance
(derived, against measurement), and the subset log-likelihood landscapes. Every function returns data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mlemap.derivations.engine import n_obs
from mlemap.derivations.gradient import batch, minibatch_gradient_covariance_scale
from mlemap.derivations.model import InputError
from mlemap.numerics import inputs
from mlemap.numerics.quadratic import Sample, divergence_limit, heatmap, left_bounds
from mlemap.numerics.torch_optional import torch_module


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
    s: Sample,
    k: int,
    lr: float,
    steps: int,
    start,
    schedule: str = "constant",
    seed: int = 0,
    sampling: str = "reshuffle",
    gradient: str = "autograd",
) -> SGDRun:
    """Ascent on the subset log-likelihood of k points drawn without replacement; step lr, or lr / t with
    schedule="inverse_t".

    sampling="reshuffle" walks a fresh permutation each epoch (every point once per epoch, so a 1/t step
    gives exactly the running mean); "independent" draws each batch afresh, the assumption behind
    noise_floor (within an epoch reshuffled batches are negatively correlated).

    gradient="derived" uses the lambdified score at the batch's statistics instead of torch autograd: the same
    gradient (a test holds them together) without torch's per-step overhead, for long studies."""
    k = inputs.batch_size(k, s.n)
    inputs.learning_rate(lr)
    steps = inputs.whole("steps", steps, 1, 10**8)
    start = inputs.point("start", start, len(s.names))
    if schedule not in {"constant", "inverse_t"}:
        raise InputError(f"schedule must be 'constant' or 'inverse_t', got {schedule!r}")
    if sampling not in {"reshuffle", "independent"}:
        raise InputError(f"sampling must be 'reshuffle' or 'independent', got {sampling!r}")
    if gradient not in {"autograd", "derived"}:
        raise InputError(f"gradient must be 'autograd' or 'derived', got {gradient!r}")
    batches = batch_indices(s.n, k, steps, sampling, np.random.default_rng(seed))
    step_sizes = lr / np.arange(1, steps + 1) if schedule == "inverse_t" else np.full(steps, float(lr))
    limit = divergence_limit(s, start)
    if gradient == "derived":
        path = _ascend_derived(s, batches, k, step_sizes, start, limit)
    else:
        path = _ascend_autograd(s, batches, step_sizes, start, limit)
    arr = np.array(path)
    diverged = len(path) <= steps
    errors = np.linalg.norm(arr - s.optimum, axis=1)
    return SGDRun(k, schedule, lr, arr, errors, "diverged" if diverged else "finished", len(path) if diverged else None)


def batch_indices(n: int, k: int, steps: int, sampling: str, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The indices of each step's batch: consecutive slices of a permutation, a fresh one when it runs out
    ("reshuffle"), or a fresh draw without replacement every step ("independent")."""
    order, pos = rng.permutation(n), 0
    for t in range(1, steps + 1):
        if pos + k > n or (sampling == "independent" and t > 1):
            order, pos = rng.permutation(n) if sampling == "reshuffle" else rng.choice(n, k, replace=False), 0
        yield order[pos : pos + k]
        pos += k


def _ascend_autograd(s: Sample, batches: Iterator[np.ndarray], step_sizes: np.ndarray, start, limit: float):
    """The iterates, stopping before the first one that leaves the bounds (diverged)."""
    torch = torch_module()
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    path = [theta.detach().numpy().copy()]
    for idx, step in zip(batches, step_sizes):
        # NumPy's row gather, then views: torch's own indexing costs about 0.5 ms per 10^4 points.
        rows = torch.from_numpy(s.data[idx])
        theta.grad = None
        columns = {x.name: rows[:, j] for j, x in enumerate(s.derivation.model.data)}
        s.compiled.objective_torch(s.theta(theta), columns).backward()
        with torch.no_grad():
            theta += step * theta.grad
        if left_bounds(theta.detach().numpy(), s, limit):
            break
        path.append(theta.detach().numpy().copy())
    return path


CHUNK_POINTS = 1_000_000  # the batches' points gathered at once: memory O(this), not O(steps x k)


def _ascend_derived(s: Sample, batches: Iterator[np.ndarray], k: int, step_sizes: np.ndarray, start, limit: float):
    """The derived score at each batch's statistics, computed for a chunk of steps at once (a batch's draw does
    not depend on where the iterate is); the path is one preallocated array."""
    steps = len(step_sizes)
    path = np.empty((steps + 1, len(s.names)))
    path[0] = theta = np.asarray(start, dtype=float)
    per_chunk = max(1, CHUNK_POINTS // k)
    done = 0
    while done < steps:
        size = min(per_chunk, steps - done)
        chunk = np.array([next(batches) for _ in range(size)]).reshape(size, k)
        stats = s.compiled.statistics_rows(s.columns(s.data[chunk]))
        for t in range(size):
            theta = theta + step_sizes[done + t] * s.compiled.score(
                s.theta(theta), {name: values[t] for name, values in stats.items()}
            )
            if left_bounds(theta, s, limit):
                return path[: done + t + 1]
            path[done + t + 1] = theta
        done += size
    return path


def score_covariance(s: Sample) -> np.ndarray:
    """The population covariance of one point's score (Sigma^-1 C Sigma^-1 for a Gaussian mean, C the data's
    covariance); the score is affine in the parameters with slope -C, so it is the same at every point."""
    return np.cov(s.per_point_scores(s.optimum).T, bias=True).reshape(len(s.names), len(s.names))


def noise_floor(s: Sample, k: int, lr: float) -> float:
    """Predicted stationary RMS of ||theta_t - theta_hat|| for constant-rate SGD with batch k.

    In the eigenbasis of the curvature each coordinate is an AR(1): e <- (1 - a) e + lr xi with a = lr k c_i and
    Var(xi) = S_ii k (n - k) / (n - 1) (S the score covariance), whose stationary variance is
    lr^2 Var(xi) / (a (2 - a))."""
    k = inputs.batch_size(k, s.n)
    inputs.learning_rate(lr)
    bound = s.bound(k)
    if lr >= bound:
        raise InputError(
            f"learning rate must be below the stability bound {bound:.6g} of a batch of {k} for a noise floor to exist, got {lr!r}"
        )
    evals, vecs = np.linalg.eigh(s.curvature)
    noise = np.diag(vecs.T @ score_covariance(s) @ vecs) * k * (s.n - k) / (s.n - 1)
    a = lr * k * evals
    return float(np.sqrt(np.sum(lr**2 * noise / (a * (2 - a)))))


@dataclass(frozen=True)
class VarianceCheck:
    k: int
    predicted_trace: float
    measured_trace: float
    replications: int


def gradient_variance(s: Sample, k: int, at, replications: int = 2000, seed: int = 1) -> VarianceCheck:
    """tr Cov of the unbiased mini-batch gradient (n/k) sum_B s_i at a point: derived against Monte Carlo."""
    k = inputs.batch_size(k, s.n)
    replications = inputs.whole("replications", replications, 2)
    scores = s.per_point_scores(np.asarray(inputs.point("at", at, len(s.names))))
    scale = float(minibatch_gradient_covariance_scale().subs({n_obs: s.n, batch: k}))
    predicted = scale * s.n * float(np.trace(np.cov(scores.T, bias=True).reshape(len(s.names), -1)))
    rng = np.random.default_rng(seed)
    grads = np.array([(s.n / k) * scores[rng.choice(s.n, k, replace=False)].sum(axis=0) for _ in range(replications)])
    return VarianceCheck(k, predicted, float(np.trace(np.cov(grads.T).reshape(len(s.names), -1))), replications)


@dataclass(frozen=True)
class SubsetLandscape:
    k: int
    values: np.ndarray  # the subset's log-likelihood over the grid
    subset_optimum: np.ndarray
    grid_argmax: np.ndarray
    hessian: np.ndarray  # -k C, from the derived Hessian at the subset's statistics
    distance_to_optimum: float


def subset_landscapes(s: Sample, ks, resolution: int, bounds, seed: int = 2):
    """The log-likelihood of the first k points of a seeded permutation, for each k, on one grid."""
    ks = [inputs.batch_size(k, s.n) for k in ks]
    if not ks:
        raise InputError("subset sizes ks must name at least one batch size")
    order = np.random.default_rng(seed).permutation(s.n)
    out, m1, m2 = [], None, None
    for k in ks:
        stats = s.compiled.statistics(s.columns(s.data[order[:k]]))
        m1, m2, values = heatmap(s, resolution, bounds, stats)
        best = np.unravel_index(np.argmax(values), values.shape)
        found = s.compiled.estimate(stats) or {}
        centre = np.array([found.get(name, np.nan) for name in s.names])
        hessian = s.compiled.hessian(s.theta(np.zeros(len(s.names))), stats)
        out.append(
            SubsetLandscape(
                k, values, centre, np.array([m1[best], m2[best]]), hessian, float(np.linalg.norm(centre - s.optimum))
            )
        )
    return m1, m2, out
