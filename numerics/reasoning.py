"""A student's derivation checked line by line, as STACK's reasoning by equivalence does: each line is an
expression or an equation in the question's parameter. An equation must have the same solutions in the
parameter as the line before it (multiplying by a nonzero factor, moving terms, solving); an expression must be
equal to the one before it. The first line that does not follow is named with both solution sets; the last
line must give the answer, and is judged as a single answer is (check), mistakes named."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import sympy as sp

from mlemap.derivations.answer import SUM, Notation, UnknownSymbol, Unreadable, parse_line
from mlemap.derivations.engine import Derivation, n_obs
from mlemap.derivations.sheet import Sheet
from mlemap.derivations.solve import NoClosedForm, time_limit
from mlemap.numerics.check import CHECK_SECONDS, Feedback, _equal, _judge, derived, question_of

MAX_LINES = 40
_LINEAR = sp.Function("LINEAR_SUM")  # a sum of a monomial in the data, while sums are being split


def check_lines(sheet: Sheet, key: str, lines: Sequence[str], seed: int = 0) -> Feedback:
    """The verdict on a derivation whose last line gives the answer to key; Feedback.line names the first line
    that does not follow from the one before (1-based), or the last line when it is not the answer."""
    q, right = question_of(sheet, key)
    d = derived(q.model)
    notation = Notation.of(d, getattr(sheet, "names", {}))
    lines = [t for t in lines if t.strip()]
    if not lines or len(lines) > MAX_LINES:
        return Feedback("unreadable", False, None, f"a derivation is 1 to {MAX_LINES} lines; this one has {len(lines)}")
    p = next(iter(right.expr.free_symbols & set(d.params)), None) or _parameter_of(d, key)
    try:
        with time_limit(CHECK_SECONDS * 2, "the check"):
            parsed = []
            for k, text in enumerate(lines, 1):
                try:
                    parsed.append(parse_line(text, notation))
                except (Unreadable, UnknownSymbol) as exc:
                    return Feedback("unreadable", False, None, f"line {k}: cannot read it: {exc}", line=k)
            for k in range(1, len(parsed)):
                wrong = _does_not_follow(parsed[k - 1], parsed[k], p, d)
                if wrong is not None:
                    return Feedback(
                        "incorrect", False, None, f"line {k + 1} does not follow from line {k}: {wrong}", line=k + 1
                    )
            return _last_line(q, d, right, parsed[-1], p, notation, seed, len(parsed))
    except NoClosedForm:
        return Feedback("undecided", False, None, f"could not decide within {2 * CHECK_SECONDS:g} s")


def _parameter_of(d: Derivation, key: str) -> sp.Symbol:
    """The parameter an answer key names (task1.sigma2_mle -> sigma^2), else the first."""
    stem = key.rsplit(".", 1)[-1].split("_")[0]
    return next((p for p in d.params if p.name.replace("^", "") == stem), d.params[0])


def _split_sums(expr: sp.Basic, d: Derivation) -> sp.Basic:
    """Each sum over i split into constants times sums of data monomials: SUM(x - mu) = SUM(x) - n mu, so that
    the parameter stands outside every sum and can be solved for."""
    data = list(d.model.data)

    def linear(g):
        inner = {t: sp.Dummy() for t in g.atoms(_LINEAR)}  # a sum inside a sum is constant over i: taken out
        total = sp.Integer(0)
        for part in sp.Add.make_args(sp.expand(g.xreplace(inner))):
            coeff, rest = part.as_independent(*data, as_Add=False)
            total += coeff * (n_obs if rest == 1 else _LINEAR(rest))
        return total.xreplace({u: t for t, u in inner.items()})

    while expr.has(SUM):
        expr = expr.replace(SUM, linear)
    return expr.replace(_LINEAR, SUM)


def _solutions(zero: sp.Expr, p: sp.Symbol, d: Derivation) -> list[sp.Expr] | None:
    """The solutions in p of zero = 0, its denominators cleared; None where SymPy cannot solve it."""
    numerator = sp.numer(sp.together(_split_sums(zero, d)))
    if not numerator.has(p):
        return None
    try:
        found = [sp.simplify(s) for s in sp.solve(numerator, p)]
    except (NotImplementedError, ValueError, TypeError):
        return None
    domain = next(par.domain for par in d.model.params if par.symbol == p)
    # a root outside the parameter's domain is no solution: discarding it (3/2 for a probability) is a step
    return [s for s in found if not (s.is_number and s.is_real and not domain.contains(s))]


def _does_not_follow(before: tuple[sp.Expr, bool], after: tuple[sp.Expr, bool], p, d: Derivation) -> str | None:
    """Why the line after is not equivalent to the line before; None when it is."""
    (a, a_equation), (b, b_equation) = before, after
    if not a_equation and not b_equation:
        if _equal(_split_sums(a, d), _split_sums(b, d)):
            return None
        return "the two expressions are not equal"
    first, second = _solutions(a, p, d), _solutions(b, p, d)
    if first is None or second is None:  # not solvable in p: the same equation up to a factor free of p
        ratio = sp.simplify(_split_sums(b, d) / _split_sums(a, d)) if a != 0 else None
        if ratio is not None and ratio != 0 and not ratio.has(p):
            return None
        return f"it is not the same equation in ${sp.latex(p)}$"
    if len(first) == len(second) and all(any(_equal(s, t) for t in second) for s in first):
        return None
    return f"the line before gives ${_solved(first, p, d)}$, this line ${_solved(second, p, d)}$"


def _solved(values: list[sp.Expr], p, d: Derivation) -> str:
    """p = the solutions, each sum written as the student writes it, sum_i x_i."""
    data = {s: sp.Symbol(f"{s.name}_i") for s in d.model.data}
    sums: dict = {}
    names: dict = {}
    # inner sums first (a mean inside a sum of squares): each outer one is written with the inner names
    for t in sorted({t for v in values for t in v.atoms(SUM)}, key=sp.count_ops):
        inner = t.args[0].xreplace(sums).xreplace(data)
        sums[t] = sp.Dummy()
        names[sums[t]] = rf"\Big(\sum_i {sp.latex(inner, symbol_names=names)}\Big)"
    shown = ", ".join(sp.latex(v.xreplace(sums), symbol_names=names) for v in values)
    return f"{sp.latex(p)} = {shown}" if values else rf"\text{{no solution in }} {sp.latex(p)}"


def _last_line(q, d, right, last: tuple[sp.Expr, bool], p, notation, seed: int, count: int) -> Feedback:
    """The answer the last line gives, judged as a single answer."""
    zero, equation = last
    if not equation:
        found: sp.Basic = zero
    else:
        solved = _solutions(zero, p, d)
        if not solved or len(solved) != 1:
            return Feedback(
                "incorrect", False, None, f"line {count} does not give one value of the parameter", line=count
            )
        found = solved[0]
    verdict = _judge(q, d, right, found, notation, seed)
    line = None if verdict.verdict == "correct" else count
    return replace(verdict, message=f"line {count}: {verdict.message}", line=line)
