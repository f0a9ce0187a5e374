"""Exact proofs of displayed equalities. A worked step shows A = B; the proof rewrites every sum over the
observations as a combination of the sample statistics (sum_i g(x_i) is the statistic of g), replaces
named quantities (x_bar) by their definitions, and asks SymPy whether A - B is zero.

A claim is (A, B, "equal") or (A, B, "up to a constant in theta"): the second holds when every derivative of
A - B by a parameter is zero, the form a log-posterior takes once its normalising constant is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.polys.polyerrors import NotAlgebraic

from mlemap.derivations import store
from mlemap.derivations.engine import _stat_name, n_obs

EQUAL, UP_TO_CONSTANT = "equal", "up to a constant in theta"
INDEX = sp.Idx("i")


def observation(g: sp.Expr, data: Iterable[sp.Symbol]) -> sp.Expr:
    """g(x) written for the i-th observation, g(x_i), as the worked steps display it."""
    return g.subs({s: sp.IndexedBase(s.name)[INDEX] for s in data}, simultaneous=True)


def over_observations(g: sp.Expr, data: Iterable[sp.Symbol], n: sp.Symbol) -> sp.Sum:
    """sum_{i=1}^{n} g(x_i), unevaluated."""
    return sp.Sum(observation(g, data), (INDEX, 1, n))


def statistic_symbol(g: sp.Expr, known: Mapping[sp.Expr, sp.Symbol]) -> sp.Symbol:
    """The symbol of sum_i g(x_i): the derivation's own where it has one, else named as the engine names them."""
    if g == 1:
        return n_obs
    if g in known:
        return known[g]
    return sp.Symbol(_stat_name(g), real=True, nonnegative=g.is_nonnegative or None)


def in_statistics(expr: sp.Expr, data: tuple[sp.Symbol, ...], known: Mapping[sp.Expr, sp.Symbol]) -> sp.Expr:
    """Every sum over the observations as a combination of statistics: linearity of the sum."""
    plain = {sp.IndexedBase(s.name)[INDEX]: s for s in data}

    def linear(*args) -> sp.Expr:
        total = sp.Sum(*args)
        (index, low, high), body = total.limits[0], sp.expand(total.function)
        if (low, high) != (1, n_obs):
            return total
        parts = []
        for term in sp.Add.make_args(body):
            constant, varying = term.as_independent(index, as_Add=False)
            parts.append(constant * statistic_symbol(sp.expand(varying.xreplace(plain)), known))
        return sp.Add(*parts)

    return expr.replace(sp.Sum, linear)


def is_zero(expr: sp.Expr) -> bool:
    """Exactly zero. A number: by its minimal polynomial being the identity when it is algebraic (a CRootOf
    among others; SymPy's simplify is slow there), else by simplification. An expression: by simplification."""
    if expr == 0:
        return True
    if not expr.free_symbols:
        if abs(sp.N(expr, 30)) > 1e-20:  # certainly not zero; the exact tests below decide the rest
            return False
        roots = expr.atoms(sp.CRootOf)
        if (
            len(roots) == 1
        ):  # a rational function of one root r: zero iff its numerator vanishes modulo r's minimal polynomial
            (root,) = roots
            t = sp.Dummy("t")
            numerator = sp.numer(sp.together(expr.xreplace({root: t})))
            if numerator.is_polynomial(t) and numerator.free_symbols <= {t}:
                return sp.rem(sp.Poly(numerator, t), sp.minimal_polynomial(root, t, polys=True)).is_zero
        if expr.is_algebraic:
            z = sp.Dummy("z")
            try:
                return sp.minimal_polynomial(expr, z) == z
            except (NotAlgebraic, NotImplementedError):  # an unevaluated log(1), say: simplification decides
                pass
    return sp.simplify(expr) == 0 or sp.expand(sp.together(sp.expand_log(expr, force=True))) == 0


def holds(claim: tuple, definitions: Mapping[sp.Symbol, sp.Expr], data, known, params) -> bool:
    """Whether one claim (A, B, relation) holds, definitions and statistics substituted."""
    lhs, rhs, relation = claim
    difference = sp.Matrix(lhs) - sp.Matrix(rhs) if isinstance(lhs, sp.MatrixBase) else sp.Matrix([lhs - rhs])
    for _ in range(3):  # definitions may refer to one another
        difference = difference.xreplace(dict(definitions))
    difference = difference.applyfunc(lambda e: in_statistics(e, data, known))
    if relation == UP_TO_CONSTANT:
        difference = sp.Matrix([sp.diff(e, p) for e in difference for p in params])
    return all(is_zero(e) for e in difference)


def prove(
    claims: tuple,
    definitions: Mapping[sp.Symbol, sp.Expr],
    data: tuple[sp.Symbol, ...],
    known: Mapping[sp.Expr, sp.Symbol],
    params: tuple[sp.Symbol, ...],
) -> bool:
    """Every claim of one step holds; cached by the claims' content, as derivations are."""
    parts = [
        list(claims),
        sorted(definitions.items(), key=str),
        list(data),
        sorted(known.items(), key=str),
        list(params),
    ]
    return store.load_or_compute(
        "proof",
        store.content_key(parts),
        lambda: {"proved": all(holds(c, definitions, data, known, params) for c in claims)},
    )["proved"]


@dataclass(frozen=True)
class Claims:
    """What one displayed step asserts, with what its proof needs: the model's data symbols, the derivation's
    statistics (g -> symbol), its parameters and the named quantities the step uses (x_bar -> its sum)."""

    claims: tuple[tuple[sp.Basic, sp.Basic, str], ...]
    data: tuple[sp.Symbol, ...]
    known: tuple[tuple[sp.Expr, sp.Symbol], ...]
    params: tuple[sp.Symbol, ...]
    definitions: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    constants: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()  # known quantities of the model: shown in the record

    def proved(self) -> bool:
        return bool(self.claims) and prove(
            self.claims, dict(self.definitions), self.data, dict(self.known), self.params
        )

    def as_record(self) -> dict:
        """The claims as SymPy source (srepr), with what a reader needs to check them independently."""
        return {
            "claims": [{"lhs": sp.srepr(a), "rhs": sp.srepr(b), "relation": how} for a, b, how in self.claims],
            "statistics": [{"symbol": sp.srepr(sym), "g": sp.srepr(g)} for g, sym in self.known],
            "data": [sp.srepr(s) for s in self.data],
            "params": [sp.srepr(p) for p in self.params],
            "definitions": [{"symbol": sp.srepr(k), "value": sp.srepr(v)} for k, v in self.definitions],
            "constants": [{"symbol": sp.srepr(k), "value": sp.srepr(v)} for k, v in self.constants],
        }


# The independent side of a worked step's claim: what the step's displayed result must equal, recomputed here
# from the derivation's own definitions, so the report only formats and the prover compares.
def score_recomputed(d) -> sp.Matrix:
    """The objective's gradient, differentiated afresh (the step shows the engine's simplified score)."""
    return sp.Matrix([sp.diff(d.objective, p) for p in d.params])


def hessian_recomputed(d) -> sp.Matrix:
    return sp.hessian(d.objective, d.params)


def density_derivatives(d) -> tuple[sp.Matrix, sp.Matrix]:
    """One observation's score and Hessian, with the model's constants: what Newton's step sums."""
    constants = d.model.constants
    return (
        sp.Matrix([sp.diff(d.log_density, p) for p in d.params]).subs(constants),
        sp.hessian(d.log_density, d.params).subs(constants),
    )


def partial_at(expr: sp.Expr, param: sp.Symbol, at: Mapping) -> sp.Expr:
    """d expr / d param at a point (the profile's score at the median, a bound's score at the data)."""
    return sp.diff(expr, param).subs(at)
