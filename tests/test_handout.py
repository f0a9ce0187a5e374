"""The report reads as a handout: nothing scaled, no overfull line, Markdown that GitHub renders, and every
displayed step proved. One build of Exercise 3 (PDF where LaTeX is installed) serves every test here."""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path

import pytest

from mlemap.reports.render import md
from tests.reprove import reproved

pytestmark = pytest.mark.build
HAS_LATEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None
INLINE_MATH = re.compile(r"(?<!\$)\$[^$\n]+\$(?!\$)")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from mlemap.reports.cli import main

    out = tmp_path_factory.mktemp("handout") / "report"
    formats = "md,tex,pdf,html" if HAS_LATEX else "md,tex,html"
    assert main(["--out", str(out), "--format", formats]) == 0
    return out


def test_the_text_holds_no_control_character(built):
    """A backslash escape gone wrong (\\t of \\times read as a tab) shows as a control character."""
    for name in ("report.md", "report.tex"):
        assert not re.search(r"[\x00-\x08\x0b-\x1f]", (built / name).read_text()), name


def test_no_equation_or_table_is_scaled(built):
    tex = (built / "report.tex").read_text()
    assert not re.search(r"\\(resizebox|scalebox)", tex)
    # a figure may shrink to the room left (never grow): adjustbox wraps only graphics
    uses = re.findall(r"\\adjustbox\{[^}]*\}\{(\\\w+)", tex)
    assert uses and set(uses) == {r"\includegraphics"}


@pytest.mark.skipif(not HAS_LATEX, reason="needs latexmk and pdflatex")
def test_no_line_is_overfull_by_more_than_a_point(built):
    log = (built / "report.log").read_text(errors="replace")
    overfull = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert [w for w in overfull if w > 1.0] == []


def test_markdown_inline_math_has_no_escaped_braces_and_no_rows(built):
    text = (built / "report.md").read_text()
    inline = INLINE_MATH.findall(text)
    assert inline and not [m for m in inline if "\\{" in m or "\\}" in m or "\\\\" in m]
    for block in re.findall(r"\$\$\n(.*?)\n\$\$", text, flags=re.S):
        assert "\n" not in block, block  # one equation per display


def test_the_markdown_filter_rewrites_braces_only_inside_math():
    assert md(r"a set $\{x_1\}$ and \{ prose") == r"a set $\lbrace x_1\rbrace $ and \{ prose"


def test_every_displayed_step_is_in_steps_json_proved_and_reproved(built):
    records = json.loads((built / "steps.json").read_text())
    questions = {r["question"] for r in records}
    assert {"task1", "task2"} <= questions and all(r["status"] == "proved" for r in records)
    assert all(reproved(r) for r in records)
    tex = (built / "report.tex").read_text()
    for r in records:
        for line in r["latex"].split("\n"):
            assert line in tex, (r["question"], r["step"])


def test_every_png_is_at_least_1200_pixels_wide(built):
    widths = {png.name: struct.unpack(">I", png.read_bytes()[16:20])[0] for png in (built / "figures").glob("*.png")}
    assert widths and {name: w for name, w in widths.items() if w < 1200} == {}


def too_precise(markdown: str) -> list[str]:
    """Decimal numbers in prose and tables (display math aside) with more than 4 significant digits."""
    prose = re.sub(r"\$\$.*?\$\$", "", markdown, flags=re.S)
    numbers = re.findall(r"(?<![\w.^_{])-?\d+\.\d+(?:[eE][-+]?\d+)?", prose)
    return [v for v in numbers if len(re.split("[eE]", v)[0].replace("-", "").replace(".", "").lstrip("0")) > 4]


def e_notation(markdown: str) -> list[str]:
    """Numbers such as 5.278e-05 in prose and tables (math and code aside): a reader gets a x 10^k or words."""
    prose = re.sub(r"```.*?```|\$\$.*?\$\$|\$[^$]*\$", "", markdown, flags=re.S)
    return re.findall(r"\b\d+(?:\.\d+)?[eE][-+]?\d+\b", prose)


def long_numbers(markdown: str) -> list[str]:
    """Exact numbers of more than 12 digits anywhere a reader looks (code aside): 35184372088832/205891132094649
    is (8/9)^15."""
    return re.findall(r"\d{13,}", re.sub(r"```.*?```", "", markdown, flags=re.S))


def test_no_e_notation_in_prose_and_no_exact_number_beyond_twelve_digits(built):
    text = (built / "report.md").read_text()
    assert e_notation(text) == [] and long_numbers(text) == []
    assert e_notation("rates of 5.278e-05, and $10^{-6}$ in math") == ["5.278e-05"]
    assert long_numbers("$\\frac{35184372088832}{205891132094649}$ and 123456789012") == [
        "35184372088832",
        "205891132094649",
    ]


def test_prose_and_tables_use_at_most_four_significant_digits(built):
    assert too_precise((built / "report.md").read_text()) == []
    assert too_precise("a 0.4472 and 12.5 but 0.305572809000084 and 3.9684e+07") == ["0.305572809000084", "3.9684e+07"]


def test_a_rounding_error_is_shown_as_a_bound():
    from mlemap.reports.document import error_text

    assert [error_text(v) for v in (1.35e-17, -2e-13, 2.5e-12, 0.0296)] == ["< 1e-12", "< 1e-12", "2.5e-12", "0.0296"]


IDENTIFIER = re.compile(r"\b[A-Za-z]+_[A-Za-z0-9_]+\b|\bmlemap\b|\bengine\b|\b\w+\.(?:py|json)\b")


def code_identifiers(text: str) -> list[str]:
    """Names from the code (snake_case, file names, the program's name) in what a reader sees: math, figure
    files and the colophon aside."""
    body = re.split(r"^## Colophon$|\\section\{Colophon\}", text, flags=re.M)[0]
    for hidden in (
        r"```.*?```",
        r"\\begin\{lstlisting\}.*?\\end\{lstlisting\}",
        r"\$\$.*?\$\$",
        r"\$[^$]*\$",
        r"\\begin\{dmath\*\}.*?\\end\{dmath\*\}",
        r"\\includegraphics[^\n]*",
        r"\]\(figures/[^)]*\)",
    ):
        body = re.sub(hidden, "", body, flags=re.S)
    return IDENTIFIER.findall(body)


def test_no_code_identifier_outside_the_colophon(built):
    for name in ("report.md", "report.tex"):
        text = (built / name).read_text()
        assert code_identifiers(text) == [], name
        assert "mlemap" in text.split("Colophon")[-1]
    assert code_identifiers("the peer check stats_rewrite of coin_map_sd in sheets/exercise3.py") == [
        "stats_rewrite",
        "coin_map_sd",
        "exercise3.py",
    ]


@pytest.mark.parametrize("sheet", ["exercise3", "exercise4"])
def test_the_questions_variant_asks_everything_and_answers_nothing(tmp_path, sheet):
    """Every question of the sheet, numbered; no answer of the solutions' answers.json, neither its exact form
    nor its value; no answers.json or steps.json beside it."""
    from mlemap.reports.cli import main
    from tests.golden_reports import ROOT

    path = ROOT / "mlemap" / "sheets" / f"{sheet}.py"
    out = tmp_path / "questions"
    assert main(["--sheet", str(path), "--variant", "questions", "--out", str(out), "--format", "md,tex"]) == 0
    text = (out / "report.md").read_text().split("\n## Data\n")[0]  # a long sample's values may match an answer's
    # the data beside it (data/<model>.csv), never answers.json or steps.json
    assert sorted(p.name for p in out.iterdir()) == [".mlemap-report", "data", "report.md", "report.tex"]
    from mlemap.derivations.sheet import answers, load_sheet

    loaded = load_sheet(path)
    assert all(md(q.text) in text for q in loaded.questions)
    for a in answers(loaded):
        shown = [a.latex] if a.latex and len(a.latex) > 3 else []
        shown += [f"{a.value:.4g}", f"{a.value:.3g}"] if a.value is not None and not float(a.value).is_integer() else []
        assert not [s for s in shown if s in text], a.key


def test_the_generic_report_of_a_second_sheet_reads_as_a_handout_too(tmp_path):
    from mlemap.reports.cli import main
    from tests.golden_reports import ROOT

    out = tmp_path / "e4"
    assert main(["--sheet", str(ROOT / "mlemap" / "sheets" / "exercise4.py"), "--out", str(out), "--format", "md"]) == 0
    text = (out / "report.md").read_text()
    assert code_identifiers(text) == [] and too_precise(text) == []
    assert e_notation(text) == [] and long_numbers(text) == []
    assert text.index("## Answers at a glance") < text.index("## Question 1") < text.index("## Colophon")


@pytest.mark.skipif(not HAS_LATEX, reason="needs latexmk and pdflatex")
def test_the_solutions_fit_twelve_pages(built):
    """The handout, its appendix now in the companion: at most 12 pages (issue 29's acceptance)."""
    import subprocess

    info = subprocess.run(["pdfinfo", str(built / "report.pdf")], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, flags=re.M).group(1))
    assert pages <= 12, pages


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parent.parent / "build" / "screenshots" / "report-html.png"


def test_the_html_report_is_one_self_contained_file(built):
    page = (built / "report.html").read_text()
    assert "<script" not in page and not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    figures = re.findall(r"!\[Figure \d+", (built / "report.md").read_text())
    assert page.count('<img src="data:image/png;base64,') == len(figures) > 0
    assert "<math" in page and "$" not in re.sub(r"<math.*?</math>", "", page, flags=re.S)  # all math is MathML


def test_the_html_report_in_a_real_browser_draws_every_formula_and_figure(built):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the test dependencies")
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (apt-get install chromium; .ci/run installs it)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        remote = []
        page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(("data:", "file:")) else None)
        page.goto((built / "report.html").as_uri())
        page.wait_for_load_state("load")
        seen = page.evaluate("""() => ({
            images: [...document.images].map(i => i.complete ? i.naturalWidth : 0),
            formulas: document.querySelectorAll("math").length,
            errors: document.querySelectorAll("merror").length,
            blank: [...document.querySelectorAll("math")].filter(m => m.getBoundingClientRect().width === 0).length})""")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
        browser.close()
    assert remote == []
    assert seen["images"] and min(seen["images"]) >= 1200
    assert seen["formulas"] > 100 and seen["errors"] == 0 and seen["blank"] == 0
    assert SCREENSHOT.stat().st_size > 10_000
