"""Why take the log of a likelihood, derived for a sheet's own models: the product becomes a sum with a smaller
derivative, and on observed data the maximiser stays while values and curvature change."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from mlemap.derivations import bayes
from mlemap.derivations.model import InputError, Model

SMALL_SAMPLE = 3  # observations whose product the derivative is taken of


@dataclass(frozen=True)
class LogTheory:
    product_to_sum: tuple[sp.Expr, sp.Expr]  # log prod p(x_i)  ->  sum log p(x_i)
    parameter: sp.Symbol  # the parameter the derivatives are taken in
    derivative_product: sp.Expr  # d/dtheta of the product of SMALL_SAMPLE densities
    derivative_log: sp.Expr  # d/dtheta of the log of that product, simplified
    example: str  # the model with observed data the maximisers are found for ("" without one)
    argmax_likelihood: tuple[sp.Expr, ...] = ()  # roots of dL/dtheta inside the domain
    argmax_log_likelihood: tuple[sp.Expr, ...] = ()  # roots of d log L/dtheta inside the domain
    curvature_likelihood: sp.Expr | None = None  # L''(theta_hat)
    curvature_log_likelihood: sp.Expr | None = None  # (log L)''(theta_hat)
    max_likelihood: sp.Expr | None = None  # L(theta_hat)

    @property
    def ops_derivative_product(self) -> int:
        return sp.count_ops(self.derivative_product)

    @property
    def ops_derivative_log(self) -> int:
        return sp.count_ops(self.derivative_log)


def log_theory(model: Model, example: Model | None = None) -> LogTheory:
    """The derivatives for SMALL_SAMPLE observations of model (in its first parameter); the maximisers, values
    and curvatures on example's observed data (one parameter), when an example is given."""
    i, n = sp.symbols("i n", integer=True, positive=True)
    p = sp.Function("p")
    xi = sp.IndexedBase("x")[i]
    product = sp.log(sp.Product(p(xi), (i, 1, n)))
    density = model.density.subs(model.constants)
    rows = [{s: sp.Symbol(f"{s.name}{j}", real=True) for s in model.data} for j in range(1, SMALL_SAMPLE + 1)]
    densities = [density.subs(row) for row in rows]
    theta = model.param_symbols[0]
    d_product = sp.diff(sp.Mul(*densities), theta)
    d_log = sp.diff(sp.expand(sp.expand_log(sp.log(sp.Mul(*densities)), force=True)), theta)
    theory = LogTheory(
        (product, sp.expand_log(product, force=True)),
        theta,
        d_product,
        sp.simplify(d_log),
        example.name if example else "",
    )
    return theory if example is None else _on_example(theory, example)


def _on_example(theory: LogTheory, model: Model) -> LogTheory:
    if len(model.params) != 1 or not model.observed:
        raise InputError(f"{model.name}: the log's example needs one parameter and observed data")
    (param,) = model.params
    theta = param.symbol
    likelihood = bayes.likelihood(model, bayes.observed_rows(model)).subs(model.constants)

    def roots(expr) -> tuple[sp.Expr, ...]:
        found = sp.solveset(sp.diff(expr, theta), theta, param.domain)
        return tuple(sorted(found, key=float)) if isinstance(found, sp.FiniteSet) else ()

    log_likelihood = sp.expand_log(sp.log(likelihood), force=True)
    hats = roots(log_likelihood)
    if len(hats) != 1:
        return theory
    (hat,) = hats
    return LogTheory(
        **{
            **vars(theory),
            "argmax_likelihood": roots(likelihood),
            "argmax_log_likelihood": hats,
            "curvature_likelihood": sp.nsimplify(sp.diff(likelihood, theta, 2).subs(theta, hat)),
            "curvature_log_likelihood": sp.simplify(sp.diff(log_likelihood, theta, 2).subs(theta, hat)),
            "max_likelihood": likelihood.subs(theta, hat),
        }
    )
