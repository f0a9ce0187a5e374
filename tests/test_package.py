"""The package where users work: the mlemap command, notebooks, a user's own pytest suite, JUnit for CI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import sympy as sp

from mlemap.catalogue import derivation
from mlemap.derivations.sheet import answers, load_sheet
from mlemap.numerics.checks import CheckResult
from mlemap.numerics.testing import VerificationFailed, assert_passed, assert_verified, junit_xml, sheet_cases
from mlemap.numerics.verify import Verification, format_table, verify
from tests.conftest import mutate

ROOT = Path(__file__).resolve().parent.parent
POISSON_SHEET = """
from mlemap.derivations.sheet import Estimate, Sheet
from mlemap.catalogue import POISSON
SHEET = Sheet(title="One Poisson", questions=(Estimate("q1", "The MLE of lambda?", POISSON),))
"""


def mlemap(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlemap.reports.console", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_mlemap_help_lists_its_commands():
    out = mlemap("--help")
    assert out.returncode == 0
    for command in ("report", "verify", "derive"):
        assert f"    {command}" in out.stdout


def test_mlemap_report_help_is_the_report_s_own_options():
    out = mlemap("report", "--help")
    assert out.returncode == 0 and out.stdout.startswith("usage: mlemap report")
    assert "--format" in out.stdout and "--sheet" in out.stdout


def test_mlemap_derive_prints_the_derivation_stage_by_stage():
    out = mlemap("derive", "mlemap/catalogue.py:POISSON")
    assert out.returncode == 0, out.stderr
    titles = [line for line in out.stdout.splitlines() if line.endswith(":")]
    assert (
        titles[0].startswith("log-density")
        and "MLE of lambda:" in titles
        and titles[-1].startswith("leading principal minors")
    )
    assert "Σx" in out.stdout  # the statistic under a readable name, not S_x


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("catalogue.py", "must be a Python file and the name of a model in it"),
        ("nofile.py:X", "is not a Python file (no such file)"),
        ("mlemap/catalogue.py:x", "defines no Model or Derivation named x"),
    ],
)
def test_mlemap_derive_refuses_a_bad_target_in_one_line(target, message):
    out = mlemap("derive", target)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 2  # usage line and the error


def test_an_unknown_command_is_a_usage_error():
    out = mlemap("fit")
    assert out.returncode == 2 and "invalid choice: 'fit'" in out.stderr


def test_verify_writes_junit_xml_one_testcase_per_check(tmp_path):
    sheet = tmp_path / "poisson_sheet.py"
    sheet.write_text(textwrap.dedent(POISSON_SHEET))
    junit = tmp_path / "ci" / "checks.xml"
    out = mlemap("verify", "--sheet", str(sheet), "--json", str(tmp_path / "v.json"), "--junit", str(junit))
    assert out.returncode == 0, out.stderr
    suite = ET.parse(junit).getroot()
    cases = suite.findall("testcase")
    expected = verify(load_sheet(sheet).models[0]).checks
    assert [(c.get("classname"), c.get("name")) for c in cases[: len(expected)]] == [
        (r.model, r.check) for r in expected
    ]
    assert suite.get("failures") == "0" and suite.get("tests") == str(len(cases))


def test_junit_marks_a_failed_check_as_a_failure_and_a_skip_as_skipped():
    results = [
        CheckResult("m", "good", 1e-12, 1e-9, True),
        CheckResult("m", "bad", 0.5, 1e-9, False, "vs scipy"),
        CheckResult("m", "n/a", 0.0, 0.0, True, "skipped: no peer", skipped=True),
    ]
    suite = ET.fromstring(junit_xml(results, "sheet"))
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["bad"].find("failure") is not None and "5.000e-01" in cases["bad"].find("failure").get("message")
    assert cases["n/a"].find("skipped") is not None and cases["good"].find("failure") is None
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "1")


def test_assert_verified_passes_a_right_derivation_and_fails_a_wrong_one():
    d = derivation("poisson")
    assert assert_verified(d).passed
    (lam,) = d.params
    wrong = mutate(d, estimate={lam: 2 * d.estimate[lam]})
    with pytest.raises(VerificationFailed, match=r"poisson: .* check"):
        assert_verified(wrong)


def test_assert_passed_fails_only_a_failed_check():
    assert_passed(CheckResult("m", "ok", 0.0, 1e-9, True))
    with pytest.raises(VerificationFailed, match=r"m, bad: error 1\.000e-01 > tolerance 1\.0e-09"):
        assert_passed(CheckResult("m", "bad", 0.1, 1e-9, False))
    with pytest.raises(pytest.skip.Exception, match="skipped: no peer"):  # a SKIP is pytest's skip, not a pass
        assert_passed(CheckResult("m", "n/a", float("nan"), 0.0, True, "skipped: no peer", skipped=True))


def test_a_verification_s_json_and_tables_never_show_nan():
    """A SKIP measured nothing: null in JSON (strict JSON has no NaN), n/a in tables, the reason on its row."""
    skip = CheckResult("m", "autograd", float("nan"), 1e-9, True, "skipped: torch is not installed", skipped=True)
    crash = CheckResult("m", "peer", float("inf"), 1e-6, False, "crashed: ValueError: boom")
    assert json.loads(json.dumps([skip.as_dict(), crash.as_dict()], allow_nan=False))[0]["error"] is None
    rows = format_table([skip, crash]).splitlines()[2:]
    assert rows[0].split()[2] == "n/a" and rows[0].endswith("SKIP  torch is not installed")
    assert rows[1].endswith("FAIL  crashed: ValueError: boom")
    v = Verification("m", (skip, CheckResult("m", "stationary", 0.0, 1e-6, True)))
    assert v.verdict == "1 passed, 1 skipped" and "nan" not in v._repr_markdown_() + v._repr_html_()


def test_sheet_cases_give_one_test_id_per_model_and_check(tmp_path):
    sheet = tmp_path / "poisson_sheet.py"
    sheet.write_text(textwrap.dedent(POISSON_SHEET))
    cases = sheet_cases(sheet)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)) and "poisson-autograd" in ids and "poisson-scipy_optimize" in ids
    assert all(c.values[0].status != "FAIL" for c in cases)


def test_a_derivation_shows_in_a_notebook_as_its_stages():
    d = derivation("gaussian")
    shown = d._repr_markdown_()
    assert shown.count("$$") == 2 * 7  # log-density, log-likelihood, score, Hessian, two estimates, the minors
    for p in d.params:
        assert sp.latex(d.estimate[p], symbol_names={s.symbol: s.latex for s in d.statistics}) in shown
    assert len(repr(d)) < 80


def test_a_verification_shows_as_its_check_table():
    v = verify(derivation("poisson"))
    rows = [line for line in v._repr_markdown_().splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(v.checks)  # the header and a row per check
    assert all(row.count(" | ") == 3 for row in rows)  # a detail's own bars are escaped, the columns stay four


def test_a_verification_shows_as_escaped_html_and_latex():
    v = verify(derivation("poisson"))
    assert v._repr_html_().count("<tr>") == 1 + len(v.checks)  # the header and a row per check
    hostile = Verification("<b>&", (CheckResult("<b>&", "x<y", 1.0, 0.1, False, "a $|l|$ & <i>"),))
    html = hostile._repr_html_()
    assert "<b>" not in html and "<i>" not in html and "&lt;b&gt;&amp;" in html and "x&lt;y" in html
    latex = hostile._repr_latex_()
    assert r"\textbf{\textless{}b\textgreater{}\&}" in latex and r"\$\textbar{}l\textbar{}\$" in latex


def test_a_derivation_shows_as_html_without_mathjax_and_as_latex():
    d = derivation("poisson")
    html = d._repr_html_()
    assert "$" not in html and html.count("<math") == 6  # six stages, each as MathML
    assert '<mover accent="true">' in html  # the estimate's hat
    latex = d._repr_latex_()
    assert latex.count(r"\[") == 6 and r"\hat{\lambda} = " in latex
    assert r"\left[" not in latex  # one parameter's score and Hessian are numbers, not 1x1 matrices
    two = derivation("gaussian")._repr_latex_()
    assert r"\left[\begin{matrix}" in two and r"\hat{\sigma}^{2} = " in two


def test_a_model_name_is_text_in_the_html_not_markup():
    from dataclasses import replace

    from mlemap.catalogue import MODELS
    from mlemap.derivations.engine import derive

    html = derive(replace(MODELS["poisson"], name="<script>alert(1)</script>"))._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_mlemap_derive_with_data_prints_the_summary(tmp_path):
    counts = [1, 2, 3, 6, 2, 4]
    data = tmp_path / "counts.csv"
    data.write_text("x\n" + "\n".join(map(str, counts)) + "\n")
    out = mlemap("derive", "mlemap/catalogue.py:POISSON", "--data", str(data))
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("lambda "))
    value, se_observed, se_expected = (float(v) for v in row.split()[1:4])
    mean = sum(counts) / len(counts)
    assert value == mean and abs(se_observed - math.sqrt(mean / len(counts))) < 1e-4 and se_expected == se_observed
    assert "Log-likelihood:" in out.stdout and "LR 95% interval" in out.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x\n1\nfour\n", "line 3, column 'x': 'four' is not a number"),
        ("y\n1\n", "data 'x' is missing"),
        ("x\n-1\n", "data 'x' must lie in"),
        ("x\n", "needs a header row of data names and at least one row of values"),
        ("x,x\n1,2\n", "the header must name each column once"),
    ],
)
def test_mlemap_derive_refuses_bad_data_in_one_line(tmp_path, content, message):
    data = tmp_path / "data.csv"
    data.write_text(content)
    out = mlemap("derive", "mlemap/catalogue.py:POISSON", "--data", str(data))
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_sheet_s_answers_show_as_a_table():
    found = answers(load_sheet(ROOT / "mlemap" / "sheets" / "exercise3.py"))
    rows = found._repr_markdown_().splitlines()
    assert len(rows) == 2 + len(found)
    assert "4/9" not in rows[-1] and r"\frac{4}{9}" in "".join(rows)


MODELS_FILE = """
import numpy as np, sympy as sp
from mlemap.derivations.model import Model, Parameter
x = sp.Symbol("x", positive=True)
s2 = sp.Symbol("s^2", positive=True)
RAYLEIGH = Model("rayleigh", "Rayleigh scale", (x,), (Parameter(s2, sp.Interval.open(0, sp.oo), "squared scale"),),
                 x / s2 * sp.exp(-x**2 / (2 * s2)), support={x: sp.Interval.open(0, sp.oo)},
                 simulate=lambda rng, n, t: {"x": rng.rayleigh(np.sqrt(t["s^2"]), n)}, truth={"s^2": 2.0})
"""


def test_verify_models_derives_and_verifies_every_model_of_a_user_file(tmp_path):
    path = tmp_path / "my_models.py"
    path.write_text(MODELS_FILE)
    out = mlemap("verify", "--models", str(path), "--json", str(tmp_path / "v.json"))
    assert out.returncode == 0, out.stderr
    payload = json.loads((tmp_path / "v.json").read_text())
    assert payload["passed"] and {c["model"] for c in payload["checks"]} == {"rayleigh"}
    assert len(payload["checks"]) >= 10 and payload["answers"] == []


def test_verify_models_refuses_a_file_without_a_model(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    out = mlemap("verify", "--models", str(path))
    assert out.returncode == 2 and "argument --models: " in out.stderr and "defines no Model" in out.stderr


def test_build_report_is_the_one_call_api(tmp_path):
    from mlemap.reports import build_report

    sheet = tmp_path / "poisson_sheet.py"
    sheet.write_text(textwrap.dedent(POISSON_SHEET))
    out = build_report(sheet, out=tmp_path / "report", formats=("md",), log=lambda line: None)
    assert (out / "report.md").read_text().startswith("# One Poisson")
    assert json.loads((out / "answers.json").read_text())[0]["key"].startswith("q1.")
