"""One parameter whose objective has kinks (|.|, max, min, Heaviside, sign, Piecewise) or whose declared range
has a closed end the stationary point can cross: the domain is split at the kinks, the objective is proved
concave on each piece and at each kink, and the maximiser is the one candidate whose optimality condition
holds: a root inside its piece, or a kink or closed end where 0 lies in the subdifferential (the left
derivative >= 0 >= the right one). The estimate is a Piecewise over those conditions in the statistics, so it
holds for every data set: the soft threshold of a Laplace prior, max(x_bar, 0) for a mean declared >= 0."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from mlemap.derivations.model import Parameter
from mlemap.derivations.solve import NoClosedForm, _solve_stationary

KINKED = (sp.Abs, sp.Max, sp.Min, sp.Heaviside, sp.sign, sp.Piecewise)


def kinks_of(objective: sp.Expr, par: sp.Symbol) -> set[sp.Basic]:
    """The non-smooth subexpressions of the objective that depend on the parameter."""
    return {a for a in objective.atoms(*KINKED) if a.has(par)}


def needs_pieces(objective: sp.Expr, params: tuple[sp.Symbol, ...]) -> bool:
    return any(kinks_of(objective, p) for p in params)


def _zeros(atom: sp.Basic, par: sp.Symbol) -> list[sp.Expr]:
    """Where a kinked subexpression changes branch, as values of the parameter."""
    if isinstance(atom, (sp.Max, sp.Min)):
        args = atom.args
        differences = [args[i] - args[j] for i in range(len(args)) for j in range(i + 1, len(args))]
    elif isinstance(atom, sp.Piecewise):
        differences = [r.lhs - r.rhs for _, cond in atom.args for r in cond.atoms(sp.Rel)]
    else:
        differences = [atom.args[0]]
    points = []
    for difference in differences:
        if difference.free_symbols - {par}:
            raise NoClosedForm(f"a kink of the objective ({atom}) moves with the data, so the pieces are unknown")
        points += [z for z in sp.solve(difference, par) if z.is_real]
    return points


def _resolve(objective: sp.Expr, par: sp.Symbol, point: sp.Expr) -> sp.Expr:
    """The smooth formula the objective follows near a point strictly inside a piece."""

    def branch(atom: sp.Basic) -> sp.Expr:
        if isinstance(atom, sp.Abs):
            return sp.sign(atom.args[0].subs(par, point)) * atom.args[0]
        if isinstance(atom, (sp.Max, sp.Min)):
            pick = max if isinstance(atom, sp.Max) else min
            return pick(atom.args, key=lambda a: float(a.subs(par, point)))
        if isinstance(atom, (sp.Heaviside, sp.sign)):
            return atom.subs(par, point)
        return next(e for e, c in atom.args if c.subs(par, point) == sp.true)

    smooth = objective
    while kinks_of(smooth, par):
        atoms = sorted(kinks_of(smooth, par), key=sp.count_ops)  # innermost first
        smooth = smooth.xreplace({atoms[0]: branch(atoms[0])})
    return sp.expand(sp.expand_log(smooth, force=True))


def _inner_point(lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    if lo.is_finite and hi.is_finite:
        return (lo + hi) / 2
    if lo.is_finite:
        return lo + 1
    return hi - 1 if hi.is_finite else sp.Integer(0)


def _running(lo: sp.Expr, hi: sp.Expr, u: sp.Dummy) -> sp.Expr:
    """The open interval (lo, hi) as u > 0 runs over the positive reals."""
    if lo.is_finite and hi.is_finite:
        return lo + (hi - lo) / (1 + u)
    if lo.is_finite:
        return lo + u
    return hi - u if hi.is_finite else sp.log(u)


def relation(expr: sp.Expr, op: type[sp.Rel]) -> sp.Boolean:
    """expr op 0, as a reader writes it: positive denominators cleared, one statistic isolated."""
    num, den = sp.fraction(sp.together(sp.expand(expr)))
    if den.is_negative:
        num = -num
    elif not den.is_positive:
        num = num * den  # same sign as num/den where den != 0
    num = sp.expand(num)
    if num.is_number:
        return op(num, 0)
    for s in sorted(num.free_symbols, key=lambda s: (s.name == "n", s.name)):
        coeff = num.coeff(s)
        if num.is_polynomial(s) and sp.degree(num, s) == 1 and coeff.is_number and coeff != 0:
            side = sp.expand(-(num - coeff * s) / coeff)
            return op(s, side) if coeff.is_positive else op(side, s)
    return op(num, 0)


@dataclass(frozen=True)
class Piece:
    lo: sp.Expr
    hi: sp.Expr
    formula: sp.Expr  # the smooth objective on (lo, hi)

    def slope(self, par: sp.Symbol) -> sp.Expr:
        return sp.diff(self.formula, par)

    def curvature(self, par: sp.Symbol) -> sp.Expr:
        return sp.simplify(sp.diff(self.formula, par, 2))

    def inner(self) -> sp.Expr:
        """A point strictly inside the piece."""
        return _inner_point(self.lo, self.hi)


def pieces(objective: sp.Expr, par: Parameter) -> list[Piece]:
    """The parameter's domain cut at every kink inside it; pieces where the objective is -oo are dropped."""
    domain = par.domain
    if not isinstance(domain, sp.Interval):
        raise NoClosedForm(f"the domain of {par.symbol} is not an interval, so it cannot be cut at the kinks")
    cuts = {z for atom in kinks_of(objective, par.symbol) for z in _zeros(atom, par.symbol)}
    inside = sorted((z for z in cuts if bool(domain.start < z) and bool(z < domain.end)), key=float)
    ends = [domain.start, *inside, domain.end]
    found = []
    for lo, hi in zip(ends, ends[1:]):
        formula = _resolve(objective, par.symbol, _inner_point(lo, hi))
        if not formula.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            found.append(Piece(lo, hi, formula))
    if not found:
        raise NoClosedForm(f"the objective is -oo on the whole domain of {par.symbol}")
    return found


def _prove_concave(pieces_: list[Piece], par: sp.Symbol) -> None:
    """Concave on each piece (second derivative <= 0 inside it) and at each kink (left slope >= right slope)."""
    u = sp.Dummy("u", positive=True)
    for piece in pieces_:
        curvature = sp.simplify(sp.together(sp.diff(piece.formula, par, 2).subs(par, _running(piece.lo, piece.hi, u))))
        if not curvature.is_nonpositive:
            raise NoClosedForm(
                f"the objective is not proved concave in {par} on ({piece.lo}, {piece.hi}), so a stationary "
                "point there need not be the maximum"
            )
    for left, right in zip(pieces_, pieces_[1:]):
        if left.hi != right.lo:
            continue  # an excluded piece between them: each side is an end
        jump = sp.simplify(left.slope(par).subs(par, left.hi) - right.slope(par).subs(par, left.hi))
        if not jump.is_nonnegative:
            raise NoClosedForm(f"the objective has a convex kink at {par} = {left.hi}, so it may have two maxima")


def _roots(piece: Piece, par: sp.Symbol, seconds: float | None) -> list[tuple[sp.Expr, sp.Boolean]]:
    if sp.simplify(piece.slope(par)).is_zero:
        raise NoClosedForm(f"the objective is constant in {par} on ({piece.lo}, {piece.hi}): the maximiser is a set")
    found = []
    for solution in _solve_stationary(piece.formula, (par,), seconds):
        root = solution[par]
        if root.is_real is False:
            continue
        conds = []
        if piece.lo.is_finite:
            conds.append(relation(root - piece.lo, sp.StrictGreaterThan))
        if piece.hi.is_finite:
            conds.append(relation(piece.hi - root, sp.StrictGreaterThan))
        found.append((root, sp.And(*conds)))
    return found


def piece_roots(cut: list[Piece], par: sp.Symbol) -> list[tuple[sp.Expr, Piece]]:
    """Each piece's stationary points with the piece they solve (the report claims its slope zero there)."""
    return [(root, piece) for piece in cut for root, _ in _roots(piece, par, None)]


def _closed(domain: sp.Interval, point: sp.Expr) -> bool:
    return bool(domain.contains(point) == sp.true)


def _corners(pieces_: list[Piece], par: Parameter) -> list[tuple[sp.Expr, sp.Boolean]]:
    """Kinks and closed ends with their subgradient condition: 0 between the one-sided slopes."""
    p = par.symbol
    points = dict.fromkeys(e for piece in pieces_ for e in (piece.lo, piece.hi) if e.is_finite)
    found = []
    for point in points:
        if not _closed(par.domain, point):
            continue
        conds = []
        left = next((q for q in pieces_ if q.hi == point), None)
        right = next((q for q in pieces_ if q.lo == point), None)
        if left is not None:
            conds.append(relation(left.slope(p).subs(p, point), sp.GreaterThan))
        if right is not None:
            conds.append(relation(right.slope(p).subs(p, point), sp.LessThan))
        found.append((point, sp.And(*conds)))
    return found


def piecewise_maximum(objective: sp.Expr, par: Parameter, seconds: float | None) -> sp.Expr:
    """The maximiser of a concave one-parameter objective as a Piecewise over its optimality conditions;
    NoClosedForm when concavity is not proved or a piece has no closed-form root."""
    cut = pieces(objective, par)
    _prove_concave(cut, par.symbol)
    clauses = [c for piece in cut for c in _roots(piece, par.symbol, seconds)] + _corners(cut, par)
    clauses = [(value, cond) for value, cond in clauses if cond != sp.false]
    if not clauses:
        raise NoClosedForm(f"no stationary point, kink or closed end of the domain of {par.symbol} can be the maximum")
    for value, cond in clauses:
        if cond == sp.true:
            return value
    return sp.Piecewise(*clauses)


def crosses_closed_end(value: sp.Expr, par: Parameter) -> bool:
    """Whether a closed-form value may leave the parameter's domain through a closed, finite end (a mean
    declared >= 0): there the maximum is the end itself, not the stationary point."""
    domain = par.domain
    if not isinstance(domain, sp.Interval) or value.is_number:
        return False
    has_closed_end = any(e.is_finite and _closed(domain, e) for e in (domain.start, domain.end))
    return has_closed_end and domain.contains(value) != sp.true
