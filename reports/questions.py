"""The students' sheet (--variant questions): each question under the title the solutions give it, with what a
student needs to answer it and nothing that answers it. No derivation runs: the sheet's declarations are all it reads.

A question's section holds the sheet's own setup for it (definitions such as L(mu)), its text (once, where
consecutive questions share it; after that, what each asks), the model as given (density, parameters and their
domains, the prior and how to read its numbers, the known constants), the data its work uses (observed data,
listed; simulated data by their generator: n, the true values, the seed), its sub-steps and the sheet's helper code.
Every data set is written to data/<model>.csv; one too long to list in its question is listed in an appendix "Data".
The same choice of data, by question kind, gives answers.json's "inputs" of each answer (answer_inputs, study_inputs).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import sympy as sp

from mlemap.derivations.bayes import discrete
from mlemap.derivations.model import Model
from mlemap.derivations.sheet import (
    Bias,
    Estimate,
    LogTheory,
    OptimizerStudy,
    Precision,
    PriorStrength,
    Question,
    Sheet,
)
from mlemap.numerics.checks import CHECK_N
from mlemap.numerics.kinds import DEFAULT_DRAWS
from mlemap.reports import render
from mlemap.reports.document import Section, math

SHORT = 20  # a data set of at most this many observations is listed in its question
LISTED = 2000  # values a data set may hold to be listed in the appendix; a longer one is in its CSV file only
BRIEF = 6  # significant digits of the appendix's values: the CSV file holds every digit


@dataclass(frozen=True)
class DataSet:
    """The data one model gives a question: its observed data (draws None), or draws seeded draws of its simulate
    hook at its truth; file is the CSV file's path in the report."""

    model: Model
    draws: int | None
    seed: int
    columns: dict[str, tuple] = field(default_factory=dict)
    file: str = ""

    @property
    def n(self) -> int:
        return len(next(iter(self.columns.values())))


@dataclass
class Handout:
    sections: list[Section]
    data: list[DataSet]  # in the order the questions first use them; each written to its file


def plain(value) -> int | float:
    """A data value or constant as JSON holds it: an int where the sheet gave a whole number, else a float."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, sp.Basic):
        return int(value) if value.is_Integer else float(value)
    return float(value)


def shown(value) -> str:
    """A number as the sheet prints it in full: whole numbers without a decimal point, others as the shortest
    decimal that reads back to the same float."""
    number = plain(value)
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def brief(value) -> str:
    """A number of the appendix's listing, to BRIEF significant digits."""
    number = plain(value)
    return shown(number) if isinstance(number, int) else f"{number:.{BRIEF}g}"


def used_data(q: Question, n: int | None) -> list[tuple[Model, int | None]]:
    """The models whose data a question's work uses, each with the number of seeded draws it simulates (None: the
    model's observed data, or no numbers at all), as numerics.kinds runs them. n is the build's --n."""
    model = getattr(q, "model", None)
    if isinstance(q, OptimizerStudy):
        draws = n or q.n or DEFAULT_DRAWS
        return [(m, None if m.observed else draws) for m in (q.model, q.compare) if m is not None]
    if isinstance(q, LogTheory):  # the underflow sample is always drawn; the example is the observed one
        return [(q.model, q.n)] + ([(q.example, None)] if q.example is not None else [])
    if isinstance(q, Precision):
        return [(q.model, None if q.model.observed else CHECK_N)]
    if isinstance(q, Bias):  # the estimator is a function of any sample: no data enter its answers
        return [(q.estimator_model, None)]
    return [(model, None)] if isinstance(model, Model) else []


def inputs(model: Model, draws: int | None = None) -> dict:
    """answers.json's inputs of an answer: the model's observed data by variable name, else (draws) the size and
    the true values of the simulated sample; and the model's known constants."""
    found: dict[str, dict] = {}
    if model.observed and draws is None:
        found["data"] = {s.name: [plain(v) for v in model.observed[s]] for s in model.data}
    elif draws is not None:
        found["simulated"] = {"n": int(draws), "truth": {k: plain(v) for k, v in model.truth.items()}}
    if model.constants:
        found["constants"] = {s.name: plain(v) for s, v in model.constants.items()}
    return found


def answer_inputs(sheet: Sheet, key: str, model_name: str) -> dict:
    """The inputs of an exact answer: those of the question that owns its key (the longest key it extends) and
    of the model it was derived from; an exact answer is derived at observed data, never at a simulated sample."""
    owners = sorted(
        (q for q in sheet.questions if key == q.key or key.startswith(f"{q.key}.")), key=lambda q: -len(q.key)
    )
    for q in owners:
        models = list(q.prior_models().values()) if isinstance(q, PriorStrength) else []
        for model, _ in used_data(q, None) + [(m, None) for m in models]:
            if model.name == model_name:
                return inputs(model)
    return {}


def study_inputs(q: OptimizerStudy, found) -> dict:
    """The inputs of a study's answers: its model's observed data, else the size of the sample it drew."""
    sample = getattr(found, "sample", found)  # an exact study keeps its sample; the general one its size
    return inputs(q.model, None if q.model.observed else int(sample.n))


def data_set(model: Model, draws: int | None, seed: int) -> DataSet | None:
    """The numbers a question is given: the observed data, or the seeded draws (as numerics.kinds draws them)."""
    if draws is None and not model.observed:
        return None
    if draws is None:
        assert model.observed is not None  # checked above
        columns = {s.name: tuple(model.observed[s]) for s in model.data}
    else:
        assert model.simulate is not None  # the kinds that draw require a simulate hook at their declaration
        drawn = model.draw(np.random.default_rng(seed), draws)
        columns = {s.name: tuple(float(v) for v in drawn[s.name]) for s in model.data}
    return DataSet(model, draws, seed, columns)


def csv_text(ds: DataSet) -> str:
    """One row an observation, one column a variable, every digit."""
    rows = zip(*ds.columns.values())
    return "\n".join([",".join(ds.columns), *(",".join(shown(v) for v in row) for row in rows)]) + "\n"


def _file_name(ds: DataSet, taken: set[str]) -> str:
    """data/<model>.csv, made safe for a file name; a second sample of one model gets its size in the name, and a
    name still taken (two models alike once made safe) a number."""
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", ds.model.name).strip(".") or "data"
    names = [base, f"{base}_n{ds.n}", *(f"{base}_{k}" for k in range(2, len(taken) + 3))]
    return next(f"data/{name}.csv" for name in names if f"data/{name}.csv" not in taken)


def _symbols(names) -> str:
    return ", ".join(sp.latex(s) for s in names)


def model_items(model: Model) -> list[dict]:
    """The model as a student is given it: the observations and their density (the known constants put in), the
    parameters with their domains, the prior, the known constants."""
    modelled = [s for s in model.data if s not in model.covariates]
    given = [s for s in model.data if s in model.covariates]
    one = f"({_symbols(model.data)})_i" if len(model.data) > 1 else f"{sp.latex(model.data[0])}_i"
    kind = "probability mass function" if all(discrete(model, s) for s in modelled) else "density"
    text = f"{model.title}. The observations ${one}$, $i = 1, \\dots, n$, are independent, each"
    if given:
        text += f" ${_indexed(modelled)}$ given ${_indexed(given)}$ (which is not modelled)"
    values = [f"${sp.latex(s)} \\in {sp.latex(model.support[s])}$" for s in modelled if s in model.support]
    normal = normal_form(model)  # a covariance matrix is read in matrix form, never multiplied out
    if normal is not None:
        text += f" with the normal density {normal[0]}:"
    else:
        text += f" with the {kind}" + (" (the known constants put in)" if model.constants else "")
        text += (", for " + ", ".join(values) if values else "") + ":"
    condition = _symbols([*given, *model.param_symbols])
    shown_density = normal[1] if normal is not None else density_latex(model)
    density = rf"p({_symbols(modelled)} \mid {condition}) = {shown_density}"
    parameters = ", ".join(
        f"${sp.latex(p.symbol)} \\in {sp.latex(p.domain)}$" + (f" ({p.description})" if p.description else "")
        for p in model.params
    )
    items = [{"label": "Model", "text": text, "math": density}, {"label": "Parameters", "text": parameters + "."}]
    if model.prior is not None:
        items.append(prior_item(model))
    if model.constants:
        items.append({"label": "Known", "text": known_text(model)})
    return [{"math": "", **item} for item in items]


def _indexed(symbols) -> str:
    return ", ".join(f"{sp.latex(s)}_i" for s in symbols)


def density_latex(model: Model) -> str:
    """The density with the known constants put in, its normalising factor written 1 / sqrt(2 pi sigma^2) where
    SymPy would spread it over several square roots."""
    density = model.density
    if model.constants:  # put in, the constants leave an exponent SymPy does not collect again by itself
        density = density.subs(model.constants).replace(sp.exp, lambda a: sp.exp(_shorter(a, sp.simplify(a))))
    factor, rest = density.as_independent(*model.data, as_Add=False)
    roots = [a for a in sp.preorder_traversal(factor) if isinstance(a, sp.Pow) and a.exp in (sp.S.Half, -sp.S.Half)]
    if len(roots) < 2 or not factor.is_positive:
        return math(None, density)
    return rf"\frac{{1}}{{\sqrt{{{math(None, sp.factor(factor**-2))}}}}} {math(None, rest)}"


def normal_form(model: Model) -> tuple[str, str] | None:
    """A density that is the multivariate normal N(x | mu, M) of the model's data vector, its mean the vector of
    the parameters and its covariance a known matrix M (known_matrices): the words that define the vectors, and
    the density in matrix form; None for any other density (then it is written out)."""
    modelled = [s for s in model.data if s not in model.covariates]
    params, k = model.param_symbols, len(modelled)
    data_name, mean_name = _vector_name(modelled), _vector_name(params)
    if k < 2 or len(params) != k or data_name is None or mean_name is None:
        return None
    for name, matrix in known_matrices(model).items():
        if matrix.shape != (k, k) or not _is_normal(model, modelled, matrix):
            continue
        x, m, cov = rf"\mathbf{{{data_name}}}", rf"\boldsymbol{{{mean_name}}}", sp.latex(sp.Symbol(name))
        words = (
            f"$\\mathcal{{N}}({x} \\mid {m}, {cov})$, where ${x} = ({_symbols(modelled)})^\\top$, "
            f"${m} = ({_symbols(params)})^\\top$ and ${cov}$ is the known covariance matrix below"
        )
        factor = r"2 \pi" if k == 2 else rf"(2 \pi)^{{{k // 2}}}" if k % 2 == 0 else rf"\sqrt{{(2 \pi)^{{{k}}}}}"
        formula = (  # N(...) braced: one atom, which breqn never breaks at its \mid
            rf"{{\mathcal{{N}}({x} \mid {m}, {cov})}} = \frac{{1}}{{{factor} \sqrt{{\det {cov}}}}} "
            rf"\exp\left(-\frac{{1}}{{2}} ({x} - {m})^\top {cov}^{{-1}} ({x} - {m})\right)"
        )
        return words, formula
    return None


def _vector_name(symbols) -> str | None:
    """x for (x1, x2), \\mu for (mu1, mu2): the common name of numbered symbols 1..k, as LaTeX; None where the
    symbols are not so numbered."""
    found = [re.fullmatch(r"([A-Za-z]+)_?(\d+)", s.name) for s in symbols]
    if not all(found) or len({f[1] for f in found}) != 1:  # type: ignore[index]
        return None
    if [int(f[2]) for f in found] != list(range(1, len(found) + 1)):  # type: ignore[index]
        return None
    return sp.latex(sp.Symbol(found[0][1]))  # type: ignore[index]


def _is_normal(model: Model, modelled, matrix: sp.Matrix) -> bool:
    """Whether the model's density, its constants put in, is N(x | mu, matrix) exactly (by SymPy)."""
    if matrix.det() == 0:
        return False
    diff = sp.Matrix(modelled) - sp.Matrix(model.param_symbols)
    normal = sp.exp(-(diff.T * matrix.inv() * diff)[0, 0] / 2) / sp.sqrt((2 * sp.pi) ** len(modelled) * matrix.det())
    density = model.density.subs(model.constants)
    logs = [sp.expand(sp.expand_log(sp.log(f), force=True)) for f in (normal, density)]
    return sp.simplify(logs[0] - logs[1]) == 0


def _shorter(expr: sp.Expr, other: sp.Expr) -> sp.Expr:
    return other if sp.count_ops(other) < sp.count_ops(expr) else expr


def prior_item(model: Model) -> dict:
    """The prior: the distribution it is, with the meaning of its numbers (a normal prior's second number is its
    variance, never its standard deviation), and its density in the parameters, up to its constant factor."""
    params = model.param_symbols
    prior = sp.sympify(model.prior, strict=True)  # a declared SymPy expression or number, never text
    if not prior.free_symbols & set(params):
        domain = model.params[0].domain if len(params) == 1 else None
        if isinstance(domain, sp.Interval) and domain.start.is_finite and domain.end.is_finite:
            uniform = f"${sp.latex(sp.Symbol('U'))}({_decimal(domain.start)}, {_decimal(domain.end)})$"
            return {"label": "Prior", "text": f"flat, the uniform prior {uniform} on the parameter's domain."}
        return {"label": "Prior", "text": "flat: constant on the parameters' domain."}
    shape = prior.as_independent(*params, as_Add=False)[1]
    family = _family(shape, params[0]) if len(params) == 1 else ""
    text = (family[0].upper() + family[1:] + ". Its density" if family else "Its density") + ", up to a constant:"
    return {"label": "Prior", "text": text, "math": rf"p({_symbols(params)}) \propto {math(None, shape)}"}


def _decimal(value: sp.Expr) -> str:
    """An exact number as a decimal: 1/10 as 0.1, and one that no short decimal is (sqrt(10)/10) as about 0.3162."""
    number = float(value)
    written = shown(number)
    exact = sp.Rational(written) == value if value.is_Rational else False
    return written if exact and len(written) <= 10 else f"about {number:.4g}"


def _family(shape: sp.Expr, t: sp.Symbol) -> str:
    """The named distribution a one-parameter prior is, from its log-density: quadratic in t (normal), a log t and
    a t term (gamma), log t and log(1 - t) terms (beta); "" for any other."""
    log_t, log_1mt = sp.Dummy("log_t"), sp.Dummy("log_1mt")
    log = sp.expand(sp.expand_log(sp.log(shape), force=True)).xreplace({sp.log(t): log_t, sp.log(1 - t): log_1mt})
    terms = sp.Add(*[a for a in sp.Add.make_args(log) if a.free_symbols & {t, log_t, log_1mt}])
    try:
        poly = sp.Poly(terms, t, log_t, log_1mt)
    except sp.PolynomialError:
        return ""
    c = {m: poly.coeff_monomial(m) for m in poly.monoms()}
    power, rate = c.pop((1, 0, 0), sp.Integer(0)), c.pop((2, 0, 0), None)
    logs = (c.pop((0, 1, 0), sp.Integer(0)), c.pop((0, 0, 1), sp.Integer(0)))
    if c or not all(sp.sympify(v).is_number for v in (power, *logs, rate or 0)):
        return ""
    if rate is not None and rate < 0 and logs == (0, 0):
        variance = -1 / (2 * rate)
        mean, sd = power * variance, sp.sqrt(variance)
        return (
            f"a normal prior $N({_decimal(mean)}, {_decimal(variance)})$, its second number the variance: "
            f"mean {_decimal(mean)}, variance {_decimal(variance)}, standard deviation {_decimal(sd)}"
        )
    if rate is None and power < 0 and logs[1] == 0 and logs[0] > -1:
        k, r = logs[0] + 1, -power
        return f"a gamma prior Gamma$({_decimal(k)}, {_decimal(r)})$, shape {_decimal(k)} and rate {_decimal(r)}"
    if rate is None and power == 0 and logs[0] > -1 and logs[1] > -1:
        a, b = logs[0] + 1, logs[1] + 1
        return f"a beta prior Beta$({_decimal(a)}, {_decimal(b)})$"
    return ""


def known_matrices(model: Model) -> dict[str, sp.Matrix]:
    """The symmetric matrices whose entries the known constants name M11, M12, ..., by the matrix's name; a matrix
    with an entry missing is left out."""
    entries: dict[str, dict[tuple[int, int], object]] = {}
    for s, v in model.constants.items():
        found = re.fullmatch(r"([A-Za-z]+)(\d)(\d)", s.name)
        if found:
            entries.setdefault(found[1], {})[(int(found[2]), int(found[3]))] = v
    matrices = {}
    for name, known in entries.items():
        d = max(max(ij) for ij in known)
        cells = {(i, j): known.get((i, j), known.get((j, i))) for i in range(1, d + 1) for j in range(1, d + 1)}
        if all(v is not None for v in cells.values()):
            rows = [[sp.nsimplify(cells[(i, j)], rational=True) for j in range(1, d + 1)] for i in range(1, d + 1)]
            matrices[name] = sp.Matrix(rows)
    return matrices


def known_text(model: Model) -> str:
    """The known constants, each by its symbol; entries named M11, M12, ... of a symmetric matrix also as the
    matrix (and as c I where it is a multiple of the identity)."""
    each = ", ".join(f"${sp.latex(s)} = {shown(v)}$" for s, v in model.constants.items())
    matrices = []
    for name, matrix in known_matrices(model).items():
        d = matrix.rows
        rows = r" \\ ".join(" & ".join(shown(matrix[i, j]) for j in range(d)) for i in range(d))
        identity = matrix == matrix[0, 0] * sp.eye(d)
        shown_matrix = rf"{sp.latex(sp.Symbol(name))} = \begin{{pmatrix}} {rows} \end{{pmatrix}}"
        matrices.append(f"${shown_matrix}" + (f" = {shown(matrix[0, 0])} I$" if identity else "$"))
    return each + (", that is " + ", ".join(matrices) if matrices else "") + "."


def data_item(model: Model, ds: DataSet | None) -> dict:
    """The data: observed, or drawn from the model (n and the true values; the generator and its seed are named
    in the colophon); listed here when short, else where the appendix and the CSV file hold them."""
    if ds is None:
        return {"label": "Data", "text": "a sample of $n$ observations, in symbols: no numbers are given.", "math": ""}
    if ds.draws is None:
        text = f"$n = {ds.n}$ observations"
    else:
        truth = ", ".join(f"${sp.latex(sp.Symbol(k))} = {shown(v)}$" for k, v in model.truth.items())
        text = f"$n = {ds.draws}$ independent draws from this model at the true values {truth}"
    if ds.n <= SHORT:
        listed = ", ".join(f"${sp.latex(s)} = ({', '.join(shown(v) for v in ds.columns[s.name])})$" for s in model.data)
        text += f": {listed}; also in the file {ds.file}."
    elif ds.n * len(ds.columns) <= LISTED:
        text += f", listed in the appendix Data and in the file {ds.file}."
    else:
        text += f", in the file {ds.file} (one row an observation; columns {', '.join(ds.columns)})."
    return {"label": "Data", "text": text, "math": ""}


def asked(q: Question) -> list[str]:
    """What a question asks, by its answers' names, where its text was printed for the question before it."""
    if isinstance(q, OptimizerStudy):  # a study's labels name formulas (the stable rate as 2 sigma_min / n)
        return []
    label = getattr(q, "label", "")
    if label:
        return [label]
    if isinstance(q, Estimate):
        kind = "MAP" if q.model.prior is not None else "MLE"
        return [q.labels.get(p.name, f"the {kind} of ${sp.latex(p.symbol)}$") for p in q.model.params]
    return []


def _setup(sec: Section, paragraphs: tuple[str, ...]) -> None:
    """The sheet's own setup: a paragraph written $$...$$ is a displayed formula."""
    for paragraph in paragraphs:
        shown_math = re.fullmatch(r"\$\$(.+)\$\$", paragraph.strip(), flags=re.S)
        if shown_math:
            sec.math(shown_math[1].strip())
        else:
            sec.text(paragraph)


def handout(sheet: Sheet, numbered: list[tuple[str, Question]], seed: int, n: int | None) -> Handout:
    """The students' sheet: a section per question (numbered: its title and the question), numbered as the
    solutions number it, then the appendix Data where a data set is too long to list in its question, and the
    colophon, the one place that names the generator and its seed."""
    sections: list[Section] = []
    found: dict[tuple[str, int | None], DataSet | None] = {}
    given_in: dict[tuple[str, int | None], str] = {}  # where each model and its data were given in full
    previous_text: str | None = None
    previous: set[tuple[str, int | None]] = set()  # the models and data the section before used
    for title, q in numbered:
        sec = Section(q.key, title)
        _setup(sec, q.setup)
        if q.text != previous_text:
            sec.question(q.text)
        elif asked(q):
            sec.text("Asked here: " + "; ".join(asked(q)) + ".")
        previous_text, used = q.text, used_data(q, n)
        for model, draws in used:
            key = (model.name, draws)
            if key in previous:  # named with its section: "the previous section" may refer to it, not give it
                same = {"label": "Model and data", "text": f"{model.title}, as given in {given_in[key]}.", "math": ""}
                sec.blocks.append({"kind": "given", "entries": [same]})
                continue
            if key not in found:
                ds = data_set(model, draws, seed)
                taken = {d.file for d in found.values() if d is not None}
                found[key] = (
                    None if ds is None else DataSet(ds.model, ds.draws, seed, ds.columns, _file_name(ds, taken))
                )
            given_in[key] = f"Section {len(sections) + 1}, {title}"
            sec.blocks.append({"kind": "given", "entries": [*model_items(model), data_item(model, found[key])]})
        previous = {(model.name, draws) for model, draws in used}
        if q.steps:
            sec.blocks.append({"kind": "items", "entries": list(q.steps)})
        if q.code:
            draws = next((d for _, d in used if d is not None), None)
            values = {"seed": seed} | ({"n": draws} if draws is not None else {})
            sec.blocks.append({"kind": "code", "code": string.Template(q.code).safe_substitute(values).rstrip()})
        sections.append(sec)
    data = [ds for ds in found.values() if ds is not None]
    appendix = data_appendix(data)
    return Handout(sections + ([appendix] if appendix else []) + [colophon(data, seed)], data)


def colophon(data: list[DataSet], seed: int) -> Section:
    """The one place the program, the generator and its seed are named."""
    sec = Section("colophon", "Colophon", numbered=False)
    drawn = any(ds.draws is not None for ds in data)
    sec.text(
        "Written by mlemap from the sheet's declarations."
        + (
            f" The simulated data sets were drawn by NumPy's random generator, numpy.random.default_rng({seed}) "
            f"(seed {seed}), the sample the worked solutions use."
            if drawn
            else ""
        )
        + (" The folder data beside this sheet holds every data set as a CSV file, every digit." if data else "")
    )
    return sec


def data_appendix(data: list[DataSet]) -> Section | None:
    """The data sets too long for their questions but short enough to read, each as a wrapped list."""
    listed = [ds for ds in data if ds.n > SHORT and ds.n * len(ds.columns) <= LISTED]
    if not listed:
        return None
    sec = Section("data", "Data", numbered=False)
    sec.text(
        f"The data sets too long to list in their questions, each in order, to {BRIEF} significant digits; the "
        "files in the folder data beside this sheet hold every digit."
    )
    for ds in listed:
        names = _symbols(ds.model.data)
        sec.text(f"{ds.model.title}: ${names}$, $n = {ds.n}$ (the file {ds.file}).")
        rows = list(zip(*ds.columns.values()))
        values = [brief(r[0]) if len(r) == 1 else "(" + ", ".join(brief(v) for v in r) + ")" for r in rows]
        sec.blocks.append({"kind": "data", "text": ", ".join(values)})
    return sec


TEX_DELIMITERS = {
    "block_start_string": "<%",
    "block_end_string": "%>",
    "variable_start_string": "<<",
    "variable_end_string": ">>",
    "comment_start_string": "<#",
    "comment_end_string": "#>",
}
PAGES: dict[str, tuple[str, str, dict[str, Any]]] = {  # format -> (file, template, its environment's options)
    "md": ("report.md", "questions.md.j2", {}),
    "tex": ("report.tex", "questions.tex.j2", TEX_DELIMITERS),
    "html": ("report.html", "questions.html.j2", {"autoescape": True}),
}


def _environment(**options) -> jinja2.Environment:
    """The report's environment (render._env), with the students' sheet's own LaTeX prose filter."""
    env = render._env(**options)
    env.filters.update(tex=_tex, tex_paragraph=_tex_paragraph, prose=render.prose, display=render.display)
    env.filters.update(paragraph=render.paragraph)
    return env


def _tex(text) -> str:
    """Prose for LaTeX, where a long file or function name (data/praxis_mean_2d.csv) may break after an underscore
    instead of running into the margin."""
    return render.tex(text).replace(r"\_", r"\_\allowbreak{}")


def _tex_paragraph(text) -> str:
    """Prose for LaTeX as _tex, a matrix displayed on a line of its own (render.tex_paragraph): inline, its
    entries would force the lines apart."""
    return render.tex_paragraph(text).replace(r"\_", r"\_\allowbreak{}")


def write(tmp: Path, doc: Handout, title: str, subtitle: str, formats) -> None:
    """The sheet in each format asked for (LaTeX too where a PDF is), and every data set as its CSV file."""
    for ds in doc.data:
        path = tmp / ds.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(csv_text(ds))
    for fmt, (name, template, options) in PAGES.items():
        if fmt in formats or (fmt == "tex" and "pdf" in formats):
            page = _environment(**options).get_template(template)
            ids, numbers = render.anchors(doc.sections), render.numbers(doc.sections)
            shown = page.render(sections=doc.sections, title=title, subtitle=subtitle, ids=ids, numbers=numbers)
            (tmp / name).write_text(shown)
