"""The HTML's MathML is typeset as the PDF's TeX: a matrix's entries at display size, an operator name (log, exp,
bias) a thin space from its neighbours, ~ and := relations, and brackets around a flat formula unstretched; the
section numbers skip the front and back matter, so that a question has one number in every variant."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mlemap.reports.document import Section, at_a_glance, colophon, number
from mlemap.reports.render import THIN, numbers, safe_mathml


def tree(latex: str, display: str = "block") -> ET.Element:
    return ET.fromstring(safe_mathml(latex, display))


def operators(root: ET.Element) -> dict[str, dict[str, str]]:
    """Each operator's attributes by its text."""
    return {e.text or "": dict(e.attrib) for e in root.iter("{http://www.w3.org/1998/Math/MathML}mo")}


def tags(root: ET.Element) -> list[str]:
    return [e.tag.rsplit("}", 1)[-1] for e in root.iter()]


@pytest.mark.parametrize("display", ["block", "inline"])
def test_a_matrix_is_set_at_display_size(display):
    root = tree(r"\begin{pmatrix} \frac{1}{2} & 0 \\ 0 & 1 \end{pmatrix}", display)
    tables = list(root.iter("{http://www.w3.org/1998/Math/MathML}mtable"))
    assert tables and all(t.get("displaystyle") == "true" for t in tables)
    assert all(e.get("scriptlevel") is None for e in root.iter())


def test_an_operator_name_is_a_thin_space_from_its_neighbours_but_not_from_a_bracket():
    spaced = operators(tree(r"n \log p"))["log"]
    assert (spaced["lspace"], spaced["rspace"]) == (THIN, THIN)
    assert operators(tree(r"\log\left(p\right)"))["log"]["rspace"] == "0"  # log(p): no space before the bracket
    assert operators(tree(r"a + \exp x"))["exp"]["lspace"] == "0"  # the + spaces itself
    bias = operators(tree(r"\operatorname{bias}\left(\hat\theta\right) = 0"))["bias"]
    assert (bias["lspace"], bias["rspace"]) == ("0", "0")  # first in its row, then a bracket
    limits = tree(r"a \max_{\mu} L")
    assert tags(limits).count("mspace") == 2 and operators(limits)["max"]["rspace"] == "0"  # the whole is spaced


def test_relations_are_relations():
    assert "\u223c" in operators(tree(r"x_i \sim N(\mu, \sigma^2)"))  # ~ as the relation, not a letter
    assert ":=" in operators(tree(r"L(\mu) := \log p"))  # one relation, not a colon and an equals sign
    iff = operators(tree(r"a = 0 \iff b = 0"))["\u27fa"]  # an operator, not a letter
    assert float(iff["lspace"].removesuffix("em")) >= 0.5  # TeX's \iff: a thick space more than a relation's
    bars = operators(tree(r"k = |\hat D|"))["|"]
    assert (bars["lspace"], bars["rspace"]) == ("0", "0")  # an absolute value, not a relation


def test_brackets_stretch_only_around_something_tall():
    flat = [e for e in tree(r"\log\left(p\right)").iter() if e.get("fence") == "true"]
    tall = [e for e in tree(r"\left(\frac{1}{2}\right)").iter() if e.get("fence") == "true"]
    summed = [e for e in tree(r"\left(\sum_{i=1}^{n} x_i\right)").iter() if e.get("fence") == "true"]
    assert [e.get("stretchy") for e in flat] == ["false", "false"]
    assert [e.get("stretchy") for e in tall + summed] == ["true"] * 4


def test_typeset_mathml_is_still_only_mathml():
    shown = safe_mathml(r"\text{<script>alert(1)</script>} \log x")
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert safe_mathml(r"\href{javascript:alert(1)}{x}").startswith("<code>")


def test_front_and_back_matter_have_no_number_and_questions_count_from_one():
    sections = [at_a_glance([]), Section("a", "A"), Section("b", "B"), Section("c", "C", 2), colophon(0)]
    assert numbers(sections) == ["", "1", "2", "2.1", ""]
    assert numbers([Section("a", "A"), Section("b", "B")]) == ["1", "2"]


def test_a_small_number_is_written_as_a_power_of_ten():
    assert number(1.537e-4) == r"$1.537 \times 10^{-4}$" and "e-" not in number(1.5e-4)
    assert number(0.0123) == "0.0123"
