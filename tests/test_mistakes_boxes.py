"""The takeaways-and-mistakes box and the solve steps' algebra, each against an independent computation: an
estimator's bias by Monte Carlo (numpy) or by the hat matrix, the mistakes' wrong answers by scipy, the box of
every question of both shipped sheets, the discarded roots by numpy.roots, and the solve step in x_bar."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.stats
import sympy as sp

from mlemap.catalogue import COIN_MAP, GAUSSIAN, LINEAR_REGRESSION
from mlemap.derivations.engine import derive, n_obs
from mlemap.derivations.mistakes import typical_mistakes
from mlemap.derivations.sheet import PlugIn, Posterior, answers, answers_of
from mlemap.derivations.why import estimator_bias
from mlemap.reports.boxes import place_boxes
from mlemap.reports.document import Section
from mlemap.reports.sheet_document import SheetResults
from mlemap.reports.steps import worked_steps
from mlemap.sheets import exercise3, exercise4
from mlemap.sheets.exercise4 import GEOMETRIC, LOGNORMAL, RAYLEIGH

RNG = np.random.default_rng(7)


def _param(model, name):
    return next(p.symbol for p in model.params if p.name == name)


def test_a_variance_of_log_x_is_biased_low_by_the_factor_monte_carlo_finds():
    """E[v_hat] = (n - 1) v / n, derived from the moments of log x; numpy's mean of v_hat over many samples."""
    d = derive(LOGNORMAL)
    v = _param(LOGNORMAL, "v")
    b = estimator_bias(d, v)
    assert b is not None and (b.how, b.direction, b.divisor) == ("moments", "low", n_obs - 1)
    n, m_true, v_true = 4, 1.0, 0.25
    logs = np.log(RNG.lognormal(m_true, np.sqrt(v_true), size=(400_000, n)))
    measured = np.mean(np.var(logs, axis=1))  # numpy's var divides by n: the MLE
    derived = float(b.expectation.subs({n_obs: n, v: v_true}))
    assert measured == pytest.approx(derived, rel=5e-3)
    assert abs(measured - v_true) > 0.1 * v_true  # the bias is there to be found: (n - 1)/n = 3/4


def test_a_regression_noise_variance_has_n_minus_2_degrees_of_freedom_by_the_hat_matrix():
    d = derive(LINEAR_REGRESSION)
    s2 = _param(LINEAR_REGRESSION, "sigma^2")
    b = estimator_bias(d, s2)
    assert b is not None and (b.how, b.direction) == ("residuals", "low")
    xs = np.array([0.0, 1.0, 3.0, 4.0, 7.0, 8.5])
    design = np.column_stack([xs, np.ones_like(xs)])
    hat_matrix = design @ np.linalg.solve(design.T @ design, design.T)
    by_trace = np.trace(np.eye(len(xs)) - hat_matrix) / len(xs)  # E[RSS/n] / sigma^2 given x
    assert float((b.expectation / s2).subs(n_obs, len(xs))) == pytest.approx(by_trace, rel=1e-12)


def test_one_over_k_bar_is_biased_upward_as_monte_carlo_finds_and_no_formula_is_claimed():
    d = derive(GEOMETRIC)
    p = _param(GEOMETRIC, "p")
    b = estimator_bias(d, p)
    assert b is not None and (b.how, b.direction, b.expectation) == ("jensen", "high", None)
    assert sp.simplify(b.mean - 1 / p) == 0
    draws = RNG.geometric(0.3, size=(400_000, 5))
    assert np.mean(1 / draws.mean(axis=1)) > 0.3 + 0.01  # upward, by far more than the Monte Carlo error


@pytest.mark.parametrize(("model", "name"), [(GAUSSIAN, "mu"), (RAYLEIGH, "s^2"), (LOGNORMAL, "m")])
def test_an_unbiased_estimate_gets_no_bias_line(model, name):
    """x_bar, the mean of log x and S_x2 / (2 n) (E[x^2] = 2 s^2 for a Rayleigh) are unbiased: nothing is said."""
    assert estimator_bias(derive(model), _param(model, name)) is None


def test_a_tampered_estimate_is_no_inverse_of_the_mean_and_gets_no_jensen_line():
    """2 n / S_k: f(E[k]) = 2 p, not p, so Jensen's inequality says nothing about its bias."""
    d = derive(GEOMETRIC)
    p, (s_k,) = _param(GEOMETRIC, "p"), [s.symbol for s in d.statistics if s.symbol != n_obs]
    wrong = dataclasses.replace(d, estimate={p: 2 * n_obs / s_k})
    assert estimator_bias(wrong, p) is None


def test_counting_from_zero_gives_the_mle_of_the_failures_law():
    """p (1 - p)^k for trials k: the likelihood p^n (1 - p)^(S_k), maximised on a grid by numpy."""
    q = next(q for q in exercise4.SHEET.questions if q.key == "task2")
    d = derive(GEOMETRIC)
    (right,) = answers_of(q)
    (m,) = [m for m in typical_mistakes(q, d, right.key, right.expr, derive) if m.name == "count_from_zero"]
    data = np.array([3, 1, 7, 2, 5])
    grid = np.linspace(1e-4, 1 - 1e-4, 200_001)
    loglik = len(data) * np.log(grid) + data.sum() * np.log1p(-grid)
    s_k = next(s.symbol for s in d.statistics if s.symbol != n_obs)
    assert float(m.expr.subs({n_obs: len(data), s_k: int(data.sum())})) == pytest.approx(grid[loglik.argmax()], 1e-4)


def test_a_posteriors_exponents_read_as_parameters_is_the_density_scipy_gives():
    q = next(q for q in exercise3.SHEET.questions if isinstance(q, Posterior))
    d = derive(q.model)
    (right,) = answers_of(q)
    (m,) = [m for m in typical_mistakes(q, d, right.key, right.expr, derive) if m.name == "exponents_as_parameters"]
    t = q.model.params[0].symbol
    points = np.array([0.2, 0.5, 0.8])
    np.testing.assert_allclose(sp.lambdify(t, m.expr)(points), scipy.stats.beta(3, 4).pdf(points), rtol=1e-12)
    assert m.shown == r"$\operatorname{Beta}(3, 4)$"


def test_two_new_observations_read_as_one_is_named_and_one_is_not():
    q = next(q for q in exercise3.SHEET.questions if isinstance(q, PlugIn) and len(q.new) == 2)
    d = derive(q.model)
    (right,) = answers_of(q)
    names = [m.name for m in typical_mistakes(q, d, right.key, right.expr, derive)]
    assert "one_observation" in names
    single = dataclasses.replace(q, new=q.new[:1])
    (one,) = answers_of(single)
    assert "one_observation" not in [m.name for m in typical_mistakes(single, d, one.key, one.expr, derive)]


def _boxes(sheet):
    derivations = {q.model.name: derive(q.model) for q in sheet.questions if getattr(q, "model", None) is not None}
    results = SheetResults(sheet, derivations, list(answers(sheet)), [])
    built = [(Section(q.key, q.heading(k)), q) for k, q in enumerate(sheet.questions, 1)]
    place_boxes(built, results)
    return [[b for b in sec.blocks if b["kind"] == "box"] for sec, _ in built]


@pytest.fixture(scope="module")
def exercise4_boxes():
    return _boxes(exercise4.SHEET)


def test_every_exercise4_question_but_the_study_has_a_box(exercise4_boxes):
    for q, boxes in zip(exercise4.SHEET.questions, exercise4_boxes):
        assert len(boxes) == (0 if q.key == "task4b" else 1), q.key


def _box_of(sheet, boxes, key):
    (box,) = next(b for q, b in zip(sheet.questions, boxes) if q.key == key)
    return box


def test_the_geometric_box_has_jensen_and_the_shifted_count_and_no_n_minus_1(exercise4_boxes):
    box = _box_of(exercise4.SHEET, exercise4_boxes, "task2")
    text = " ".join(box["entries"])
    assert "Jensen" in text and "upward" in text and r"\frac{1}{1 + \bar{k}}" in text
    assert "n - 1" not in text  # p is no variance: n versus n - 1 does not apply


def test_the_lognormal_box_states_the_derived_bias(exercise4_boxes):
    box = _box_of(exercise4.SHEET, exercise4_boxes, "task4a")
    assert box["title"] == "Takeaways and common mistakes"
    assert any("biased low" in e and r"\frac{v \left(n - 1\right)}{n}" in e for e in box["entries"])


def test_a_second_reading_gets_no_box_and_a_posterior_and_its_predictive_share_one():
    """Exercise 3's questions in order: theory, Task 1, Task 2, the MAP and its plug-in (0.1 a variance), the
    same read as a standard deviation, the posterior and its predictive, then the praxis."""
    boxes = [len(b) for b in _boxes(exercise3.SHEET)]
    assert boxes[:9] == [0, 1, 1, 0, 1, 0, 0, 0, 1]  # after each run of one question on one model
    found = _boxes(exercise3.SHEET)
    text = " ".join(found[8][0]["entries"])
    assert r"\operatorname{Beta}(3, 4)" in text and "plugged" in text
    assert "is biased" not in " ".join(found[1][0]["entries"])  # Task 1's own remark states the bias already
    assert "biased low" in " ".join(found[2][0]["entries"])  # Task 2's n - 2 is the box's


def _step(model, title, familiar=None, where=None):
    return next(s for s in worked_steps(derive(model), familiar, where) if s.title == title)


def test_the_discarded_roots_are_named_with_their_side_and_the_kept_one_is_shown():
    step = _step(COIN_MAP, "Stationary condition")
    theta = COIN_MAP.params[0].symbol
    roots = sorted(np.roots([-10, 15, 2, -3]).real)  # the cleared score, by hand: -10 t^3 + 15 t^2 + 2 t - 3
    low, mid, high = (sp.nsimplify(r, [sp.sqrt(5)]) for r in roots)
    assert f"${sp.latex(low)}$ (below $0$)" in step.text and f"${sp.latex(high)}$ (above $1$)" in step.text
    assert f"${sp.latex(mid)}$" not in step.text and sp.latex(mid) in step.latex.split(r"\iff")[-1]
    assert step.proof.proved()
    assert any(sp.simplify(b - (theta - high) * sp.quo(a, theta - high, theta)) == 0 for a, b, _ in step.proof.claims)
    wrong = [(a, b.subs(high, high + 1), how) for a, b, how in step.proof.claims]  # 5/2 claimed a root
    assert not dataclasses.replace(step.proof, claims=tuple(wrong)).proved()


def test_the_gaussian_solve_step_reads_in_x_bar_and_is_proved():
    familiar = {_param(GAUSSIAN, name): form for name, form in exercise3.GAUSSIAN_FORMS.items()}
    step = _step(GAUSSIAN, "Setting the score to zero", familiar, exercise3.MEANS)
    assert r"\hat{\mu} = \bar{x}" in step.latex and r"\Big|_{\mu = \bar{x}}" in step.latex
    assert "S_{x}" not in step.latex and step.proof.proved()


def test_without_a_named_mean_the_solve_step_shows_the_sum_not_its_symbol():
    step = _step(GAUSSIAN, "Setting the score to zero")
    assert r"\hat{\mu} = \frac{\sum_{i=1}^{n} {x}_{i}}{n}" in step.latex and "S_{x}" not in step.latex
