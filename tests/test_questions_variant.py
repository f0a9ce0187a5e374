"""The students' sheet (--variant questions) can be handed out: the solutions' titles in their order, each question's
text once, its model, prior, constants and data (listed, or by their generator, and as CSV files), the sheet's
definitions, helper code and sub-steps, and nothing that answers. Both shipped sheets are built as solutions
(their answers.json, whose rows name their inputs) and as questions; Exercise 3's questions also as a PDF."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from mlemap.derivations.model import InputError, Model, Parameter
from mlemap.derivations.sheet import Estimate, OptimizerStudy, Sheet, load_sheet
from mlemap.reports import questions, render
from mlemap.reports.plan import ReportPlan, Settings
from mlemap.reports.render import md
from tests.golden_reports import ROOT

HAS_LATEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None
SHEETS = ("exercise3", "exercise4")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """sheet -> (the solutions' directory, the questions' directory)."""
    from mlemap.reports.cli import main

    found = {}
    for sheet in SHEETS:
        path = str(ROOT / "mlemap" / "sheets" / f"{sheet}.py")
        solutions, handout = tmp_path_factory.mktemp(f"{sheet}-solutions"), tmp_path_factory.mktemp(sheet)
        assert main(["--sheet", path, "--out", str(solutions / "r"), "--format", "md,tex"]) == 0
        formats = "md,tex,html,pdf" if sheet == "exercise3" and HAS_LATEX else "md,tex,html"
        assert main(["--sheet", path, "--variant", "questions", "--out", str(handout / "r"), "--format", formats]) == 0
        found[sheet] = (solutions / "r", handout / "r")
    return found


def headings(markdown: str) -> list[str]:
    return [line[3:] for line in markdown.splitlines() if line.startswith("## ")]


def csv_columns(directory: Path) -> dict[str, dict[str, list[str]]]:
    """Each CSV file of the sheet's data folder: its columns by name, as written."""
    found = {}
    for path in sorted((directory / "data").glob("*.csv")):
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        found[path.name] = {name: [r[k] for r in rows[1:]] for k, name in enumerate(rows[0])}
    return found


def symbol(name: str) -> str:
    return sp.latex(sp.Symbol(name))


def appears(text: str, number: str) -> bool:
    """number in text as a whole number, not as a piece of a longer one."""
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text) is not None


@pytest.mark.build
@pytest.mark.parametrize("sheet", SHEETS)
def test_every_input_of_every_answer_is_on_the_students_sheet(built, sheet):
    solutions, handout = built[sheet]
    rows = json.loads((solutions / "answers.json").read_text())
    text, files = (handout / "report.md").read_text(), csv_columns(handout)
    assert rows and all("inputs" in row for row in rows)
    for row in rows:
        given = row["inputs"]
        for name, values in given.get("data", {}).items():
            written = [questions.shown(v) for v in values]
            if len(values) <= questions.SHORT:
                assert f"{symbol(name)} = ({', '.join(written)})" in text, (row["key"], name)
            else:  # listed in the appendix Data, to 6 digits, and every digit in a CSV file
                assert ", ".join(questions.brief(v) for v in values) in text, (row["key"], name)
            assert any(columns.get(name) == written for columns in files.values()), (row["key"], name)
        simulated = given.get("simulated", {})
        if simulated:
            assert f"$n = {simulated['n']}$ independent draws" in text, row["key"]
            assert any(len(next(iter(c.values()))) == simulated["n"] for c in files.values()), row["key"]
        for name, value in {**simulated.get("truth", {}), **given.get("constants", {})}.items():
            assert f"{symbol(name)} = {questions.shown(value)}$" in text, (row["key"], name)


@pytest.mark.build
@pytest.mark.parametrize("sheet", SHEETS)
def test_no_answer_is_on_the_students_sheet(built, sheet):
    solutions, handout = built[sheet]
    rows = json.loads((solutions / "answers.json").read_text())
    shown = (handout / "report.md").read_text() + (handout / "report.tex").read_text()
    for row in rows:
        forms = [f for f in (row["exact"], row["latex"]) if f and len(f) >= 3 and not re.fullmatch(r"-?\d+", f)]
        assert not [f for f in forms if f in shown], row["key"]
        value = row["value"]
        if value is not None and not float(value).is_integer():
            numbers = {f"{value:.{k}g}" for k in (3, 4, 6)} | {questions.shown(value)}
            assert not [v for v in numbers if appears(shown, v)], (row["key"], numbers)
    assert not {"answers.json", "steps.json", "figures"} & {p.name for p in handout.iterdir()}


@pytest.mark.build
@pytest.mark.parametrize("sheet", SHEETS)
def test_the_titles_are_the_solutions_titles_in_order_and_each_text_is_printed_once(built, sheet):
    solutions, handout = built[sheet]
    text = (handout / "report.md").read_text()
    loaded = load_sheet(ROOT / "mlemap" / "sheets" / f"{sheet}.py")
    titles = [q.heading(k) for k, q in enumerate(loaded.questions, 1)]
    solved = [h for h in headings((solutions / "report.md").read_text()) if h in titles]
    back = [*(["Data"] if "## Data\n" in text else []), "Colophon"]
    assert headings(text) == [*solved, *back] and solved == titles
    for q in loaded.questions:
        assert text.count(md(q.text)) == 1, q.key
    assert "Question." not in text


def numbered_contents(tex: str) -> list[tuple[str, str]]:
    """The numbered entries of a report's contents list, as (number, title as LaTeX)."""
    return re.findall(r"^\\contentsline\{section\}\{\\numberline\{(\d+)\}(.*?)\}\{\\pageref\*", tex, flags=re.M)


@pytest.mark.build
@pytest.mark.parametrize("sheet", SHEETS)
def test_each_question_has_the_number_the_solutions_give_it_in_the_contents_and_the_html(built, sheet):
    solutions, handout = built[sheet]
    loaded = load_sheet(ROOT / "mlemap" / "sheets" / f"{sheet}.py")
    titles = [render.tex(q.heading(k)) for k, q in enumerate(loaded.questions, 1)]
    asked = numbered_contents((handout / "report.tex").read_text())
    solved = numbered_contents((solutions / "report.tex").read_text())
    assert [t for _, t in asked] == titles  # every question numbered, in order; the data and colophon are not
    assert asked == [(n, t) for n, t in solved if t in titles] and [n for n, _ in asked] == [
        str(k) for k in range(1, len(titles) + 1)
    ]
    assert len(re.findall(r"^\\section\{", (handout / "report.tex").read_text(), flags=re.M)) == len(
        re.findall(r"^\\contentsline\{section\}", (handout / "report.tex").read_text(), flags=re.M)
    )
    page = (handout / "report.html").read_text()
    numbers = re.findall(r'<h2 id="sec-\d+"><span class="secno">(\d+)</span>', page)
    assert numbers == [n for n, _ in asked]
    assert re.findall(r'<a href="#(sec-\d+)">', page) == re.findall(r'<h2 id="(sec-\d+)">', page)  # the contents


@pytest.mark.build
@pytest.mark.parametrize("sheet", SHEETS)
def test_the_generator_and_its_seed_are_named_in_the_colophon_only(built, sheet):
    _, handout = built[sheet]
    body, colophon = (handout / "report.md").read_text().split("\n## Colophon\n")
    prose = re.sub(r"```.*?```", "", body, flags=re.S)  # the sheet's own code may seed its generator
    assert not re.search(r"NumPy|numpy|default_rng|\bseed", prose)
    if "independent draws from this model" in prose:
        assert "numpy.random.default_rng(" in colophon and "seed" in colophon


@pytest.mark.build
def test_a_model_given_before_is_named_with_the_section_that_gives_it(built):
    _, handout = built["exercise3"]
    text = (handout / "report.md").read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    titles = [sec.split("\n", 1)[0] for sec in sections]
    named = re.findall(r"^- \*\*Model and data:\*\* (.*?), as given in Section (\d+), (.*?)\.$", text, flags=re.M)
    assert len(named) >= 3 and "previous section" not in text
    for model, number, title in named:  # the section named gives the model in full, under that title
        assert titles[int(number) - 1] == title
        assert f"**Model:** {model}. The observations" in sections[int(number) - 1]
    praxis3 = sections[titles.index("Praxis 3: stochastic gradients")]
    assert "as given in Section 10, Praxis 1" in praxis3  # not Praxis 2, which gives a second model


@pytest.mark.build
def test_matrices_on_the_students_sheet_are_displayed_at_display_size(built):
    _, handout = built["exercise3"]
    page = (handout / "report.html").read_text()
    tables = re.findall(r"<mtable[^>]*>", page)
    assert tables and all('displaystyle="true"' in t for t in tables)
    tex = (handout / "report.tex").read_text()
    displayed = re.findall(r"\\begin\{dmath\*\}[^$]*?\\begin\{pmatrix\}", tex)
    assert displayed and len(displayed) == tex.count(r"\begin{pmatrix}")  # never inline: a display of its own


def test_a_normal_density_with_a_known_covariance_is_given_in_matrix_form():
    from mlemap.sheets.exercise3 import ANISOTROPIC

    words, formula = questions.normal_form(ANISOTROPIC)
    assert r"\mathcal{N}(\mathbf{x} \mid \boldsymbol{\mu}, \Sigma)" in formula and r"\Sigma^{-1}" in formula
    assert r"\mathbf{x} = (x_{1}, x_{2})^\top" in words
    model = questions.model_items(ANISOTROPIC)[0]
    assert formula in model["math"] and "19" not in model["math"]  # no entry of the inverse multiplied out
    # the same constants with a density that is not N(x | mu, Sigma): written out, never called normal
    x1, x2 = ANISOTROPIC.data
    m1 = ANISOTROPIC.param_symbols[0]
    wrong = dataclasses.replace(ANISOTROPIC, density=ANISOTROPIC.density * sp.exp(-((x1 - m1) ** 2)))
    assert questions.normal_form(wrong) is None
    assert r"\mathcal{N}" not in questions.model_items(wrong)[0]["math"]
    shifted = dataclasses.replace(ANISOTROPIC, density=ANISOTROPIC.density.subs(x2, x2 - 1))
    assert questions.normal_form(shifted) is None


@pytest.mark.build
def test_the_praxis_defines_its_log_likelihood_and_gives_the_helper_code_and_sub_steps(built):
    _, handout = built["exercise3"]
    text = (handout / "report.md").read_text()
    praxis = text[text.index("## Praxis 1") :]
    assert praxis.index(r"L(\mu) := \log p(D; \mu, \Sigma)") < praxis.index("> Find the maximum of $L(\\mu)$")
    assert "def L(X, mu, sigma):" in praxis and "def vizualize(X, mus, sigma):" in praxis
    assert re.search(r"^1\. Implement a function that initialises", praxis, flags=re.M)
    assert re.search(r"^3\. How and why do these methods differ\?", praxis, flags=re.M)
    assert r"\Sigma = \begin{pmatrix} 5 & 0 \cr  0 & 5 \end{pmatrix} = 5 I" in praxis


@pytest.mark.build
def test_the_helper_code_draws_the_sample_of_the_data_file(built):
    """The sheet's code, its seed and n put in, draws exactly the sample the CSV file holds (and the study used)."""
    _, handout = built["exercise3"]
    code = re.search(r"```python\n(.*?)```", (handout / "report.md").read_text(), flags=re.S)[1]
    drawing = code[: code.index("plt.scatter")].replace("import torch\n", "")
    scope: dict = {}
    exec(drawing, scope)  # the sheet's own code, as printed: numpy and matplotlib only up to here
    columns = csv_columns(handout)["praxis_mean_2d.csv"]
    sample = np.column_stack([np.array(columns[name], float) for name in ("x1", "x2")])
    assert np.array_equal(scope["data"], sample)


@pytest.mark.build
@pytest.mark.skipif(not HAS_LATEX, reason="needs latexmk and pdflatex")
def test_the_students_sheet_compiles_to_a_pdf_without_overfull_lines(built):
    _, handout = built["exercise3"]
    assert (handout / "report.pdf").stat().st_size > 10_000
    log = (handout / "report.log").read_text(errors="replace")
    assert [w for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log) if float(w) > 1.0] == []


x, y, z = sp.Symbol("x", real=True), sp.Symbol("y", real=True), sp.Symbol("z", positive=True)
mu, lam, theta = sp.Symbol("mu", real=True), sp.Symbol("lambda", positive=True), sp.Symbol("theta", positive=True)
LONG = tuple(round(0.01 * k - 1.5, 2) for k in range(300))
NORMAL = Model(
    "long_normal",
    "Normal mean, known variance",
    (x,),
    (Parameter(mu, sp.Reals, "mean"),),
    sp.exp(-((x - mu) ** 2) / 2) / sp.sqrt(2 * sp.pi),
    prior=sp.exp(-((mu - 1) ** 2) / (2 * sp.Rational(1, 4))),
    observed={x: LONG},
)
PAIRS = Model(
    "pairs",
    "Pairs",
    (x, y),
    (Parameter(mu, sp.Reals, "slope"),),
    sp.exp(-((y - mu * x) ** 2) / 2),
    covariates=(x,),
    observed={x: (1, 2, 3), y: (0.5, 1.25, 2.0)},
)
COUNTS = Model(
    "counts",
    "Counts with a gamma prior",
    (z,),
    (Parameter(lam, sp.Interval.open(0, sp.oo), "rate"),),
    lam * sp.exp(-lam * z),
    prior=lam**2 * sp.exp(-3 * lam),
    simulate=lambda rng, n, t: {"z": rng.exponential(1 / t["lambda"], n)},
    truth={"lambda": 2.5},
)


def small_handout(seed: int = 7):
    sheet = Sheet(
        "A sheet",
        (
            Estimate("one", "What is the MAP of $\\mu$?", NORMAL, setup=("Let $D$ be the data.", "$$D = (x_i)$$")),
            Estimate("two", "What is the MLE of the slope?", PAIRS, title="Slope"),
            OptimizerStudy(
                "three", "Ascend.", COUNTS, n=40, steps=("Start at 1.", "Stop."), code="seed = $seed\nn = $n\n"
            ),
        ),
    )
    numbered = ReportPlan(sheet, Settings(seed=seed)).questions()
    return sheet, questions.handout(sheet, numbered, seed, None)


def test_a_sheet_gets_its_setup_data_appendix_and_files_from_its_declarations(tmp_path):
    sheet, doc = small_handout()
    # an untitled question is headed by its number and what it asks: the model's title, or the kind's subject
    assert [s.title for s in doc.sections] == [
        "Question 1: Normal mean, known variance",
        "Slope",
        "Question 3: gradient ascent and optimizers",
        "Data",
        "Colophon",
    ]
    first = doc.sections[0].blocks
    assert first[0] == {"kind": "text", "text": "Let $D$ be the data."} and first[1] == {
        "kind": "math",
        "latex": "D = (x_i)",
    }
    given = [e for b in first if b["kind"] == "given" for e in b["entries"]]
    prior = next(e for e in given if e["label"] == "Prior")["text"]
    assert "normal prior $N(1, 0.25)$, its second number the variance" in prior and "deviation 0.5" in prior
    assert "listed in the appendix Data and in the file data/long_normal.csv" in given[-1]["text"]
    pairs = [e for b in doc.sections[1].blocks if b["kind"] == "given" for e in b["entries"]]
    assert "$x = (1, 2, 3)$, $y = (0.5, 1.25, 2)$" in pairs[-1]["text"]
    study = doc.sections[2].blocks
    assert {"kind": "code", "code": "seed = 7\nn = 40"} in study and {
        "kind": "items",
        "entries": ["Start at 1.", "Stop."],
    } in study
    counts = [e for b in study if b["kind"] == "given" for e in b["entries"]]
    assert "gamma prior Gamma$(3, 3)$, shape 3 and rate 3" in counts[2]["text"]
    assert "$n = 40$ independent draws" in counts[-1]["text"] and r"$\lambda = 2.5$" in counts[-1]["text"]
    assert [s.numbered for s in doc.sections] == [True, True, True, False, False]  # back matter has no number
    listed = [b["text"] for b in doc.sections[3].blocks if b["kind"] == "data"]
    assert listed[0].startswith("-1.5, -1.49, -1.48") and len(listed[1].split(", ")) == 40
    questions.write(tmp_path / "a", doc, sheet.title, "Questions", ("md", "tex", "html"))
    questions.write(tmp_path / "b", small_handout()[1], sheet.title, "Questions", ("md", "tex", "html"))
    written = sorted(p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert written == [
        "data/counts.csv",
        "data/long_normal.csv",
        "data/pairs.csv",
        "report.html",
        "report.md",
        "report.tex",
    ]
    for name in written:  # byte for byte the same from a second run
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "data" / "pairs.csv").read_text() == "x,y\n1,0.5\n2,1.25\n3,2\n"


def test_an_answers_inputs_are_its_models_data_and_constants():
    sheet, _ = small_handout()
    assert questions.answer_inputs(sheet, "two.mu_mle", "pairs") == {"data": {"x": [1, 2, 3], "y": [0.5, 1.25, 2.0]}}
    assert questions.inputs(COUNTS, 40) == {"simulated": {"n": 40, "truth": {"lambda": 2.5}}}
    assert questions.answer_inputs(sheet, "nobody.x", "pairs") == {}
    assert [questions.shown(v) for v in (2, 2.0, 0.1, sp.Rational(1, 4), -1e-7)] == ["2", "2", "0.1", "0.25", "-1e-07"]


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("x = 'µ'\n", "only printable ASCII"),
        ("s = r'\\end{lstlisting}'\n", "end"),
        ("```\n", "```"),
        (3, "must be text"),
    ],
)
def test_helper_code_that_would_break_out_of_its_block_is_refused(code, rule):
    with pytest.raises(InputError, match=re.escape(rule)):
        Estimate("q", "text", NORMAL, code=code)


def test_setup_and_steps_are_checked_like_every_text():
    with pytest.raises(InputError, match=r"its setup, item 1: the macro \\input is not allowed"):
        Estimate("q", "text", NORMAL, setup=(r"$\input{x}$",))
    with pytest.raises(InputError, match="its steps must be a tuple of texts, got str"):
        Estimate("q", "text", NORMAL, steps="one step")  # type: ignore[arg-type]


def test_the_seed_text_of_the_praxis_is_declared_on_the_sheet():
    loaded = load_sheet(ROOT / "mlemap" / "sheets" / "exercise3.py")
    praxis = {q.key: q for q in loaded.questions}["praxis"]
    assert any(r"L(\mu) := \log p(D; \mu, \Sigma)" in p for p in praxis.setup) and len(praxis.steps) == 3
    assert textwrap.dedent(praxis.code).startswith("import numpy as np") and "$seed" in praxis.code
