"""The normal equations of a block of parameters in which the objective is quadratic (the weights of a
linear model, a Gaussian mean): the score is then linear in them, A w - c = 0 with A = -d^2 l / dw^2 free of w
and c the score at w = 0, so w = A^-1 c. Where A is a multiple of the design's Gram matrix X^T X plus a
multiple of the identity, the estimate is the textbook (X^T X + lambda I)^-1 X^T y: least squares, or ridge
regression under a Gaussian prior on the weights."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from mlemap.derivations.engine import Derivation, n_obs


@dataclass(frozen=True)
class NormalEquations:
    params: tuple[sp.Symbol, ...]
    matrix: sp.Matrix  # A = -Hessian of the objective in the block, free of the block
    vector: sp.Matrix  # c = the score in the block at 0
    scale: sp.Expr | None = None  # A = scale (X^T X + ridge I) and c = scale X^T y, where that holds
    ridge: sp.Expr | None = None
    gram: sp.Matrix | None = None  # X^T X in the statistics
    moment: sp.Matrix | None = None  # X^T y in the statistics

    @property
    def solution(self) -> sp.Matrix:
        return self.matrix.LUsolve(self.vector)


def normal_equations(d: Derivation) -> NormalEquations | None:
    """The largest block of two or more parameters in which the objective is quadratic; None if there is none."""
    if not d.separable or d.model.constraints or d.model.matrices or d.bounds or d.piecewise:
        return None
    objective = d.objective.subs(d.model.constants)
    block = tuple(p for p in d.params if objective.is_polynomial(p) and sp.degree(objective, p) == 2)
    if len(block) < 2:
        return None
    hessian = sp.hessian(objective, block)
    if hessian.has(*block):
        return None
    matrix = sp.simplify(-hessian)
    vector = sp.simplify(sp.Matrix([sp.diff(objective, p) for p in block]).subs(dict.fromkeys(block, 0)))
    return at_observed(d, _with_design(d, NormalEquations(block, matrix, vector)))


def at_observed(d: Derivation, eq: NormalEquations) -> NormalEquations:
    """The equations at the model's observed data, where it declares some: numbers, as its estimate is."""
    if not d.observed_statistics:
        return eq
    at = d.observed_statistics

    def sub(m):
        return None if m is None else m.subs(at)

    return NormalEquations(eq.params, sub(eq.matrix), sub(eq.vector), eq.scale, eq.ridge, sub(eq.gram), sub(eq.moment))


def _statistic(d: Derivation, g: sp.Expr) -> sp.Expr | None:
    if g == 1:
        return n_obs
    return next((s.symbol for s in d.statistics if sp.expand(s.expr - g) == 0), None)


def _with_design(d: Derivation, eq: NormalEquations) -> NormalEquations:
    """A = s (X^T X + lambda I), c = s X^T y for the covariates each weight multiplies (1 for an intercept)."""
    response = [x for x in d.model.data if x not in d.model.covariates]
    if len(response) != 1 or not d.model.covariates:
        return eq
    (y,) = response
    # the regressor of weight w_j: the covariate expression its cross term with y carries in the log-density
    columns = [sp.diff(d.log_density, p, y).subs(dict.fromkeys(eq.params, 0)) for p in eq.params]
    if any(c == 0 for c in columns):
        return eq
    columns = [c.as_independent(*d.model.data, as_Add=False)[1] for c in columns]  # x_j / sigma^2 -> x_j
    stats = [[_statistic(d, a * b) for b in columns] for a in columns]
    moments = [_statistic(d, a * y) for a in columns]
    if any(s is None for row in stats for s in row) or any(m is None for m in moments):
        return eq
    gram, moment = sp.Matrix(stats), sp.Matrix(moments)
    scale = sp.simplify(eq.vector[0] / moment[0])
    ridge = sp.simplify(eq.matrix[0, 0] / scale - gram[0, 0])
    if sp.simplify(eq.matrix - scale * (gram + ridge * sp.eye(len(columns)))) != sp.zeros(*eq.matrix.shape):
        return eq
    statistics = {s.symbol for s in d.statistics}
    if sp.simplify(eq.vector - scale * moment) != sp.zeros(*eq.vector.shape) or ridge.free_symbols & statistics:
        return eq
    return NormalEquations(eq.params, eq.matrix, eq.vector, scale, ridge, gram, moment)


COMPACT_FROM = 3  # weights from which the written-out solution (Cramer's rule) gives way to the matrix form


def residual_variance(d: Derivation, eq: NormalEquations, p: sp.Symbol) -> sp.Symbol | None:
    """S_y2, where the estimate of p is (S_y2 - w^T X^T y) / n (the mean squared residual of least squares, by
    the normal equations); None otherwise."""
    if eq.moment is None or d.estimate is None or p in eq.params:
        return None
    response = [x for x in d.model.data if x not in d.model.covariates]
    square = _statistic(d, response[0] ** 2) if len(response) == 1 else None
    if square is None:
        return None
    weights = sp.Matrix([d.estimate[q] for q in eq.params])
    form = (square - (weights.T * eq.moment)[0]) / n_obs
    return square if sp.simplify(d.estimate[p] - form) == 0 else None
