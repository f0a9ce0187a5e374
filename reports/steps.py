"""The worked derivation of a model as displayed steps: each a title, its LaTeX, a sentence, and the claims its
equalities make, which the build proves (derivations/proof.py) before it writes a report.

Presentation only: every expression comes from the Derivation (derivations/), which is where the mathematics
is derived, cached and mutation-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from mlemap.derivations.constraints import counts_sum_to_n
from mlemap.derivations.constraints import residuals as constraint_residuals
from mlemap.derivations.engine import Derivation, median_profile, n_obs, observation_derivatives, order_statistics
from mlemap.derivations.linear import NormalEquations, normal_equations, residual_variance
from mlemap.derivations.model import observed_counts
from mlemap.derivations.pieces import piece_roots, pieces
from mlemap.derivations.proof import (
    EQUAL,
    INDEX,
    UP_TO_CONSTANT,
    Claims,
    density_derivatives,
    hessian_recomputed,
    in_statistics,
    is_zero,
    observation,
    over_observations,
    partial_at,
    score_recomputed,
)
from mlemap.reports.document import LINES, hat, math, matrix_estimate, roots_defined, statistics_defined

LONG = 120  # characters of LaTeX beyond which a density is not repeated inside a log
SECOND_ORDER_TEXT = {
    "proved": "All leading principal minors of the negative Hessian are positive: a strict maximum.",
    "conditional": "Negative definite provided the undecided minors are positive; numerics check them on data.",
    "fails": "A leading principal minor of the negative Hessian is not positive: not a maximum.",
}


@dataclass(frozen=True)
class Step:
    title: str
    latex: str
    text: str = ""
    proof: Claims | None = None


class Steps:
    """Builds one derivation's steps; every step's claims share the derivation's proof context."""

    def __init__(self, d: Derivation, definitions: Mapping[sp.Symbol, sp.Expr] | None = None):
        self.d = d
        self.context = {
            "data": d.model.data,
            "known": tuple((s.expr, s.symbol) for s in d.statistics if s.symbol != n_obs),
            "params": d.params,
            "definitions": tuple((definitions or {}).items()),
            "constants": tuple(d.model.constants.items()),
        }
        self.steps: list[Step] = []
        # the objective's name: the log-likelihood, or the log-posterior up to its constant, never both called l
        self.L = r"\ell" if d.model.prior is None else r"\tilde{\ell}"
        self.hats = {p: sp.Symbol(f"hat {p.name}", **p.assumptions0) for p in d.params}

    def at_hats(self, expr):
        """expr with each parameter as its estimate's name (sigma^2 -> sigma-hat^2): a value at the estimate."""
        return expr.xreplace(self.hats)

    def tex(self, expr, **options) -> str:
        """LaTeX of expr with the model's known constants as their values: Sigma = 5 I shows as numbers."""
        names = {h: hat(p) for p, h in self.hats.items()}
        return math(self.d, self.known(expr), symbol_names=names, **options)

    def known(self, expr):
        constants = self.d.model.constants
        return expr.subs(constants) if constants and isinstance(expr, (sp.Basic, sp.MatrixBase)) else expr

    def add(self, title: str, latex: str, claims=(), text: str = "", facts: Mapping | None = None) -> None:
        """A step; its claims are about what is displayed, constants substituted as they are shown. facts: what
        the step's text states besides the derivation's definitions (the counts add up to n)."""
        context = self.context | ({"definitions": self.context["definitions"] + tuple(facts.items())} if facts else {})
        proof = (
            Claims(tuple((self.known(a), self.known(b), how) for a, b, how in claims), **context) if claims else None
        )
        self.steps.append(Step(title, latex, text, proof))

    def where(self, expr: sp.Expr) -> str:
        """'where x_bar = ...' for the named quantities expr uses, and those they use in turn."""
        return where_defined(dict(self.context["definitions"]), [expr])

    def chain(self, title: str, label: str, forms, text: str = "", as_written: bool = False) -> None:
        """label = form_1 = form_2 = ...: each consecutive pair is a claim. as_written prints the last form in the
        order its author wrote it (b_hat = y_bar - a_hat x_bar), not in SymPy's sorted order."""
        shown = [self.tex(f) for f in forms]
        if as_written:
            shown[-1] = self.tex(forms[-1], order="none")
        self.add(title, " = ".join([label, *shown]), [(a, b, EQUAL) for a, b in zip(forms, forms[1:])], text)


def where_defined(named: Mapping[sp.Symbol, sp.Expr], exprs) -> str:
    """'where x_bar = ...' for the named quantities the expressions use, and those they use in turn."""
    used: list[sp.Symbol] = []
    pending = sorted({s for e in exprs for s in e.free_symbols if s in named}, key=str)
    while pending:
        symbol = pending.pop(0)
        if symbol not in used:
            used.append(symbol)
            pending += sorted((s for s in named[symbol].free_symbols if s in named), key=str)
    shown = [f"${sp.latex(s)} = {math(None, named[s], order='none')}$" for s in sorted(used, key=str)]
    return ("where " + ", ".join(shown) + ".") if used else ""


def worked_steps(d: Derivation, familiar: Mapping[sp.Symbol, sp.Expr] | None = None, definitions=None) -> list[Step]:
    """The steps a worked solution shows, from the log-density to the second-order check. familiar: for some
    parameters, the estimate in the form a textbook gives it (in terms of the named quantities in definitions),
    shown beside the derived form and proved equal to it."""
    out = Steps(d, definitions)
    m = d.model
    theta = ", ".join(sp.latex(p) for p in d.params)
    data = ", ".join(sp.latex(s) for s in m.data)
    if not d.separable:  # a separable log-likelihood is shown as the sum of the log-density over i at once
        _log_density(out, theta, data)
    _likelihood(out, theta, data)
    if m.prior is not None:
        out.chain("Log-prior", rf"\log p({theta})", [sp.log(m.prior, evaluate=False), d.log_prior])
        shown = sp.Add(*[t for t in sp.Add.make_args(sp.expand(d.objective)) if t.free_symbols & set(d.params)])
        out.add(
            "Log-posterior",
            rf"\tilde{{\ell}}({theta}) = \ell({theta}) + \log p({theta}) = {out.tex(shown)} + \text{{const}}",
            [(d.objective, shown, UP_TO_CONSTANT)],
            rf"By Bayes' rule $\log p({theta} \mid D) = \tilde{{\ell}}({theta}) - \log p(D)$: the log-posterior is "
            "the log-likelihood plus the log-prior, up to a constant, so it has the same maximiser. The terms free "
            "of the parameters are dropped into that constant.",
        )
    if d.order_form and d.estimate is not None:
        _median(out)
    if not d.separable:
        if d.estimate is None and not d.model.matrices and not d.model.constraints:
            _newton(out)
        return out.steps
    if not d.piecewise:  # a kinked objective's score and Hessian are shown piece by piece instead
        _derivatives(out, theta)
    if d.observed_statistics:
        _observed(out)
    if d.estimate is None:
        out.add("Stationary point", r"\text{no closed form}", text=d.no_closed_form or "")
        return out.steps
    _estimate(out, familiar or {})
    return out.steps


def _given(d: Derivation, theta: str, indexed: bool = False) -> str:
    """'y | x, a, b, sigma^2' for a model conditional on covariates, 'x | mu, sigma^2' otherwise."""

    def name(s):
        return f"{{{sp.latex(s)}}}_{{i}}" if indexed else sp.latex(s)

    modelled = ", ".join(name(s) for s in d.model.data if s not in d.model.covariates)
    given = ", ".join([*(name(s) for s in d.model.covariates), theta])
    return rf"{{{modelled} \mid {given}}}"  # one group: breqn must not break the line at the bar


def _log_density(out: Steps, theta: str, data: str) -> None:
    """log p = log(density) = its expansion; a density too long to show twice on a line is stood for by its
    name, log p (the claim is the same)."""
    d, label = out.d, rf"\log p({_given(out.d, theta)})"
    text = "The log turns the product over observations into a sum and powers into factors."
    logged = sp.log(d.model.density, evaluate=False)
    if len(sp.latex(d.model.density)) <= LONG:
        out.chain("Log-density", label, [logged, d.log_density], text)
    else:
        out.add("Log-density", f"{label} = {out.tex(d.log_density)}", [(logged, d.log_density, EQUAL)], text)


def _likelihood(out: Steps, theta: str, data: str) -> None:
    d = out.d
    total = over_observations(d.log_density, d.model.data, n_obs)
    label = rf"\ell({theta}) = \sum_{{i=1}}^{{n}} \log p({_given(d, theta, indexed=True)})"
    if d.separable:
        sums = statistics_defined(d)
        text = (
            f"In the second line the sums are named, {sums}: the data enter only through $n$ and these sums."
            if sums
            else "The data enter only through $n$."
        )
        summed = textbook_loglik(d)
        named = "" if not sums else LINES + rf"\phantom{{\ell}} = {out.tex(d.loglik)}"
        out.add(
            "Joint log-likelihood",
            f"{label} = {out.tex(summed)}" + named,
            [(total, summed, EQUAL), (summed, d.loglik, EQUAL)],
            text,
        )
    else:
        out.add("Joint log-likelihood", f"{label} = {sp.latex(d.loglik)}", [(total, d.loglik, EQUAL)], "Not separable.")


def textbook_loglik(d: Derivation) -> sp.Expr:
    """sum_i log p(x_i) as a textbook writes it: n times the terms free of the data, plus each factor of the
    parameters times the sum over i of what it multiplies (-n/2 log(2 pi sigma^2) - 1/(2 sigma^2) sum (x_i - mu)^2)."""
    data = set(d.model.data)
    free: list[sp.Expr] = []
    groups: dict[sp.Expr, sp.Expr] = {}
    for term in sp.Add.make_args(sp.expand_log(sp.log(d.model.density), force=True)):
        if term.free_symbols & data:
            factor, g = term.as_independent(*data, as_Add=False)
            groups[factor] = groups.get(factor, 0) + g
        else:
            free.append(term)
    out = sp.Add(*(factor * over_observations(g, d.model.data, n_obs) for factor, g in groups.items()))
    return out + n_obs * _one_log(sp.Add(*free))


def _one_log(expr: sp.Expr) -> sp.Expr:
    """-1/2 log 2 - 1/2 log pi - 1/2 log sigma^2 as -1/2 log(2 pi sigma^2): the constant terms as one log."""
    combined = sp.logcombine(expr, force=True)
    coefficient, rest = combined.as_independent(sp.log, as_Add=False)
    if not isinstance(rest, sp.log):
        return expr
    # SymPy splits sqrt(2 pi sigma^2) into a product of roots: one common power is taken out of the log by hand
    factors = sp.Mul.make_args(rest.args[0])
    powers = {f.exp if f.is_Pow else sp.Integer(1) for f in factors}
    if len(powers) != 1 or not (power := powers.pop()).is_Rational or power == 1:
        return coefficient * rest
    return coefficient * power * sp.log(sp.Mul(*(f.base for f in factors)), evaluate=False)


def textbook_score(d: Derivation) -> list[sp.Expr]:
    """The gradient of textbook_loglik (plus the log-prior) term by term, each sum differentiated inside and its
    constant factors taken out: (1/sigma^2) sum (x_i - mu), not SymPy's split sums."""
    # the known constants as numbers first (Sigma = 5 I): a residual's sign is then read off its own terms
    objective = (textbook_loglik(d) + (d.log_prior if d.model.prior is not None else 0)).subs(d.model.constants)
    gradient = []
    for p in d.params:
        total = sp.Integer(0)
        for term in sp.Add.make_args(objective):
            sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum)]
            if len(sums) != 1:
                total += sp.diff(term, p)
                continue
            (summed,) = sums
            factor = term / summed
            inner, outer = sp.factor_terms(sp.diff(summed.function, p)).as_independent(INDEX, as_Add=False)
            if _data_negated(outer):  # sum (x_i - mu), not -sum (mu - x_i)
                inner, outer = -inner, -outer
            total += sp.diff(factor, p) * summed + factor * inner * sp.Sum(outer, *summed.limits)
        gradient.append(total)
    return gradient


def _data_negated(summand: sp.Expr) -> bool:
    """Whether the summand's data enter with a minus sign, (mu - x_i) or x_i (a x_i + b - y_i): a reader expects
    the residual (x_i - mu), so the sign is taken outside the sum instead. In a residual a bare datum (y_i) decides the sign of
    its factor, as in a residual; otherwise the leading sign does."""
    coefficient, rest = summand.as_coeff_Mul()
    negated = coefficient.is_negative
    for factor in sp.Mul.make_args(rest):
        if isinstance(factor, sp.Add) and factor.has(INDEX) and _is_residual(factor):
            terms = sp.Add.make_args(factor.as_independent(INDEX, as_Add=True)[1])
            bare = [t for t in terms if isinstance(t.as_coeff_Mul()[1], sp.Indexed)]  # y_i, -5 x_i
            return negated != (bare or terms)[0].could_extract_minus_sign()
    return bool(negated)


def _is_residual(factor: sp.Add) -> bool:
    """A datum against a parameter (x_i - mu), not a count of the data alone (1 - x_i)."""
    return bool(factor.subs({datum: 0 for datum in factor.atoms(sp.Indexed)}).free_symbols - {INDEX})


def _derivatives(out: Steps, theta: str) -> None:
    """The score and the Hessian, an equation per entry (the Hessian's upper triangle): a matrix of long
    fractions reads worse than its entries. The score first as the sums over i a textbook writes."""
    d = out.d
    gradient = score_recomputed(d)
    names = [sp.latex(p) for p in d.params]
    summed = textbook_score(d)
    score = [
        # the sums over i only: the S-sum form (proved equal below) is the engine's, not the reader's
        rf"\frac{{\partial {out.L}}}{{\partial {name}}} = {out.tex(t)}"
        for name, t in zip(names, summed)
    ]
    claims = [(gradient, d.score, EQUAL), (sp.Matrix(summed), d.score, EQUAL)]
    out.add("Score", LINES.join(score), claims)
    pairs = [(i, j) for i in range(len(names)) for j in range(i, len(names))]
    second = [
        rf"\frac{{\partial^2 {out.L}}}{{{_partials(names[i], names[j])}}} = {out.tex(d.hessian[i, j])}"
        for i, j in pairs
    ]
    if d.estimate is not None and d.second_order is not None:
        return  # the second-order check shows the Hessian where it matters, at the estimate, and proves it
    out.add("Hessian", LINES.join(second), [(hessian_recomputed(d), d.hessian, EQUAL)])


def _partials(a: str, b: str) -> str:
    return (
        rf"\partial {a}^2"
        if a == b and "^" not in a
        else (rf"\partial ({a})^2" if a == b else rf"\partial {a} \, \partial {b}")
    )


def _observed(out: Steps) -> None:
    d = out.d
    # each distinct row once, times how often it occurs: 10^5 coin tosses are two rows
    counted = [({s: sp.nsimplify(v) for s, v in row.items()}, k) for row, k in observed_counts(d.model)]
    combine = {
        "sum": lambda st: sp.Add(*[k * st.expr.subs(row) for row, k in counted]),
        "max": lambda st: sp.Max(*[st.expr.subs(row) for row, _ in counted]),
        "min": lambda st: sp.Min(*[st.expr.subs(row) for row, _ in counted]),
    }
    claims = [(combine[st.reduce](st), d.observed_statistics[st.symbol], EQUAL) for st in d.statistics]
    # short numbers on one line (n = 7, S_x = 3); long ones a line each
    pairs = [f"{out.tex(k)} = {sp.latex(v)}" for k, v in d.observed_statistics.items()]
    shown = (r",\quad " if sum(map(len, pairs)) < 80 else LINES).join(pairs)
    out.add("Statistics of the observed data", shown, claims)


def _stationary_condition(out: Steps, score: sp.Expr) -> None:
    """For one parameter at observed data: the score's numerator set to zero, expanded and then factored where it
    factors (the coin's -10 theta^3 + 15 theta^2 + 2 theta - 3 = -(2 theta - 3)(5 theta^2 - 1) = 0), then its
    real roots where they are explicit; the one in the domain is kept and the others are named as discarded,
    with the side of the domain they lie on. Each equality and each root is proved."""
    (p,) = out.d.params
    together = sp.together(score)
    denominator = sp.denom(together)
    numerator = sp.expand(sp.numer(together))
    factored = sp.factor(numerator)
    forms = [numerator] if factored == numerator else [numerator, factored]
    shown = " = ".join(out.tex(f) for f in forms) + " = 0"
    claims = [(together * denominator, numerator, EQUAL), (numerator, factored, EQUAL)]
    roots = _real_roots(numerator, p)
    listed = len(roots) > 1 and not any(r.atoms(sp.CRootOf) for r in roots)
    if listed:
        shown += rf" \iff {sp.latex(p)} \in \left\{{{', '.join(out.tex(r) for r in roots)}\right\}}"
        # each root r by the factor it splits off: numerator = (p - r) q(p), exact, so r is a root
        claims += [(numerator, (p - r) * sp.quo(numerator, p - r, p), EQUAL) for r in roots]
    positive = denominator.is_positive or _positive(out, denominator)
    nonzero = positive or _nonzero_on(denominator, p, _domain_of(out.d, p))
    done = [w for w, said in ((", factored", len(forms) > 1), (", with its real roots", listed)) if said]
    text = (
        "Setting the score to zero and multiplying by its denominator"
        + (" (positive on the domain)" if positive else " (not zero on the domain)" * nonzero)
        + " gives the polynomial equation shown"
        + "".join(done)
        + f". Its roots in ${sp.latex(p)}$ are the stationary points."
        + _kept_and_discarded(out, roots, p)
    )
    out.add("Stationary condition", shown, claims, text)


def _real_roots(numerator: sp.Expr, p: sp.Symbol) -> list[sp.Expr]:
    """The distinct real roots of a polynomial condition in p alone, smallest first; [] otherwise."""
    if not numerator.is_polynomial(p) or numerator.free_symbols - {p} or sp.degree(numerator, p) < 1:
        return []
    return list(dict.fromkeys(sp.real_roots(sp.Poly(numerator, p))))


def _nonzero_on(expr: sp.Expr, p: sp.Symbol, domain: sp.Set) -> bool:
    """Whether a polynomial in p alone has no root in the domain (a score's denominator theta (1 - theta))."""
    expr = sp.expand(expr)
    if not expr.is_polynomial(p) or expr.free_symbols - {p} or expr == 0:
        return False
    return not any(domain.contains(r) == sp.true for r in _real_roots(expr, p))


def _kept_and_discarded(out: Steps, roots: list[sp.Expr], p: sp.Symbol) -> str:
    """' The root in (0, 1) is kept. The roots -sqrt(5)/5 (below 0) and 3/2 (above 1) lie outside (0, 1), the
    values theta can take, and are discarded.' for a polynomial condition's real roots."""
    domain = _domain_of(out.d, p)
    inside = [r for r in roots if domain.contains(r) == sp.true]
    outside = [r for r in roots if domain.contains(r) != sp.true]
    kept = f" The root in ${sp.latex(domain)}$ is kept" if len(inside) == 1 and len(roots) > 1 else ""
    if not outside:
        return kept + "." * bool(kept)
    shown = " and ".join(
        (f"${out.tex(r)}$" if not r.atoms(sp.CRootOf) else f"$\\approx {float(r):.4g}$") + _side(r, domain)
        for r in outside
    )
    return (kept + "; " if kept else " ") + (
        f"{shown} lie{'s' * (len(outside) == 1)} outside ${sp.latex(domain)}$, the values "
        f"${sp.latex(p)}$ can take, and {'are' if len(outside) > 1 else 'is'} discarded."
    )


def _side(r: sp.Expr, domain: sp.Set) -> str:
    """' (below 0)', ' (above 1)': where a root outside an interval lies, read off exactly."""
    if not isinstance(domain, sp.Interval):
        return ""
    if domain.start.is_finite and sp.simplify(r - domain.start).is_nonpositive:
        return f" (below ${sp.latex(domain.start)}$)" if r != domain.start else f" (the end ${sp.latex(r)}$)"
    if domain.end.is_finite and sp.simplify(r - domain.end).is_nonnegative:
        return f" (above ${sp.latex(domain.end)}$)" if r != domain.end else f" (the end ${sp.latex(r)}$)"
    return ""


def _lagrange(out: Steps, score: sp.Matrix, est: str) -> None:
    """At a maximum on the constraints the score is a combination of the constraints' gradients (Lagrange):
    along every direction z that keeps them, z^T score = 0. Then the estimate, which satisfies them."""
    d, estimate = out.d, out.d.estimate or {}
    residuals = constraint_residuals(d.model)
    along = sp.Matrix(residuals).jacobian(d.params).nullspace()
    lagrangian = r"\mathcal{L} = \ell + " + " + ".join(
        rf"\nu_{{{k + 1}}} \left({sp.latex(r)}\right)" for k, r in enumerate(residuals)
    )
    directions = "$, $".join(out.tex(tuple(z)) for z in along)
    out.add(
        "Lagrange condition",
        lagrangian + LINES + r"z^{\top} \nabla \ell(\hat\theta) = 0",
        [((z.T * score.subs(estimate))[0], 0, EQUAL) for z in along],
        "Setting the gradient of the Lagrangian to zero: along every direction that keeps the constraints, "
        f"here $z = {directions}$, the score vanishes at the estimate.",
    )
    facts = {n_obs: sum_of_counts} if (sum_of_counts := _counts(d)) is not None else None
    out.add(
        f"{d.kind} (on the constraints)",
        est,
        [(r.subs(estimate), 0, EQUAL) for r in residuals],
        "It satisfies the constraints" + (", the counts adding up to $n$." if facts else "."),
        facts,
    )


def _normal_equations(out: Steps, eq: NormalEquations) -> None:
    """The score in a block of weights is linear in them: A w = c, and in a linear model A = s (X^T X + lambda I),
    c = s X^T y, so w = (X^T X + lambda I)^-1 X^T y (least squares; ridge where a Gaussian prior adds lambda)."""
    d = out.d
    w = sp.Matrix(eq.params)
    at = sp.Matrix([(d.estimate or {})[p] for p in eq.params])
    names = ", ".join(sp.latex(p) for p in eq.params)
    if eq.gram is None:
        if eq.matrix.is_diagonal():  # the equations decouple: each is its own score = 0, shown next
            return
        out.add(
            "Normal equations",
            rf"{out.tex(eq.matrix)} {hat_vector(eq.params)} = {out.tex(eq.vector)}",
            [(eq.matrix * at, eq.vector, EQUAL)],
            f"The objective is quadratic in ${names}$, so setting its score to zero gives linear equations "
            "$A w = c$, with $A$ the negative Hessian in them (free of them) and $c$ the score at $0$.",
        )
        return
    assert eq.scale is not None and eq.ridge is not None and eq.moment is not None  # set together with gram
    if eq.ridge == 0 and _centred_normal_equations(out, eq):
        return
    ridge = "" if eq.ridge == 0 else rf" + {sp.latex(eq.ridge)} I"
    # one line, as a textbook writes them: (X^T X + lambda I) w = X^T y with both written in the sums
    lhs = out.tex(eq.gram + eq.ridge * sp.eye(len(eq.params)))
    shown = rf"{lhs} {hat_vector(eq.params)} = {out.tex(eq.moment)}"
    prior = (
        f" The prior adds ${sp.latex(eq.ridge)}$ to the diagonal: ridge regression, with "
        rf"$\lambda = {sp.latex(eq.ridge)}$."
        if eq.ridge != 0
        else ""
    )
    out.add(
        "Normal equations",
        shown,
        [
            ((eq.gram + eq.ridge * sp.eye(len(eq.params))) * at, eq.moment, EQUAL),
            (
                eq.matrix * w - eq.vector,
                eq.scale * ((eq.gram + eq.ridge * sp.eye(len(eq.params))) * w - eq.moment),
                EQUAL,
            ),
        ],
        f"The score in ${names}$ is linear in them. Setting it to zero gives the normal equations "
        rf"$(\mathbf{{X}}^\top \mathbf{{X}}{ridge}) \hat{{\mathbf{{w}}}} = \mathbf{{X}}^\top \mathbf{{y}}$, "
        rf"where the columns of $\mathbf{{X}}$ are the regressors each weight multiplies (1 for an intercept), "
        f"written out below.{prior} Their solution, "
        rf"$\hat{{\mathbf{{w}}}} = (\mathbf{{X}}^\top \mathbf{{X}}{ridge})^{{-1}} \mathbf{{X}}^\top \mathbf{{y}}$, "
        "follows.",
    )


def _centred_normal_equations(out: Steps, eq: NormalEquations) -> bool:
    """With an intercept, and the means of the response and the regressors named (x_bar, y_bar): the intercept
    is y_bar - a x_bar, and the slopes solve the centred equations, a sum (x_i - x_bar)^2 = sum (x_i - x_bar)
    (y_i - y_bar), as a textbook writes them. False (nothing added) where that does not apply."""
    d, gram = out.d, eq.gram
    assert gram is not None and eq.moment is not None
    ones = [k for k in range(gram.rows) if gram[k, k] == n_obs]
    by_symbol = {s.symbol: s.expr for s in d.statistics}
    known = {s.expr: s.symbol for s in d.statistics}
    means = {sp.expand(in_statistics(v * n_obs, d.model.data, known)): name for name, v in out.context["definitions"]}
    if len(ones) != 1 or not all(s in by_symbol for s in [*gram[ones[0], :], eq.moment[ones[0]]] if s != n_obs):
        return False
    (k,) = ones
    regressors = {j: by_symbol[gram[k, j]] for j in range(gram.rows) if j != k}
    response = next(x for x in d.model.data if x not in d.model.covariates)
    bars = {g: means.get(s) for g, s in [(g, gram[k, j]) for j, g in regressors.items()]}
    bars[response] = means.get(eq.moment[k])
    if any(b is None for b in bars.values()):
        return False

    def centred(g):
        return observation(g, d.model.data) - bars[g]

    slopes = list(regressors)
    w = {j: out.hats[eq.params[j]] for j in slopes}
    rows = [
        (
            sum(sp.Sum(centred(regressors[j]) * centred(regressors[m]), (INDEX, 1, n_obs)) * w[m] for m in slopes),
            sp.Sum(centred(regressors[j]) * centred(response), (INDEX, 1, n_obs)),
        )
        for j in slopes
    ]
    intercept = bars[response] - sp.Add(*(sp.Mul(w[j], bars[regressors[j]], evaluate=False) for j in slopes))
    shown = [rf"{hat(eq.params[k])} = {out.tex(intercept, order='none')}"]
    shown += [f"{out.tex(lhs, order='none')} = {out.tex(rhs)}" for lhs, rhs in rows]
    at = {out.hats[p]: v for p, v in (d.estimate or {}).items()}
    out.add(
        "Normal equations",
        LINES.join(shown),
        [(out.hats[eq.params[k]], intercept, EQUAL), *((lhs, rhs, EQUAL) for lhs, rhs in rows)],
        f"The score in ${', '.join(sp.latex(p) for p in eq.params)}$ is linear in them; set to zero, it gives "
        f"the normal equations. The one for the intercept ${sp.latex(eq.params[k])}$ gives it at once; put into "
        "the others, it centres every sum on the means, "
        + where_defined(dict(out.context["definitions"]), list(bars.values())),
        facts=at,
    )
    return True


def _matrix_claims(d: Derivation, eq: NormalEquations | None) -> list:
    """What the matrix form of the estimate states: the weights solve the normal equations, and a variance is
    the mean squared residual."""
    if matrix_estimate(d) is None or eq is None or eq.gram is None or eq.moment is None or eq.ridge is None:
        return []
    weights = sp.Matrix([(d.estimate or {})[p] for p in eq.params])
    claims = [((eq.gram + eq.ridge * sp.eye(len(eq.params))) * weights, eq.moment, EQUAL)]
    for p in d.params:
        square = None if p in eq.params else residual_variance(d, eq, p)
        if square is not None:
            claims.append(((d.estimate or {})[p], (square - (weights.T * eq.moment)[0]) / n_obs, EQUAL))
    return claims


def hat_vector(params) -> str:
    return r"\begin{pmatrix}" + r" \\ ".join(hat(p) for p in params) + r"\end{pmatrix}"


def _newton(out: Steps) -> None:
    """No closed form: the Newton step from one observation's score and Hessian, summed over the data."""
    d = out.d
    score, hessian = observation_derivatives(d)
    given = _given(d, ", ".join(sp.latex(p) for p in d.params))
    theta = r"\boldsymbol{\theta}"
    out.add(
        "Newton step",
        LINES.join(
            [
                rf"\nabla \log p({given}) = {out.tex(score)}",
                rf"\nabla^2 \log p({given}) = {out.tex(hessian)}",
                rf"{theta}_{{t+1}} = {theta}_{{t}} - \Big(\sum_{{i=1}}^{{n}} \nabla^2 \log p_i\Big)^{{-1}} "
                r"\sum_{i=1}^{n} \nabla \log p_i",
            ]
        ),
        [(recomputed, shown, EQUAL) for recomputed, shown in zip(density_derivatives(d), (score, hessian))],
        "The score equations have no closed-form root, so the estimate is found by Newton's method: each step "
        "solves the second-order expansion of the log-likelihood, with the score and Hessian of one observation "
        "(below) summed over the data (for a generalised linear model, iteratively reweighted least squares). "
        "The verification checks that these steps reach the optimizers' optimum.",
    )


def _median(out: Steps) -> None:
    """A log-likelihood in sum_i |x_i - mu|: least absolute deviations, minimised by the median; the other
    parameters are the stationary point of the profile at it (its score claimed zero there)."""
    d = out.d
    (x,) = d.model.data
    mu, profile = median_profile(d)
    med, spread = (s for s in d.statistics if s.reduce in ("median", "absdev"))
    rest = [p for p in d.params if p != mu]
    name, xs = sp.latex(mu), sp.latex(x)
    given = ", ".join([hat(mu), *(sp.latex(p) for p in rest)])
    profile_line = [rf"\ell({given}) = {out.tex(profile)}"] if rest else []
    out.add(
        f"{d.kind} (least absolute deviations)",
        LINES.join(profile_line + [rf"{hat(p)} = {out.tex(v)}" for p, v in (d.estimate or {}).items()]),
        [(partial_at(profile, p, d.estimate or {}), 0, EQUAL) for p in rest],
        rf"The log-likelihood depends on ${name}$ only through $\sum_i |{xs}_i - {name}|$, with a negative factor. "
        rf"That sum is piecewise linear in ${name}$, with slope $\#\{{i: {xs}_i < {name}\}} - \#\{{i: {xs}_i > {name}\}}$: "
        f"it falls while more than half the observations lie above ${name}$ and rises once more than half lie below, "
        f"so it is least at the median ${out.tex(med.symbol)} = {med.latex}$ (for odd $n$ the middle observation; "
        "for even $n$ every point between the two middle ones, of which the midpoint is given)."
        + (
            f" At the median the log-likelihood depends on the other parameters through ${out.tex(spread.symbol)} = "
            f"{spread.latex}$ (the same for every median when $n$ is even); setting its derivative to zero gives them."
            if rest
            else ""
        ),
    )


def _conditions_text(out: Steps) -> str:
    """Where a closed form holds only for some data (the stationary point inside a declared range)."""
    d = out.d
    if not d.conditions:
        return ""
    shown = r",\ ".join(out.tex(c) for c in d.conditions)
    return (
        f" This stationary point lies in the declared domain, and so is the {d.kind}, only where ${shown}$; "
        "for other data the maximum lies on the domain's boundary and is found numerically."
    )


def _interval(lo: sp.Expr, hi: sp.Expr) -> str:
    return rf"({sp.latex(lo)}, {sp.latex(hi)})"


def _by_pieces(out: Steps, est: str) -> None:
    """One parameter with kinks or closed domain ends: the objective on each piece, its concavity, and the
    maximiser as the point where 0 lies between the one-sided slopes (a subgradient condition)."""
    d = out.d
    (par,) = d.model.params
    p = par.symbol
    objective = d.objective.subs(d.observed_statistics).subs(d.model.constants)
    cut = pieces(objective, par)
    name = sp.latex(p)
    rows = [
        line
        for q in cut
        for line in (
            rf"\frac{{\partial {out.L}}}{{\partial {name}}}\Big|_{{{_interval(q.lo, q.hi)}}} = {out.tex(q.slope(p))}",
            rf"\frac{{\partial^2 {out.L}}}{{\partial {name}^2}}\Big|_{{{_interval(q.lo, q.hi)}}} = "
            + out.tex(q.curvature(p)),
        )
    ]
    claims = [(objective.subs(p, q.inner()), q.formula.subs(p, q.inner()), EQUAL) for q in cut]
    kinks = [q.hi for q in cut[:-1]]
    where = ", ".join(f"${name} = {sp.latex(k)}$" for k in kinks)
    out.add(
        "The objective on each piece",
        LINES.join(rows),
        claims,
        (
            f"The objective has a kink at {where}; on each piece between kinks and domain ends it is smooth. "
            if kinks
            else ""
        )
        + "Its second derivative is at most 0 on every piece"
        + (" and its slope drops at every kink" if kinks else "")
        + ", so it is concave: a point is the maximum exactly where 0 lies between its left and right slopes.",
    )
    (value,) = (d.estimate or {}).values()
    clauses = value.args if isinstance(value, sp.Piecewise) else ((value, sp.true),)
    found = piece_roots(cut, p)
    roots = [(v, q) for v, _ in clauses for r, q in found if v == r]
    claims = [(q.slope(p).subs(p, v), 0, EQUAL) for v, q in roots]
    corners = [
        rf"\partial {out.L}({sp.latex(left.hi)}) = \left[{out.tex(right.slope(p).subs(p, left.hi))}, "
        rf"{out.tex(left.slope(p).subs(p, left.hi))}\right]"
        for left, right in zip(cut, cut[1:])
    ]
    out.add(
        f"{d.kind} (subgradient condition)",
        LINES.join([*corners, est]),
        claims,
        "Where the score vanishes inside a piece, that root is the maximum; where it vanishes in none, the maximum "
        "is the kink or closed end at which the slope changes sign: at a kink, where 0 lies in the interval of "
        "slopes between the right and the left one"
        + (" (shown first)" if corners else "")
        + "; at a closed end, where the slope points out of the domain. "
        "The conditions on the data say which case holds.",
    )


def _counts(d: Derivation) -> sp.Expr | None:
    """N_1 + ... + N_K where the statistics count every value of a finite support (they add up to n)."""
    relations = counts_sum_to_n(d.model, d.statistics, n_obs)
    return next(iter(relations), None)


def _support_bounds(out: Steps, score: sp.Matrix) -> None:
    """Each parameter that bounds the support: its feasible set, and the score's sign there (which the engine
    proved), so the maximum is at the end of the feasible set the objective rises towards."""
    d = out.d
    orders = order_statistics(d)
    for param in dict.fromkeys(b.param for b in orders):
        k, name = d.params.index(param), sp.latex(param)
        relations = [rf"{name} {_rel(b.below)} {out.tex(b.limit(o))}" for b, o in orders.items() if b.param == param]
        end = (d.estimate or {}).get(param)
        falls = any(b.below for b in orders if b.param == param) and _is_lower_end(end, orders, param)
        sign, way = ("< 0", "falls as it grows beyond") if falls else ("> 0", "rises as it grows towards")
        shown = rf"\frac{{\partial {out.L}}}{{\partial {name}}} = {out.tex(score[k])} {sign}"
        domain = _domain_of(d, param)
        text = (
            "The likelihood is zero unless every observation lies in the support, that is unless "
            + " and ".join(f"${r}$" for r in relations)
            + f"; with the domain ${name} \\in {sp.latex(domain)}$ this is the feasible set. On it the score in "
            f"${name}$ is {'negative' if falls else 'positive'}, so the objective {way} the feasible set's end "
            f"${out.tex(end)}$: its maximum is at that end, not at a stationary point."
        )
        out.add(
            f"Support bound on ${name}$",
            shown,
            [(partial_at(d.objective, param, d.observed_statistics).subs(d.model.constants), score[k], EQUAL)],
            text,
        )


def _rel(below: bool) -> str:
    return r"\ge" if below else r"\le"


def _is_lower_end(end, orders, param) -> bool:
    """Whether the estimate is where the lower bounds meet (the maximum of them, or one of them)."""
    lows = {b.limit(o) for b, o in orders.items() if b.param == param and b.below}
    return end in lows or (isinstance(end, sp.Max) and bool(lows & set(end.args)))


def _domain_of(d: Derivation, p: sp.Symbol) -> sp.Set:
    return next(par.domain for par in d.model.params if par.symbol == p)


def _linear_root(out: Steps, score: sp.Expr, p: sp.Symbol, unknown: set):
    """(the score's numerator, its denominator, the root) where the score set to zero and cleared of its
    denominator is linear in p and free of the other unknowns; None otherwise. The score may hold sums over i
    free of p (sum (x_i - mu_hat)^2 - n sigma^2), kept as a textbook writes them."""
    if any(total.has(p) for total in score.atoms(sp.Sum)):
        return None
    known = {s.expr: s.symbol for s in out.d.statistics}
    # a sum linear in the data reads best as its statistics (S_k - n), a square as the sum (x_i - mu_hat)^2
    linear = {t: in_statistics(t, out.d.model.data, known) for t in score.atoms(sp.Sum) if _linear_in_data(t)}
    score = score.xreplace(linear)
    sums = {total: sp.Dummy() for total in score.atoms(sp.Sum)}  # kept whole, not split by expand
    numerator, denominator = sp.fraction(sp.together(score.xreplace(sums)))
    numerator = sp.expand(numerator)
    if numerator.free_symbols & (unknown - {p}) or not numerator.is_polynomial(p):
        return None
    poly = sp.Poly(numerator, p)
    if poly.degree() != 1:
        return None
    back = {v: k for k, v in sums.items()}
    root = sp.factor(-poly.nth(0) / poly.nth(1)).xreplace(back)
    numerator, denominator = numerator.xreplace(back), denominator.xreplace(back)
    estimate = (out.d.estimate or {})[p]
    defined = {h: (out.d.estimate or {})[q] for q, h in out.hats.items()}
    value = root.xreplace(defined)
    for _ in range(3):  # the named means put in for estimates already found (x_bar for mu_hat)
        value = value.xreplace(dict(out.context["definitions"]))
    if not is_zero(in_statistics(value, out.d.model.data, known) - estimate):
        return None  # another root than the estimate: not this way
    # shown as a textbook writes it: the statistics as the sums they name, the root by the sheet's name for it
    return _as_sums(out, numerator), denominator, _named(out, root, p)


def _as_sums(out: Steps, expr: sp.Expr) -> sp.Expr:
    """Each statistic as the sum over i it names (S_x as sum x_i): the solve step reads in the data, not in S."""
    d = out.d
    return expr.xreplace(
        {s.symbol: over_observations(s.expr, d.model.data, n_obs) for s in d.statistics if s.symbol != n_obs}
    )


def _named(out: Steps, root: sp.Expr, p: sp.Symbol) -> sp.Expr:
    """The root in the sheet's named means where it is a function of one (S_x / n is x_bar, n / S_k is 1 / k_bar),
    except the estimate's own name (m_hat defined as the mean of log x_i is shown as that mean); else in sums."""
    d = out.d
    known = {s.expr: s.symbol for s in d.statistics}
    for symbol, value in out.context["definitions"]:
        if sp.latex(symbol) == hat(p) or not isinstance(value, sp.Basic):
            continue
        total = sp.expand(in_statistics(value, d.model.data, known) * n_obs)
        if isinstance(total, sp.Symbol) and total in known.values() and total in root.free_symbols:
            shown = sp.simplify(root.subs(total, n_obs * symbol))
            if not shown.has(n_obs) and not shown.free_symbols & set(known.values()):
                return shown
    return _as_sums(out, root)


def _linear_in_data(total: sp.Sum) -> bool:
    body = total.function
    data = body.atoms(sp.Indexed)
    return all(sp.degree(body, datum) <= 1 for datum in data) if body.is_polynomial(*data) else False


def _solved_by_hand(out: Steps, score: sp.Matrix, given) -> None:
    """score = 0 solved as on paper, a parameter at a time where its equation cleared of the denominator is
    linear in it, the estimates found before put in as hats: S_x - n mu = 0 gives mu_hat = S_x / n."""
    d = out.d
    solved: dict[sp.Symbol, sp.Expr] = {p: out.hats[p] for p in given}  # the normal equations' weights
    textbook = textbook_score(d)
    lines, claims = [], []
    while len(solved) < len(d.params):
        unknown = {p for p in d.params if p not in solved}
        found = next(
            (
                (p, r)
                for p in d.params
                if p in unknown
                for form in (out.known(textbook[d.params.index(p)]), score[d.params.index(p)])
                for r in [_linear_root(out, form.xreplace(solved), p, unknown)]
                if r
            ),
            None,
        )
        if found is None:  # coupled or not linear: the stationary point is stated, not solved by hand
            return
        p, (numerator, denominator, root) = found
        at = ", ".join(f"{sp.latex(q)} = {out.tex(v)}" for q, v in solved.items())
        lines.append(
            rf"\frac{{\partial {out.L}}}{{\partial {sp.latex(p)}}}\Big|_{{{at}}} = 0" * bool(at)
            + rf"\frac{{\partial {out.L}}}{{\partial {sp.latex(p)}}} = 0" * (not at)
            + rf" \iff {out.tex(numerator)} = 0 \iff {hat(p)} = {out.tex(root)}"
        )
        claims += [(score[d.params.index(p)].xreplace(solved) * denominator, numerator, EQUAL)]  # S-sums or not
        claims += [(numerator.subs(p, root), 0, EQUAL)]
        solved[p] = root if isinstance(root, sp.Symbol) else out.hats[p]  # x_bar, where the root has that name
    positive = all(_positive(out, sp.fraction(sp.together(v))[1]) for v in score)
    out.add(
        "Setting the score to zero",
        LINES.join(lines),
        claims,
        "Each equation is multiplied by its denominator"
        + (", positive on the domain, " if positive else " ")
        + "and solved for its parameter"
        + (", with the estimates already found put in." if len(lines) > 1 or given else "."),
        facts={out.hats[p]: v for p, v in (d.estimate or {}).items()},
    )


def _positive(out: Steps, expr: sp.Expr) -> bool:
    return bool(expr.is_positive) or bool(sp.factor(expr).is_positive)


def _estimate(out: Steps, familiar: Mapping[sp.Symbol, sp.Expr]) -> None:
    d = out.d
    estimate = d.estimate or {}  # worked_steps stops before this step when there is no closed form
    score = d.score.subs(d.observed_statistics).subs(d.model.constants)
    zero = sp.zeros(len(d.params), 1)
    if len(d.params) == 1 and d.observed_statistics:
        _stationary_condition(out, score[0])
    # one stationary point is the estimate, shown next; several are listed before the estimate is chosen
    if len(d.candidates) > 1 and not (d.model.constraints or d.bounds or d.piecewise):
        roots = LINES.join(rf"{sp.latex(p)} = {out.tex(c[p])}" for c in d.candidates for p in d.params)
        out.add(
            "Stationary points inside the domain",
            roots,
            [(score.subs(c), zero, EQUAL) for c in d.candidates],
            roots_defined(sp.Tuple(*[v for c in d.candidates for v in c.values()])),
        )
    est = matrix_estimate(d) or LINES.join(rf"{hat(p)} = {out.tex(v)}" for p, v in estimate.items())
    if d.model.constraints:
        _lagrange(out, score, est)
        return
    if d.bounds:
        _support_bounds(out, score)
        rest = [k for k, p in enumerate(d.params) if p not in {b.param for b in d.bounds}]
        claims = [(sp.Matrix([score[k] for k in rest]).subs(estimate), sp.zeros(len(rest), 1), EQUAL)] if rest else []
        out.add(f"{d.kind} (at the support bound" + (", score = 0 for the rest)" if rest else ")"), est, claims)
        return
    if d.boundary:
        text = "The score has one sign on the whole domain, so the objective rises towards this end: the supremum."
        out.add(f"{d.kind} (on the boundary)", est, text=text)
        return
    if d.piecewise:
        _by_pieces(out, est)
        return
    equations = normal_equations(d)
    if equations is not None:
        _normal_equations(out, equations)
    if not d.observed_statistics and len(d.candidates) <= 1:
        _solved_by_hand(out, score, equations.params if equations is not None and equations.gram is not None else ())
    _stationary_point(out, est, [(score.subs(estimate), zero, EQUAL), *_matrix_claims(d, equations)], familiar)
    so = d.second_order
    if so is not None:
        at = d.estimate
        hessian = d.hessian.subs(d.observed_statistics).subs(d.model.constants).subs(at)
        # shown at the estimate: each parameter as its hat, which the proof reads as the estimate's value; the
        # engine's Hessian is proved against one differentiated afresh, at the data
        fresh = hessian_recomputed(d).subs(d.observed_statistics).subs(d.model.constants).subs(at)
        claims = [(fresh, hessian, EQUAL), (hessian, out.at_hats(so.hessian), EQUAL)]
        claims += [((-so.hessian[: k + 1, : k + 1]).det(), v, EQUAL) for k, v in enumerate(so.minors)]
        out.add(
            "Second-order check",
            _second_order_latex(out, so),
            claims,
            _second_order_text(out, so) + _at_hats_text(out),
            facts={out.hats[p]: v for p, v in (at or {}).items()},
        )


def _stationary_point(out: Steps, est: str, claims: list, familiar: Mapping[sp.Symbol, sp.Expr]) -> None:
    """The estimate where the score vanishes, in the form a textbook gives it where the sheet declares one
    (x_bar, a sum of centred squares over n), proved equal to the derived form."""
    d = out.d
    estimate = d.estimate or {}
    if familiar and matrix_estimate(d) is None:
        est = LINES.join(
            rf"{hat(p)} = {out.tex(familiar[p], order='none') if p in familiar else out.tex(v)}"
            for p, v in estimate.items()
        )
        claims = [*claims, *((estimate[p], form, EQUAL) for p, form in familiar.items())]
    shown = {hat(p) for p in estimate}  # a_hat is on the left of its own line, not defined again
    named = {k: v for k, v in out.context["definitions"] if sp.latex(k) not in shown}
    where = where_defined(named, familiar.values()).replace("where", "Here", 1) if familiar else ""
    text = where + (" " if where else "") + roots_defined(sp.Tuple(*estimate.values())) + _conditions_text(out)
    out.add(f"{d.kind} (score = 0)", est, claims, text[:1].upper() + text[1:])


def _diagonal(so) -> bool:
    """A proved maximum whose Hessian is diagonal: its entries are the minors' ratios, no need to list them."""
    return so.status == "proved" and so.hessian.is_diagonal()


def _second_order_text(out: Steps, so) -> str:
    if not _diagonal(so):
        return SECOND_ORDER_TEXT[so.status]
    if len(out.d.params) == 1:
        return "The second derivative at the estimate is negative: a strict maximum."
    return "The Hessian at the estimate is diagonal with negative entries: a strict maximum."


def _second_order_latex(out: Steps, so) -> str:
    """The Hessian at the estimate (a number's second derivative for one parameter), and its leading principal
    minors where it is not diagonal."""
    d = out.d
    if len(d.params) == 1:
        (p,) = d.params
        shown = rf"\frac{{\partial^2 {out.L}}}{{{_partials(sp.latex(p), sp.latex(p))}}} \Big|_{{{hat(p)}}} = "
        shown += out.tex(out.at_hats(so.hessian[0, 0]))
    else:
        shown = rf"\nabla^2 {out.L} \big|_{{\hat\theta}} = " + out.tex(out.at_hats(so.hessian))
    if _diagonal(so):
        return shown
    return shown + LINES + LINES.join(f"D_{k + 1} = {out.tex(out.at_hats(v))}" for k, v in enumerate(so.minors))


def _at_hats_text(out: Steps) -> str:
    """Where the matrix shows a parameter, it stands at its estimate."""
    shown = [p for p in out.d.params if out.d.second_order is not None and p in out.d.second_order.hessian.free_symbols]
    what = "It is" if len(out.d.params) == 1 else "The entries are"
    return f" {what} evaluated at the estimate, ${', '.join(hat(p) for p in shown)}$." if shown else ""
