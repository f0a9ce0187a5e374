"""Any sheet's report: one section per question, laid out by the question's kind.

The table KINDS maps each kind to the function that lays it out; the computations (derivations, answers,
verification) are done before, and only their typed results arrive here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from derivations.engine import Derivation
from derivations.sheet import Answer, Estimate, PlugIn, Posterior, PosteriorPredictive, Question, Sheet
from numerics.verify import Verification
from reports.content import TEXT, Section, estimate_math


@dataclass(frozen=True)
class SheetResults:
    sheet: Sheet
    derivations: dict[str, Derivation]  # by model name
    answers: list[Answer]
    verifications: list[Verification]


def _answers_of(results: SheetResults, q: Question) -> list[Answer]:
    return [a for a in results.answers if a.key == q.key]


def _value(a: Answer) -> str:
    return "" if a.value is None else f" \\approx {a.value:.6g}"


def estimate(sec: Section, q: Estimate, results: SheetResults) -> None:
    d = results.derivations[q.model.name]
    sec.text(TEXT.model_answer(d))
    sec.math(estimate_math(d))
    sec.steps(d.steps)


def probability(sec: Section, q: Question, results: SheetResults) -> None:
    for a in _answers_of(results, q):
        if a.question != q.text:  # the question's own label for this answer
            sec.text(a.question)
        sec.math(f"{a.latex}{_value(a)}")


KINDS: dict[type, Callable[[Section, Question, SheetResults], None]] = {
    Estimate: estimate,
    PlugIn: probability,
    Posterior: probability,
    PosteriorPredictive: probability,
}


def sheet_sections(results: SheetResults) -> list[Section]:
    sections = []
    for number, q in enumerate(results.sheet.questions, 1):
        sec = Section(q.key, f"Question {number} ({q.key})")
        sec.question(q.text)
        KINDS[type(q)](sec, q, results)
        sections.append(sec)
    sections.append(verification_section(results))
    return sections


def verification_section(results: SheetResults) -> Section:
    sec = Section("verification", "Verification")
    sec.text("Every derivation is checked against independent numerics (automatic differentiation, finite differences, optimizers, scipy peers, Monte Carlo); every number against a scipy computation where the sheet gives one.")
    rows = [(c.model, c.check, "n/a" if c.status == "SKIP" else f"{c.error:.2e}", f"{c.tolerance:g}", c.status) for v in results.verifications for c in v.checks]
    sec.table(("model", "check", "error", "tolerance", "result"), rows, "Checks of this sheet.")
    return sec
