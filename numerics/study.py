"""An optimizer study of any model's objective against its optimum: gradient ascent over learning rates (the
stability bound from the Hessian at the optimum, predicted against measured steps), torch.optim optimizers,
and mini-batch stochastic gradients over batch sizes. Returns data; reports/ lays it out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlemap.derivations.engine import Derivation
from mlemap.derivations.model import InputError
from mlemap.numerics import inputs
from mlemap.numerics.checks import check_data
from mlemap.numerics.compile import compiled
from mlemap.numerics.domains import from_free
from mlemap.numerics.estimate import estimate
from mlemap.numerics.torch_optional import TORCH_MISSING, has_torch, torch_module

FRACTIONS = (0.1, 0.5, 0.9, 1.1)
GTOL = 1e-6  # |score| / n at which an ascent has converged
MAX_STEPS = 1000
BATCH_STEPS = 400


@dataclass(frozen=True)
class Run:
    """One optimizer run: status "converged", "diverged" (ran away), "left_domain" (a step left the parameter's
    domain, where the log-likelihood is not defined), "cycles" (still going at the last step, back where it was
    two steps before: a period-2 oscillation about the optimum) or "max_steps"; errors ||theta_t - theta_hat||."""

    label: str
    lr: float
    status: str
    steps: int
    predicted: int | None
    errors: np.ndarray
    path: np.ndarray


@dataclass(frozen=True)
class Study:
    model: str
    names: tuple[str, ...]
    n: int
    optimum: dict[str, float]
    bound: float  # 2 / lambda_max(-H(theta_hat)): the largest stable rate of gradient ascent on the log-likelihood
    optimal: float  # 2 / (lambda_min + lambda_max): the rate whose slowest direction contracts fastest
    curvatures: tuple[float, ...]  # the eigenvalues of -H(theta_hat)
    ascent: tuple[Run, ...]
    optimizers: tuple[Run, ...]
    batches: tuple[Run, ...]
    grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # (theta_1, theta_2, objective) for two parameters
    start_curvatures: tuple[float, ...] = ()  # the eigenvalues of -H at the start: why predicted steps differ
    without_torch: str = ""  # why gradient ascent used the derived score and torch.optim did not run, if it did not
    curvature: np.ndarray | None = None  # -H(theta_hat), the derived Hessian at the data: what curvatures come from


PARTS = ("optimizers", "batches", "grid")  # beside the learning-rate study, which always runs


def run_study(d: Derivation, seed: int = 0, fractions=FRACTIONS, data=None, parts=PARTS) -> Study:
    """The study on the given data (columns by data name), else on the model's check data for the seed; parts
    picks what runs beside gradient ascent over the rates (a report with its own optimizer comparison skips it)."""
    for fraction in fractions:
        inputs.positive("fraction of the bound", fraction)
    data = check_data(d.model, seed) if data is None else d.model.validate(data)
    c = compiled(d)
    optimum = estimate(d, data)  # the closed form where there is one, else a converged numerical optimum
    if not optimum.converged:
        raise InputError(f"{d.model.name}: no optimum to study ({optimum.reason})")
    found = optimum.values
    assert found is not None  # a converged estimate has values
    n = len(next(iter(data.values())))
    curvature = -c.evaluator.hessian(found, data)  # the derived Hessian, lambdified: the same with torch or without
    curvatures = np.linalg.eigvalsh(curvature)
    if curvatures[0] <= 0:
        raise InputError(f"{d.model.name}: the Hessian at the optimum is not negative definite; no rate study")
    bound = 2.0 / float(curvatures[-1])
    start = from_free(d.model, np.zeros(len(c.names)))
    ascent = tuple(_ascent(d, data, found, start, f * bound, f"{f:g} of the bound") for f in fractions)
    optimal = 2.0 / float(curvatures[0] + curvatures[-1])
    with_optimizers = "optimizers" in parts and has_torch()
    optimizers = _optimizers(d, data, found, start, n / float(curvatures[-1])) if with_optimizers else ()
    batches = _batches(d, data, found, start, bound, seed) if "batches" in parts else ()
    grid = _grid(d, data, found, start) if "grid" in parts else None
    return Study(
        d.model.name,
        c.names,
        n,
        found,
        bound,
        optimal,
        tuple(float(v) for v in curvatures),
        ascent,
        optimizers,
        batches,
        grid,
        tuple(float(v) for v in np.linalg.eigvalsh(-c.evaluator.hessian(start, data))),
        "" if has_torch() else TORCH_MISSING,
        curvature,
    )


def _vector(names, theta) -> np.ndarray:
    return np.array([theta[k] for k in names], float)


def _inside(d: Derivation, theta: np.ndarray) -> bool:
    """Finite and within each parameter's interval (checked in floats: this runs at every step)."""
    lo, hi = _bounds(d)
    return bool(np.all(np.isfinite(theta)) and np.all(theta >= lo) and np.all(theta <= hi))


def _bounds(d: Derivation) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([float(p.domain.inf) for p in d.model.params]),
        np.array([float(p.domain.sup) for p in d.model.params]),
    )


def _ascent(d: Derivation, data, optimum, start, lr: float, label: str) -> Run:
    """theta <- theta + lr grad l(theta), the gradient by torch autograd over the raw data (independent of the
    derivation); without torch, the derived score."""
    c = compiled(d)
    gradient = _autograd(c, data) if has_torch() else lambda t: c.evaluator.score(dict(zip(c.names, t)), data)
    theta = _vector(c.names, start)
    n = len(next(iter(data.values())))
    path, status = [theta], "max_steps"
    for _ in range(MAX_STEPS):
        grad = gradient(theta)
        if float(np.linalg.norm(grad)) / n <= GTOL:
            status = "converged"
            break
        theta = theta + lr * grad
        if not _inside(d, theta):
            status = "left_domain"
            break
        if np.linalg.norm(theta - path[0]) > 1e6 * (1 + np.linalg.norm(path[0])):
            status = "diverged"
            break
        path.append(theta)
    if status == "max_steps" and _cycles(np.array(path)):
        status = "cycles"
    return _run(c, label, lr, status, path, optimum, _predicted(d, data, optimum, start, lr))


def _autograd(c, data):
    """The raw-data log-likelihood's gradient by torch autograd, as a function of the parameter vector."""
    torch = torch_module()
    tdata = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in data.items()}

    def gradient(theta: np.ndarray) -> np.ndarray:
        leaf = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        c.objective_torch(dict(zip(c.names, leaf)), tdata).backward()
        return leaf.grad.numpy()

    return gradient


def _cycles(path: np.ndarray) -> bool:
    """Whether the last steps alternate between two points: each iterate is (to 1e-9 of the step) where it was
    two steps before, while one step moves it."""
    if len(path) < 5:
        return False
    jump = np.linalg.norm(path[-1] - path[-2])
    back = max(np.linalg.norm(path[-1] - path[-3]), np.linalg.norm(path[-2] - path[-4]))
    return bool(jump > 0 and back <= 1e-9 * jump)


def _run(c, label, lr, status, path, optimum, predicted=None) -> Run:
    arr = np.array(path)
    return Run(
        label, float(lr), status, len(path) - 1, predicted, np.linalg.norm(arr - _vector(c.names, optimum), axis=1), arr
    )


def _predicted(d: Derivation, data, optimum, start, lr: float) -> int | None:
    """Steps until |H e_t| / n <= GTOL for the linearised iteration e_{t+1} = (I + lr H) e_t at the optimum;
    exact for a quadratic log-likelihood, an approximation otherwise. None when it never gets there."""
    c = compiled(d)
    h = c.evaluator.hessian(optimum, data)
    n = len(next(iter(data.values())))
    step = np.eye(len(c.names)) + lr * h
    if np.max(np.abs(np.linalg.eigvals(step))) >= 1:
        return None
    e = _vector(c.names, start) - _vector(c.names, optimum)
    for t in range(MAX_STEPS + 1):
        if np.linalg.norm(h @ e) / n <= GTOL:
            return t
        e = step @ e
    return None


def _optimizers(d: Derivation, data, optimum, start, stable: float) -> tuple[Run, ...]:
    """torch.optim on -l / n. In the parameters its Hessian's largest eigenvalue is lambda_max / n, so plain
    steps are stable below 2 n / lambda_max; the SGD family runs at a quarter of that (the coordinates the
    optimizers move in are curved differently, so no rate is exact for them)."""
    torch = torch_module()
    settings: list[tuple[str, type, dict]] = [
        ("SGD", torch.optim.SGD, {"lr": stable / 2}),
        ("SGD + momentum 0.9", torch.optim.SGD, {"lr": stable / 20, "momentum": 0.9}),
        ("Adam", torch.optim.Adam, {"lr": 0.05}),
        (
            "LBFGS",
            torch.optim.LBFGS,
            {
                "lr": 1.0,
                "max_iter": 1,
                "line_search_fn": "strong_wolfe",
                "tolerance_grad": 1e-12,
                "tolerance_change": 1e-15,
            },
        ),
    ]
    return tuple(_optimizer(d, data, optimum, start, name, cls, kwargs) for name, cls, kwargs in settings)


def _optimizer(d: Derivation, data, optimum, start, name: str, cls, kwargs: dict) -> Run:
    """torch.optim in the unconstrained coordinates the numerical checks use (a positive parameter as exp(u)),
    so no optimizer's trial step leaves the domain; the path is recorded in the parameters."""
    c, torch = compiled(d), torch_module()
    tdata = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in data.items()}
    n = len(next(iter(data.values())))
    u = torch.tensor(_to_free(d, _vector(c.names, start)), dtype=torch.float64, requires_grad=True)
    opt = cls([u], **kwargs)

    def closure():
        opt.zero_grad()
        loss = -c.objective_torch(from_free(d.model, u, torch), tdata) / n
        loss.backward()
        return loss

    def theta() -> np.ndarray:
        return _vector(c.names, {k: float(v) for k, v in from_free(d.model, u.detach(), torch).items()})

    path, status, target = [theta()], "max_steps", _vector(c.names, optimum)
    for _ in range(MAX_STEPS):
        opt.step(closure)
        if not _inside(d, theta()):
            status = "diverged"
            break
        path.append(theta())
        if np.linalg.norm(path[-1] - target) <= 1e-6 * (1 + np.linalg.norm(target)):
            status = "converged"
            break
    return _run(c, name, kwargs["lr"], status, path, optimum)


def _to_free(d: Derivation, theta: np.ndarray) -> np.ndarray:
    """The inverse of domains.from_free: logit for a bounded interval, log for a one-sided one."""
    lo, hi = _bounds(d)
    out = theta.astype(float).copy()
    for i in range(len(theta)):
        if np.isfinite(lo[i]) and np.isfinite(hi[i]):
            out[i] = np.log((theta[i] - lo[i]) / (hi[i] - theta[i]))
        elif np.isfinite(lo[i]):
            out[i] = np.log(theta[i] - lo[i])
        elif np.isfinite(hi[i]):
            out[i] = np.log(hi[i] - theta[i])
    return out


def _batches(d: Derivation, data, optimum, start, bound: float, seed: int) -> tuple[Run, ...]:
    """Mini-batch ascent on the subset log-likelihood scaled to the full sample, (n/k) l_B, at a tenth of the
    full-data bound: the same rate for every k, so only the gradient's noise differs."""
    c = compiled(d)
    n = len(next(iter(data.values())))
    rng = np.random.default_rng(seed)
    runs = []
    for k in sorted({1, max(1, n // 50), max(1, n // 5), n}):
        theta, path, status = _vector(c.names, start), [_vector(c.names, start)], "max_steps"
        for _ in range(BATCH_STEPS):
            idx = rng.choice(n, k, replace=False)
            grad = c.evaluator.score(dict(zip(c.names, theta)), {name: col[idx] for name, col in data.items()})
            theta = theta + 0.1 * bound * (n / k) * grad
            if not _inside(d, theta):
                status = "left_domain"
                break
            path.append(theta)
        runs.append(_run(c, f"k = {k}", 0.1 * bound, status, path, optimum))
    return tuple(runs)


def _grid(d: Derivation, data, optimum, start, resolution: int = 60):
    """The objective over a box holding the start and the optimum, for a heatmap of two parameters."""
    c = compiled(d)
    if len(c.names) != 2 or not d.separable:
        return None
    a, b = _vector(c.names, start), _vector(c.names, optimum)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pad = 0.3 * (hi - lo) + 1e-3
    axes = [np.linspace(max(lo[i] - pad[i], _low(d, i)), hi[i] + pad[i], resolution) for i in range(2)]
    m1, m2 = np.meshgrid(*axes)
    objective, _, _ = c.numpy_in_statistics
    stats = c.stat_args(c.statistics(data))
    with np.errstate(all="ignore"):
        values = np.broadcast_to(objective(m1, m2, *stats), m1.shape).astype(float)
    return m1, m2, values


def _low(d: Derivation, i: int) -> float:
    start = d.model.params[i].domain.inf
    return float(start) + 1e-6 if start.is_finite else -np.inf
