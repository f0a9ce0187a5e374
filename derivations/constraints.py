"""Equality constraints on the parameters (probabilities on a simplex, parameters tied by an equation): the
stationary points of the Lagrangian l(theta) + sum_k nu_k c_k(theta), where every constraint reads c_k = 0."""

from __future__ import annotations

import sympy as sp

from mlemap.derivations.model import InputError, Model
from mlemap.derivations.solve import NoClosedForm, one_line, time_limit


def residuals(model: Model) -> tuple[sp.Expr, ...]:
    """Each constraint lhs = rhs as lhs - rhs, which is zero on the feasible set."""
    return tuple(c.lhs - c.rhs for c in model.constraints)


def check_constraints(model: Model) -> None:
    """Each constraint an equation in the parameters alone; InputError naming it otherwise."""
    params = set(model.param_symbols)
    for c in model.constraints:
        if not isinstance(c, sp.Equality):
            raise InputError(f"{model.name}: a constraint must be an equation sympy.Eq(lhs, rhs), got {c!r}")
        if not c.free_symbols <= params | set(model.constants):
            other = sorted(s.name for s in c.free_symbols - params - set(model.constants))
            raise InputError(f"{model.name}: the constraint {c} uses {other[0]!r}, which is not a parameter")
    bounded = [x for x in model.data if model.support.get(x, sp.Reals).free_symbols & params]
    if bounded:
        raise InputError(
            f"{model.name}: constraints cannot be combined with a support that depends on a parameter ({bounded[0]})"
        )
    if len(model.constraints) >= len(model.params):
        raise InputError(f"{model.name}: {len(model.constraints)} constraints leave no parameter free")


def multipliers(model: Model) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(f"nu_{k + 1}", real=True) for k in range(len(model.constraints)))


def lagrange_points(objective: sp.Expr, model: Model, seconds: float) -> list[dict[sp.Symbol, sp.Expr]]:
    """The parameters at every stationary point of the Lagrangian (its multipliers dropped)."""
    nus, params = multipliers(model), model.param_symbols
    lagrangian = objective + sum(nu * r for nu, r in zip(nus, residuals(model)))
    equations = [sp.diff(lagrangian, p) for p in params] + list(residuals(model))
    with time_limit(seconds, "sympy.solve of the Lagrange equations"):
        try:
            solutions = sp.solve(equations, [*params, *nus], dict=True)
        except (NotImplementedError, sp.PolynomialError) as exc:
            raise NoClosedForm(f"sympy.solve cannot solve the Lagrange equations: {one_line(exc)}") from None
    return [{p: s[p] for p in params} for s in solutions if all(p in s for p in params)]


def eliminated(model: Model) -> dict[sp.Symbol, sp.Expr]:
    """The last parameters written in the others by solving the constraints: how the numerics stay on the
    feasible set. InputError when SymPy finds no unique such form."""
    last = model.param_symbols[-len(model.constraints) :]
    solutions = sp.solve(list(residuals(model)), last, dict=True)
    if len(solutions) != 1 or set(solutions[0]) != set(last):
        raise InputError(
            f"{model.name}: the constraints must determine {', '.join(p.name for p in last)} uniquely from the "
            "other parameters"
        )
    return solutions[0]


def counts_sum_to_n(model: Model, statistics, n: sp.Symbol) -> dict[sp.Expr, sp.Expr]:
    """Indicator statistics N_v = sum_i [x_i = v] over every value v of a finite support add up to n."""
    relations = {}
    for x in model.data:
        support = model.support.get(x)
        if not isinstance(support, sp.FiniteSet):
            continue
        counts = {_indicated(s.expr, x): s.symbol for s in statistics if _indicated(s.expr, x) is not None}
        if set(counts) == set(support):
            relations[sp.Add(*counts.values())] = n
    return relations


def _indicated(g: sp.Expr, x: sp.Symbol) -> sp.Expr | None:
    """v for the indicator [x = v] (SymPy's KroneckerDelta, its arguments in either order), else None."""
    if not isinstance(g, sp.KroneckerDelta) or x not in g.args:
        return None
    (value,) = [a for a in g.args if a != x] or [x]
    return value if value.is_number else None
