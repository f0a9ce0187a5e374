"""The optimizers on a model with equality constraints, by two independent routes: scipy's SLSQP on every
parameter with the constraints as equations, and torch's LBFGS on the free parameters alone, the others
written in them (the constraints solved). Neither uses the Lagrange solution the derivation found."""

from __future__ import annotations

import numpy as np
import scipy.optimize
import torch

from derivations.engine import Derivation
from numerics.compile import Data, compiled
from numerics.domains import _bounds, from_free, on_constraints, random_point, to_free


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
    free, gone, _, values = c.elimination
    tdata = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in data.items()}
    u = torch.tensor(to_free(m, feasible_start(d), free), dtype=torch.float64, requires_grad=True)
    sub = type(m)(**{**vars(m), "params": tuple(p for p in m.params if p.name in free)})  # the free ones' domains

    def point(u):
        theta = from_free(sub, u, torch)
        return {**theta, **dict(zip(gone, values(*(theta[k] for k in free))))}

    opt = torch.optim.LBFGS(
        [u], lr=1.0, max_iter=500, tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        loss = -c.objective_torch(point(u), tdata) / n
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    return {k: float(v) for k, v in point(u.detach()).items()}
