"""The handouts' layout, checked on the PDF LaTeX made and the page a browser draws: every shipped sheet and a
stress sheet (tests/stress_sheet.py: 40 models with 150-character titles) build with no overfull box, every
glyph inside the text block, every check of the verification as a row of its table, each answer at a glance
linked to the section that derives it, and no formula or table that widens the HTML page."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mlemap.reports import sheet_document
from mlemap.reports.cli import parser
from mlemap.reports.document import Section
from mlemap.reports.render import anchors, answer_links, columns

ROOT = Path(__file__).resolve().parent.parent
SHEETS = {
    "exercise3": ROOT / "mlemap" / "sheets" / "exercise3.py",
    "exercise4": ROOT / "mlemap" / "sheets" / "exercise4.py",
    "stress": ROOT / "tests" / "stress_sheet.py",
}
HAS_TOOLS = all(shutil.which(t) for t in ("latexmk", "pdflatex", "pdftotext"))
# the verification table is the companion's where the command line offers one, else the solutions'
VARIANT_CHOICES = next(a.choices for a in parser()._actions if a.dest == "variant")
TABLE_VARIANT = "companion" if "companion" in VARIANT_CHOICES else "solutions"
VARIANTS = tuple(dict.fromkeys(("solutions", TABLE_VARIANT)))
BUILDS = [(sheet, variant) for sheet in SHEETS for variant in VARIANTS]
VERIFIED = [(sheet, TABLE_VARIANT) for sheet in SHEETS]
SOLUTIONS = [(sheet, "solutions") for sheet in SHEETS]

# A4 with 2 cm margins, in PDF points from the top left; a glyph's box may reach a little past its line
TEXT_BLOCK = (56.7, 56.7, 538.6, 785.2)  # left, top, right, bottom (the last line's baseline)
SLACK = 2.0
DEPTH = 5.0  # article's \maxdepth: what hangs below the last baseline (a denominator, a subscript) may reach this
DESCENT = 0.22  # of a word's box from pdftotext, the share below its baseline (Latin Modern's descender)
ABOVE_INK = 0.3  # of a word's box, the share above a lowercase letter's ink (its font's ascender height)
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')
RESULTS = {"PASS", "SKIP", "FAIL"}


def _id(build: tuple[str, str]) -> str:
    return "-".join(build)


@pytest.fixture(scope="module", params=BUILDS, ids=_id)
def built(request, tmp_path_factory):
    """One build of a sheet's variant to PDF and HTML, with the number of checks its verification table lists
    (None where the variant has no verification table), counted from the data the table is written from."""
    if not HAS_TOOLS:
        pytest.fail("the layout tests need latexmk, pdflatex and pdftotext (poppler-utils) on PATH")
    from mlemap.reports.cli import main

    sheet, variant = request.param
    checks: list[int] = []
    original = sheet_document.verification_section

    def counted(results):
        checks.append(sum(len(v.checks) for v in results.verifications))
        return original(results)

    out = tmp_path_factory.mktemp(f"layout-{sheet}-{variant}") / "report"
    argv = ["--sheet", str(SHEETS[sheet]), "--variant", variant, "--out", str(out), "--format", "tex,pdf,html"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sheet_document, "verification_section", counted)
        assert main(argv) == 0
    return out, (checks[0] if checks else None)


def pages(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    """Each page's words with their boxes (x0, y0, x1, y1, text), from pdftotext -bbox."""
    xhtml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [
        [(float(a), float(b), float(c), float(d), html.unescape(t)) for a, b, c, d, t in WORD.findall(page)]
        for page in xhtml.split("<page ")[1:]
    ]


def outside(words, number: int) -> list[tuple]:
    """The words of page number that lie outside the text block, but for its page number in the footer: left or
    right of it, with their ink above it, or with their baseline below the depth the last line may hang down."""
    left, top, right, bottom = TEXT_BLOCK
    return [
        w
        for w in words
        if (
            w[0] < left - SLACK
            or w[2] > right + SLACK
            or w[1] + ABOVE_INK * (w[3] - w[1]) < top - SLACK
            or w[3] - DESCENT * (w[3] - w[1]) > bottom + DEPTH + SLACK
        )
        and not (w[1] > bottom and w[4] == str(number))
    ]


@pytest.mark.build
@pytest.mark.parametrize("built", BUILDS, indirect=True, ids=_id)
def test_the_latex_log_has_no_overfull_box(built):
    out, _ = built
    log = (out / "report.log").read_text(errors="replace")
    overfull = [line for line in log.splitlines() if re.match(r"Overfull \\[hv]box", line)]
    assert overfull == []


@pytest.mark.build
@pytest.mark.parametrize("built", BUILDS, indirect=True, ids=_id)
def test_every_glyph_lies_inside_the_text_block(built):
    out, _ = built
    found = pages(out / "report.pdf")
    assert found and all(found)
    strays = {k: outside(words, k) for k, words in enumerate(found, 1)}
    assert {k: v for k, v in strays.items() if v} == {}


@pytest.mark.build
@pytest.mark.parametrize("built", VERIFIED, indirect=True, ids=_id)
def test_every_check_is_a_row_of_the_verification_table(built):
    out, checks = built
    results = [w for words in pages(out / "report.pdf") for w in words if w[4] in RESULTS]
    assert checks and len(results) == checks
    left, _, right, _ = TEXT_BLOCK
    assert all(w[0] > left + 0.6 * (right - left) for w in results)  # in the table's last column, not in prose


@pytest.mark.build
@pytest.mark.parametrize("built", SOLUTIONS, indirect=True, ids=_id)
def test_each_answer_at_a_glance_links_to_its_section_and_the_contents_list_every_section(built):
    out, _ = built
    tex = (out / "report.tex").read_text()
    labels = re.findall(r"\\label\{([^}]*)\}", tex)
    headings = re.findall(r"^\\(?:sub)?section\{", tex, flags=re.M)
    glance = re.search(r"^\\section\{Answers at a glance\}\\label\{([^}]*)\}(.*?)^\\section", tex, flags=re.S | re.M)
    contents = re.findall(r"^\\contentsline\{(?:sub)?section\}", tex, flags=re.M)
    assert glance is not None and len(contents) == len(headings)
    targets = re.findall(r"\\hyperref\[([^\]]*)\]\{\(\\S", glance.group(2))  # each row's (§N)
    assert len(labels) == len(set(labels)) == len(headings)
    log = (out / "report.log").read_text(errors="replace")
    assert "Label(s) may have changed" not in log and "undefined" not in log  # page numbers and links are final
    assert len(targets) == len(json.loads((out / "answers.json").read_text()))  # a link in every row
    assert set(targets) <= set(labels) - {glance.group(1)}
    page = (out / "report.html").read_text()
    ids = set(re.findall(r'<h[23] id="([^"]*)"', page))
    links = re.findall(r'<a href="#([^"]*)"', page)
    assert ids == set(labels) and set(links) == ids  # the contents link every section, and every link lands
    assert len(links) == len(ids) + len(targets)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SCREENSHOTS = ROOT / "build" / "screenshots"


@pytest.mark.build
@pytest.mark.parametrize("built", BUILDS, indirect=True, ids=_id)
def test_at_800_pixels_only_a_formula_or_table_scrolls_never_the_page(built):
    """A formula or table wider than the column scrolls inside its own box; the page itself is never wider
    than the window."""
    from playwright import sync_api as playwright

    if CHROMIUM is None:
        pytest.fail("no chromium on PATH (apt-get install chromium; .ci/run installs it)")
    out, _ = built
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 800, "height": 1200})
        page.goto((out / "report.html").as_uri())
        page.wait_for_load_state("load")
        seen = page.evaluate("""() => ({
            page: document.documentElement.scrollWidth,
            body: document.body.getBoundingClientRect().right,
            wide: [...document.querySelectorAll("p, li, blockquote, h1, h2, h3, figcaption")]
                .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.slice(0, 60))})""")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"layout-{out.parent.name}.png"))
        browser.close()
    assert seen["page"] <= 800 and seen["body"] <= 800
    assert seen["wide"] == []


def test_an_answer_links_to_the_section_of_its_question_where_two_questions_share_a_key():
    """Exercise 3 asks Task 3a twice (two readings of its prior), each with a follow-up: an answer goes to the
    section whose key is its key's longest prefix, the first of equal keys not before the previous answer's."""
    keys = ["task1", "task3a", "task3a.p_two_tails", "task3a", "task3a.p_two_tails_sd", "praxis", "praxis.batches"]
    sections = [Section("answers", "Answers at a glance"), *(Section(k, k) for k in keys)]
    sections[0].table(("question", "exact", "value"), [("q", "", "")] * 7)
    answers = ["task1.mu_mle", "task3a.theta_map", "task3a.p_two_tails", "task3a.theta_map_sd"]
    sections[0].blocks[-1]["answers"] = [*answers, "task3a.p_two_tails_sd", "praxis.lr_bound", "absent.key"]
    ids = anchors(sections)
    assert answer_links(sections, ids) == {(0, 0): [ids[1], ids[2], ids[3], ids[4], ids[5], ids[6], None]}


def test_a_table_keeps_its_width_where_it_fits_and_else_its_columns_share_the_line():
    short = {"header": ["k", "value"], "rows": [["1", "0.5"], ["10", "0.25"]]}
    assert columns(short) == "ll"
    words = "a long description of what is compared, which must wrap inside its column " * 2
    wide = {"header": ["model", "what is compared", "result"], "rows": [[words, words, "PASS"]] * 3}
    shares = [int(n) for n in re.findall(r"\*(\d+)/1000", columns(wide))]
    assert len(shares) == 3 and sum(shares) <= 1000 and shares[0] == shares[1] > 4 * shares[2]
