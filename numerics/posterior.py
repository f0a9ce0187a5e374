"""A Gaussian posterior's answers recomputed without SymPy: its mean is the log-posterior's maximiser (found by
scipy's optimizer) and its covariance the inverse of the negative Hessian there (by torch autograd), exact for a
quadratic log-posterior."""

from __future__ import annotations

import numpy as np

from mlemap.derivations.engine import Derivation
from mlemap.derivations.sheet import Answer, Posterior
from mlemap.numerics.checks import check_data
from mlemap.numerics.compile import compiled
from mlemap.numerics.optimizers import optimum_scipy, torch_data
from mlemap.numerics.results import CheckResult, rel_error
from mlemap.numerics.torch_optional import torch_module

TOLERANCE = 1e-5  # Nelder-Mead's optimum and a float64 Hessian


def gaussian_posterior_numbers(d: Derivation, data) -> tuple[np.ndarray, np.ndarray]:
    c = compiled(d)
    mode = optimum_scipy(d, data)
    tdata, torch = torch_data(data), torch_module()

    def objective(vector):
        return c.objective_torch(dict(zip(c.names, vector)), tdata)

    at = torch.tensor([mode[k] for k in c.names], dtype=torch.float64)
    hessian = torch.autograd.functional.hessian(objective, at).numpy()
    return np.array([mode[k] for k in c.names]), np.linalg.inv(-hessian)


def check_gaussian_posterior(q: Posterior, d: Derivation, found: list[Answer], seed: int = 0) -> CheckResult:
    """Every mean and covariance answer against its numerical recomputation at the model's data."""
    c = compiled(d)
    data = check_data(q.model, seed)
    mean, covariance = gaussian_posterior_numbers(d, data)
    stats = c.statistics(data)
    exact = {a.key: float(a.expr.subs({s.symbol: stats[s.symbol.name] for s in d.statistics})) for a in found}
    numbers = {f"{q.key}.mean_{p}": mean[i] for i, p in enumerate(c.names)}
    numbers |= {f"{q.key}.cov_{p}_{r}": covariance[i, j] for i, p in enumerate(c.names) for j, r in enumerate(c.names)}
    err = max(rel_error(exact[k], numbers[k]) for k in exact)
    how = "vs the optimum by scipy and the inverse autograd Hessian there"
    return CheckResult(q.model.name, f"answer {q.key}", err, TOLERANCE, bool(err <= TOLERANCE), how)
