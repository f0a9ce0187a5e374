"""The staff's companion reads as the solutions do: its prose has no e-notation (a x 10^k instead), and a
parameter is named by its symbol, never by its name in code (sigma^2), in prose and in the table of checks."""

from __future__ import annotations

import re

import pytest

from mlemap.reports.build import build
from mlemap.reports.plan import Settings
from mlemap.sheets import DEFAULT_SHEET

E_NOTATION = re.compile(r"\d[eE][+-]?\d")
CODE_NAME = re.compile(r"(?<![\\\w])(sigma|mu|theta|lambda)\^?\d?:")  # sigma^2: as a label, outside math


@pytest.fixture(scope="module")
def companion(tmp_path_factory):
    out = tmp_path_factory.mktemp("companion") / "r"
    settings = Settings(seed=0, sheet_path=DEFAULT_SHEET, variant="companion")
    build(settings, out, ("md",), log=lambda s: None)
    return (out / "report.md").read_text()


def prose(markdown: str) -> str:
    """The paragraphs: no table row, no displayed formula."""
    without_math = re.sub(r"^\$\$\n.*?\n\$\$$", "", markdown, flags=re.S | re.M)
    return "\n".join(line for line in without_math.splitlines() if not line.startswith("|"))


def test_prose_helper_sees_e_notation_where_it_is():
    assert E_NOTATION.search(prose("the two differ by at most 1.5e-04.\n| a | 1e-12 |"))
    assert not E_NOTATION.search(prose("| a | 1e-12 |\n$$\n1e-3\n$$"))
    assert CODE_NAME.search("| sigma^2: derived |") and not CODE_NAME.search(r"$\sigma^{2}$: derived")


@pytest.mark.build
def test_the_companions_prose_has_no_e_notation_and_no_names_from_code(companion):
    assert "## Appendix" in companion and "## Verification" in companion
    assert not E_NOTATION.findall(prose(companion))
    assert not CODE_NAME.findall(companion)
    assert r"\times 10^{" in companion  # the prior's weight: the small gap as a power of ten
