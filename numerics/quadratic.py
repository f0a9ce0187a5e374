"""Gradient methods on a quadratic log-likelihood, where the theory is exact: a sample with its derivation
compiled once, the heatmap in one broadcast expression, gradient ascent's predicted step counts and
torch.optim's optimizers. The mini-batch half is numerics/minibatch.py. Every function returns data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

from mlemap.derivations.engine import Derivation, n_obs
from mlemap.derivations.gradient import StepSizeTheory, step_size_theory
from mlemap.derivations.model import InputError
from mlemap.numerics import inputs
from mlemap.numerics.compile import Compiled, compiled
from mlemap.numerics.torch_optional import torch_module

SETTING_WORDS = {
    "lr": "rate",
    ("nesterov", True): "Nesterov's look-ahead",
    ("line_search_fn", "strong_wolfe"): "strong Wolfe line search",
}  # read, not code
HIDDEN_SETTINGS = {"max_iter", "max_eval", "tolerance_grad", "tolerance_change"}  # plumbing, not the method


@dataclass
class Sample:
    """A derivation whose objective is quadratic, on data: rows of the model's data columns, in their order."""

    derivation: Derivation
    data: np.ndarray  # (n, columns)
    seed: int = 0

    def __post_init__(self):
        if self.theory is None:
            raise InputError(f"{self.derivation.model.name}: the log-likelihood is not quadratic in the parameters")
        raw = np.asarray(self.data)
        if raw.dtype.kind not in "biuf":
            raise InputError(f"data must be numeric, got dtype {raw.dtype}")
        self.data = raw.astype(float)
        if self.data.ndim != 2 or self.data.shape[1] != len(self.derivation.model.data) or len(self.data) < 2:
            raise InputError(f"data must have shape (n >= 2, {len(self.derivation.model.data)}), got {self.data.shape}")
        if not np.all(np.isfinite(self.data)):
            raise InputError("data must be finite (no NaN or inf)")

    @property
    def n(self) -> int:
        return len(self.data)

    @property
    def names(self) -> tuple[str, ...]:
        return self.compiled.names

    @cached_property
    def theory(self) -> StepSizeTheory | None:
        return step_size_theory(self.derivation)

    @cached_property
    def compiled(self) -> Compiled:
        return compiled(self.derivation)

    @cached_property
    def curvature(self) -> np.ndarray:
        """-H / n: one point's curvature (Sigma^-1 for a Gaussian mean)."""
        assert self.theory is not None
        return np.array((self.theory.curvature / n_obs).tolist(), dtype=float)

    @cached_property
    def curvature_exact(self) -> sp.Matrix:
        assert self.theory is not None
        return sp.simplify(self.theory.curvature / n_obs)

    def columns(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        rows = self.data if rows is None else rows
        return {s.name: rows[..., j] for j, s in enumerate(self.derivation.model.data)}

    @cached_property
    def stats(self) -> dict[str, float]:
        return self.compiled.statistics(self.columns())

    @cached_property
    def optimum(self) -> np.ndarray:
        found = self.compiled.estimate(self.stats)
        if found is None:
            raise InputError(f"{self.derivation.model.name}: no closed-form optimum at this sample")
        return np.array([found[k] for k in self.names])

    def theta(self, vector) -> dict:
        return dict(zip(self.names, vector))

    def bound(self, k: int | None = None) -> float:
        """The largest stable rate of ascent on the log-likelihood of k points (all n by default)."""
        assert self.theory is not None
        return float(self.theory.bound.subs(n_obs, k or self.n))

    def per_point_scores(self, at: np.ndarray) -> np.ndarray:
        """(n, parameters): each point's score at the parameters, from the derived score at one point's statistics."""
        stats = self.compiled.statistics_rows({k: v[:, None] for k, v in self.columns().items()})
        _, score, _ = self.compiled.numpy_in_statistics
        parts = score(*at, *self.compiled.stat_args(stats))
        return np.column_stack([np.broadcast_to(np.asarray(v, float).ravel(), self.n) for v in parts])


def sample(d: Derivation, data: dict[str, np.ndarray], seed: int = 0) -> Sample:
    return Sample(d, np.column_stack([np.asarray(data[s.name], float) for s in d.model.data]), seed)


def heatmap(s: Sample, resolution: int, bounds, stats: dict[str, float] | None = None):
    """The objective over bounds^2 through the sufficient statistics, in one broadcast expression."""
    inputs.whole("heatmap resolution", resolution, 2, 4000)
    coefficients = s.compiled.quadratic_coefficients(stats or s.stats)
    if coefficients is None or len(s.names) != 2:
        raise InputError("a heatmap needs two parameters and a quadratic objective")
    space = np.linspace(float(bounds[0]), float(bounds[1]), resolution)
    m1, m2 = np.meshgrid(space, space, sparse=True)
    # mu^T A mu + b^T mu + c with a row of mu1 and a column of mu2: the terms in one coordinate cost
    # `resolution` elements each; only the cross term and the final sum fill the grid.
    A, b, c = coefficients
    values = (A[0, 0] * m1 + b[0]) * m1 + ((A[1, 1] * m2 + b[1]) * m2 + c)
    cross = A[0, 1] + A[1, 0]
    if cross:
        values = values + cross * (m1 * m2)
    return np.broadcast_to(m1, values.shape), np.broadcast_to(m2, values.shape), values


def view(s: Sample, start: np.ndarray, paths=(), margin: float = 0.15) -> tuple[float, float]:
    """One axis range for a square heatmap holding the start, the optimum and the paths' points within three
    times the start's distance of the optimum (an overshooting path stays in view; a runaway one is cut)."""
    reach = 3 * float(np.linalg.norm(np.asarray(start, float) - s.optimum)) + 1e-9
    points = [np.asarray(start, float)[None, :], s.optimum[None, :]]
    points += [p[np.linalg.norm(p - s.optimum, axis=1) <= reach] for p in paths]
    every = np.concatenate(points)
    lo, hi = float(every.min()), float(every.max())
    pad = margin * max(hi - lo, 1.0)
    return lo - pad, hi + pad


def divergence_limit(s: Sample, start) -> float:
    """An iterate this far from the optimum (10^6 times the start's distance) has diverged."""
    return 1e6 * (float(np.linalg.norm(np.asarray(start, float) - s.optimum)) + 1.0)


def left_bounds(theta: np.ndarray, s: Sample, limit: float) -> bool:
    return not np.all(np.isfinite(theta)) or float(np.linalg.norm(theta - s.optimum)) > limit


def predicted_steps(s: Sample, lr: float, start, gtol: float = 1e-6, max_steps: int = 5000) -> int | None:
    """Steps until |C (I - lr n C)^t e0| <= gtol (the mean gradient), from the derived iteration; None if never.
    C and the iteration matrix share eigenvectors, so the t-th gradient is diagonal in that basis."""
    inputs.learning_rate(lr)
    start = inputs.point("start", start, len(s.names))
    inputs.positive("gtol", gtol)
    inputs.whole("max_steps", max_steps)
    evals, vecs = np.linalg.eigh(s.curvature)
    rho = 1 - lr * s.n * evals
    if np.max(np.abs(rho)) >= 1:
        return None
    coeffs = vecs.T @ (np.asarray(start, float) - s.optimum) * evals
    t = np.arange(max_steps + 1)[:, None]
    hit = np.flatnonzero(np.linalg.norm(coeffs * rho**t, axis=1) <= gtol)
    return int(hit[0]) if hit.size else None


@dataclass(frozen=True)
class OptimizerRun:
    name: str
    settings: str
    steps: int | None  # to ||theta - theta_hat|| <= tol; None if not within the budget
    evaluations: int | None
    path: np.ndarray  # finite: a diverged run stops before its first non-finite iterate
    errors: np.ndarray
    status: str = "converged"  # "converged", "diverged" or "max_steps"


def optimizer_settings(s: Sample) -> list[tuple[str, type, dict]]:
    """The compared optimizers. Rates for the SGD family come from the derivation: the objective is -l/n,
    whose Hessian is C, so plain steps are stable below 2 / c_max."""
    evals = np.linalg.eigvalsh(s.curvature)
    plain = 0.5 / float(evals[-1])
    optimal = 2 / float(evals[0] + evals[-1])
    torch = torch_module()
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
    s: Sample, name: str, cls: type, kwargs: dict, start, tol: float = 1e-6, max_steps: int = 3000
) -> OptimizerRun:
    """torch.optim on -l/n, evaluated through the sufficient statistics (autograd differentiates that)."""
    inputs.positive("tol", tol)
    inputs.whole("max_steps", max_steps)
    torch = torch_module()
    theta = torch.tensor(np.asarray(start, float), dtype=torch.float64, requires_grad=True)
    opt = cls([theta], **kwargs)
    evaluations = 0
    limit = divergence_limit(s, start)

    def closure():
        nonlocal evaluations
        evaluations += 1
        opt.zero_grad()
        loss = -s.compiled.objective_stats_torch(s.theta(theta), s.stats) / s.n
        loss.backward()
        return loss

    path = [theta.detach().numpy().copy()]
    steps = evals_at = None
    status = "max_steps"
    for step in range(1, max_steps + 1):
        opt.step(closure)
        if left_bounds(theta.detach().numpy(), s, limit):
            status = "diverged"
            break
        path.append(theta.detach().numpy().copy())
        if np.linalg.norm(path[-1] - s.optimum) <= tol:
            steps, evals_at, status = step, evaluations, "converged"
            break
    arr = np.array(path)
    return OptimizerRun(name, _settings(kwargs), steps, evals_at, arr, np.linalg.norm(arr - s.optimum, axis=1), status)


def _settings(kwargs: dict) -> str:
    shown = {k: v for k, v in kwargs.items() if k not in HIDDEN_SETTINGS}
    return ", ".join(
        f"{SETTING_WORDS.get(k, k)} {v:.4g}"
        if isinstance(v, float)
        else SETTING_WORDS.get((k, v), f"{SETTING_WORDS.get(k, k)} {v}")
        for k, v in shown.items()
    )


def compare_optimizers(s: Sample, start, tol: float = 1e-6, max_steps: int = 3000) -> list[OptimizerRun]:
    return [run_optimizer(s, name, cls, kw, start, tol, max_steps) for name, cls, kw in optimizer_settings(s)]


def streamed_statistics(s: Sample, draw, n: int, chunk: int = 1_000_000, seed: int = 0) -> dict[str, float]:
    """Sufficient statistics of n seeded draws (draw(rng, size) -> columns), generated and summed chunk by chunk:
    memory O(chunk)."""
    rng = np.random.default_rng(seed)
    total: dict[str, float] = {}
    for size in _chunks(n, chunk):
        for k, v in s.compiled.statistics(draw(rng, size)).items():
            total[k] = total.get(k, 0.0) + v
    return total


def _chunks(n: int, chunk: int) -> Iterator[int]:
    for start in range(0, n, chunk):
        yield min(chunk, n - start)
