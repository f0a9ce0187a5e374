"""Supports that depend on a parameter (0 <= x <= theta, -theta <= x <= theta, theta <= x <= 2 theta, x >= theta,
1..N): the likelihood vanishes unless every observation lies in the support, so such a parameter is bounded by
an affine function of the sample's maximum or minimum (an order statistic). On that feasible set the
log-likelihood is monotone in it, which SymPy proves from the sign of its score there; the maximum is then at
the feasible set's end, not at a stationary point. Where the score vanishes there (a flat likelihood) every
point of the feasible set is a maximiser: a set, named as such."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from mlemap.derivations import codec
from mlemap.derivations.model import InputError, Model
from mlemap.derivations.solve import NoClosedForm

MAX, MIN = "max", "min"  # which order statistic bounds the parameter: the sample maximum or minimum


@codec.register
@dataclass(frozen=True)
class Bound:
    """The support's end scale * param + shift lies beyond every observation: at least the sample maximum
    (side MAX, the upper end) or at most the sample minimum (side MIN, the lower end)."""

    param: sp.Symbol
    data: sp.Symbol
    side: str
    scale: sp.Expr = sp.S.One  # a SymPy singleton: immutable, shared safely as a default
    shift: sp.Expr = sp.S.Zero

    @property
    def below(self) -> bool:
        """Whether the order statistic bounds the parameter from below (theta >= max x, theta >= -min x)."""
        return (self.side == MAX) == bool(self.scale.is_positive)

    @property
    def relation(self) -> str:
        return ">=" if self.below else "<="

    def limit(self, order: sp.Expr) -> sp.Expr:
        """The parameter's value where the support's end meets the order statistic."""
        return (order - self.shift) / self.scale


def _support_interval(model: Model, x: sp.Symbol) -> sp.Set:
    support = model.support.get(x, sp.Reals)
    if isinstance(support, sp.Range) and support.step == 1:  # 1..N: the integers of [1, N]
        return sp.Interval(support.start, support.stop - 1)
    return support


def support_bounds(model: Model) -> tuple[Bound, ...]:
    """The parameters a data symbol's support is bounded by; InputError for a form the engine cannot use."""
    params = set(model.param_symbols)
    bounds = []
    for x in model.data:
        support = _support_interval(model, x)
        if not support.free_symbols & params:
            continue
        if not isinstance(support, sp.Interval):
            raise InputError(
                f"{model.name}: the support of {x} depends on a parameter, so it must be an interval, got {support}"
            )
        for end, side in ((support.end, MAX), (support.start, MIN)):
            if end.free_symbols & params:
                bounds.append(_affine_bound(model, x, end, side))
    return tuple(bounds)


def _affine_bound(model: Model, x: sp.Symbol, end: sp.Expr, side: str) -> Bound:
    """An end a * theta + c with a a nonzero number and c free of the parameters; InputError otherwise."""
    params = end.free_symbols & set(model.param_symbols)
    (param,) = params if len(params) == 1 else (None,)
    scale = sp.diff(end, param) if param is not None else sp.nan
    shift_symbols = (end - scale * param).free_symbols if param is not None else set()
    if param is None or not (scale.is_number and scale != 0) or shift_symbols & {*model.param_symbols, *model.data}:
        raise InputError(
            f"{model.name}: an end of the support of {x} that depends on a parameter must be a * theta + c for one "
            f"parameter theta and numbers a != 0, c, got {end}"
        )
    return Bound(param, x, side, scale, sp.expand(end - scale * param))


def order_symbol(model: Model, x: sp.Symbol, side: str) -> sp.Symbol:
    """x_(n) = max_i x_i or x_(1) = min_i x_i, with the sign every observation has (the support's lower end)."""
    lower = _support_interval(model, x).start
    by_param = {p.symbol: p.domain for p in model.params}
    if lower in by_param:
        positive = by_param[lower].is_subset(sp.Interval.open(0, sp.oo))
        nonnegative = by_param[lower].is_subset(sp.Interval(0, sp.oo))
    else:
        positive, nonnegative = bool(lower.is_positive), bool(lower.is_nonnegative)
    sign = {"positive": True} if positive else {"nonnegative": True} if nonnegative else {}
    if x.is_integer:  # the largest of integer counts is an integer: max k >= 1 where k >= 1
        sign["integer"] = True
    return sp.Symbol(f"{side}_{x.name}", real=True, **sign)  # max_x, shown as x_(n); a name that parses back


def feasible_ends(
    model: Model, orders: dict[Bound, sp.Symbol], param: sp.Symbol
) -> tuple[sp.Expr, sp.Expr, tuple[sp.Basic, ...]]:
    """The parameter's feasible interval (its domain's ends, narrowed by every bound on it), and the conditions
    under which it meets the domain where an open end of the domain is not proved beyond the bounds."""
    domain = next(p.domain for p in model.params if p.symbol == param)
    below = [b.limit(o) for b, o in orders.items() if b.param == param and b.below]
    above = [b.limit(o) for b, o in orders.items() if b.param == param and not b.below]
    lo, lo_cond = _narrowed(sp.Max, below, domain.start, domain.contains(domain.start) == sp.true)
    hi, hi_cond = _narrowed(sp.Min, above, domain.end, domain.contains(domain.end) == sp.true)
    return lo, hi, lo_cond + hi_cond


def _narrowed(pick, limits: list[sp.Expr], end: sp.Expr, closed: bool) -> tuple[sp.Expr, tuple[sp.Basic, ...]]:
    """The tightest of the limits: a closed finite end of the domain joins them unless proved looser; an open
    one gives the condition that the limits lie strictly inside it (else the likelihood has no maximum)."""
    if not limits:
        return end, ()
    tightest = pick(*limits)
    if not end.is_finite or all(_proved_looser(pick, end, limit) for limit in limits):
        return tightest, ()
    if closed:
        return pick(*limits, end), ()
    return tightest, ((tightest > end) if pick is sp.Max else (tightest < end),)


def _proved_looser(pick, end: sp.Expr, limit: sp.Expr) -> bool:
    gap = (limit - end) if pick is sp.Max else (end - limit)
    return bool(gap.is_nonnegative)


def _slope_sign(objective: sp.Expr, model: Model, param: sp.Symbol, feasible: dict, spread: dict) -> int:
    """+1 or -1 where SymPy proves the score's sign on the whole domain or on the feasible set (every bounded
    parameter inside its own), 0 where it proves the score zero (a flat likelihood); NoClosedForm otherwise."""
    slope = sp.simplify(sp.diff(objective, param))
    if slope.is_zero:
        return 0
    domain = next(p.domain for p in model.params if p.symbol == param)
    on_domain = _inside(domain.start, domain.end, sp.Dummy(positive=True))
    moved = {q: _inside(lo, hi, sp.Dummy(positive=True)) for q, (lo, hi) in feasible.items()}
    trials = [{param: on_domain} if on_domain is not None else {}, {q: m for q, m in moved.items() if m is not None}]
    for at in trials:
        value = sp.simplify(sp.together(slope.subs(at).subs(spread)))
        if value.is_negative:
            return -1
        if value.is_positive:
            return 1
    lo, hi = feasible[param]
    raise NoClosedForm(
        f"the log-likelihood is not proved monotone in {param} on its feasible set [{lo}, {hi}], so its maximum "
        "need not be at an end"
    )


def _inside(lo: sp.Expr, hi: sp.Expr, u: sp.Dummy) -> sp.Expr | None:
    if lo.is_finite and hi.is_finite:
        return lo + (hi - lo) / (1 + u) if not (lo.has(sp.Max, sp.Min) or hi.has(sp.Max, sp.Min)) else None
    if lo.is_finite:
        return lo + u
    return hi - u if hi.is_finite else None


def support_maximum(
    objective: sp.Expr, model: Model, orders: dict[Bound, sp.Symbol]
) -> tuple[dict[sp.Symbol, sp.Expr], tuple[sp.Basic, ...]]:
    """Each bounded parameter at the end of its feasible set the log-likelihood rises towards, once SymPy proves
    it monotone there; NoClosedForm where it is not proved, or where it is flat (the maximiser is then a set)."""
    found, conditions = {}, []
    ends = {param: feasible_ends(model, orders, param) for param in dict.fromkeys(b.param for b in orders)}
    feasible = {param: (lo, hi) for param, (lo, hi, _) in ends.items()}
    for param, (lo, hi, where) in ends.items():
        sign = _slope_sign(objective, model, param, feasible, _spread(orders))
        if sign == 0:
            raise FlatMaximum(param, lo, hi)
        end = lo if sign < 0 else hi
        if not end.is_finite:
            raise NoClosedForm(f"the log-likelihood rises without bound as {param} -> {end}")
        found[param] = end
        conditions += [c for c in where if c.has(*end.free_symbols) or not end.free_symbols]
    return found, tuple(conditions)


def _spread(orders: dict[Bound, sp.Symbol]) -> dict[sp.Symbol, sp.Expr]:
    """x_(n) = x_(1) + w with w >= 0, for every data symbol whose maximum and minimum both bound a parameter."""
    spread = {}
    for x in {b.data for b in orders}:
        ends = {b.side: o for b, o in orders.items() if b.data == x}
        if len(ends) == 2:
            spread[ends[MAX]] = ends[MIN] + sp.Dummy(nonnegative=True)
    return spread


class FlatMaximum(NoClosedForm):
    """The likelihood is constant on the feasible set: every point of [lo, hi] is a maximiser."""

    def __init__(self, param: sp.Symbol, lo: sp.Expr, hi: sp.Expr):
        self.param, self.interval = param, (lo, hi)
        super().__init__(
            f"the likelihood is the same at every {param} in [{lo}, {hi}], the set of values the data allow: "
            "the maximiser is that set, not a point"
        )
