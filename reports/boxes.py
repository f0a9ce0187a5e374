"""The box a solutions handout puts after each question: its takeaways (an estimator's bias, derived in
derivations/why.py) and its common mistakes, each with the wrong answer it gives (derived in
derivations/mistakes.py from the question's own derivation). Presentation only."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sympy as sp

from mlemap.derivations.engine import Derivation, derive, n_obs
from mlemap.derivations.mistakes import Mistake, typical_mistakes
from mlemap.derivations.proof import in_statistics
from mlemap.derivations.sheet import Answer, Estimate, Question, estimate_key
from mlemap.derivations.why import Bias, estimator_bias
from mlemap.reports.document import KINDS_TEXT, Section, hat, math

if TYPE_CHECKING:  # the results are built by sheet_document, which lays the boxes out through this module
    from mlemap.reports.sheet_document import SheetResults

# the typical mistakes a handout warns of; the arithmetic slips (a sign, a factor 2) are left to the feedback
TEACHING_MISTAKES = (
    "n_minus_1",
    "sigma_for_sigma2",
    "prior_forgotten",
    "prior_variance_as_sd",
    "prior_sd_as_variance",
    "plug_in_for_predictive",
    "posterior_mean_for_mode",
    "count_from_zero",
    "plug_in_mle",
    "one_observation",
    "exponents_as_parameters",
    "posterior_prior_forgotten",
)
PRIOR_READINGS = ("prior_variance_as_sd", "prior_sd_as_variance")  # a sheet may work the other reading on purpose
SAME_SLIP = {"plug_in_mle": "prior_forgotten"}  # the probability at the MLE: the forgotten prior, carried on


def place_boxes(built: Sequence[tuple[Section, Question]], results: SheetResults) -> None:
    """After each run of sections that answer one question on one model (a posterior and its predictive; an
    estimate and the probability at it), one box with what those questions teach, each row once. A second
    reading of the same question (another prior) gets none: its slips are those of the first reading."""
    runs: list[list[tuple[Section, Question]]] = []
    for sec, q in built:
        last = runs[-1][-1][1] if runs else None
        if last is not None and last.text == q.text and _model_name(last) == _model_name(q):
            runs[-1].append((sec, q))
        else:
            runs.append([(sec, q)])
    for k, run in enumerate(runs):
        if k > 0 and runs[k - 1][0][1].text == run[0][1].text:
            continue  # a second reading of the question (another prior): its first reading's box said it
        said: set[str] = set()
        takeaways = [row for _, q in run for row in takeaway_rows(q, results, said)]
        mistakes = [row for _, q in run for row in mistake_rows(q, results, said)]
        if takeaways or mistakes:
            title = "Takeaways and common mistakes" if takeaways else "Common mistakes"
            run[-1][0].box(title, [*takeaways, *mistakes])


def _model_name(q: Question) -> str | None:
    model = getattr(q, "model", None)
    return None if model is None else model.name


def _answers_of(results: SheetResults, q: Question) -> list[Answer]:
    return [a for a in results.answers if a.key == q.key or a.key.startswith(f"{q.key}.")]


def takeaway_rows(q: Question, results: SheetResults, said: set[str]) -> list[str]:
    """An MLE's bias, where derived and where the sheet's own remark does not state it already."""
    if not isinstance(q, Estimate) or q.model.name not in results.derivations or re.search(r"\bbiased", q.remark):
        return []
    d = results.derivations[q.model.name]
    rows = []
    for p in d.params:
        found = estimator_bias(d, p)
        name = f"bias {p.name}"
        if found is not None and name not in said:
            said.add(name)
            rows.append(bias_line(d, q, found))
    return rows


def bias_line(d: Derivation, q: Estimate, b: Bias) -> str:
    """The bias in words, with its derived expectation or, for Jensen's inequality, its direction and reason."""
    name = hat(b.param)
    if b.how != "jensen":
        given = ", ".join(f"${sp.latex(x)}_i$" for x in d.model.covariates)
        return KINDS_TEXT.bias_line(
            b.how,
            name,
            math(d, b.expectation),
            "" if b.divisor is None else math(d, b.divisor),
            ", ".join(sp.latex(w) for w in b.weights),
            len(b.weights),
            given,
            b.direction,
        ).strip()
    assert b.g is not None and b.f is not None and b.t is not None and b.mean is not None
    bar = _mean_name(d, q, b.g)
    expectation = sp.Symbol(rf"E[{sp.latex(bar)}]")
    return KINDS_TEXT.jensen_line(
        name,
        math(d, b.f.subs(b.t, bar)),
        sp.latex(bar),
        math(d, b.mean),
        math(d, b.f.subs(b.t, sp.Symbol("t"))),
        math(d, b.f.subs(b.t, expectation)),
        sp.latex(b.param),
        b.direction,
    ).strip()


def _mean_name(d: Derivation, q: Estimate, g: sp.Expr) -> sp.Symbol:
    """The sheet's name of the sample mean of g (k_bar), else \\overline{g}."""
    known = {s.expr: s.symbol for s in d.statistics}
    target = known.get(g)
    for symbol, value in q.where.items():
        if target is not None and sp.simplify(in_statistics(value, d.model.data, known) - target / n_obs) == 0:
            return symbol
    return sp.Symbol(rf"\overline{{{sp.latex(g)}}}")


def mistake_rows(q: Question, results: SheetResults, said: set[str]) -> list[str]:
    """The question's common mistakes and the wrong answer each gives, computed from the derivation (the same the
    answer checker names), leaving out those said before."""
    model = getattr(q, "model", None)
    if model is None or model.name not in results.derivations:
        return []
    d = results.derivations[model.name]
    rows = []
    worked = [a.value for a in results.answers if a.value is not None]
    for a in _answers_of(results, q):
        for m in typical_mistakes(q, d, a.key, a.expr, derive):
            if m.name in PRIOR_READINGS and _worked_on_the_sheet(m, worked):
                continue  # a reading the sheet works itself (the prior's 0.1 as a standard deviation): no mistake
            repeated = m.name in said or SAME_SLIP.get(m.name) in said
            if m.name in TEACHING_MISTAKES and not repeated and not _gives_n_minus_1_for_a_mean(m):
                said.add(m.name)
                wrong = m.shown or _wrong_latex(d, q, a, m.expr)
                rows.append(m.words[0].upper() + m.words[1:] + (f": this gives {wrong}." if wrong else "."))
    return rows


def _wrong_latex(d: Derivation, q: Question, a: Answer, wrong: sp.Expr) -> str:
    """The wrong answer as the handout writes the right one: in its familiar form where the two differ by a
    factor free of the data (n/(n - 1)) or a square root; a number for an algebraic root; '' where too long."""
    p = next((p for p in d.params if isinstance(q, Estimate) and estimate_key(q, d, p) == a.key), None)
    familiar = q.familiar_forms.get(p) if isinstance(q, Estimate) and p is not None else None
    if wrong.has(sp.CRootOf):
        return rf"$\approx {float(wrong):.4g}$"
    if familiar is not None:
        ratio = sp.cancel(wrong / a.expr)
        if not ratio.free_symbols - {n_obs}:
            return f"${math(d, ratio * familiar, order='none')}$"
        if sp.simplify(wrong - sp.sqrt(a.expr)) == 0:
            return f"${math(d, sp.sqrt(familiar), order='none')}$"
        in_mean = _in_familiar_names(d, q, wrong)
        if in_mean is not None:
            return f"${in_mean}$"
    shown = math(d, wrong)
    return f"${shown}$" if len(shown) <= 120 else ""


def _in_familiar_names(d: Derivation, q: Question, wrong: sp.Expr) -> str | None:
    """The wrong answer in the sheet's named means where it is a function of one of them (1/(k_bar + 1))."""
    if not isinstance(q, Estimate):
        return None
    known = {s.expr: s.symbol for s in d.statistics}
    for symbol, value in q.where.items():
        total = sp.expand(in_statistics(value, d.model.data, known) * n_obs)
        if isinstance(total, sp.Symbol) and total in wrong.free_symbols:
            shown = sp.simplify(wrong.subs(total, n_obs * symbol))
            if not shown.has(n_obs) and not (shown.free_symbols & set(known.values())):
                return math(d, shown, order="none")
    return None


def _worked_on_the_sheet(m: Mistake, values: list[float]) -> bool:
    """Whether the mistake's number is an answer the sheet itself gives elsewhere."""
    if not m.expr.is_number:
        return False
    try:
        value = float(m.expr)
    except (TypeError, ValueError):
        return False
    return any(abs(value - float(v)) <= 1e-12 * max(1.0, abs(value)) for v in values)


def _gives_n_minus_1_for_a_mean(m: Mistake) -> bool:
    """n - 1 is a mistake worth a warning for a variance (the unbiased estimator's divisor), not for a mean."""
    return m.name == "n_minus_1" and "unbiased" not in m.words
