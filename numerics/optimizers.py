"""The optimizers the checks hold a closed form against, neither of which uses SymPy's derivatives: scipy's
Nelder-Mead (derivative-free) and torch's LBFGS (autograd), in unconstrained coordinates of the feasible set;
on a model with constraints, SLSQP and LBFGS on the free parameters (numerics/constrained.py)."""

from __future__ import annotations

import numpy as np
import scipy.optimize
import torch

from derivations.engine import Derivation
from numerics.compile import Data, compiled
from numerics.constrained import lbfgs_eliminated, slsqp
from numerics.domains import feasible_limits, from_free

NELDER_MEAD_RESTARTS = 10


def torch_data(data: Data) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in data.items()}


def optimum_scipy(d: Derivation, data: Data) -> dict[str, float]:
    """Derivative-free Nelder-Mead on the raw-data objective in unconstrained coordinates; SLSQP with the
    constraints as equations where the model has some."""
    if d.model.constraints:
        return slsqp(d, data)
    c, m, limits = compiled(d), d.model, feasible_limits(d, data)
    n = len(next(iter(data.values())))
    u = np.zeros(len(m.params))  # the same start as optimum_torch: the centre of each domain's coordinates
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
    tdata = torch_data(data)
    u0 = np.zeros(len(m.params)) if start is None else np.asarray(start, float)
    u = torch.tensor(u0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [u], lr=1.0, max_iter=500, tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        loss = -c.objective_torch(from_free(m, u, torch, limits), tdata) / n
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    return {k: float(v) for k, v in from_free(m, u.detach(), torch, limits).items()}
