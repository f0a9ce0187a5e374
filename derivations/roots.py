"""One parameter whose score clears to a quadratic with symbolic coefficients (Rao's genetic linkage): SymPy
returns both roots and cannot rank them. The score's sign at the domain's ends decides: where it falls from
positive to negative across the domain, exactly one root lies inside, it is the maximum, and which root it is
follows from the sign of the leading coefficient. The estimate carries the sign conditions (a count that must
not be zero) where SymPy cannot prove them for every data set."""

from __future__ import annotations

import sympy as sp

from mlemap.derivations.model import Parameter
from mlemap.derivations.pieces import relation


def _end_value(expr: sp.Expr, par: sp.Symbol, end: sp.Expr) -> sp.Expr:
    return sp.expand(expr.subs(par, end)) if end.is_finite else sp.limit(expr, par, end)


def _running(lo: sp.Expr, hi: sp.Expr) -> sp.Expr | None:
    u = sp.Dummy(positive=True)
    if lo.is_finite and hi.is_finite:
        return lo + (hi - lo) / (1 + u)
    return lo + u if lo.is_finite else (hi - u if hi.is_finite else None)


def quadratic_root(
    objective: sp.Expr, par: Parameter, facts: dict[sp.Expr, sp.Expr]
) -> tuple[sp.Expr, tuple[sp.Basic, ...]] | None:
    """The root of a quadratic score inside the domain, and the conditions under which it is the maximum;
    None where the score is not such a quadratic or its sign at the ends is not known. facts: sums of
    statistics known by their value (the counts of a finite support add up to n)."""
    p, domain = par.symbol, par.domain
    if not isinstance(domain, sp.Interval):
        return None
    num, den = sp.fraction(sp.together(sp.diff(objective, p)))
    inside = _running(domain.start, domain.end)
    if inside is None or not num.is_polynomial(p) or sp.degree(num, p) != 2:
        return None
    den_sign = sp.simplify(den.subs(p, inside))
    if not (den_sign.is_positive or den_sign.is_negative):
        return None
    num = sp.expand(num if den_sign.is_positive else -num)  # the score's sign is the numerator's now
    a, b, c = (sp.factor(coeff.subs(facts)) for coeff in sp.Poly(num, p).all_coeffs())
    lead = 1 if a.is_positive else -1 if a.is_negative else 0
    if lead == 0:
        return None
    at_lo, at_hi = _end_value(num, p, domain.start), _end_value(num, p, domain.end)
    conditions = tuple(
        cond
        for cond in (relation(at_lo, sp.StrictGreaterThan), relation(-at_hi, sp.StrictGreaterThan))
        if cond != sp.true
    )
    if sp.false in conditions:
        return None
    # the score falls from + to - across the domain: one root inside; for a > 0 the smaller, for a < 0 the larger
    root = (-b - sp.sqrt(b**2 - 4 * a * c)) / (2 * a)
    return sp.simplify(root.subs(facts)), conditions
