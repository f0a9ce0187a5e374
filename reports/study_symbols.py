"""The symbols an optimizer study writes (the learning rate, the eigenvalues of the curvature, a contraction
factor, ...), chosen per sheet so that no symbol means two things within it: each meaning takes the symbol the
sheet itself names for it ("the learning rate $\\lambda$"), else the first candidate that the sheet's models,
question texts and the report's own conventions (rho for a root, S for a sum, H for the Hessian) leave free."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import Sheet
from mlemap.derivations.text import GREEK as GREEK_NAMES

# what the report writes whatever the sheet: n, i, t, the sums S_g and counts N_v, the Hessian H, the identity I,
# the data D, the log-likelihood l and L, Euler's e and the d of an integral, a root rho (document.ROOT)
RESERVED = frozenset({"n", "i", "t", "S", "N", "H", "I", "D", "L", "e", "d", r"\ell", r"\rho", r"\pi"})

# each meaning: how a sheet names its own symbol for it, and the candidates otherwise (first free wins)
NAMED = {
    "rate": re.compile(r"learning rate \$(\\?[A-Za-z]+)\$"),
    "batch": re.compile(r"\bsize \$(\\?[A-Za-z]+)\s*(?:\$|:=)"),
}
CANDIDATES = {
    "rate": (r"\eta", r"\alpha", r"\gamma", r"\epsilon"),
    "eigen": (r"\lambda", r"\kappa", r"\nu", r"\omega"),
    "factor": ("q", "r", r"\varrho", "z"),
    "curvature": ("C", "A", "K", "M"),
    "score_covariance": ("V", "W", "G", "Q"),
    "batch": ("k", "b", "B", "j"),
    "vector": (r"\theta", r"\vartheta", r"\psi", r"\phi"),
}
MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", flags=re.S)
WORDS = re.compile(r"\\(?:mathrm|text|operatorname|textrm|mbox)\{[^{}]*\}|_\{[A-Za-z]{2,}\}")  # words, theta_{MAP}
TOKEN = re.compile(r"\\mathcal\{[A-Za-z]\}|\\[A-Za-z]+|[A-Za-z]")
GREEK = frozenset(rf"\{g}" for g in GREEK_NAMES.split())


@dataclass(frozen=True)
class StudySymbols:
    """LaTeX of each symbol an optimizer study writes; each one's words say what it is."""

    rate: str  # the learning rate
    eigen: str  # an eigenvalue of -H, the negative Hessian of the log-likelihood (at the optimum)
    factor: str  # the factor 1 - rate * eigen by which the error along an eigenvector is multiplied per step
    curvature: str  # a quadratic log-likelihood's curvature per point, -H / n
    score_covariance: str  # the covariance of one point's score
    batch: str  # a mini-batch's size
    vector: str  # the parameter vector

    def plain(self, field: str) -> str:
        """The symbol as code comments and plain text name it: lambda, kappa, q."""
        return getattr(self, field).lstrip("\\")


def math_tokens(text: str) -> set[str]:
    """The symbols the math of a text writes: Greek letters (\\lambda), single letters (x), calligraphic ones
    (\\mathcal{N}); words set upright (\\mathrm{Gamma}) and commands that are not letters (\\frac) are not."""
    found: set[str] = set()
    for shown, inline in MATH.findall(text):
        for token in TOKEN.findall(WORDS.sub(" ", shown or inline)):
            if not token.startswith("\\") or token in GREEK or token.startswith(r"\mathcal"):
                found.add(token)
    return found


def _texts(sheet: Sheet) -> list[str]:
    """Every text a sheet's report prints from its declaration: titles, questions, setups, steps, remarks and
    labels (the helper code is code, not math)."""
    texts = [sheet.title]
    for q in sheet.questions + sheet.appendix:
        texts += [q.text, q.title, q.remark, *q.setup, *q.steps, getattr(q, "label", "")]
        texts += list(getattr(q, "labels", {}).values())
    texts += [m.title for m in sheet.models]
    return texts


def sheet_symbols(sheet: Sheet) -> set[str]:
    """The symbols a sheet already gives a meaning: its models' data, parameters and constants, and what its
    texts write in math."""
    used: set[str] = set()
    for m in sheet.models:
        for s in (*m.data, *(p.symbol for p in m.params), *m.constants):
            used |= math_tokens(f"${sp.latex(s)}$")
    for text in _texts(sheet):
        used |= math_tokens(text)
    return used


def study_symbols(sheet: Sheet) -> StudySymbols:
    """One symbol per meaning: the sheet's own where it names one, else the first free candidate; no two
    meanings share a symbol."""
    used = sheet_symbols(sheet) | RESERVED
    texts = _texts(sheet)
    chosen: dict[str, str] = {}
    for meaning in NAMED:
        named = {m for text in texts for m in NAMED[meaning].findall(text)}
        if len(named) == 1:
            chosen[meaning] = named.pop()
    vector = _vector_of(sheet)
    if vector:
        chosen["vector"] = vector
    taken = used | set(chosen.values())
    for meaning, candidates in CANDIDATES.items():
        if meaning in chosen:
            continue
        free = [c for c in candidates if c not in taken]
        if not free:
            raise InputError(
                f"sheet: no free symbol for the study's {meaning}; it uses every one of {', '.join(candidates)}"
            )
        chosen[meaning] = free[0]
        taken.add(free[0])
    return StudySymbols(**chosen)


def _vector_of(sheet: Sheet) -> str:
    """The parameter vector's name where every study's model numbers its parameters as entries of one vector
    (mu_1, mu_2: mu, as the sheet writes the vector itself); '' otherwise."""
    bases = set()
    for q in sheet.questions:
        model = getattr(q, "model", None)
        if model is None or type(q).__name__ != "OptimizerStudy":
            continue
        names = {re.sub(r"_?\d+$", "", p.name) for p in model.params}
        if len(names) != 1 or any(not re.search(r"\d$", p.name) for p in model.params):
            return ""
        bases |= names
    return sp.latex(sp.Symbol(bases.pop())) if len(bases) == 1 else ""
