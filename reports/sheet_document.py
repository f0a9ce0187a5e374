"""Any sheet's report: one section per question, laid out by the question's kind.

The table KINDS maps each kind to the function that lays it out; the computations (derivations, answers,
verification) are done before, and only their typed results arrive here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from derivations.bayes import discrete, event_set
from derivations.engine import Derivation, derive, n_obs
from derivations.linear import normal_equations
from derivations.sheet import (
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
from numerics import kinds as work
from numerics.estimate import PointEstimate
from numerics.exact_study import ExactStudy
from numerics.study import Run, Study
from numerics.verify import Verification, answer_checks, unchecked_answers, verify
from reports import figures, layouts
from reports.document import (
    KINDS_TEXT,
    Section,
    error_text,
    estimate_math,
    hat,
    math,
    matrix_entries,
    number,
    numerical_math,
    roots_defined,
)
from reports.exact_study import exact_study
from reports.plan import ReportPlan
from reports.steps import worked_steps


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
    """answers.json: every exact answer, then each optimizer study's stability bound (a number from data)."""
    rows = [a.as_dict() | _shown(results, a) for a in results.answers]
    for q in results.sheet.questions:
        found = results.work.get(q.key)
        if isinstance(q, OptimizerStudy) and "ascent" in q.parts and isinstance(found, (Study, ExactStudy)):
            rows += _study_rows(q, found)
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
                }
                for p in d.params
            ]
    return rows


def glance_rows(results: SheetResults) -> list[dict]:
    """answers.json's rows with the LaTeX the front page shows, written from each answer's derivation."""
    by_key = {a.key: a for a in results.answers}
    rows = []
    for row in answer_rows(results):
        a = by_key.get(row["key"])
        if a is not None:
            d = results.derivations.get(a.model)
            display = row.get("shown_latex") or math(d, a.expr)
            extra = {"display": display, "display_conditions": a.conditions_latex, "roots": roots_defined(a.expr)}
        else:
            extra = {"display": row["latex"] or "", "roots": ""}
        rows.append(row | extra)
    return rows


def _study_rows(q: OptimizerStudy, found) -> list[dict]:
    """A study's answers: the largest stable rate and the best one (exact for a quadratic log-likelihood), and
    the optimum it ran to."""
    title = q.model.title
    defaults = {
        "lr_bound": rf"largest stable gradient-ascent rate, $2 / \lambda_{{\max}}(-H)$: {title}",
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
        label = q.labels.get(p.name, f"{kind.upper()} of ${sp.latex(p.symbol)}$ at the study's data ({q.key})")
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
        probability(sec, q, results)
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


def _value(a: Answer) -> str:
    return "" if a.value is None else f" \\approx {a.value:.4g}"


def estimate(sec: Section, q: Estimate, results: SheetResults) -> None:
    d = results.derivations[q.model.name]
    sec.text(KINDS_TEXT.model_answer(d))
    found = results.numerical.get(q.key)
    if d.estimate is not None:
        sec.math(estimate_math(d))
    elif found is not None and found.converged and found.values:
        sec.math(numerical_math(d, found.values))
    elif found is not None:
        sec.text(f"The numerical search did not converge: {found.reason}.")
    if q.remark:
        sec.text(q.remark)
    sec.steps(worked_steps(d, q.familiar_forms, q.where))


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


def _count(run: Run) -> str:
    if run.status == "converged":
        return str(run.steps)
    return {
        "diverged": f"ran away at step {run.steps + 1}",
        "left_domain": f"left the parameter's domain at step {run.steps + 1}",
    }.get(run.status, f"not converged in {run.steps} steps")


def optimizer_study(sec: Section, q: OptimizerStudy, results: SheetResults) -> None:
    st = results.work[q.key]
    if isinstance(st, ExactStudy):
        exact_study(sec, q, st, results.plan)
        return
    assert isinstance(st, Study)
    curv = " and ".join(number(v) for v in st.curvatures)
    sec.text(
        f"At the optimum the negative Hessian of the log-likelihood of the n = {st.n} points has eigenvalues {curv}. "
        "Near the optimum gradient ascent moves the error by $e_{t+1} = (I + \\lambda H) e_t$, which shrinks exactly when "
        f"the rate $\\lambda$ is below $2 / c_{{\\max}}$ = {number(st.bound)}, $c_{{\\max}}$ the largest eigenvalue. "
        "The predicted step counts come from that linearisation at the optimum: exact for a quadratic log-likelihood, "
        "and here only a guide, since far from the optimum the curvature differs from its value there. Past the "
        "bound the iteration oscillates, runs away, or steps out of the parameter's domain."
    )
    sec.table(
        ("rate", "as a fraction of the bound", "steps to |score|/n < 1e-6", "predicted"),
        [(number(r.lr), r.label, _count(r), "never" if r.predicted is None else r.predicted) for r in st.ascent],
        "Gradient ascent from the centre of the parameter domain, gradients by torch autograd.",
    )
    names = [f"${sp.latex(p.symbol)}$" for p in q.model.params]
    distance = r"$\|\theta_t - \hat\theta\|$"
    sec.figure(
        results.plan.add(
            f"{q.key}_ascent", figures.error_curves, {r.label: r.errors for r in st.ascent}, ylabel=distance
        ),
        "Distance to the optimum against step, one curve per rate.",
    )
    if st.optimizers:
        sec.table(
            ("optimizer", "rate", "steps to the optimum"),
            [(r.label, number(r.lr), _count(r)) for r in st.optimizers],
            "torch.optim on the mean negative log-likelihood.",
        )
    if st.grid is not None:
        m1, m2, values = st.grid
        paths = {r.label: r.path for r in st.optimizers} | {
            f"gradient ascent, {r.label}": r.path for r in st.ascent[:1]
        }
        labels = (names[0], names[1], "log-likelihood")
        sec.figure(
            results.plan.add(
                f"{q.key}_paths",
                figures.heatmap_paths,
                m1,
                m2,
                values,
                paths,
                "",
                labels=labels,
                optimum=[st.optimum[k] for k in st.names],
            ),
            "The log-likelihood with the optimizers' paths.",
        )
    if not st.batches:
        return
    sec.table(
        ("batch size", "final distance to the optimum", "status"),
        [
            (
                r.label,
                number(r.errors[-1], 3),
                f"{r.steps} steps" if r.status == "max_steps" else _count(r),
            )
            for r in st.batches
        ],
        "Mini-batch gradient ascent at a tenth of the full-data bound: smaller batches, noisier steps.",
    )


def _laid_out(layout):
    """A layout of numerics.kinds' work for the question (layouts take the section, the question, the work and the
    figure plan)."""
    return lambda sec, q, results: layout(
        sec, q, results.work[q.key], results.plan, results.derivations.get(q.model.name)
    )


KINDS: dict[type[Question], Callable[..., None]] = {
    Estimate: estimate,
    PlugIn: probability,
    Posterior: posterior,
    PosteriorPredictive: probability,
    Probability: event_probability,
    OptimizerStudy: optimizer_study,
    LogTheory: _laid_out(layouts.log_theory),
    Bias: _laid_out(layouts.bias),
    Precision: _laid_out(layouts.precision),
    PriorStrength: _laid_out(layouts.prior_strength),
}
PLACES_REMARK = (Estimate,)  # layouts that print the remark themselves, between the answer and the steps


def sheet_sections(results: SheetResults, chosen=None) -> list[Section]:
    """A section per question (its text shown where it differs from the previous question's), then the
    appendix's questions, then the verification. chosen: the question keys' first parts to build (--only)."""
    sections, previous = [], None
    numbered = [(f"Question {k}", q) for k, q in enumerate(results.sheet.questions, 1)]
    numbered += [(f"Appendix {k}", q) for k, q in enumerate(results.sheet.appendix, 1)]
    for default, q in numbered:
        if chosen is not None and q.key.split(".")[0] not in chosen:
            continue
        sec = Section(q.key, q.title or default)
        if q.text != previous:
            sec.question(q.text)
        previous = q.text
        KINDS[type(q)](sec, q, results)
        if q.remark and not isinstance(q, PLACES_REMARK):
            sec.text(q.remark)
        sections.append(sec)
    sections.append(verification_section(results))
    return sections


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
        return sheet_sections(self.results, self.settings.sections), self.results.plan

    def answers(self) -> list[dict]:
        return answer_rows(self.results)

    def glance(self) -> list[dict]:
        return glance_rows(self.results)
