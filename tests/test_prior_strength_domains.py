"""PriorStrength on any domain of its one parameter: a rate on (0, oo), a probability on (0, 1), a mean on the
whole line. Each exact MAP, scipy's search and the posterior mean by quadrature agree with the conjugate
posterior's mode and mean written out by hand here; a wrong MAP (the MLE) fails its check; a bad declaration is
one line naming the question, the prior and the rule; the verify and report commands run on such a sheet with
no traceback and no warning."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import scipy.integrate
import sympy as sp

import mlemap
from mlemap.derivations.distributions import Beta, Gamma, Normal
from mlemap.derivations.engine import derive
from mlemap.derivations.model import InputError, Model
from mlemap.derivations.sheet import PriorStrength
from mlemap.numerics.prior_strength import MAP_TOLERANCE, map_check, map_checks, prior_checks, prior_study, search_mode
from tests.conftest import mutate

lam, p, mu = sp.Symbol("lambda", positive=True), sp.Symbol("p", positive=True), sp.Symbol("mu", real=True)
R = sp.Rational
COUNTS = (2, 3, 1, 4, 2, 3, 3)  # n = 7, sum 18: the user's report, MAPs 180/71 and 47/17
WAITS = (R(1, 2), R(6, 5), R(3, 10), 2)  # n = 4, sum 4
TOSSES = (1, 0, 1, 1, 0, 1, 1)  # n = 7, 5 heads
SUCCESSES = (3, 5, 2, 4)  # of 5 trials each: 14 of 20
HEIGHTS = (R(3, 2), R(-3, 10), R(11, 5), R(9, 10))  # sd 2 known: n = 4, sum 43/10


def gamma_rate(a, b, n, total):
    """Conjugate posterior Gamma(a + total, b + n) of a Poisson rate: (mode, mean)."""
    return (total + a - 1) / (n + b), (total + a) / (n + b)


def exponential_rate(a, b, n, total):
    """Conjugate posterior Gamma(a + n, b + total) of an exponential rate: (mode, mean)."""
    return (n + a - 1) / (total + b), (n + a) / (total + b)


def beta_p(a, b, trials, successes):
    """Conjugate posterior Beta(a + successes, b + failures): (mode, mean)."""
    return (successes + a - 1) / (trials + a + b - 2), (successes + a) / (trials + a + b)


def normal_mean(m, s, n, total, sd=2):
    """Conjugate posterior of a normal mean, known sd: precision-weighted, mode = mean."""
    centre = (total / sd**2 + m / s**2) / (n / sd**2 + 1 / s**2)
    return centre, centre


@dataclass(frozen=True)
class Case:
    name: str
    model: Model
    priors: dict
    by_hand: list  # per prior (mode, mean), exact
    mle: sp.Expr


CASES = [
    Case(
        "poisson_rate_written_out",  # the user's report: densities written out, the strong one overflowing numpy
        Model.from_distribution("poisson", rate=lam, name="calls", observed={"x": COUNTS}),
        {"weak": sp.exp(-lam / 10) / 10, "strong": 10**30 * lam**29 * sp.exp(-10 * lam) / sp.factorial(29)},
        [gamma_rate(1, R(1, 10), 7, 18), gamma_rate(30, 10, 7, 18)],
        R(18, 7),
    ),
    Case(
        "poisson_rate_named",
        Model.from_distribution("poisson", rate=lam, name="calls_named", observed={"x": COUNTS}),
        {"Gamma(2, 1)": Gamma(2, 1), "Gamma(50, 100)": Gamma(50, 100)},
        [gamma_rate(2, 1, 7, 18), gamma_rate(50, 100, 7, 18)],
        R(18, 7),
    ),
    Case(
        "exponential_rate",
        Model.from_distribution("exponential", rate=lam, name="waits", observed={"x": WAITS}),
        {"Gamma(3, 1)": Gamma(3, 1), "Gamma(50, 100)": Gamma(50, 100)},
        [exponential_rate(3, 1, 4, 4), exponential_rate(50, 100, 4, 4)],
        R(1),
    ),
    Case(
        "bernoulli_p",
        Model.from_distribution("bernoulli", p=p, name="coin", observed={"x": TOSSES}),
        {"Beta(2, 2)": Beta(2, 2), "Beta(50, 50)": Beta(50, 50)},
        [beta_p(2, 2, 7, 5), beta_p(50, 50, 7, 5)],
        R(5, 7),
    ),
    Case(
        "binomial_p",
        Model.from_distribution("binomial", n=5, p=p, name="trials", observed={"x": SUCCESSES}),
        {"Beta(3, 1)": Beta(3, 1), "Beta(10, 40)": Beta(10, 40)},
        [beta_p(3, 1, 20, 14), beta_p(10, 40, 20, 14)],
        R(14, 20),
    ),
    Case(
        "normal_mean",
        Model.from_distribution("normal", mean=mu, sd=2, name="heights", observed={"x": HEIGHTS}),
        {"N(0, 10^2)": Normal(0, 10), "N(5, 0.1^2)": Normal(5, R(1, 10))},
        [normal_mean(0, 10, 4, R(43, 10)), normal_mean(5, R(1, 10), 4, R(43, 10))],
        R(43, 40),
    ),
]


@pytest.fixture(scope="module")
def studies():
    """Each case's question and its study, computed once."""
    found = {}
    for case in CASES:
        q = PriorStrength("q9", "How much does the prior matter?", case.model, priors=case.priors)
        found[case.name] = (q, prior_study(q, derive))
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_exact_maps_are_the_conjugate_modes(case):
    q = PriorStrength("q9", "?", case.model, priors=case.priors)
    found = {a.key: a.expr for a in q.answers(derive)}
    assert list(found) == [f"q9.map_{i}" for i in range(1, len(case.priors) + 1)]
    for i, (mode, _) in enumerate(case.by_hand, 1):
        assert sp.simplify(found[f"q9.map_{i}"] - mode) == 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_scipy_and_quadrature_agree_with_the_conjugate_posterior(case, studies):
    q, study = studies[case.name]
    assert study.mle == pytest.approx(float(case.mle), rel=1e-12)
    for row, (mode, mean) in zip(study.rows, case.by_hand, strict=True):
        assert row.numeric_map == pytest.approx(float(mode), rel=MAP_TOLERANCE)  # scipy alone, from no answer
        assert row.posterior_mean == pytest.approx(float(mean), rel=1e-9)
        # the posterior integrates to 1 over the domain: its normaliser by quadrature is right
        lo, hi = (float(e) for e in (case.model.params[0].domain.inf, case.model.params[0].domain.sup))
        with np.errstate(all="ignore"):
            mass = scipy.integrate.quad(row.posterior, max(lo, mode - 50), min(hi, mode + 50), points=[float(mode)])[0]
        assert mass == pytest.approx(1.0, rel=1e-7)
    assert [c.status.value for c in prior_checks(q, study)] == ["PASS"] * len(case.priors)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_mle_in_place_of_the_map_fails(case, studies):
    q, study = studies[case.name]
    wrong = replace(study, rows=tuple(replace(r, map=float(case.mle)) for r in study.rows))
    assert [c.status.value for c in prior_checks(q, wrong)] == ["FAIL"] * len(case.priors)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verify_checks_the_same_maps(case):
    q = PriorStrength("q9", "?", case.model, priors=case.priors)
    checks = map_checks(q, derive)
    assert [c.status.value for c in checks] == ["PASS"] * len(case.priors)
    assert all(c.error < MAP_TOLERANCE for c in checks)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verify_fails_a_derivation_whose_map_is_the_mle(case):
    q = PriorStrength("q9", "?", case.model, priors=case.priors)

    def wrong(model):
        d = derive(model)
        return mutate(d, estimate={d.params[0]: case.mle})

    assert [c.status.value for c in map_checks(q, wrong)] == ["FAIL"] * len(case.priors)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_figure_of_an_unbounded_domain_shows_where_the_posteriors_are(case, studies):
    _, study = studies[case.name]
    a, b = study.interval
    assert np.isfinite(a) and np.isfinite(b) and a < b
    for row in study.rows:
        assert a < row.map < b
        grid = np.linspace(a, b, 4001)
        with np.errstate(all="ignore"):
            shown = np.trapezoid(row.posterior(grid), grid)
        assert shown > 0.99  # nearly all of each posterior's mass is in the picture


def test_a_posterior_rising_to_a_finite_end_is_checked_there():
    """All heads under a flat Beta(1, 1): the MAP is the end p = 1 the posterior rises to; 1/2 there fails."""
    model = Model.from_distribution("bernoulli", p=p, name="heads", observed={"x": (1, 1, 1, 1)})
    q = PriorStrength("q", "?", model, priors={"flat": Beta(1, 1)})
    (answer,) = q.answers(derive)
    assert answer.expr == 1
    (check,) = map_checks(q, derive)
    assert check.status.value == "PASS"
    row = prior_study(q, derive).rows[0]
    assert row.posterior_mean == pytest.approx(5 / 6, rel=1e-9)  # Beta(5, 1)
    assert map_check(q, 1, "flat", 0.5, row.numeric_map, row.edge, row.why).status.value == "FAIL"


def test_a_posterior_rising_to_an_infinite_end_has_no_map_and_fails():
    search = search_mode(np.log, 0.0, np.inf)
    assert search.mode is None and search.edge == np.inf
    q = PriorStrength("q", "?", CASES[0].model, priors={"weak": CASES[0].priors["weak"]})
    check = map_check(q, 1, "weak", 2.0, float("nan"), search.edge, search.why)
    assert check.status.value == "FAIL" and "rises towards the domain's end inf" in check.detail


def test_a_log_posterior_numpy_cannot_evaluate_is_skipped_with_the_reason():
    search = search_mode(lambda t: np.full(np.shape(t), np.nan), 0.0, np.inf)
    q = PriorStrength("q", "?", CASES[0].model, priors={"weak": CASES[0].priors["weak"]})
    check = map_check(q, 1, "weak", 2.0, float("nan"), search.edge, search.why)
    assert check.status.value == "SKIP"
    assert "not a finite number anywhere" in check.detail and "weak" in check.detail


def test_an_improper_prior_on_an_unbounded_domain_is_one_line():
    q = PriorStrength("q9", "?", CASES[0].model, priors={"flat": sp.Integer(1)})
    with pytest.raises(InputError) as info:
        prior_study(q, derive)
    message = str(info.value)
    assert "\n" not in message and "the prior flat" in message and "lambda" in message and "finite mass" in message


BAD = [
    (
        {"wide": Beta(2, 2)},
        "question q9: the prior wide is Beta(2, 2), a density on [0, 1], but lambda ranges over (0, oo)",
    ),
    ({"text": "exp(-lambda)"}, "question q9: the prior text must be a density in lambda"),
    (
        {"other": sp.exp(-sp.Symbol("z") * lam)},
        "question q9: the prior other must be a density in lambda alone; it also has z",
    ),
    ({"number": 3}, "question q9: the prior number must be a density in lambda"),
    ({}, "question q9: priors must map a label to a prior"),
]


@pytest.mark.parametrize(("priors", "message"), BAD, ids=["named_off_domain", "text", "other_symbol", "int", "none"])
def test_a_bad_prior_is_one_line_naming_the_question_the_prior_and_the_rule(priors, message):
    with pytest.raises(InputError) as info:
        PriorStrength("q9", "?", CASES[0].model, priors=priors)
    text = str(info.value)
    assert text.startswith(message)
    assert "\n" not in text and "Parameter(" not in text and "Interval" not in text


SHEET = """
import sympy as sp
from sympy import exp, factorial
from mlemap import Beta, Model, Normal, PriorStrength, Sheet

lam, p, mu = sp.Symbol("lambda", positive=True), sp.Symbol("p", positive=True), sp.Symbol("mu", real=True)
CALLS = Model.from_distribution("poisson", rate=lam, name="calls", observed={"x": [2, 3, 1, 4, 2, 3, 3]})
COIN = Model.from_distribution("bernoulli", p=p, name="coin", observed={"x": [1, 0, 1, 1, 0, 1, 1]})
HEIGHTS = Model.from_distribution("normal", mean=mu, sd=2, name="heights", observed={"x": [1.5, -0.3, 2.2, 0.9]})
SHEET = Sheet("Priors on every domain", (
    PriorStrength("q9", "How much does the prior matter for the rate?", CALLS,
                  priors={"weak": exp(-lam / 10) / 10, "strong": 10**30 * lam**29 * exp(-10 * lam) / factorial(29)}),
    PriorStrength("q10", "And for the coin?", COIN, priors={"Beta(2, 2)": Beta(2, 2), "Beta(50, 50)": Beta(50, 50)}),
    PriorStrength("q11", "And for the mean?", HEIGHTS, priors={"N(0, 100)": Normal(0, 10), "N(5, 0.01)": Normal(5, 0.1)}),
))
"""


def run_mlemap(*argv: str) -> subprocess.CompletedProcess:
    root = Path(mlemap.__file__).resolve().parents[1]
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run([sys.executable, "-m", "mlemap", *argv], capture_output=True, text=True, env=env, timeout=600)


def test_verify_and_an_md_report_run_on_every_domain(tmp_path):
    sheet = tmp_path / "s.py"
    sheet.write_text(SHEET)
    verified = run_mlemap("verify", "--sheet", str(sheet))
    assert verified.returncode == 0, verified.stderr
    assert "Traceback" not in verified.stderr and "Warning" not in verified.stderr
    for key in ("q9.map_1", "q9.map_2", "q10.map_1", "q10.map_2", "q11.map_1", "q11.map_2"):
        (line,) = [row for row in verified.stdout.splitlines() if f"answer {key} " in row]
        assert line.rstrip().endswith("PASS")
    assert "180/71" in verified.stdout and "47/17" in verified.stdout
    built = run_mlemap("report", "--sheet", str(sheet), "--format", "md", "--out", str(tmp_path / "R"))
    assert built.returncode == 0, built.stderr
    assert "Traceback" not in built.stderr and "Warning" not in built.stderr
    report = (tmp_path / "R" / "report.md").read_text()
    assert all(f"figures/{key}_priors.png" in report for key in ("q9", "q10", "q11"))


def test_a_bad_prior_in_a_sheet_is_one_line_from_the_command(tmp_path):
    sheet = tmp_path / "s.py"
    sheet.write_text(SHEET.replace("COIN, priors", "CALLS, priors"))  # Beta priors on a rate
    verified = run_mlemap("verify", "--sheet", str(sheet))
    assert verified.returncode != 0 and "Traceback" not in verified.stderr
    (line,) = [row for row in verified.stderr.splitlines() if "question q10" in row]
    assert "the prior Beta(2, 2) is Beta(2, 2), a density on [0, 1], but lambda ranges over (0, oo)" in line
