"""Any sheet's report: one section per question, laid out by the question's kind.

The table KINDS maps each kind to the function that lays it out; the computations (derivations, answers,
verification) are done before, and only their typed results arrive here.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from mlemap.derivations.bayes import discrete, event_set, likelihood
from mlemap.derivations.bayes import posterior as posterior_density
from mlemap.derivations.engine import Derivation, derive, n_obs
from mlemap.derivations.linear import normal_equations
from mlemap.derivations.sheet import (
    Answer,
    Bias,
    Estimate,
    LogTheory,
    OptimizerStudy,
    PlugIn,
    Posterior,
    PosteriorPredictive,
    Precision,
    PriorStrength,
    Probability,
    Question,
    Sheet,
    answers,
    estimate_key,
    estimate_label,
)
from mlemap.derivations.why import Family, Pull, family, prior_pull
from mlemap.numerics import kinds as work
from mlemap.numerics.estimate import PointEstimate
from mlemap.numerics.exact_study import ExactStudy
from mlemap.numerics.study import Study
from mlemap.numerics.torch_optional import TORCH_MISSING
from mlemap.numerics.verify import Verification, answer_checks, unchecked_answers, verify
from mlemap.reports import figures, layouts
from mlemap.reports.boxes import place_boxes
from mlemap.reports.document import (
    KINDS_TEXT,
    LINES,
    Section,
    error_text,
    estimate_math,
    hat,
    math,
    matrix_entries,
    numerical_math,
    roots_defined,
)
from mlemap.reports.exact_study import exact_study
from mlemap.reports.plan import ReportPlan
from mlemap.reports.steps import where_defined, worked_steps
from mlemap.reports.study_symbols import StudySymbols, study_symbols


@dataclass(frozen=True)
class SheetResults:
    sheet: Sheet
    derivations: dict[str, Derivation]  # by model name
    answers: list[Answer]
    verifications: list[Verification]
    work: dict[str, object] = field(default_factory=dict)  # each question's computed work (numerics.kinds), by key
    plan: figures.FigurePlan = field(default_factory=figures.FigurePlan)

    @property
    def numerical(self) -> dict[str, PointEstimate]:
        """Estimates with no closed form, found numerically at the observed data, by question key."""
        return {k: v for k, v in self.work.items() if isinstance(v, PointEstimate)}


def _shown(results: SheetResults, a: Answer) -> dict:
    """The LaTeX an answer is shown in where its exact form would fill a page (a linear model's many weights)."""
    for q in results.sheet.questions:
        if isinstance(q, Estimate) and a.key.startswith(f"{q.key}."):
            d = results.derivations[q.model.name]
            entries = matrix_entries(d) or {}
            shown = next((entries[p] for p in d.params if estimate_key(q, d, p) == a.key and p in entries), None)
            return {"shown_latex": shown} if shown else {}
    return {}


def answer_rows(results: SheetResults) -> list[dict]:
    """answers.json: every exact answer, then each optimizer study's stability bound (a number from data); each
    row with its inputs, the data it was computed from as the students' sheet gives them (reports.questions)."""
    from mlemap.reports.questions import answer_inputs, inputs, study_inputs  # the students' sheet's choice of data

    rows = [
        a.as_dict() | _shown(results, a) | {"inputs": answer_inputs(results.sheet, a.key, a.model)}
        for a in results.answers
    ]
    for q in results.sheet.questions:
        found = results.work.get(q.key)
        if isinstance(q, OptimizerStudy) and "ascent" in q.parts and isinstance(found, (Study, ExactStudy)):
            sym = study_symbols(results.sheet)
            rows += [row | {"inputs": study_inputs(q, found)} for row in _study_rows(q, found, sym)]
    for q in results.sheet.questions:
        if isinstance(q, Estimate) and q.key in results.numerical:
            found, d = results.numerical[q.key], results.derivations[q.model.name]
            values = found.values if found.converged and found.values else {}
            rows += [
                {
                    "key": estimate_key(q, d, p),
                    "question": estimate_label(q, d, p),
                    "exact": None,
                    "latex": None,
                    "value": values.get(p.name),
                    "inputs": inputs(q.model),
                }
                for p in d.params
            ]
    return rows


def familiar_latex(results: SheetResults) -> dict[str, str]:
    """The familiar form an Estimate declares for an answer (x_bar, the centred sums), by answer key: what the
    box and the front page show; the worked steps prove it equal to the derived form."""
    shown: dict[str, str] = {}
    for q in results.sheet.questions:
        if isinstance(q, Estimate):
            d = results.derivations[q.model.name]
            shown |= {estimate_key(q, d, p): math(d, form, order="none") for p, form in q.familiar_forms.items()}
    return shown


def glance_rows(results: SheetResults) -> list[dict]:
    """answers.json's rows with the LaTeX the front page shows, written from each answer's derivation."""
    by_key = {a.key: a for a in results.answers}
    familiar = familiar_latex(results)
    rows = []
    for row in answer_rows(results):
        a = by_key.get(row["key"])
        if a is not None:
            d = results.derivations.get(a.model)
            display = familiar.get(a.key) or row.get("shown_latex") or _named_density(d, a.expr) or math(d, a.expr)
            extra = {"display": display, "display_conditions": a.conditions_latex, "roots": roots_defined(a.expr)}
        else:
            extra = {"display": row["latex"] or "", "roots": ""}
        rows.append(row | extra)
    return rows


def _named_density(d: Derivation | None, expr: sp.Expr) -> str | None:
    """A one-parameter posterior density whose exact form carries long integers, as its family writes it:
    Gamma(15, 8): 8^15/14! lambda^14 e^(-8 lambda), not 17179869184 lambda^14 e^(-8 lambda) / 42567525."""
    if d is None or len(d.model.params) != 1 or not re.search(r"\d{7}", math(d, expr)):
        return None
    (par,) = d.model.params
    named = family(expr, par.symbol, par.domain) if par.symbol in expr.free_symbols else None
    if named is None:
        return None
    return rf"{family_latex(named)}\colon\ {normaliser_latex(d, named)}\, {math(d, named.kernel)}"


def _study_rows(q: OptimizerStudy, found, sym: StudySymbols) -> list[dict]:
    """A study's answers: the largest stable rate and the best one (exact for a quadratic log-likelihood), and
    the optimum it ran to; the bound's formula in the sheet's symbols (kappa_max where lambda is a parameter)."""
    title = q.model.title
    defaults = {
        "lr_bound": rf"largest stable gradient-ascent rate, $2 / {sym.eigen}_{{\max}}$: {title}",
        "lr_optimal": rf"gradient-ascent rate with the fastest worst-case contraction: {title}",
    }
    rows = []
    if isinstance(found, ExactStudy):
        s = found.sample
        assert s.theory is not None
        for key, expr in (("lr_bound", s.theory.bound), ("lr_optimal", s.theory.optimal)):
            value = sp.nsimplify(expr.subs(n_obs, s.n))
            rows.append(_row(f"{q.key}.{key}", q.labels.get(key, defaults[key]), value))
        optimum = dict(zip(s.names, s.optimum))
    else:
        rows.append(
            {
                "key": f"{q.key}.lr_bound",
                "question": q.labels.get("lr_bound", defaults["lr_bound"]),
                "exact": None,
                "latex": None,
                "value": found.bound,
            }
        )
        rows.append(
            {
                "key": f"{q.key}.lr_optimal",
                "question": q.labels.get("lr_optimal", defaults["lr_optimal"]),
                "exact": None,
                "latex": None,
                "value": found.optimal,
            }
        )
        optimum = found.optimum
    kind = "map" if q.model.prior is not None else "mle"
    for p in q.model.params:
        label = q.labels.get(
            p.name, f"{kind.upper()} of ${sp.latex(p.symbol)}$ at the study's data: {q.title or title}"
        )
        key = f"{q.key}.{kind}_{p.name.replace('^', '')}"
        rows.append({"key": key, "question": label, "exact": None, "latex": None, "value": float(optimum[p.name])})
    return rows


def _row(key: str, question: str, value: sp.Expr) -> dict:
    return {"key": key, "question": question, "exact": str(value), "latex": sp.latex(value), "value": float(value)}


def _answers_of(results: SheetResults, q: Question) -> list[Answer]:
    """The question's answers: its key, or its key's entries (a posterior's KEY.mean_P, KEY.cov_P_Q)."""
    return [a for a in results.answers if a.key == q.key or a.key.startswith(f"{q.key}.")]


def posterior(sec: Section, q: Posterior, results: SheetResults) -> None:
    """p(theta | D): one parameter's normalised density; several in which the log-posterior is quadratic, the
    Gaussian N(m_N, S_N) with its precision from the normal equations and its mean the MAP."""
    d = results.derivations[q.model.name]
    eq = normal_equations(d) if len(d.params) > 1 else None
    if eq is None:
        answered = _answers_of(results, q)
        named = family(answered[0].expr, *_parameter(q)) if len(q.model.params) == 1 and len(answered) == 1 else None
        if named is None:
            probability(sec, q, results)
            return
        (a,) = answered
        if a.question != q.text:
            sec.text(a.question)
        p = sp.latex(_parameter(q)[0])
        evaluated = math(d, a.expr)
        shown = "" if re.search(r"\d{7}", evaluated) else f" = {evaluated}"  # 280 theta^3 ..., not 11-digit fractions
        sec.math(rf"p({p} \mid D) = {normaliser_latex(d, named)}\, {math(d, named.kernel)}{shown}")
        sec.text(family_text(d, named, q))
        return
    theta = ", ".join(sp.latex(p) for p in d.params)
    sec.text(
        f"The log-posterior is quadratic in ${theta}$, so the posterior is Gaussian, $N(m_N, S_N)$. Its precision "
        "$S_N^{-1}$ is minus the Hessian of the log-posterior (the matrix of the normal equations above), and its "
        f"mean $m_N = S_N c$ is where the gradient vanishes: the MAP, with $c$ the gradient at ${theta} = 0$."
    )
    sec.math(rf"S_N^{{-1}} = {math(d, eq.matrix)},\quad c = {math(d, eq.vector)}")
    found = {a.key: a.expr for a in _answers_of(results, q)}
    names = [p.name for p in d.params]
    mean = sp.Matrix([found[f"{q.key}.mean_{p}"] for p in names])
    k = len(names)
    cov = sp.Matrix(k, k, lambda i, j: found[f"{q.key}.cov_{names[min(i, j)]}_{names[max(i, j)]}"])
    if mean.free_symbols and k >= 3:  # written out in the statistics it would fill pages (answers.json has it)
        sec.math(r"S_N = \left(S_N^{-1}\right)^{-1},\quad m_N = S_N c")
        return
    sec.math(rf"m_N = {math(d, mean)},\quad S_N = {math(d, cov)}")


def _parameter(q: Question) -> tuple[sp.Symbol, sp.Set]:
    (par,) = q.model.params
    return par.symbol, par.domain


def family_latex(named: Family) -> str:
    return rf"\operatorname{{{named.name}}}({', '.join(sp.latex(v) for v in named.args)})"


def normaliser_latex(d: Derivation, named: Family) -> str:
    """The normaliser as the family writes it: 1/B(4, 5), 8^15/14!, 1/sqrt(2 pi s^2)."""
    a, b = named.args
    if named.name == "Gamma" and a.is_integer:
        return rf"\frac{{{math(d, b)}^{{{math(d, a)}}}}}{{{math(d, a - 1)}!}}"
    shown = {
        "Beta": rf"\frac{{1}}{{B({math(d, a)}, {math(d, b)})}}",
        "Gamma": rf"\frac{{{math(d, b)}^{{{math(d, a)}}}}}{{\Gamma({math(d, a)})}}",
        "Normal": rf"\frac{{1}}{{\sqrt{{2 \pi \cdot {math(d, b)}}}}}",
    }
    return shown[named.name]


def _short(d: Derivation, value: sp.Expr) -> str:
    """' = 280' where the value reads at a glance; nothing where it is a fraction of long integers."""
    shown = math(d, value)
    return "" if re.search(r"\d{7}", shown) else f" = {shown}"


def family_text(d: Derivation, named: Family, q: Question) -> str:
    """'The prior times the likelihood is proportional to theta^3 (1 - theta)^4: the Beta(4, 5) density, whose
    normaliser 1/B(4, 5) = 280 makes it integrate to 1.'"""
    p, domain = _parameter(q)
    over = rf"\int_{{{sp.latex(domain.start)}}}^{{{sp.latex(domain.end)}}}"
    return (
        f"The prior times the likelihood is proportional to ${math(d, named.kernel)}$: the posterior is the "
        f"${family_latex(named)}$ density, whose normaliser ${normaliser_latex(d, named)}{_short(d, named.normaliser)}$ is "
        f"$1 / {over} {math(d, named.kernel)}\\, d{sp.latex(p)}$, which makes it integrate to 1. "
        f"Its mean is ${math(d, named.mean)}$."
    )


def plug_in(sec: Section, q: PlugIn, results: SheetResults) -> None:
    """P(new | theta_hat): the new observations' probability as a function of the parameters, with the estimate
    put in, then its value; several parameters or no closed form: the answer alone."""
    d = results.derivations[q.model.name]
    (a,) = _answers_of(results, q)
    if d.estimate is None:
        probability(sec, q, results)
        return
    hats = {p: sp.Symbol(f"hat {p.name}", **p.assumptions0) for p in d.params}
    names = {h: hat(p) for p, h in hats.items()}
    new = likelihood(q.model, q.new).subs(q.model.constants).xreplace(hats)
    at = ",\\ ".join(f"{hat(p)} = {math(d, v.subs(d.observed_statistics or {}))}" for p, v in d.estimate.items())
    if a.question != q.text:
        sec.text(a.question)
    sec.text(f"The new observations' probability at the {d.kind}: their density, with the estimate put in.")
    sec.math(rf"{math(d, new, symbol_names=names)}\Big|_{{{at}}} = {math(d, a.expr)}{_value(a)}")
    named = roots_defined(a.expr)
    if named:
        sec.text(named[0].upper() + named[1:])


def posterior_predictive(sec: Section, q: PosteriorPredictive, results: SheetResults) -> None:
    """P(new | D) as the integral of the new data's probability against the posterior, evaluated; where the
    posterior is a named family and the probability is theta itself, the posterior mean (Laplace's rule of
    succession under a flat prior)."""
    d = results.derivations[q.model.name]
    p, domain = _parameter(q)
    (a,) = _answers_of(results, q)
    new = likelihood(q.model, q.new)
    post = posterior_density(q.model)
    named = family(post, p, domain)
    if a.question != q.text:
        sec.text(a.question)
    over = rf"\int_{{{sp.latex(domain.start)}}}^{{{sp.latex(domain.end)}}}"
    theta = sp.latex(p)
    given = rf"p({theta} \mid D)"
    sec.math(rf"{over} {math(d, new)}\; {given}\, d{theta} = {math(d, a.expr)}{_value(a)}")
    if named is not None and sp.simplify(new - p) == 0:
        flat = q.model.prior is None or not q.model.prior.has(p)
        sec.text(
            f"The new observation's probability is ${theta}$ itself, so the integral is the mean of the "
            f"${family_latex(named)}$ posterior, ${math(d, named.mean)}$"
            + (
                ": under a flat prior, $(h + 1)/(n + 2)$ with $h$ the number of ones, Laplace's rule of succession."
                if flat and named.name == "Beta"
                else "."
            )
        )


def _value(a: Answer) -> str:
    return "" if a.value is None else f" \\approx {a.value:.4g}"


def estimate(sec: Section, q: Estimate, results: SheetResults) -> None:
    d = results.derivations[q.model.name]
    sec.text(KINDS_TEXT.model_answer(d))
    found = results.numerical.get(q.key)
    if d.estimate is not None and q.familiar_forms:
        familiar = familiar_latex(results)
        sec.math(
            LINES.join(
                rf"{hat(p)} = {familiar.get(estimate_key(q, d, p)) or math(d, v)}" for p, v in d.estimate.items()
            )
        )
        defined = where_defined(q.where, q.familiar_forms.values())
        if defined:
            sec.text(defined[0].upper() + defined[1:])
    elif d.estimate is not None:
        sec.math(estimate_math(d))
    elif found is not None and found.converged and found.values:
        sec.math(numerical_math(d, found.values))
    elif found is not None:
        sec.text(f"The numerical search did not converge: {found.reason}.")
    pull = prior_pull(d) if d.estimate is not None else None
    if pull is not None and (why := pull_text(d, pull)):
        sec.text(why)
    if q.remark:
        sec.text(q.remark)
    steps = worked_steps(d, q.familiar_forms, q.where)
    first = _first_reading(q, results.sheet.questions)
    if first is not None:
        # what the first reading said in words is not said again: Bayes' rule for the log-posterior
        steps = [dataclasses.replace(s, text="") if s.title == "Log-posterior" else s for s in steps]
        steps = [s for s in steps if s.title not in SHARED_STEPS]
        sec.text(f"The log-likelihood and the data's statistics are those of {first}; the steps start from the prior.")
    sec.steps(steps)


SHARED_STEPS = (
    "Log-density",
    "Joint log-likelihood",
    "Statistics of the observed data",
)  # what two readings of one likelihood share


def _first_reading(q: Estimate, questions) -> str | None:
    """Where the previous estimate of the sheet has the same density and data, only another prior (a second
    reading of a prior), the name of its section ("Task 3a", "Question 3"): its likelihood steps need not be
    printed twice. None otherwise."""
    before = [(k, p) for k, p in enumerate(questions[: questions.index(q)], 1) if isinstance(p, Estimate)]
    if not before or q.model.prior is None:
        return None
    k, last = before[-1]
    if (last.model.density, last.model.data, last.model.observed) != (q.model.density, q.model.data, q.model.observed):
        return None
    return last.heading(k).split(":")[0]


def pull_text(d: Derivation, pull: Pull) -> str:
    """Why the MAP lies where it does: a weighted average of the MLE and the prior's mode where the prior is
    conjugate, else between them because the log-prior's slope adds to the score."""
    (p,) = d.params
    at = d.observed_statistics or {}
    estimate = d.estimate[p].subs(at) if d.estimate else p
    name, mle, mode = hat(p), f"${math(d, pull.mle)}$", f"${math(d, pull.mode)}$"
    if pull.weight is not None:
        weight = math(d, pull.weight)
        formula = f" = {math(d, pull.weight_in_n)}" if pull.weight_in_n is not None else ""
        return (
            f"Why the MAP lies where it does: the prior is conjugate, and the MAP is a weighted average of the MLE "
            rf"{mle} and the prior's mode {mode}, ${name}_{{MAP}} = w\,{name}_{{MLE}} + (1 - w)\,{math(d, pull.mode)}$ "
            f"with $w{formula} = {weight}$: the data's weight grows with $n$ and the prior's shrinks, as if the prior "
            "added pseudo-observations."
        )
    values = sorted(float(v) for v in (pull.mle, pull.mode))
    if not (pull.mle.is_number and values[0] <= float(estimate) <= values[1]):
        return ""
    return (
        "Why the MAP lies where it does: the log-prior, a penalty on values far from the prior's mode "
        f"{mode}, adds its slope to the score, positive below the mode and negative above it, so the root moves "
        f"from the MLE {mle} "
        rf"$\approx {float(pull.mle):.4g}$ towards the mode, to $\approx {float(estimate):.4g}$. The fewer the "
        "observations, the stronger this pull."
    )


def probability(sec: Section, q: Question, results: SheetResults) -> None:
    d = results.derivations.get(q.model.name)
    for a in _answers_of(results, q):
        if a.question != q.text:  # the question's own label for this answer
            sec.text(a.question)
        sec.math(f"{math(d, a.expr)}{_value(a)}")
        named = roots_defined(a.expr)
        if named:
            sec.text(named[0].upper() + named[1:])


def event_probability(sec: Section, q: Probability, results: SheetResults) -> None:
    """P(event) as the integral (or sum) of the density over the event's values, at the estimate or against
    the posterior, then its value."""
    d = results.derivations[q.model.name]
    x, values = event_set(q.model, q.event, q.key)
    (a,) = _answers_of(results, q)
    name = sp.latex(x)
    pieces = values.args if isinstance(values, sp.Union) else (values,)
    if discrete(q.model, x):
        over = " + ".join(rf"\sum_{{{name} \in {sp.latex(p)}}}" for p in pieces)
    else:
        over = " + ".join(rf"\int_{{{sp.latex(p.inf)}}}^{{{sp.latex(p.sup)}}}" for p in pieces)
    theta = ", ".join(sp.latex(p) for p in d.params)
    event = _event_latex(name, values)
    # each probability and density one group: breqn must not break the line at its bar
    if q.predictive == "posterior":
        sec.text("The probability of the event for one new observation, averaged over the posterior:")
        given = rf"{{p({name} \mid {theta})}}\, {{p({theta} \mid D)}}"
        shown = rf"{{P({event} \mid D)}} = \int {over} {given}\, d{name}\, d{theta} = {a.latex}{_value(a)}"
    else:
        hats = ", ".join(hat(p) for p in d.params)
        density = sp.latex(q.model.density.subs(q.model.constants).subs({p: sp.Symbol(hat(p)) for p in d.params}))
        sec.text(f"The probability of the event for one new observation, with the {d.kind} plugged in:")
        shown = rf"{{P({event} \mid {hats})}} = {over} {density}\, d{name} = {a.latex}{_value(a)}"
    sec.math(shown if not discrete(q.model, x) else shown.replace(rf"\, d{name}", ""))


def _event_latex(name: str, values: sp.Set) -> str:
    """x > 1, 1 <= x <= 3 or x in a union: the event as a reader writes it, from its set of values."""
    if isinstance(values, sp.FiniteSet) and len(values) == 1:
        return f"{name} = {sp.latex(next(iter(values)))}"
    if not isinstance(values, sp.Interval):
        return rf"{name} \in {sp.latex(values)}"
    below = "<" if values.left_open else r"\le"
    above = "<" if values.right_open else r"\le"
    start, end = sp.latex(values.start), sp.latex(values.end)
    if values.start.is_finite and not values.end.is_finite:
        greater = ">" if values.left_open else r"\ge"
        return rf"{name} {greater} {start}"
    if values.end.is_finite and not values.start.is_finite:
        return rf"{name} {above} {end}"
    return rf"{start} {below} {name} {above} {end}"


def optimizer_study(sec: Section, q: OptimizerStudy, results: SheetResults) -> None:
    """A quadratic log-likelihood's exact study (reports.exact_study), else any model's (reports.study_layout),
    in the symbols the sheet leaves free (reports.study_symbols)."""
    from mlemap.reports.study_layout import general_study

    st = results.work[q.key]
    sym = study_symbols(results.sheet)
    if isinstance(st, ExactStudy):
        exact_study(sec, q, st, results.plan, sym)
        return
    assert isinstance(st, Study)
    general_study(sec, q, st, results.derivations[q.model.name], results.plan, sym)


def _laid_out(layout):
    """A layout of numerics.kinds' work for the question (layouts take the section, the question, the work and the
    figure plan)."""
    return lambda sec, q, results: layout(
        sec, q, results.work[q.key], results.plan, results.derivations.get(q.model.name)
    )


KINDS: dict[type[Question], Callable[..., None]] = {
    Estimate: estimate,
    PlugIn: plug_in,
    Posterior: posterior,
    PosteriorPredictive: posterior_predictive,
    Probability: event_probability,
    OptimizerStudy: optimizer_study,
    LogTheory: _laid_out(layouts.log_theory),
    Bias: _laid_out(layouts.bias),
    Precision: _laid_out(layouts.precision),
    PriorStrength: _laid_out(layouts.prior_strength),
}
PLACES_REMARK = (Estimate,)  # layouts that print the remark themselves, between the answer and the steps


def sheet_sections(results: SheetResults, chosen=None, variant: str = "solutions") -> list[Section]:
    """The solutions: a section per question (its text shown where it differs from the previous question's),
    then one paragraph on how they were checked. The companion: the appendix's questions, then the verification.
    chosen: the question keys' first parts to build (--only)."""
    sections, previous, built = [], None, []
    if variant == "companion":
        numbered = [q.heading(k, "Appendix") for k, q in enumerate(results.sheet.appendix, 1)]
        asked = results.sheet.appendix
    else:
        numbered = [q.heading(k) for k, q in enumerate(results.sheet.questions, 1)]
        asked = results.sheet.questions
    for heading, q in zip(numbered, asked):
        if chosen is not None and q.key.split(".")[0] not in chosen:
            continue
        sec = Section(q.key, heading)
        if q.text != previous:
            sec.question(q.text)
        previous = q.text
        KINDS[type(q)](sec, q, results)
        if q.remark and not isinstance(q, PLACES_REMARK):
            sec.text(q.remark)
        built.append((sec, q))
        sections.append(sec)
    if variant == "solutions":
        place_boxes(built, results)  # after each question's sections: its takeaways and common mistakes
    if variant == "companion":
        return [*sections, verification_section(results)]
    return [*sections, how_checked(results)]


def how_checked(results: SheetResults) -> Section:
    """The solutions' one paragraph on their checks; the companion lists them."""
    checks = [c for v in results.verifications for c in v.checks]
    statuses = Counter(str(c.status) for c in checks)
    torchless = sum(c.status == "SKIP" and TORCH_MISSING in c.detail for c in checks)
    statuses["SKIP"] -= torchless
    said = {"PASS": "agreed", "SKIP": "did not apply", "FAIL": "FAILED"}
    counts = ", ".join(f"{statuses[k]} {said[k]}" for k in ("PASS", "FAIL", "SKIP") if statuses[k])
    if torchless:  # not "did not apply": they apply, and this build could not run them
        counts += f", {torchless} need torch, which this build did not have"
    sec = Section("checked", "How these solutions were checked")
    sec.text(
        f"Every displayed equality was proved symbolically; of {len(checks)} independent numerical "
        f"checks of the answers, {counts}. The companion for the course staff lists them."
    )
    return sec


def skip_reasons(results: SheetResults, titles: dict[str, str], answered: dict[str, str]) -> str:
    """Why each SKIP of the table did not run, one reason at a time: the checks it names, or their count."""
    by_reason: dict[str, list[str]] = {}
    for c in (c for v in results.verifications for c in v.checks if c.status == "SKIP"):
        reason = c.detail.removeprefix("skipped: ") or "the check does not apply"
        by_reason.setdefault(reason, []).append(
            f"{titles.get(c.model, c.model)} ({answered.get(c.check) or c.compares})"
        )
    said = [
        f"{len(names)} checks: {reason}" if len(names) > 3 else f"{'; '.join(names)}: {reason}"
        for reason, names in by_reason.items()
    ]
    return ("Skipped: " + ". ".join(said) + ".") if said else ""


def verification_section(results: SheetResults) -> Section:
    sec = Section("verification", "Verification")
    sec.text(
        "Every derivation is checked against independent numerics (automatic differentiation, finite differences, "
        "optimizers, other libraries' fits, Monte Carlo), and every answer against a computation that does not use "
        "its exact form, where one exists."
    )
    models = results.sheet.models
    shared = Counter(m.title for m in models)  # two models with one title: the name tells them apart
    titles = {m.name: m.title if shared[m.title] == 1 else f"{m.title} ({m.name})" for m in models}
    answered = {f"answer {a.key}": f"{a.question} vs an independent computation" for a in results.answers}
    rows = [
        (
            titles.get(c.model, c.model),
            c.versus or answered.get(c.check) or c.compares,
            "n/a" if c.status == "SKIP" else error_text(c.error),
            f"{c.tolerance:g}",
            str(c.status),
        )
        for v in results.verifications
        for c in v.checks
    ]
    sec.table(("model", "what is compared", "error", "tolerance", "result"), rows, "Checks of this sheet.")
    why = skip_reasons(results, titles, answered)
    if why:
        sec.text(why)
    missing = unchecked_answers(results.sheet, results.answers, results.verifications)
    if missing:
        sec.text(
            "Not checked numerically: "
            + "; ".join(f"{next(a.question for a in results.answers if a.key == key)} ({why})" for key, why in missing)
            + "."
        )
    return sec


class GenericReport(ReportPlan):
    """Any sheet: derive its models, verify them and run the slow work in the worker, the rest here; one
    section a question."""

    def __init__(self, sheet: Sheet, settings):
        super().__init__(sheet, settings)
        self.sections = tuple(dict.fromkeys(q.key.split(".")[0] for q in sheet.questions + sheet.appendix))

    def _context(self) -> work.Context:
        s = self.settings
        return work.Context(s.seed, s.n, s.resolution, self.derived)

    def _questions(self) -> tuple[Question, ...]:
        chosen = self.settings.sections
        every = self.sheet.questions + self.sheet.appendix
        return tuple(q for q in every if chosen is None or q.key.split(".")[0] in chosen)

    def prepare(self) -> None:
        self.derived = {m.name: derive(m) for m in self.sheet.models}
        self.found = answers(self.sheet, deriv=self._context().derive)
        self.done: dict[str, object] = {}

    def background(self):
        shown = {
            m.name for q in self._questions() for m in (getattr(q, "model", None), getattr(q, "compare", None)) if m
        }
        verifications = [verify(d, self.settings.seed) for name, d in self.derived.items() if name in shown]
        done = work.work(self._questions(), work.WORKER, self._context())
        checks = work.work_checks(self._questions(), done)
        return verifications + [answer_checks(self.sheet, self.found, self.derived)], done, checks

    def foreground(self):
        return [("work", self._work)]

    def _work(self) -> None:
        self.done = work.work(self._questions(), work.PARENT, self._context())

    def absorb(self, result) -> None:
        verifications, done, checks = result
        done = {**self.done, **done}
        checks = checks + work.work_checks(self._questions(), self.done)
        if checks:
            verifications = verifications + [Verification("work", tuple(checks))]
        self.results = SheetResults(self.sheet, self.derived, self.found, verifications, done)

    def document(self):
        return sheet_sections(self.results, self.settings.sections, self.settings.variant), self.results.plan

    def answers(self) -> list[dict]:
        return answer_rows(self.results)

    def glance(self) -> list[dict]:
        return glance_rows(self.results)
