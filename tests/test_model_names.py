"""One name, one model: answers, checks and reports find a model's derivation by its name, so a sheet whose
questions use two different models under one name is refused at declaration, in one line; and `mlemap verify`
answers every question as answers(sheet) does (a Bias question's model without its observed data has the same
name as the model with them, and used to be answered at the observed data)."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import sympy as sp

from mlemap.derivations.distributions import Gamma
from mlemap.derivations.model import InputError, Model
from mlemap.derivations.sheet import Bias, Estimate, OptimizerStudy, PlugIn, Sheet, answers, load_sheet
from mlemap.numerics.verify import main as verify_main

CALLS = [2, 4, 3, 0, 5, 1, 3]
SHAPE, RATE = 3, 2  # the Gamma prior's shape and rate


def poisson(**keywords) -> Model:
    return Model.from_distribution("poisson", observed={"x": CALLS}, **keywords)


def exact_poisson_mode(shape: int = 1, rate: int = 0) -> sp.Expr:
    """The maximiser of the Poisson log-likelihood of CALLS plus a Gamma(shape, rate) log-prior (1, 0: none),
    solved here from the pmf, independently of the engine."""
    lam = sp.Symbol("lam", positive=True)
    log_post = sum(k * sp.log(lam) - lam - sp.log(sp.factorial(k)) for k in CALLS)
    log_post += (shape - 1) * sp.log(lam) - rate * lam
    (root,) = sp.solve(sp.diff(log_post, lam), lam)
    return root


def by_key(sheet: Sheet) -> dict[str, sp.Expr]:
    return {a.key: a.expr for a in answers(sheet)}


def refused(make) -> str:
    with pytest.raises(InputError) as exc:
        make()
    message = str(exc.value)
    assert "\n" not in message and "Traceback" not in message, message
    return message


def test_two_different_models_under_one_name_are_refused_in_one_line():
    """The user's sheet: the MLE and the MAP model, both named 'poisson' by from_distribution's default, used to
    share the MLE's derivation (q2 answered lambda_mle 18/7)."""
    mle, map_ = poisson(), poisson(prior=Gamma(SHAPE, RATE))
    assert mle.name == map_.name == "poisson"
    message = refused(lambda: Sheet("calls", (Estimate("q1", "MLE?", mle), Estimate("q2", "MAP?", map_))))
    assert re.fullmatch(
        r"sheet 'calls': question q1 and question q2 use two different models both named 'poisson', .*"
        r"pass name= .*",
        message,
    ), message


@pytest.mark.parametrize(
    "build",
    [
        # a question's model and another question's compare
        lambda a, b: Sheet("s", (Estimate("q1", "?", a), OptimizerStudy("q2", "?", a, parts=("grid",), compare=b))),
        # a question and an extra model the sheet verifies
        lambda a, b: Sheet("s", (Estimate("q1", "?", a),), extra_models=(b,)),
        # a question and an appendix question
        lambda a, b: Sheet("s", (Estimate("q1", "?", a),), appendix=(Estimate("q2", "?", b),)),
    ],
    ids=["compare", "extra-model", "appendix"],
)
def test_every_place_a_sheet_names_a_model_is_checked(build):
    a = poisson(name="calls")
    b = poisson(name="calls", prior=Gamma(SHAPE, RATE))
    message = refused(lambda: build(a, b))
    assert "'calls'" in message and "name=" in message and "question q1" in message, message
    build(a, a)  # one model in both places: accepted


def test_observed_columns_as_arrays_are_compared_by_value():
    """An array column's == is elementwise: equal arrays are one model, different ones are refused (not an
    'ambiguous truth value' error)."""
    a = poisson(name="calls")
    same = dataclasses.replace(a, observed={"x": np.array(CALLS)})
    other = dataclasses.replace(a, observed={"x": np.array(CALLS[:-1] + [9])})
    Sheet("s", (Estimate("q1", "?", a), Estimate("q2", "?", same, suffix="_again")))
    message = refused(lambda: Sheet("s", (Estimate("q1", "?", a), Estimate("q2", "?", other, suffix="_again"))))
    assert "'calls'" in message


def test_one_model_in_several_questions_and_equal_copies_are_accepted_and_answered_right():
    """The same object in two questions, and an equal copy of it, share one derivation rightly; named apart, the
    MLE and the MAP models each get their own (the refusal's advice works)."""
    mle = poisson(name="calls")
    map_ = poisson(name="calls_map", prior=Gamma(SHAPE, RATE))
    x = mle.data[0]
    sheet = Sheet(
        "calls",
        (
            Estimate("q1", "MLE?", mle),
            PlugIn("q2", "P(x = 2) at the MLE?", mle, new=({x: 2},)),
            Estimate("q3", "MLE again?", dataclasses.replace(mle), suffix="_copy"),
            Estimate("q4", "MAP?", map_),
            PlugIn("q5", "P(x = 2) at the MAP?", map_, new=({x: 2},)),
        ),
    )
    found = by_key(sheet)
    lam_mle, lam_map = exact_poisson_mode(), exact_poisson_mode(SHAPE, RATE)
    assert (lam_mle, lam_map) == (sp.Rational(18, 7), sp.Rational(20, 9))  # the solver above, read by a person
    assert found["q1.lambda_mle"] == found["q3.lambda_mle_copy"] == lam_mle
    assert found["q4.lambda_map"] == lam_map
    for key, at in (("q2", lam_mle), ("q5", lam_map)):
        assert sp.simplify(found[key] - at**2 * sp.exp(-at) / 2) == 0  # the Poisson pmf at 2, at the estimate


DUPLICATE_SHEET = """
from mlemap import Model
from mlemap.derivations.distributions import Gamma
from mlemap.derivations.sheet import Estimate, PlugIn, Sheet

D = {{"x": {calls}}}
MLE = Model.from_distribution("poisson", observed=D)
MAP = Model.from_distribution("poisson", prior=Gamma({shape}, {rate}), observed=D{map_name})
X = MLE.data[0]
SHEET = Sheet(
    "calls",
    (Estimate("q1", "MLE?", MLE), Estimate("q2", "MAP?", MAP), PlugIn("q3", "P(x = 2)?", MAP, new=({{X: 2}},))),
)
"""


def test_verify_refuses_the_duplicate_in_one_line_and_verifies_the_sheet_named_apart(tmp_path, capsys):
    path = tmp_path / "sheet.py"
    path.write_text(DUPLICATE_SHEET.format(calls=CALLS, shape=SHAPE, rate=RATE, map_name=""))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        verify_main(["--sheet", str(path)])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]  # argparse prints its usage above it
    assert len(errors) == 1 and errors == err.strip().splitlines()[-1:], err
    assert re.search(r"question q1 and question q2 use two different models both named 'poisson'.*name=", errors[0])

    path.write_text(DUPLICATE_SHEET.format(calls=CALLS, shape=SHAPE, rate=RATE, map_name=", name='poisson_map'"))
    assert verify_main(["--sheet", str(path), "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    exact = {a["key"]: a["exact"] for a in result["answers"]}
    assert exact["q1.lambda_mle"] == str(exact_poisson_mode())
    assert exact["q2.lambda_map"] == str(exact_poisson_mode(SHAPE, RATE))
    plug_in = [c["status"] for c in result["checks"] if c["check"] == "answer q3"]
    assert plug_in == ["PASS"]  # the plug-in at the MAP, recomputed in floats (it FAILed at the MLE)


BIAS_SHEET = """
import sympy as sp
from mlemap import Model
from mlemap.derivations.sheet import Bias, Estimate, Sheet

CALLS = Model.from_distribution("poisson", name="calls", observed={{"x": {calls}}})
HEIGHTS = Model.from_distribution(
    "normal", variance=sp.Symbol("sigma2", positive=True), name="heights", observed={{"x": [1.5, 2.0, 3.25, 0.5]}}
)
SHEET = Sheet(
    "bias",
    (
        Estimate("q1", "MLE?", CALLS),
        Bias("b2", "Is the MLE of lambda biased?", CALLS),
        Bias("b3", "Is the MLE of the variance biased?", HEIGHTS),
        Estimate("q4", "MLE of the variance?", HEIGHTS),
    ),
)
"""


def test_verify_prints_the_answers_of_answers_sheet_for_a_bias_question_on_observed_data(tmp_path, capsys):
    """A Bias question's expectation is over samples, not at the observed data: verify answered it with the
    observed data's derivation (b2.lambda_expectation 18/7), which shares the model's name."""
    path = tmp_path / "s_bias.py"
    path.write_text(BIAS_SHEET.format(calls=CALLS))
    sheet = load_sheet(path)
    capsys.readouterr()
    verify_main(["--sheet", str(path), "--json", "-"])
    printed = {a["key"]: a["exact"] for a in json.loads(capsys.readouterr().out)["answers"]}
    expected = {a.key: str(a.expr) for a in answers(sheet)}
    assert printed == expected
    # the textbook's results, independently: x_bar is unbiased for lambda; the MLE of the variance has
    # expectation (n - 1)/n sigma2; and the MLEs at the data are still answered at the data
    found = by_key(sheet)
    named = {s.name: s for a in found.values() for s in a.free_symbols}  # the engine's symbols, assumptions and all
    lam, sigma2, n = named["lambda"], named["sigma2"], named["n"]
    assert sp.simplify(found["b2.lambda_expectation"] - lam) == 0 and found["b2.lambda_bias"] == 0
    assert sp.simplify(found["b3.sigma2_expectation"] - (n - 1) / n * sigma2) == 0
    assert found["q1.lambda_mle"] == sp.Rational(sum(CALLS), len(CALLS))


def test_a_bias_answer_does_not_depend_on_the_observed_data():
    """The estimator's expectation is a function of the parameters alone: the same with any observed data, or
    none."""
    base = Model.from_distribution("poisson", name="calls")
    rows = [
        by_key(Sheet("b", (Bias("b", "?", base if data is None else dataclasses.replace(base, observed={"x": data})),)))
        for data in (None, CALLS, [7, 7, 9])
    ]
    assert rows[0] == rows[1] == rows[2] and set(rows[0]) == {"b.lambda_expectation", "b.lambda_bias"}
