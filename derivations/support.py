"""Supports that depend on a parameter (0 <= x <= theta, x >= theta): the likelihood vanishes unless every
observation lies in the support, so such a parameter is bounded by the sample's maximum or minimum (an order
statistic). On that feasible set the log-likelihood is monotone in it, which SymPy proves from the sign of
its score there; the maximum is then at the bound, not at a stationary point."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sympy as sp

from derivations import codec
from derivations.model import InputError, Model
from derivations.solve import NoClosedForm

MAX, MIN = "max", "min"  # the parameter is at least the sample maximum / at most the sample minimum


@codec.register
@dataclass(frozen=True)
class Bound:
    """param >= max_i x_i (side MAX: the support's upper end) or param <= min_i x_i (side MIN: its lower end)."""

    param: sp.Symbol
    data: sp.Symbol
    side: str

    @property
    def relation(self) -> str:
        return ">=" if self.side == MAX else "<="


def support_bounds(model: Model) -> tuple[Bound, ...]:
    """The parameters a data symbol's support is bounded by; InputError for a form the engine cannot use."""
    params = set(model.param_symbols)
    bounds = []
    for x in model.data:
        support = model.support.get(x, sp.Reals)
        if not support.free_symbols & params:
            continue
        if not isinstance(support, sp.Interval):
            raise InputError(
                f"{model.name}: the support of {x} depends on a parameter, so it must be an interval, got {support}"
            )
        for end, side in ((support.end, MAX), (support.start, MIN)):
            if not end.free_symbols & params:
                continue
            if end not in params:
                raise InputError(
                    f"{model.name}: an end of the support of {x} that depends on a parameter must be the "
                    f"parameter itself, got {end}"
                )
            bounds.append(Bound(end, x, side))
    tied = [param for param, count in Counter(b.param for b in bounds).items() if count > 1]
    if tied:
        raise InputError(f"{model.name}: the parameter {tied[0]} bounds the support more than once")
    return tuple(bounds)


def order_symbol(model: Model, x: sp.Symbol, side: str) -> sp.Symbol:
    """x_(n) = max_i x_i or x_(1) = min_i x_i, with the sign every observation has (the support's lower end)."""
    lower = model.support[x].start
    by_param = {p.symbol: p.domain for p in model.params}
    if lower in by_param:
        positive = by_param[lower].is_subset(sp.Interval.open(0, sp.oo))
        nonnegative = by_param[lower].is_subset(sp.Interval(0, sp.oo))
    else:
        positive, nonnegative = bool(lower.is_positive), bool(lower.is_nonnegative)
    sign = {"positive": True} if positive else {"nonnegative": True} if nonnegative else {}
    return sp.Symbol(f"{side}_{x.name}", real=True, **sign)  # max_x, shown as x_(n); a name that parses back


def feasible(model: Model, bound: Bound, order: sp.Symbol, u: sp.Dummy) -> sp.Expr:
    """The bounded parameter over its feasible set as u > 0 runs: between the order statistic and the end of
    its domain (so that its own sign, a scale's positivity, stays known)."""
    domain = next(p.domain for p in model.params if p.symbol == bound.param)
    if bound.side == MAX:
        hi = domain.end
        return order + u if not hi.is_finite else hi - (hi - order) / (1 + u)
    lo = domain.start
    return order - u if not lo.is_finite else lo + (order - lo) / (1 + u)


def support_maximum(objective: sp.Expr, model: Model, orders: dict[Bound, sp.Symbol]) -> dict[sp.Symbol, sp.Expr]:
    """Each bounded parameter at its order statistic, once SymPy proves the log-likelihood rises towards it
    on the feasible set (the score negative above a maximum, positive below a minimum); NoClosedForm if not."""
    moved = {b.param: feasible(model, b, orders[b], sp.Dummy(positive=True)) for b in orders}
    spread = {}  # x_(n) = x_(1) + w, w >= 0, where both are used
    for x in {b.data for b in orders}:
        ends = {b.side: orders[b] for b in orders if b.data == x}
        if len(ends) == 2:
            spread[ends[MAX]] = ends[MIN] + sp.Dummy(nonnegative=True)
    for b in orders:
        slope = sp.simplify(sp.together(sp.diff(objective, b.param).subs(moved).subs(spread)))
        if not (slope.is_negative if b.side == MAX else slope.is_positive):
            raise NoClosedForm(
                f"the log-likelihood is not proved monotone in {b.param} on its feasible set "
                f"({b.param} {b.relation} {orders[b]}), so its maximum need not be at the bound"
            )
    return {b.param: _within_domain(model, b, orders[b]) for b in orders}


def _within_domain(model: Model, bound: Bound, order: sp.Symbol) -> sp.Expr:
    """The order statistic, or the domain's closed end where that lies beyond it: theta >= max x and
    theta >= 3/2 give max(max x, 3/2), which is where the objective, falling above both, is highest."""
    domain = next(p.domain for p in model.params if p.symbol == bound.param)
    end = domain.start if bound.side == MAX else domain.end
    beyond = (order - end) if bound.side == MAX else (end - order)
    if not end.is_finite or beyond.is_nonnegative:
        return order
    if domain.contains(end) != sp.true:
        raise NoClosedForm(
            f"{bound.param} {bound.relation} {order} and the open end {end} of its domain: where the order "
            "statistic lies beyond that end the likelihood has no maximum in the domain"
        )
    return sp.Max(order, end) if bound.side == MAX else sp.Min(order, end)
