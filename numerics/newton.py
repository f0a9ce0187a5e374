"""Newton's method with the derived score and Hessian: the update theta - H^-1 g that a model without a closed
form is solved by (for a generalised linear model such as the logistic regression, iteratively reweighted least
squares), checked to reach the optimizers' optimum."""

from __future__ import annotations

import numpy as np

from mlemap.derivations.engine import Derivation
from mlemap.numerics.compile import compiled
from mlemap.numerics.domains import _bounds, feasible_limits, from_free
from mlemap.numerics.results import CheckResult, rel_error, result, tolerance


def newton(d: Derivation, data, start: dict[str, float], iterations: int = 50) -> dict[str, float]:
    """Damped Newton on the objective, halving steps that leave the domain or lower the objective."""
    c = compiled(d)
    theta = np.array([start[k] for k in c.names], float)
    bounds = [_bounds(p.domain) for p in d.model.params]
    if d.separable:  # statistics once, then every evaluation is O(1)
        stats = c.statistics(data)
        objective, score, hessian = (
            (lambda t: c.objective(t, stats)),
            (lambda t: c.score(t, stats)),
            (lambda t: c.hessian(t, stats)),
        )
    else:
        ev = c.evaluator
        objective, score, hessian = (
            (lambda t: c.objective_raw(t, data)),
            (lambda t: ev.score(t, data)),
            (lambda t: ev.hessian(t, data)),
        )

    def value(t):
        inside = all(lo < v < hi for v, (lo, hi) in zip(t, bounds))
        return objective(dict(zip(c.names, t))) if inside else -np.inf

    current = value(theta)
    for _ in range(iterations):
        point = dict(zip(c.names, theta))
        step = np.linalg.solve(hessian(point), -score(point))
        scale = 1.0
        while scale > 1e-8 and not value(theta + scale * step) >= current:
            scale /= 2
        new = theta + scale * step
        done = np.max(np.abs(new - theta)) <= 1e-12 * (1 + np.max(np.abs(theta)))
        theta, current = new, value(new)
        if done:
            break
    return dict(zip(c.names, theta))


def check_newton(d: Derivation, data) -> CheckResult:
    """Newton from the centre of the domains, with the derived score and Hessian, against the optimizers'
    optimum (LBFGS from three starts). Applies where there is no closed form; elsewhere the closed form is
    checked against the optimizers directly."""
    from mlemap.numerics.checks import numerical_optimum  # checks imports this module's neighbours; imported late

    tol = tolerance(d.model, "newton")
    if d.estimate is not None or d.model.constraints or d.model.matrices or d.bounds or d.maximiser_set:
        return CheckResult(
            d.model.name, "newton", float("nan"), tol, True, "skipped: the estimate has a closed form", skipped=True
        )
    reference = numerical_optimum(d, data)
    if not reference.converged or reference.values is None:
        return CheckResult(d.model.name, "newton", float("inf"), tol, False, reference.reason)
    c = compiled(d)
    start = from_free(d.model, np.zeros(len(c.names)), np, feasible_limits(d, data))
    end = newton(d, data, {k: float(v) for k, v in start.items()})
    vector = np.array([end[k] for k in c.names])
    return result(d.model, "newton", rel_error(vector, np.array([reference.values[k] for k in c.names])), "vs LBFGS")
