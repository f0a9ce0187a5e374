"""Students' answers, for every answer of both shipped sheets: the right answer in three notations is correct,
the question's typical mistakes are incorrect with the mistake named, and a wrong formula is incorrect with a
counterexample this test evaluates on its own. Hostile text is one line, and nothing runs."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from mlemap.derivations.engine import derive, n_obs
from mlemap.derivations.mistakes import typical_mistakes
from mlemap.derivations.sheet import answers, load_sheet
from mlemap.numerics.check import check, main, question_of

ROOT = Path(__file__).resolve().parents[1]
SHEETS = {name: load_sheet(ROOT / "mlemap" / "sheets" / f"{name}.py") for name in ("exercise3", "exercise4")}
CASES = [(name, a.key) for name, sheet in SHEETS.items() for a in answers(sheet)]


def plain(expr: sp.Basic, d) -> str:
    """The answer as plain text a student types: each statistic as sum(g(x_i)), powers as ^."""
    names = {}
    for s in d.statistics:
        if s.symbol != n_obs and s.reduce == "sum":
            g = s.expr.subs({x: sp.Symbol(f"{x.name}_i") for x in d.model.data})
            names[s.symbol] = sp.Symbol(f"sum({sp.sstr(g)})")
    return sp.sstr(expr.xreplace(names)).replace("**", "^")


def typed(expr: sp.Basic, d) -> str:
    """What a student types for this value: plain text, or a decimal for a root of a cubic."""
    return f"{float(sp.N(expr)):.10g}" if expr.has(sp.CRootOf) else plain(expr, d)


def notations(expr: sp.Basic, latex: str, d) -> list[str]:
    if expr.has(sp.CRootOf):  # a root of a cubic is given as a decimal
        return [f"{float(sp.N(expr)):.{k}g}" for k in (4, 6, 9)]
    out = [latex, plain(expr, d), plain(sp.factor(expr), d)]
    if expr.is_number:
        out.append(f"{float(sp.N(expr)):.6g}")
    return out


@pytest.mark.parametrize(("sheet", "key"), CASES)
def test_the_right_answer_in_three_notations_is_correct(sheet, key):
    q, right = question_of(SHEETS[sheet], key)
    d = derive(q.model)
    for text in notations(right.expr, right.latex, d):
        feedback = check(SHEETS[sheet], key, text)
        assert feedback.verdict == "correct", (text, feedback)


@pytest.mark.parametrize(("sheet", "key"), CASES)
def test_typical_mistakes_are_incorrect_and_named(sheet, key):
    q, right = question_of(SHEETS[sheet], key)
    d = derive(q.model)
    mistakes = typical_mistakes(q, d, key, right.expr, derive)
    assert len(mistakes) >= 3, [m.name for m in mistakes]
    for m in mistakes[:3]:
        feedback = check(SHEETS[sheet], key, typed(m.expr, d))
        same = [o.name for o in mistakes if sp.simplify(o.expr - m.expr) == 0]
        assert feedback.verdict == "incorrect" and feedback.mistake in same, (m.name, feedback)
        assert feedback.step and feedback.message


def _independent(expr: sp.Basic, d, data: dict) -> float:
    """The answer at the counterexample's data, in floats: each statistic summed with NumPy."""
    params = {p: float(sp.Rational(data[p.name])) for p in d.params if p.name in data}
    if not expr.free_symbols - set(params):  # an answer in the parameters alone (a density)
        return float(expr.subs(params))
    columns = {x: np.array([float(sp.Rational(v)) for v in data[x.name]]) for x in d.model.data}
    at = {n_obs: len(next(iter(columns.values())))}
    for s in d.statistics:
        if s.symbol != n_obs and s.reduce == "sum":
            fn = sp.lambdify(list(d.model.data), s.expr, "numpy")
            at[s.symbol] = float(np.sum(np.broadcast_to(fn(*columns.values()), at[n_obs])))
    at.update({p: float(sp.Rational(data[p.name])) for p in d.params if p.name in data})
    return float(expr.subs(at).subs(d.model.constants))


@pytest.mark.parametrize(("sheet", "key"), CASES)
def test_a_wrong_formula_is_incorrect_with_a_counterexample_that_holds(sheet, key):
    q, right = question_of(SHEETS[sheet], key)
    d = derive(q.model)
    wrong = (
        right.expr * (n_obs + 1) / n_obs + sp.Rational(1, 7)
        if right.expr.has(n_obs)
        else right.expr + sp.Rational(1, 7)
    )
    feedback = check(SHEETS[sheet], key, typed(wrong, d))
    assert feedback.verdict == "incorrect" and feedback.counterexample, feedback
    data = feedback.counterexample["data"]
    if isinstance(data, dict):  # a formula in the data: re-evaluated here
        assert _independent(right.expr, d, data) == pytest.approx(
            float(sp.Rational(feedback.counterexample["expected"]))
            if isinstance(feedback.counterexample["expected"], str)
            else feedback.counterexample["expected"],
            rel=1e-9,
        )
        assert _independent(wrong, d, data) != pytest.approx(_independent(right.expr, d, data), rel=1e-9)
    else:
        assert feedback.counterexample["expected"] == pytest.approx(float(sp.N(right.expr)), rel=1e-12)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("0.4472", "correct"),
        ("0.447", "correct"),
        ("0.4473", "incorrect"),
        ("0.45", "undecided"),
        ("4.472e-1", "correct"),
        ("-0.4472", "incorrect"),
    ],
)
def test_a_decimal_is_right_when_it_is_the_answer_rounded(text, verdict):
    assert check(SHEETS["exercise3"], "task3a.theta_map", text).verdict == verdict


HOSTILE = [
    "__import__('os').system('touch /tmp/pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 1",
    "exec('1')",
    "eval('1+1')",
    r"\input{/etc/passwd}",
    r"\include{x}",
    r"\def\x{1}\x",
    r"\catcode`\^=11",
    r"\write18{ls}",
    r"\openout1=answers.json",
    r"\csname x\endcsname",
    "(" * 100_000 + "1" + ")" * 100_000,
    "x" * 10_000_000,
    "1\x00+1",
    "x^(9^(9^9))",
    "2^(10^9)",
    "factorial(10^9)",
    "\udcff\udcfe",
    "sum(x_i" + ")" * 5,
    "{" * 50 + "1" + "}" * 50,
    "\\frac{1}{0}",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_answers_are_one_line_and_run_nothing(text, tmp_path):
    start = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    feedback = check(SHEETS["exercise3"], "task1.mu_mle", text)
    assert feedback.verdict in ("unreadable", "undecided", "incorrect")
    assert "\n" not in feedback.message and len(feedback.message) < 400
    assert time.monotonic() - start < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000  # KiB: no blow-up
    assert not Path("/tmp/pwned").exists()


def test_the_command_line_exits_by_verdict_and_prints_json(capsys):
    assert main(["task1.mu_mle", "xbar"]) == 0
    assert main(["task1.mu_mle", "sum(x_i)/(n-1)", "--json", "-"]) == 1
    out = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert out["verdict"] == "incorrect" and out["mistake"] == "n_minus_1" and out["proved"] is False
    assert main(["task1.mu_mle", "x_i +"]) == 2
    assert main(["task9.nothing", "1"]) == 2
    assert "no such answer on the sheet" in capsys.readouterr().err


def test_an_unknown_symbol_is_named():
    feedback = check(SHEETS["exercise3"], "task1.mu_mle", "sum(z_i)/n")
    assert feedback.verdict == "unreadable" and "'z_i'" in feedback.message
