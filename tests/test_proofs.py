"""Every displayed step of a report is proved when the report is built: steps.json lists them, each one
re-proved here by an independent method, and a step that does not hold stops the build, naming it."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.reprove import reproved

GAUSSIAN_SHEET = """
import sympy as sp
from derivations.engine import n_obs as n
from derivations.proof import over_observations
from derivations.sheet import Estimate, Sheet
from sheets.catalogue import GAUSSIAN, x

xbar = sp.Symbol(r"\\bar{x}", real=True)
MEANS = {xbar: over_observations(x, (x,), n) / n}
SHEET = Sheet(
    title="One Gaussian",
    questions=(
        Estimate("q1", "The MLE of mu and sigma^2?", GAUSSIAN,
                 familiar={"mu": xbar, "sigma^2": over_observations((x - xbar) ** 2, (x,), n) / DIVISOR}, where=MEANS),
    ),
)
"""


def sheet_file(tmp_path, divisor: str):
    path = tmp_path / "gaussian_sheet.py"
    path.write_text(textwrap.dedent(GAUSSIAN_SHEET).replace("DIVISOR", divisor))
    return path


@pytest.mark.build
def test_every_step_of_a_build_is_proved_and_reproved_independently(tmp_path):
    from reports.cli import main

    out = tmp_path / "report"
    assert main(["--sheet", str(sheet_file(tmp_path, "n")), "--out", str(out), "--format", "md"]) == 0
    records = json.loads((out / "steps.json").read_text())
    assert {r["question"] for r in records} == {"q1"} and len(records) >= 7
    shown = (out / "report.md").read_text()
    assert all(r["status"] == "proved" and all(line in shown for line in r["latex"].split("\n")) for r in records)
    assert all(reproved(r, seed) for r in records for seed in (0, 1))
    familiar = [r for r in records if r["step"].endswith("in its familiar form")]
    assert [r["step"] for r in familiar] == [
        r"MLE of $\mu$ in its familiar form",
        r"MLE of $\sigma^{2}$ in its familiar form",
    ]


@pytest.mark.build
def test_a_step_that_does_not_hold_stops_the_build_naming_it(tmp_path, capsys):
    from reports.cli import main

    out = tmp_path / "report"
    assert main(["--sheet", str(sheet_file(tmp_path, "(n - 1)")), "--out", str(out), "--format", "md"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        r"error: step 'prove' failed: UnprovedStep: question q1, step 'MLE of $\sigma^{2}$ in its familiar form': SymPy cannot prove \hat{\sigma}^{2} = "
    ), err
    assert not out.exists()
