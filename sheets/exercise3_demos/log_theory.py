"""Theory 2.1, computed: why take the log of a likelihood, and what it does and does not change."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derivations import bayes
from sheets.catalogue import COIN_UNIFORM, GAUSSIAN, mu, theta


@dataclass(frozen=True)
class LogTheory:
    product_to_sum: tuple[sp.Expr, sp.Expr]  # log prod p(x_i)  ->  sum log p(x_i)
    derivative_product: sp.Expr  # d/dmu of the product of 3 Gaussian densities
    derivative_log: sp.Expr  # d/dmu of the log of that product, simplified
    argmax_likelihood: tuple[sp.Expr, ...]  # roots of dL/dtheta in (0, 1), coin data
    argmax_log_likelihood: tuple[sp.Expr, ...]  # roots of d log L/dtheta in (0, 1)
    curvature_likelihood: sp.Expr  # L''(theta_hat)
    curvature_log_likelihood: sp.Expr  # (log L)''(theta_hat)
    max_likelihood: sp.Expr  # L(theta_hat)

    @property
    def ops_derivative_product(self) -> int:
        return sp.count_ops(self.derivative_product)

    @property
    def ops_derivative_log(self) -> int:
        return sp.count_ops(self.derivative_log)


def _roots_in_unit_interval(expr) -> tuple[sp.Expr, ...]:
    return tuple(r for r in sp.solve(sp.diff(expr, theta), theta) if 0 < r < 1)


def log_theory() -> LogTheory:
    i, n = sp.symbols("i n", integer=True, positive=True)
    p = sp.Function("p")
    xi = sp.IndexedBase("x")[i]
    product = sp.log(sp.Product(p(xi), (i, 1, n)))
    as_sum = sp.expand_log(product, force=True)  # log of a Product -> Sum of logs

    xs = sp.symbols("x1:4", real=True)
    (x,) = GAUSSIAN.data
    densities = [GAUSSIAN.density.subs(x, v) for v in xs]
    d_product = sp.diff(sp.Mul(*densities), mu)
    d_log = sp.diff(sp.expand(sp.expand_log(sp.log(sp.Mul(*densities)))), mu)

    likelihood = bayes.likelihood(COIN_UNIFORM, bayes.observed_rows(COIN_UNIFORM))
    log_likelihood = sp.log(likelihood)
    (hat,) = _roots_in_unit_interval(log_likelihood)
    return LogTheory(
        product_to_sum=(product, as_sum),
        derivative_product=d_product,
        derivative_log=sp.simplify(d_log),
        argmax_likelihood=_roots_in_unit_interval(likelihood),
        argmax_log_likelihood=(hat,),
        curvature_likelihood=sp.nsimplify(sp.diff(likelihood, theta, 2).subs(theta, hat)),
        curvature_log_likelihood=sp.simplify(sp.diff(log_likelihood, theta, 2).subs(theta, hat)),
        max_likelihood=likelihood.subs(theta, hat),
    )
