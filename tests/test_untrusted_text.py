"""Text from outside is data: a question's text, labels and key, a sheet's title, a model's name and title never
read or write a file through LaTeX, never put markup into the HTML, and never name a path outside --out."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from mlemap.catalogue import EXPONENTIAL
from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import Estimate, Sheet
from mlemap.reports.render import prose, safe_mathml

ATTACKS = [
    (r"$\input{/etc/passwd}$", r"\\input"),
    (r"$x + \text{\input{/etc/passwd}}$", r"\\input"),
    (r"$\openout5=answers.json \write5{x}$", r"\\openout"),
    (r"$\immediate\write18{rm -rf /}$", r"\\immediate"),
    (r"$\catcode`\^=12$", r"\\catcode"),
    (r"$\def\x{\input}\x$", r"\\def"),
    (r"$\csname input\endcsname{/etc/passwd}$", r"\\csname"),
    (r"$^^5cinput{/etc/passwd}$", r"\^\^"),
    (r"$\href{javascript:alert(1)}{x}$", r"\\href"),
    (r"$\begin{document}x\end{document}$", r"environment 'document'"),
    (r"cost $5 and more", r"unmatched \$"),
]


@pytest.mark.parametrize(("text", "named"), ATTACKS, ids=[a[1].strip("\\") for a in ATTACKS])
def test_a_question_text_with_a_non_math_macro_is_refused_in_one_line(text, named):
    with pytest.raises(InputError, match=named) as err:
        Estimate("q1", text, EXPONENTIAL)
    assert "\n" not in str(err.value) and str(err.value).startswith("question q1: its text")


@pytest.mark.parametrize(
    "text",
    [
        r"What is the MLE of $\mu$ and $\sigma^2$ for $x_i \sim \mathcal{N}(\mu, \sigma^2)$?",
        r"Show $\hat\theta = \frac{1}{n}\sum_{i=1}^n x_i$ and $\bar{x} \le \max_i x_i$.",
        r"$\text{a<b and R&D}$, $p(\theta) = \begin{cases} 1 & 0 < \theta < 1 \\ 0 & \text{else} \end{cases}$",
        "Plain text with <b>markup</b>, 100% & a \\input outside math (escaped when rendered).",
    ],
)
def test_the_math_a_course_writes_is_accepted(text):
    assert Estimate("q1", text, EXPONENTIAL).text == text


@pytest.mark.parametrize("key", ["../../ESCAPED", "a/b", "..", "", "x" * 81, "q 1", "-q", 3])
def test_a_key_that_could_name_a_path_is_refused(key):
    with pytest.raises(InputError, match="a key must be"):
        Estimate(key, "?", EXPONENTIAL)


def test_a_sheet_title_and_a_model_title_are_checked_like_question_texts():
    from dataclasses import replace

    with pytest.raises(InputError, match=r"^the sheet's title: the macro \\input"):
        Sheet(r"Week 5 $\input{x}$", ())
    hostile = replace(EXPONENTIAL, title=r"rate $\write18{x}$")
    with pytest.raises(InputError, match=r"^exponential: its title: the macro \\write"):
        Sheet("Week 5", (Estimate("q1", "?", hostile),))
    with pytest.raises(InputError, match="must be text"):
        Sheet(None, ())  # type: ignore[arg-type]


def test_text_in_html_math_is_escaped_and_links_are_dropped():
    shown = safe_mathml(r"\text{<script>alert(1)</script> a<b & c}")
    root = ET.fromstring(shown)  # well-formed: the text is entities, not elements
    assert [e.tag.rsplit("}", 1)[-1] for e in root.iter()] == ["math", "mrow", "mtext"]
    assert "<script>" in "".join(root.itertext())
    assert safe_mathml(r"\href{javascript:alert(1)}{x}").startswith("<code>")
    assert "<script" not in str(prose("a <script>x</script> b $\\frac{1}{2}$"))


@pytest.mark.build
def test_a_report_prints_hostile_looking_text_as_text(tmp_path):
    """Markup and specials outside math are printed as typed: in the PDF's text and in the HTML, no element."""
    from mlemap.reports.cli import main

    sheet = tmp_path / "hostile.py"
    sheet.write_text(
        "from mlemap.derivations.sheet import Estimate, Sheet\n"
        "from mlemap.catalogue import EXPONENTIAL\n"
        "SHEET = Sheet(title='Week <i>5</i> & 100%', questions=(\n"
        "    Estimate('q1', r'Rate? <script>alert(1)</script> \\input{/etc/passwd} $\\text{a<b & c}$', EXPONENTIAL),\n"
        "))\n"
    )
    out = tmp_path / "r"
    formats = "md,html,tex,pdf" if shutil.which("latexmk") else "md,html,tex"
    assert main(["--sheet", str(sheet), "--out", str(out), "--format", formats]) == 0
    page = (out / "report.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<i>5</i>" not in page
    if shutil.which("pdftotext") and (out / "report.pdf").exists():
        text = subprocess.run(["pdftotext", str(out / "report.pdf"), "-"], capture_output=True, text=True).stdout
        assert "\\input{/etc/passwd}" in text and "root:" not in text
