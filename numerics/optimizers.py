"""The optimizers the checks hold a closed form against, neither of which uses SymPy's derivatives: scipy's
Nelder-Mead (derivative-free) and torch's LBFGS (autograd), in unconstrained coordinates of the feasible set;
on a model with constraints, SLSQP and LBFGS on the free parameters (below)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import scipy.optimize

from mlemap.derivations.engine import Derivation
from mlemap.numerics.compile import Data, compiled
from mlemap.numerics.domains import _bounds, feasible_limits, from_free, on_constraints, random_point, to_free
from mlemap.numerics.torch_optional import torch_module

if TYPE_CHECKING:
    import torch

NELDER_MEAD_RESTARTS = 10


def torch_data(data: Data) -> dict[str, torch.Tensor]:
    torch = torch_module()
    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in data.items()}


def optimum_scipy(d: Derivation, data: Data, start=None) -> dict[str, float]:
    """Derivative-free Nelder-Mead on the raw-data objective in unconstrained coordinates, from the centre of
    each domain's coordinates unless start (in those coordinates) says otherwise; SLSQP with the constraints as
    equations where the model has some."""
    if d.model.constraints:
        return slsqp(d, data)
    c, m, limits = compiled(d), d.model, feasible_limits(d, data)
    n = len(next(iter(data.values())))
    u = np.zeros(len(m.params)) if start is None else np.asarray(start, float)  # optimum_torch's start too
    best = np.inf
    # Nelder-Mead's simplex collapses in many dimensions (a 3-d covariance has nine): restarted from where it
    # stopped until a restart no longer improves the objective
    for _ in range(1 + NELDER_MEAD_RESTARTS * (len(u) > 2)):
        res = scipy.optimize.minimize(
            lambda v: -c.objective_raw(from_free(m, v, np, limits), data) / n,
            u,
            method="Nelder-Mead",
            options={"xatol": 1e-11, "fatol": 1e-15, "maxiter": 20000, "maxfev": 40000, "adaptive": len(u) > 2},
        )
        if not res.fun < best:
            break
        u, best = res.x, res.fun
    return from_free(m, u, np, limits)


def optimum_torch(d: Derivation, data: Data, start=None) -> dict[str, float]:
    """torch.optim.LBFGS with a strong Wolfe line search, float64, gradients by autograd; over the free
    parameters alone where the model has constraints."""
    if d.model.constraints:
        return lbfgs_eliminated(d, data)
    c, m, limits = compiled(d), d.model, feasible_limits(d, data)
    n = len(next(iter(data.values())))
    tdata, torch = torch_data(data), torch_module()
    u = lbfgs(
        lambda u: -c.objective_torch(from_free(m, u, torch, limits), tdata) / n,
        np.zeros(len(m.params)) if start is None else np.asarray(start, float),
    )
    return {k: float(v) for k, v in from_free(m, u, torch, limits).items()}


def lbfgs(loss: Callable[[torch.Tensor], torch.Tensor], start: np.ndarray) -> torch.Tensor:
    """The unconstrained coordinates LBFGS (strong Wolfe line search, float64, autograd) ends at from start."""
    torch = torch_module()
    u = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [u], lr=1.0, max_iter=500, tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        value = loss(u)
        value.backward()
        return value

    for _ in range(5):
        opt.step(closure)
    return u.detach()


# --- with equality constraints: two routes, neither using the Lagrange solution the derivation found -------
def feasible_start(d: Derivation, seed: int = 0) -> dict[str, float]:
    """A seeded point of the domains that satisfies the constraints."""
    rng, c = np.random.default_rng(seed), compiled(d)
    for _ in range(1000):
        point = on_constraints(c, random_point(d.model, rng))
        if point is not None:
            return point
    raise ValueError(f"{d.model.name}: no random point of the domains satisfies the constraints")


def slsqp(d: Derivation, data: Data) -> dict[str, float]:
    c, m = compiled(d), d.model
    n = len(next(iter(data.values())))
    rows = len(m.constraints)
    residual = [{"type": "eq", "fun": lambda t, k=k: float(c.constraint_residuals(*t)[k])} for k in range(rows)]
    bounds = [_bounds(p.domain) for p in m.params]
    start = feasible_start(d)
    res = scipy.optimize.minimize(
        lambda t: -c.objective_raw(dict(zip(c.names, t)), data) / n,
        np.array([start[k] for k in c.names]),
        method="SLSQP",
        bounds=[(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None) for lo, hi in bounds],
        constraints=residual,
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    return dict(zip(c.names, (float(v) for v in res.x)))


def lbfgs_eliminated(d: Derivation, data: Data) -> dict[str, float]:
    c, m = compiled(d), d.model
    n = len(next(iter(data.values())))
    free, gone, _ = c.elimination
    values, tdata, torch = c.elimination_torch, torch_data(data), torch_module()
    sub = dataclasses.replace(m, params=tuple(p for p in m.params if p.name in free))  # the free ones' domains

    def point(u):
        theta = from_free(sub, u, torch)
        return {**theta, **dict(zip(gone, values(*(theta[k] for k in free))))}

    u = lbfgs(lambda u: -c.objective_torch(point(u), tdata) / n, to_free(m, feasible_start(d), free))
    return {k: float(v) for k, v in point(u).items()}
