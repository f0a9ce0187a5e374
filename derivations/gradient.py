"""Gradient ascent on a quadratic objective, exactly: the iteration, its stable and best rates, and the noise
of a mini-batch gradient. A quadratic log-likelihood (a Gaussian mean with known covariance, a linear model's
weights with known noise) has a Hessian H free of the parameters, so e_{t+1} = (I + lambda H) e_t holds exactly."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from mlemap.derivations import codec
from mlemap.derivations.engine import Derivation, n_obs

rate = sp.Symbol("lambda", positive=True)  # the learning rate (never shown: a report writes the sheet's own symbol)
batch = sp.Symbol("k", positive=True)  # a mini-batch's size


@codec.register
@dataclass(frozen=True)
class StepSizeTheory:
    """Gradient ascent theta <- theta + lambda grad l on a quadratic l with curvature C = -H."""

    curvature: sp.Matrix  # -H: constant in the parameters, in n and the model's constants
    iteration_matrix: sp.Matrix  # I - lambda C: the error's map per step
    stability: sp.Set  # the rates with every |1 - lambda c_i| < 1
    bound: sp.Expr  # 2 / c_max
    optimal: sp.Expr  # 2 / (c_min + c_max): the rate whose slowest direction contracts fastest
    optimal_factor: sp.Expr  # that worst contraction, (kappa - 1) / (kappa + 1)
    subset_bound: sp.Expr  # the bound for the log-likelihood of a batch of k points


def step_size_theory(d: Derivation) -> StepSizeTheory | None:
    """The exact theory where the objective is quadratic in the parameters and its curvature is n times a
    constant matrix (the data enter only through sums); None otherwise."""
    curvature = (-d.hessian).subs(d.model.constants)
    if curvature.has(*d.params) or curvature.free_symbols - {n_obs}:
        return None
    per_point = sp.simplify(curvature / n_obs)
    if per_point.has(n_obs):
        return None
    eigen = sorted(per_point.eigenvals(multiple=True), key=float)
    if float(eigen[0]) <= 0:
        return None
    low, high = eigen[0] * n_obs, eigen[-1] * n_obs
    bound = sp.simplify(2 / high)
    optimal = sp.simplify(2 / (low + high))
    return StepSizeTheory(
        curvature=sp.simplify(curvature),
        iteration_matrix=sp.eye(len(d.params)) - rate * curvature,
        stability=sp.Interval.open(0, bound),
        bound=bound,
        optimal=optimal,
        optimal_factor=sp.simplify(1 - optimal * low),
        subset_bound=bound.subs(n_obs, batch),
    )


def minibatch_variance_factor() -> sp.Expr:
    """Var(sum_{i in B} z_i) / sum_i z_i^2 for a batch B of k drawn without replacement from n, sum_i z_i = 0.

    With indicators I_i of i in B: Var(I_i) = p(1 - p), p = k/n, and Cov(I_i, I_j) = k(k-1)/(n(n-1)) - p^2;
    centred data give sum_{i != j} z_i z_j = -sum_i z_i^2.
    """
    p = batch / n_obs
    var_indicator = p * (1 - p)
    cov_indicators = batch * (batch - 1) / (n_obs * (n_obs - 1)) - p**2
    return sp.factor(sp.simplify(var_indicator - cov_indicators))


def minibatch_gradient_covariance_scale() -> sp.Expr:
    """Cov of the unbiased gradient (n/k) sum_{i in B} s_i (s_i one point's score, centred at the full-data
    gradient), in units of n times the per-point score covariance: (n/k)^2 times the factor above."""
    return sp.factor(sp.simplify((n_obs / batch) ** 2 * minibatch_variance_factor()))


def curvature_at_estimate(d: Derivation) -> sp.Matrix | None:
    """-H at the estimate, written in the parameters' symbols standing for their estimates: the data's sums
    replaced by what the estimate's equations make them (the log-normal's S_log x = n m_hat, ...), so a non-quadratic
    log-likelihood's stability bound reads as a formula in the estimates (diag(n / v_hat, n / (2 v_hat^2))).
    None where there is no closed form, or the estimates do not determine the sums the Hessian uses."""
    if d.estimate is None or set(d.estimate) != set(d.params):
        return None
    used = d.hessian.free_symbols | _used(d)
    sums = [s.symbol for s in d.statistics if s.symbol != n_obs and s.symbol in used]
    if len(sums) > len(d.params):
        return None
    solved = sp.solve([sp.Eq(p, v) for p, v in d.estimate.items()], sums, dict=True) if sums else [{}]
    if len(solved) != 1:
        return None
    at = (-d.hessian).subs(d.model.constants).subs(solved[0])
    curvature = sp.simplify(at)
    if curvature.free_symbols & set(sums):
        return None
    return curvature


def _used(d: Derivation) -> set[sp.Symbol]:
    """The sums the estimate is written in."""
    return set().union(*(v.free_symbols for v in d.estimate.values())) if d.estimate else set()
