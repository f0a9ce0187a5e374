"""The example notebook, run as a user runs it (nbclient, a real kernel) and converted to HTML offline (nbconvert):
every rich output has an HTML form, so the page shows formulas as MathML and tables as tables, with no MathJax and
no network, and no raw `$$` is left for a reader to decode."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "derive_verify_plot.ipynb"


@pytest.fixture(scope="module")
def executed():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    return nb


def visible_html(page: str) -> str:
    """The page as a reader sees it: without scripts (MathJax's configuration names `$$` as a delimiter) and styles."""
    return re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.DOTALL | re.IGNORECASE)


def unrendered_math(page: str) -> list[str]:
    """Display math a browser without MathJax would show raw: `$$`, and `\\[` or `\\frac` outside a code cell."""
    shown = re.sub(r'<div class="highlight[^"]*">.*?</div>', "", visible_html(page), flags=re.DOTALL)
    return re.findall(r"\$\$|\\\[|\\frac", shown)


def test_the_example_notebook_runs_and_shows_rich_outputs(executed):
    outputs = [o for cell in executed.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    kinds = [sorted(o.get("data", {})) for o in outputs]
    rich = ["text/html", "text/latex", "text/markdown", "text/plain"]
    assert kinds.count(rich) == 3  # the derivation, the checks, the summary
    assert ["image/png", "text/plain"] in kinds
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Log-likelihood:" in printed and "LR 95% interval" in printed  # the summary in fixed columns


def test_the_offline_html_has_no_unrendered_math(executed):
    nbconvert = pytest.importorskip("nbconvert")
    page, _ = nbconvert.HTMLExporter().from_notebook_node(executed)
    shown = visible_html(page)
    assert unrendered_math(page) == []
    assert shown.count("<math") >= 7 and "&lt;math" not in shown  # six stages and a hatted name, as MathML elements
    assert 'class="mlemap-summary"' in shown and "AIC:" in shown


def test_the_math_check_finds_raw_math_in_a_page():
    """The check above can fail: a Markdown output with display math, as the notebook showed before HTML reprs."""
    page = '<script>displayMath: [["$$", "$$"]]</script><div class="output"><p>$$ \\frac{a}{b} $$</p></div>'
    assert unrendered_math(page) == ["$$", "\\frac", "$$"]
    assert unrendered_math('<script>$$</script><div class="highlight hl-ipython3"><pre>"$$"</pre></div>') == []
