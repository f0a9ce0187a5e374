"""Sheets are input: any sheet file verifies through the same pipeline, and a sheet with an error is refused
with one line naming the question and the rule."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import sympy as sp

from mlemap import catalogue
from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import (
    Estimate,
    PlugIn,
    Posterior,
    PosteriorPredictive,
    Sheet,
    answers,
    load_python_file,
    load_sheet,
)
from mlemap.numerics import verify
from mlemap.numerics.results import compares

ROOT = Path(__file__).resolve().parents[1]
SMALL_SHEET = """
import sympy as sp
from mlemap.derivations.sheet import Estimate, PlugIn, PosteriorPredictive, Sheet
from mlemap.catalogue import EXPONENTIAL, coin_model, x

COIN = coin_model("coin_flat", "coin, flat prior", sp.Integer(1))
SHEET = Sheet(
    title="A third sheet, written in a test",
    questions=(
        Estimate("q1", "Exponential waiting times: the MLE of the rate?", EXPONENTIAL),
        PlugIn("q2", "P(two heads | theta_MAP)?", COIN, ({x: 1}, {x: 1})),
        PosteriorPredictive("q3", "P(next head | D)?", COIN, ({x: 1},)),
    ),
    peers={"q3": lambda: 4 / 9},
)
"""


def write(tmp_path: Path, text: str, name: str = "sheet.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_sheet_written_here_verifies_and_its_answers_are_derived(tmp_path, capsys):
    sheet = load_sheet(write(tmp_path, SMALL_SHEET))
    found = {a.key: a for a in answers(sheet)}

    assert set(found) == {"q1.lambda_mle", "q2", "q3"}
    heads = sum(catalogue.COIN_DATA)
    assert found["q2"].expr == sp.Rational(heads, len(catalogue.COIN_DATA)) ** 2  # the MLE squared, exactly
    assert found["q3"].expr == sp.Rational(heads + 1, len(catalogue.COIN_DATA) + 2)  # Laplace's rule of succession
    out = tmp_path / "v.json"
    assert verify.main(["--sheet", str(tmp_path / "sheet.py"), "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["passed"] and {c["model"] for c in payload["checks"]} == {"exponential", "coin_flat"}
    assert any(c["check"] == "answer q3" and c["status"] == "PASS" for c in payload["checks"])


def test_the_second_shipped_sheet_verifies_with_no_fail(tmp_path):
    out = tmp_path / "v.json"
    assert verify.main(["--sheet", str(ROOT / "mlemap" / "sheets" / "exercise4.py"), "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    statuses = {c["status"] for c in payload["checks"]}
    assert "FAIL" not in statuses
    kinds = {type(q).__name__ for q in load_sheet(ROOT / "mlemap" / "sheets" / "exercise4.py").questions}
    assert len(kinds) >= 4 and len(payload["answers"]) >= 6


def test_a_peer_that_disagrees_fails_the_sheet(tmp_path):
    wrong = SMALL_SHEET.replace("lambda: 4 / 9", "lambda: 0.5")
    assert verify.main(["--sheet", str(write(tmp_path, wrong)), "--json", str(tmp_path / "v.json")]) == 1


def test_verify_reports_pass_fail_and_skip_for_a_model():
    from tests.conftest import mutate

    good = catalogue.derivation("poisson")
    result = verify.verify(good)
    assert result.passed and {c.status for c in result.checks} <= {"PASS", "SKIP"}
    (p,) = good.params
    wrong = verify.verify(mutate(good, estimate={p: good.estimate[p] + 1}))
    assert not wrong.passed and {c.check for c in wrong.failures} >= {"scipy_optimize", "torch_optim", "stationary"}


COIN_NO_DATA = "coin_model('c', 'c', None).__class__(**{**coin_model('c', 'c', None).__dict__, 'observed': None})"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("SHEET = 3", r"defines no SHEET \(a mlemap.Sheet\)$"),
        ("x = 1", r"defines no SHEET"),
        ("raise ValueError('boom\\nsecond line')", r": ValueError: boom second line$"),
        (
            "SHEET = Sheet('t', (Estimate('q1', 'text', GAUSSIAN, labels={'tau': 'x'}),))",
            r"question q1: gaussian has no parameter 'tau'$",
        ),
        (
            "SHEET = Sheet('t', (Estimate('q1', 'text', None),))",
            r"question q1: needs a model \(a mlemap.Model\), got None$",
        ),
        (
            "SHEET = Sheet('t', (PlugIn('q1', 'text', COIN_UNIFORM, ({x: 2},)),))",
            r"question q1: the future x = 2 lies outside its support \{0, 1\}$",
        ),
        ("SHEET = Sheet('t', (PlugIn('q1', 'text', COIN_UNIFORM, ()),))", r"question q1: names no future data$"),
        (
            "SHEET = Sheet('t', (PlugIn('q1', 'text', COIN_UNIFORM, ({x: 'heads'},)),))",
            r"question q1: the future x = 'heads' is not a number$",
        ),
        (
            "SHEET = Sheet('t', (Posterior('q1', 'text', GAUSSIAN),))",
            r"question q1: a posterior needs observed data; gaussian has none$",
        ),
        (
            "SHEET = Sheet('t', (PosteriorPredictive('q1', 'text', " + COIN_NO_DATA + ", ({x: 1},)),))",
            r"question q1: a posterior needs observed data; c has none$",
        ),
        (
            "SHEET = Sheet('t', (PlugIn('q1', 'text', CAUCHY, ({CAUCHY.data[0]: 1},)),))",
            r"question q1: x = 1 is a single point of a continuous variable, whose probability is 0 .+$",
        ),
        ("SHEET = Sheet('t', ('what is the MLE?',))", r"is not a question$"),
        (
            "SHEET = Sheet('t', (Estimate('q1', 'a', GAUSSIAN), Estimate('q1', 'b', GAUSSIAN)))",
            r"question q1.mu_mle: two answers share this key",
        ),
    ],
)
def test_a_sheet_with_an_error_is_refused_naming_the_question_and_the_rule(tmp_path, body, message):
    header = "from mlemap.derivations.sheet import *\nfrom mlemap.catalogue import CAUCHY, GAUSSIAN, COIN_UNIFORM, coin_model, x\n"
    path = write(tmp_path, header + body + "\n")
    with pytest.raises(InputError) as exc:
        answers(load_sheet(path))
    assert "\n" not in str(exc.value)
    assert exc.value.args[0].startswith(str(path)) or exc.value.args[0].startswith("question")
    import re

    assert re.search(message, str(exc.value)), str(exc.value)


def test_verify_names_a_bad_sheet_and_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        verify.main(["--sheet", str(tmp_path / "missing.py"), "--json", str(tmp_path / "v.json")])
    assert exc.value.code == 2
    assert "argument --sheet: " in capsys.readouterr().err
    assert not (tmp_path / "v.json").exists()


def test_question_objects_check_themselves():
    with pytest.raises(InputError, match=r"^question q: gaussian has no parameter 'theta'$"):
        Sheet("t", (Estimate("q", "text", catalogue.GAUSSIAN, labels={"theta": "?"}),))


@pytest.mark.build
def test_any_sheet_builds_a_report_with_its_answers(tmp_path):
    from mlemap.reports.cli import main

    path = write(tmp_path, SMALL_SHEET)
    out = tmp_path / "report"
    assert main(["--sheet", str(path), "--out", str(out), "--format", "md,tex"]) == 0
    sheet = load_sheet(path)
    rows = json.loads((out / "answers.json").read_text())
    assert [{k: v for k, v in r.items() if k != "inputs"} for r in rows] == [a.as_dict() for a in answers(sheet)]
    text = (out / "report.md").read_text()
    for q in sheet.questions:
        assert q.text in text
    assert (out / "report.tex").exists() and "FAILED" not in text
    companion = tmp_path / "companion"  # the check table is the staff's: in the companion, not the handout
    assert main(["--sheet", str(path), "--out", str(companion), "--format", "md", "--variant", "companion"]) == 0
    checks = (companion / "report.md").read_text()
    assert f"| {catalogue.EXPONENTIAL.title} | {compares('peer')} |" in checks and "FAIL" not in checks


def test_reports_refuses_a_bad_sheet_with_exit_2(tmp_path, capsys):
    from mlemap.reports.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--sheet", str(write(tmp_path, "SHEET = None\n")), "--out", str(tmp_path / "r")])
    assert exc.value.code == 2
    assert "argument --sheet: " in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_estimate_is_the_closed_form_where_there_is_one_and_says_when_nothing_converged():
    import dataclasses

    from mlemap.numerics.estimate import estimate

    found = estimate(catalogue.derivation("poisson"), {"x": [1, 2, 3, 6]})
    assert found.method == "closed form" and found.converged and found.values == {"lambda": 3.0}
    heads = estimate(catalogue.derivation("coin_uniform"), {"x": [1, 1, 1]})
    # all heads: the likelihood keeps rising towards theta = 1, which the open domain (0, 1) leaves out
    assert heads.values is None and not heads.converged and "theta -> 1, an open end of (0, 1)" in heads.reason
    some = estimate(catalogue.derivation("coin_uniform"), {"x": [1, 0, 1]})
    assert some.values == {"theta": pytest.approx(2 / 3)}  # the statistics given are the statistics used
    cauchy = estimate(catalogue.derivation("cauchy"), {"x": [-1.0, 0.2, 0.4, 3.0]})
    assert cauchy.method == "numerical" and cauchy.converged
    rising = dataclasses.replace(catalogue.EXPONENTIAL, prior=sp.exp(5 * catalogue.lam))
    from mlemap.derivations.engine import derive

    stuck = estimate(derive(rising), {"x": [0.1, 0.1]})
    assert (
        stuck.method == "numerical" and not stuck.converged and stuck.values is None
    )  # n/(S_x - 5) < 0 here: no answer, not a wrong one
    fine = estimate(derive(rising), {"x": [3.0, 4.0]})
    assert fine.method == "closed form" and fine.values == {"lambda": pytest.approx(2 / (7.0 - 5))}


@pytest.mark.build
def test_the_second_shipped_sheet_builds_its_report_with_the_optimizer_study(tmp_path):
    from mlemap.reports.cli import main
    from tests import golden_reports

    out = tmp_path / "report"
    assert main(["--sheet", str(ROOT / "mlemap" / "sheets" / "exercise4.py"), "--out", str(out), "--format", "md"]) == 0
    rows = {r["key"]: r for r in json.loads((out / "answers.json").read_text())}
    assert (
        rows["task3a.lambda_map"]["exact"] == "7/4"
        and rows["task3d.p_no_call"]["exact"] == "35184372088832/205891132094649"
    )
    assert 0 < rows["task4b.lr_bound"]["value"] < 1
    assert sorted(p.name for p in (out / "figures").glob("*.png")) == ["task4b_ascent.png", "task4b_paths.png"]
    text = (out / "report.md").read_text()
    assert "| FAIL |" not in text and "torch.optim" in text
    assert text == golden_reports.golden("exercise4").read_text(), (
        "prose changed: review, then python -m tests.golden_reports"
    )


def test_a_study_question_needs_data_and_sensible_fractions():
    import dataclasses

    from mlemap.derivations.sheet import OptimizerStudy

    no_data = dataclasses.replace(catalogue.GAUSSIAN, simulate=None)
    with pytest.raises(
        InputError,
        match=r"^question s: an optimizer study needs data; gaussian has neither observed data nor a simulate hook$",
    ):
        OptimizerStudy("s", "text", no_data)
    for fractions in ((0.5, -1), (), (0.5, 10), (0,), (True,), ("0.5",)):
        with pytest.raises(InputError, match=r"^question s: fractions of the bound must be numbers in \(0, 10\), got "):
            OptimizerStudy("s", "text", catalogue.GAUSSIAN, fractions=fractions)
    observed_only = dataclasses.replace(catalogue.COIN_UNIFORM, simulate=None)
    assert OptimizerStudy("s", "text", observed_only, fractions=(0.5, 9.5)).fractions == (0.5, 9.5)


def test_an_answer_row_holds_the_exact_form_its_latex_and_a_float():
    (row,) = [
        a.as_dict()
        for a in answers(Sheet("t", (PosteriorPredictive("q", "text", catalogue.COIN_UNIFORM, ({catalogue.x: 1},)),)))
    ]
    assert row == {"key": "q", "question": "text", "exact": "4/9", "latex": r"\frac{4}{9}", "value": 4 / 9}
    (symbolic,) = answers(Sheet("t", (Posterior("p", "text", catalogue.COIN_UNIFORM, "label"),)))
    assert symbolic.as_dict()["value"] is None and symbolic.question == "label"


def test_load_sheet_names_the_file_and_the_rule(tmp_path):
    with pytest.raises(
        InputError, match=r"missing.py is not a sheet file \(no such file; shipped sheets: exercise3, exercise4\)$"
    ):
        load_sheet(tmp_path / "missing.py")
    with pytest.raises(
        InputError, match=r" is not a sheet file \(no such file; shipped sheets: exercise3, exercise4\)$"
    ):
        load_sheet(tmp_path)
    text = tmp_path / "sheet.txt"
    text.write_text("SHEET = None\n")
    with pytest.raises(InputError, match=r"sheet.txt is not a Python file$"):
        load_sheet(text)
    raising = write(
        tmp_path, "from mlemap.derivations.model import InputError\nraise InputError('a rule')\n", "raising.py"
    )
    with pytest.raises(InputError, match=r"raising.py: a rule$"):
        load_sheet(raising)
    with pytest.raises(InputError, match=r"models.py is not a Python file \(no such file\)$"):  # the models file
        load_python_file(tmp_path / "models.py")


def test_two_sheet_files_load_as_two_modules(tmp_path):
    first = load_sheet(write(tmp_path, SMALL_SHEET, "a.py"))
    second = load_sheet(write(tmp_path, SMALL_SHEET.replace("A third sheet", "A fourth sheet"), "b.py"))
    assert (first.title, second.title) == ("A third sheet, written in a test", "A fourth sheet, written in a test")


def test_future_data_must_be_the_models_data():
    y = sp.Symbol("y", real=True)
    with pytest.raises(InputError, match=r"^question q: 'y' is not a data symbol of coin_uniform$"):
        PlugIn("q", "text", catalogue.COIN_UNIFORM, ({y: 1},))
    with pytest.raises(InputError, match=r"^question q: needs a model \(a mlemap.Model\), got 'coin'$"):
        PlugIn("q", "text", "coin", ({catalogue.x: 1},))
    with pytest.raises(
        InputError, match=r"^question q: a posterior integral needs one parameter on an interval; gaussian has 2$"
    ):
        PosteriorPredictive("q", "text", dataclasses_replace_observed(catalogue.GAUSSIAN), ({catalogue.x: 1},))


def dataclasses_replace_observed(model):
    import dataclasses

    return dataclasses.replace(model, observed={catalogue.x: (1, 2, 3)})


def test_a_cached_posterior_predictive_is_keyed_by_the_future_data(monkeypatch, tmp_path):
    """With the disk cache on, P(x = 0 | D) never meets the cached P(x = 1 | D) of the same model."""
    from mlemap.derivations.bayes import posterior_predictive
    from tests.conftest import cache_in

    cache_in(monkeypatch, tmp_path)
    for _ in range(2):  # computed, then read back
        assert posterior_predictive(catalogue.COIN_UNIFORM, ({catalogue.x: 1},)) == sp.Rational(4, 9)
        assert posterior_predictive(catalogue.COIN_UNIFORM, ({catalogue.x: 0},)) == sp.Rational(5, 9)


def test_an_estimate_without_labels_names_each_answer_by_kind_parameter_and_question():
    found = answers(Sheet("t", (Estimate("g", "text", catalogue.GAUSSIAN),)))
    title = catalogue.GAUSSIAN.title  # the reader's name for the question: its title, else its model's, never the key
    assert [a.question for a in found] == [rf"MLE of $\mu$: {title}", rf"MLE of $\sigma^{{2}}$: {title}"]
    assert [a.key for a in found] == ["g.mu_mle", "g.sigma2_mle"]


CAUCHY_SHEET = """
import dataclasses
from mlemap.derivations.sheet import Sheet, Estimate
from mlemap.catalogue import CAUCHY
OBSERVED = dataclasses.replace(CAUCHY, name="cauchy_observed", observed={CAUCHY.data[0]: (-1.2, 0.3, 0.5, 0.9, 4.0, 1.1)})
SHEET = Sheet("Cauchy", (Estimate("q1", "The MLE of the location?", OBSERVED), Estimate("q2", "No data?", CAUCHY)))
"""


def test_an_estimate_with_no_closed_form_has_no_exact_answer():
    assert answers(Sheet("t", (Estimate("q", "text", catalogue.CAUCHY),))) == []


@pytest.mark.build
def test_an_estimate_with_no_closed_form_is_answered_numerically_at_the_observed_data(tmp_path):
    from scipy import optimize, stats

    from mlemap.reports.cli import main

    out = tmp_path / "report"
    assert main(["--sheet", str(write(tmp_path, CAUCHY_SHEET)), "--out", str(out), "--format", "md"]) == 0
    (row,) = json.loads((out / "answers.json").read_text())  # the question without data has no number
    data = [-1.2, 0.3, 0.5, 0.9, 4.0, 1.1]
    peer = optimize.minimize_scalar(lambda m: -stats.cauchy.logpdf(data, loc=m).sum(), bounds=(-5, 5), method="bounded")
    assert row["key"] == "q1.mu_mle" and row["exact"] is None and row["value"] == pytest.approx(peer.x, abs=1e-5)
    text = (out / "report.md").read_text()
    assert "At the observed data the optimizer gives" in text and "No data are declared with the model" in text
    # its verification rows (the staff's companion) hold the optimizers and the peer against a numerical optimum,
    # never a closed form
    companion = tmp_path / "companion"
    assert (
        main(
            ["--sheet", str(tmp_path / "sheet.py"), "--out", str(companion), "--format", "md", "--variant", "companion"]
        )
        == 0
    )
    checks = (companion / "report.md").read_text()
    rows = [line for line in checks.splitlines() if line.startswith(f"| {catalogue.CAUCHY.title} (cauchy")]
    assert {r.split(" | ")[0] for r in rows} == {
        f"| {catalogue.CAUCHY.title} ({name})" for name in ("cauchy", "cauchy_observed")
    }
    assert any("numerical optimum" in r for r in rows)
    assert not any("closed form vs" in r or "at the closed form" in r for r in rows)


def test_answers_are_the_results_of_the_derivations_they_are_given():
    """The report and verify pass the derivations they already hold; the answers must be theirs."""
    from mlemap.derivations.engine import derive
    from tests.conftest import mutate

    d = derive(catalogue.POISSON)
    (rate,) = d.params
    shifted = mutate(d, estimate={rate: d.estimate[rate] + 1})
    (found,) = answers(Sheet("t", (Estimate("q", "text", catalogue.POISSON),)), deriv=lambda m: shifted)
    assert sp.simplify(found.expr - (d.estimate[rate] + 1)) == 0
