"""The engine's exact results, checked by properties computed independently of the engine's solve."""

from __future__ import annotations

import dataclasses
import re
import threading
import time

import numpy as np
import pytest
import scipy.stats
import sympy as sp

from mlemap.catalogue import (
    COIN_MAP,
    COIN_MAP_SD,
    COIN_UNIFORM,
    EXPONENTIAL,
    GAUSSIAN,
    coin_model,
    derivation,
    lam,
    normal_prior,
    theta,
    x,
)
from mlemap.derivations import bayes, solve
from mlemap.derivations.engine import TIMED_OUT, NoClosedForm, derive, n_obs, time_limit, timed_out
from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import answers
from mlemap.reports.steps import worked_steps
from mlemap.sheets.exercise3 import SHEET
from tests.conftest import cache_in, mutate


def test_estimate_solves_its_score_exactly(model_derivation):
    d = model_derivation
    if d.estimate is None:
        assert d.no_closed_form, "a model without an estimate must say why"
        return
    at = d.score.subs(d.observed_statistics).subs(d.estimate)
    assert all(sp.simplify(v) == 0 for v in at)
    assert d.second_order.status in {"proved", "conditional"}


def test_steps_are_ordered_latex(model_derivation):
    titles = [s.title for s in worked_steps(model_derivation)]
    # separable: the log-likelihood is the log-density summed over i, shown at once, then in the statistics
    assert titles[:2] == (
        ["Joint log-likelihood", titles[1]] if model_derivation.separable else ["Log-density", "Joint log-likelihood"]
    )
    if model_derivation.estimate is not None:
        assert any(t.startswith(("MLE", "MAP")) for t in titles)


def test_gaussian_variance_mle_is_mean_squared_deviation_and_biased():
    d = derivation("gaussian")
    sample = [sp.Rational(v) for v in (3, -1, 4, 1, 5, 9, 2, 6)]
    stats = {s.symbol: sum(s.expr.subs(x, v) for v in sample) for s in d.statistics}
    mu_hat = d.estimate[GAUSSIAN.params[0].symbol].subs(stats)
    s2_hat = d.estimate[GAUSSIAN.params[1].symbol].subs(stats)
    assert mu_hat == sum(sample) / len(sample)
    assert s2_hat == sum((v - mu_hat) ** 2 for v in sample) / len(sample)
    unbiased = float(np.var(np.array(sample, float), ddof=1))
    assert float(s2_hat) == pytest.approx(unbiased * (len(sample) - 1) / len(sample), rel=1e-14)


def test_gaussian_second_order_proved_symbolically():
    so = derivation("gaussian").second_order
    assert so.status == "proved" and not so.conditions


def test_regression_second_order_needs_varying_x():
    d = derivation("linear_regression")
    so = d.second_order
    assert so.status == "conditional"

    def conditions_at(xs):
        ys = [2 * v + 1 for v in xs]
        stats = {
            s.symbol: sum(s.expr.subs({x: a, sp.Symbol("y", real=True): b}) for a, b in zip(xs, ys))
            for s in d.statistics
        }
        return [c.subs(stats).subs(d.params[2], 1) for c in so.conditions]

    assert all(v > 0 for v in conditions_at([1, 2, 4]))
    assert any(v == 0 for v in conditions_at([3, 3, 3]))


def test_coin_map_root_is_the_one_in_the_unit_interval_and_a_maximum():
    for model in (COIN_MAP, COIN_MAP_SD):
        d = derivation(model.name)
        (value,) = d.estimate.values()
        assert 0 < float(value) < 1
        objective = d.objective.subs(d.observed_statistics)
        grid = np.linspace(0.01, 0.99, 981)
        values = sp.lambdify(theta, objective, "numpy")(grid)
        assert abs(grid[np.argmax(values)] - float(value)) <= 1e-3
        assert d.second_order.status == "proved"


def test_variance_reading_gives_radical_and_sd_reading_a_root_object():
    (exact,) = derivation("coin_map").estimate.values()
    assert not exact.has(sp.CRootOf) and exact.is_algebraic
    (cubic_root,) = derivation("coin_map_sd").estimate.values()
    assert cubic_root.has(sp.CRootOf)


def test_posterior_predictive_equals_beta_posterior_mean():
    heads = sum(COIN_UNIFORM.observed[x])
    tails = len(COIN_UNIFORM.observed[x]) - heads
    exact = bayes.posterior_predictive(COIN_UNIFORM, ({x: 1},))
    assert exact.is_Rational
    assert float(exact) == pytest.approx(scipy.stats.beta(heads + 1, tails + 1).mean(), rel=1e-15)


def test_truncating_the_prior_shifts_log_posterior_by_a_constant():
    assert sp.diff(bayes.truncation_log_normaliser(COIN_MAP), theta) == 0


def test_answers_are_exact_sympy_objects_with_floats_for_display():
    by_key = {a.key: a for a in answers(SHEET)}
    assert by_key["task3a.theta_map"].expr.is_algebraic
    assert by_key["task3a.p_two_tails"].value == pytest.approx(
        float((1 - by_key["task3a.theta_map"].expr) ** 2), rel=1e-15
    )
    assert by_key["task1.mu_mle"].value is None  # an expression in the data


def test_solver_time_limit_reports_no_closed_form():
    with pytest.raises(NoClosedForm, match="did not finish"), time_limit(0.05, "a slow solve"):
        while True:
            pass


def test_nonseparable_density_says_no_closed_form():
    d = derivation("cauchy")
    assert d.estimate is None and "does not separate" in d.no_closed_form
    assert d.loglik.has(sp.Sum)


def test_loglik_is_linear_in_statistics(model_derivation):
    d = model_derivation
    for s in d.statistics:
        if s.symbol != n_obs:
            assert sp.diff(d.loglik, s.symbol, 2) == 0


@pytest.mark.parametrize("variance", [0, -0.1])
def test_prior_variance_must_be_positive(variance):
    with pytest.raises(InputError, match="prior variance must be > 0"):
        normal_prior(theta, 0.5, variance)


def test_new_model_runs_through_derive_only():
    """A model declared here and nowhere else: a Rayleigh scale."""
    from mlemap.derivations.model import Model, Parameter

    s2 = sp.Symbol("s2", positive=True)
    r = sp.Symbol("r", positive=True)
    rayleigh = Model(
        "rayleigh",
        "Rayleigh",
        (r,),
        (Parameter(s2, sp.Interval.open(0, sp.oo)),),
        r / s2 * sp.exp(-(r**2) / (2 * s2)),
        support={r: sp.Interval.open(0, sp.oo)},
        simulate=lambda rng, n, t: {"r": rng.rayleigh(np.sqrt(t["s2"]), n)},
        truth={"s2": 2.25},
    )
    d = derive(rayleigh)
    assert d.second_order.status == "proved"
    stats = {st.symbol: st.symbol for st in d.statistics}
    assert sp.simplify(d.estimate[s2] - stats[next(k for k in stats if "rp2" in k.name)] / (2 * n_obs)) == 0


SHEET_MODELS = {  # answers.json's contract: key -> the model it is derived from (its wording: the golden file)
    "task1.mu_mle": "gaussian",
    "task1.sigma2_mle": "gaussian",
    "task2.a_mle": "linear_regression",
    "task2.b_mle": "linear_regression",
    "task2.sigma2_mle": "linear_regression",
    "task3a.theta_map": "coin_map",
    "task3a.p_two_tails": "coin_map",
    "task3a.theta_map_sd": "coin_map_sd",
    "task3a.p_two_tails_sd": "coin_map_sd",
    "task3b.posterior": "coin_uniform",
    "task3b.p_next_head": "coin_uniform",
}


def test_answers_keep_their_keys_questions_and_models():
    import json
    from pathlib import Path

    golden = {
        r["key"]: r["question"]
        for r in json.loads((Path(__file__).parent / "golden" / "exercise3-answers.json").read_text())
    }
    assert {a.key: a.model for a in answers(SHEET)} == SHEET_MODELS
    assert all(golden[a.key] == a.question for a in answers(SHEET))


def test_each_answer_is_its_models_result_printed_with_its_models_latex():
    by_key = {a.key: a for a in answers(SHEET)}
    for key, ans in by_key.items():
        d = derivation(ans.model)
        assert ans.latex == d.latex(ans.expr), key
    for key, d in (("task1", derivation("gaussian")), ("task2", derivation("linear_regression"))):
        for p in d.params:
            assert by_key[f"{key}.{p.name.replace('^', '')}_mle"].expr == d.estimate[p]
    for suffix, name in (("", "coin_map"), ("_sd", "coin_map_sd")):
        (hat,) = derivation(name).estimate.values()
        assert by_key[f"task3a.theta_map{suffix}"].expr == hat
        assert sp.simplify(by_key[f"task3a.p_two_tails{suffix}"].expr - (1 - hat) ** 2) == 0
    heads, n = sum(COIN_UNIFORM.observed[x]), len(COIN_UNIFORM.observed[x])
    beta = theta**heads * (1 - theta) ** (n - heads) / sp.beta(heads + 1, n - heads + 1)
    assert sp.simplify(by_key["task3b.posterior"].expr - beta) == 0
    assert by_key["task3b.p_next_head"].expr == sp.Rational(heads + 1, n + 2)
    flat = bayes.posterior(dataclasses.replace(COIN_UNIFORM, prior=None))
    assert sp.simplify(flat - beta) == 0  # no prior at all is the flat prior


def _beta_prior_coin(power):
    """The sheet's coin with an unnormalised prior theta**power: the posterior is Beta(h + power + 1, t + 1)."""
    return coin_model("coin_beta", "coin, Beta prior", theta**power)


def test_posterior_multiplies_likelihood_and_prior_and_normalises():
    model = _beta_prior_coin(2)
    heads, n = sum(model.observed[x]), len(model.observed[x])
    post = bayes.posterior(model)
    points = np.array([0.1, 0.35, 0.8])
    values = [float(post.subs(theta, sp.Float(p))) for p in points]
    np.testing.assert_allclose(values, scipy.stats.beta(heads + 3, n - heads + 1).pdf(points), rtol=1e-12)
    predictive = bayes.posterior_predictive(model, ({x: 1},))
    assert predictive == sp.Rational(heads + 3, n + 4)


def test_posterior_predictive_refuses_models_it_cannot_integrate():
    with pytest.raises(
        InputError, match=r"^gaussian: the posterior predictive integral needs one parameter on an interval$"
    ):
        bayes.posterior(GAUSSIAN)
    from mlemap.catalogue import NORMAL_NORMAL

    with pytest.raises(InputError, match=r"^normal_normal: has no observed data$"):
        bayes.posterior_predictive(NORMAL_NORMAL, ({x: 1},))


def test_only_a_time_limit_that_ran_out_counts_as_timed_out():
    assert timed_out(f"sympy.solve of the score equations {TIMED_OUT} within 20 s")
    assert not timed_out(None)
    assert not timed_out("")
    assert not timed_out("the log-density does not separate into statistics")


VALUES = np.array([-0.5, 0.0, 0.5, 1.0, 1.5])


@pytest.mark.parametrize(
    ("support", "inside"),
    [
        (sp.Reals, [1, 1, 1, 1, 1]),
        (sp.Interval(0, 1), [0, 1, 1, 1, 0]),
        (sp.Interval.open(0, 1), [0, 0, 1, 0, 0]),
        (sp.Interval.Lopen(0, 1), [0, 0, 1, 1, 0]),
        (sp.Interval.Ropen(0, 1), [0, 1, 1, 0, 0]),
        (sp.FiniteSet(0, 1), [0, 1, 0, 1, 0]),
        (sp.Naturals0, [0, 1, 0, 1, 0]),
    ],
    ids=["reals", "closed", "open", "left-open", "right-open", "finite", "naturals0"],
)
def test_data_support_membership_respects_each_bound(support, inside):
    from mlemap.derivations.model import in_support

    got = in_support(VALUES, support)
    assert got.dtype == bool and got.tolist() == [bool(v) for v in inside]


def test_any_other_data_support_is_asked_of_sympy_value_by_value():
    from mlemap.derivations.model import in_support

    union = sp.Union(sp.Interval(0, 1), sp.Interval(2, 3))
    assert in_support(VALUES, union).tolist() == [bool(union.contains(sp.Rational(v))) for v in VALUES]
    with pytest.raises(InputError, match=r"^cannot decide whether 1.0 lies in the data support"):
        in_support(
            np.array([1.0]), sp.ImageSet(sp.Lambda(sp.Symbol("k"), sp.Symbol("k") * sp.Symbol("c")), sp.Integers)
        )


def test_a_solution_outside_a_parameter_domain_or_missing_one_is_not_in_it():
    from mlemap.derivations.engine import _in_domain

    mu, s2 = GAUSSIAN.param_symbols
    assert _in_domain(GAUSSIAN, {mu: 1, s2: 2})
    assert not _in_domain(GAUSSIAN, {mu: 1, s2: -2})
    assert not _in_domain(GAUSSIAN, {mu: 1})


def test_leading_principal_minors_decide_definiteness():
    from mlemap.derivations.engine import _minors_status

    a = sp.Symbol("a", real=True)
    assert _minors_status(sp.Matrix([[2, 1], [1, 3]])) == ((2, 5), "proved", ())
    assert _minors_status(sp.Matrix([[1, 0], [0, -1]])) == ((1, -1), "fails", ())
    assert _minors_status(sp.Matrix([[a, 0], [0, 1]])) == ((a, a), "conditional", (a, a))


def test_the_highest_of_several_stationary_points_is_picked():
    from mlemap.derivations.engine import _pick_maximum

    t, c = sp.symbols("t c", real=True)
    objective = -((t**2 - 1) ** 2) + t
    candidates = [{t: 1}, {t: -1}, {t: 0}]  # the highest first: not where max() without a key lands
    assert _pick_maximum(objective, candidates) == {t: 1}
    with pytest.raises(NoClosedForm, match=r"^2 symbolic stationary points and no way to rank them$"):
        _pick_maximum(objective, [{t: c}, {t: -c}])  # the values differ by 2c, of unknown sign


def test_symbolic_stationary_values_are_ranked_where_sympy_proves_the_sign_of_their_difference():
    from mlemap.derivations.engine import _pick_maximum

    t = sp.Symbol("t", real=True)
    objective = n_obs * -((t**2 - 1) ** 2)  # -n at t = 0, 0 at t = +-1: n > 0 decides
    assert _pick_maximum(objective, [{t: 0}, {t: 1}]) == {t: 1}
    assert _pick_maximum(objective, [{t: 1}, {t: 0}]) == {t: 1}
    assert _pick_maximum(-objective, [{t: 1}, {t: 0}]) == {t: 0}


def test_statistic_names_are_identifiers_read_off_the_expression():
    from mlemap.derivations.engine import _stat_name

    y = sp.Symbol("y", real=True)
    assert [_stat_name(g) for g in (x, x**2, x * y, sp.log(x))] == ["S_x", "S_xp2", "S_xy", "S_logx"]


def test_the_second_order_hessian_is_the_objective_hessian_at_the_estimate():
    d = derivation("gaussian")
    so = d.second_order
    at_estimate = sp.hessian(d.objective, d.params).subs(d.estimate)
    assert sp.simplify(so.hessian.subs(d.estimate) - at_estimate) == sp.zeros(*so.hessian.shape)


def test_statistics_are_written_as_sums_over_the_indexed_observations():
    shown = {s.symbol.name: s.latex for s in derivation("linear_regression").statistics}
    assert shown["S_xy"] == r"\sum_{i=1}^{n} x_{i} y_{i}"
    assert shown["S_xp2"] == r"\sum_{i=1}^{n} x_{i}^{2}"


def test_without_statistics_to_solve_for_the_hessian_is_taken_at_the_estimate_itself():
    """Observed statistics (the coin models) leave nothing to solve for: the fallback evaluates the Hessian at
    the estimate and keeps the minors the assumptions cannot decide as conditions."""
    from mlemap.derivations.engine import SecondOrder, _minors_status, _second_order

    d = derivation("gaussian")
    stats = {s.symbol: s.symbol for s in d.statistics}  # non-empty: takes the fallback, substitutes nothing
    so = _second_order(mutate(d, observed_statistics=stats), d.objective, d.estimate)
    at_estimate = sp.simplify(sp.hessian(d.objective, d.params).subs(d.estimate))
    assert sp.simplify(so.hessian - at_estimate) == sp.zeros(2, 2)
    assert so.status == "conditional" and so.conditions  # sigma^2_MLE > 0 is not an assumption of the statistics
    assert so == SecondOrder(so.hessian, *_minors_status(-so.hessian))


def test_a_statistic_set_sympy_cannot_solve_for_is_skipped_not_the_end_of_the_search(monkeypatch):
    from mlemap.derivations import engine

    d = derivation("linear_regression")
    highest = next(s.symbol for s in d.statistics if s.symbol.name == "S_yp2")  # in the first set tried
    solve = sp.solve

    def solve_but_not_for_the_highest(equations, symbols, **kwargs):
        if highest in symbols:
            raise NotImplementedError
        return solve(equations, symbols, **kwargs)

    monkeypatch.setattr(engine.sp, "solve", solve_but_not_for_the_highest)
    so = engine._second_order(d, d.objective, d.estimate)
    assert set(d.params) & so.hessian.free_symbols  # solved for other statistics, not evaluated at the estimate
    at_estimate = sp.hessian(d.objective, d.params).subs(d.estimate)
    assert sp.simplify(so.hessian.subs(d.estimate) - at_estimate) == sp.zeros(3, 3)


def test_the_sample_size_is_never_solved_for(monkeypatch):
    """n counts observations: trading it for a parameter would give a Hessian in a meaningless "n"."""
    from mlemap.derivations import engine

    d = derivation("exponential")
    asked, solve = [], sp.solve

    def solve_only_for_the_sample_size(equations, symbols, **kwargs):
        asked.append(tuple(symbols))
        if n_obs not in symbols:
            raise NotImplementedError
        return solve(equations, symbols, **kwargs)

    monkeypatch.setattr(engine.sp, "solve", solve_only_for_the_sample_size)
    so = engine._second_order(d, d.objective, d.estimate)
    assert [tuple(s.name for s in combo) for combo in asked] == [("S_x",)]
    assert not set(d.params) & so.hessian.free_symbols  # fell back to the Hessian at the estimate


def test_a_bimodal_posterior_gets_its_global_maximum_among_the_stationary_points():
    """Prior (theta - 1/2)^2 + 1/100 on the sheet's coin data: two interior maxima and a minimum between."""
    bimodal = coin_model("coin_bimodal", "Coin, bimodal prior", (theta - sp.Rational(1, 2)) ** 2 + sp.Rational(1, 100))
    d = derive(bimodal)
    assert len(d.candidates) == 3
    grid = np.linspace(0.001, 0.999, 9999)
    values = sp.lambdify(theta, d.objective.subs(d.observed_statistics), "numpy")(grid)
    assert abs(float(d.estimate[theta]) - grid[np.argmax(values)]) <= 1e-4


def test_stationary_points_only_outside_the_domain_are_no_closed_form_and_say_how_many():
    """Two waits of 1/10 and a prior growing with the rate: the score 2/lambda + 4.8 vanishes only at a negative
    rate and stays positive, so the posterior rises without bound: no maximum at all."""
    rising = dataclasses.replace(
        EXPONENTIAL, prior=sp.exp(5 * lam), observed={x: (sp.Rational(1, 10), sp.Rational(1, 10))}
    )
    d = derive(rising)
    assert d.estimate is None and d.candidates == ()
    assert d.no_closed_form == "no stationary point inside the parameter domain (SymPy found 1 outside)"


def test_a_score_of_one_sign_on_a_bounded_domain_puts_the_maximum_at_the_end():
    """Three heads and a prior growing with theta: the score 3/theta + 1 > 0 on (0, 1), so the supremum is theta = 1."""
    d = derive(dataclasses.replace(coin_model("coin_outside", "Coin", sp.exp(theta)), observed={x: (1, 1, 1)}))
    assert d.estimate == {theta: 1} and d.boundary and d.candidates == ()
    falling = derive(dataclasses.replace(coin_model("coin_tails", "Coin", None), observed={x: (0, 0)}))
    assert falling.estimate == {theta: 0} and falling.boundary


def test_statistics_given_are_statistics_used_for_a_model_with_observed_data():
    from mlemap.derivations.engine import estimate_at

    d = derive(COIN_UNIFORM)
    n, heads = (s.symbol for s in d.statistics)
    assert estimate_at(d, {n: 7, heads: 3}) == {theta: sp.Rational(3, 7)}
    assert estimate_at(d, {n: 3, heads: 3}) == {theta: 1}
    assert estimate_at(d, {n: 10, heads: 4}) == {theta: sp.Rational(2, 5)}
    mapped = estimate_at(derive(COIN_MAP), {n: 3, heads: 3})[theta]
    score = sp.diff(3 * sp.log(theta) - 10 * (theta - sp.Rational(1, 2)) ** 2 / 2, theta)
    assert sp.simplify(score.subs(theta, mapped)) == 0 and 0 < mapped < 1


def test_a_solve_that_runs_out_of_time_says_which_solve(monkeypatch):
    from mlemap.derivations import solve

    monkeypatch.setattr(solve, "SOLVE_SECONDS", 1e-3)
    d = derive(GAUSSIAN)
    assert d.estimate is None
    assert re.fullmatch(r"sympy\.solve of the score equations did not finish within 0\.001 s", d.no_closed_form), (
        d.no_closed_form
    )


def test_a_system_sympy_cannot_solve_is_no_closed_form_with_sympys_reason(monkeypatch):
    from mlemap.derivations import engine

    def unsolvable(*args, **kwargs):
        raise NotImplementedError("no algorithm\nfor this system")

    monkeypatch.setattr(engine.sp, "solve", unsolvable)
    d = derive(GAUSSIAN)  # two parameters: the system route
    assert d.no_closed_form == "sympy.solve cannot solve the score equations: no algorithm for this system"


def test_stationary_points_that_cannot_be_ranked_are_no_closed_form_with_the_reason(monkeypatch):
    from mlemap.derivations import engine

    def unrankable(objective, candidates):
        raise NoClosedForm("2 symbolic stationary points and no way to rank them")

    monkeypatch.setattr(engine, "_pick_maximum", unrankable)
    d = derive(GAUSSIAN)
    assert d.estimate is None and d.second_order is None and len(d.candidates) == 1
    assert d.no_closed_form == "2 symbolic stationary points and no way to rank them"


def test_statistics_print_as_their_sums_in_any_expression():
    d = derivation("gaussian")
    s_xx = next(s.symbol for s in d.statistics if s.symbol.name == "S_xp2")
    assert d.latex(s_xx / n_obs) == r"\frac{\sum_{i=1}^{n} x_{i}^{2}}{n}"


def test_indexing_keeps_a_data_symbol_apart_from_one_already_named_like_its_index():
    """x -> x_i and x_i -> x_i_i at once: one after the other, x would become x_i and then x_i_i."""
    from mlemap.derivations.engine import _stat_latex

    xi = sp.Symbol("x_i")  # no assumptions: the same symbol as the index symbol made for x
    assert _stat_latex(x * xi**2, (x, xi)) == r"\sum_{i=1}^{n} x_{i} x_{i i}^{2}"


def test_the_log_prior_is_a_sum_of_logs_even_where_the_signs_are_not_declared():
    """1 - theta > 0 holds on the domain but not by the symbol's assumptions: the log is split regardless."""
    from mlemap.derivations.engine import log_prior

    assert log_prior(coin_model("coin_beta_2_3", "Coin", theta**2 * (1 - theta) ** 3)) == 2 * sp.log(
        theta
    ) + 3 * sp.log(1 - theta)


def test_a_derivation_that_ran_out_of_time_is_not_cached(tmp_path, monkeypatch):
    """A slow machine's time-out must not become every later build's answer."""
    from mlemap.derivations import solve

    cache_in(monkeypatch, tmp_path)
    monkeypatch.setattr(solve, "SOLVE_SECONDS", 1e-3)
    assert timed_out(derive(GAUSSIAN).no_closed_form)
    assert list(tmp_path.glob("derivation-*")) == []


def test_statistics_carry_what_the_data_guarantee():
    """S_x is real; S_xp2, a sum of squares, is also nonnegative: SymPy's sign reasoning starts from these."""
    s_x, s_xx = (s.symbol for s in derivation("gaussian").statistics if s.symbol != n_obs)
    assert (s_x.is_real, s_x.is_nonnegative) == (True, None)
    assert (s_xx.is_real, s_xx.is_nonnegative) == (True, True)


@pytest.mark.parametrize(
    "name, positive, nonnegative",
    [("exponential", True, True), ("poisson", None, True)],  # x on (0, oo); x in 0, 1, 2, ...
)
def test_a_sum_over_the_support_is_positive_or_nonnegative_by_the_support_alone(name, positive, nonnegative):
    """x is declared only real: the sign of S_x comes from the support, (0, oo) or the naturals with 0."""
    (s_x,) = (s.symbol for s in derivation(name).statistics if s.expr == x)
    assert (s_x.is_real, s_x.is_positive, s_x.is_nonnegative) == (True, positive, nonnegative)


def test_a_standard_deviation_keeps_only_the_positive_root():
    """The score -n/s + S_xp2/s^3 vanishes at s = +-sqrt(S_xp2/n); S_xp2 >= 0 puts the negative root outside."""
    from mlemap.derivations.model import Model, Parameter

    s = sp.Symbol("s", positive=True)
    density = sp.exp(-(x**2) / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2)
    d = derive(Model("normal_sd", "Normal, mean 0, sd s", (x,), (Parameter(s, sp.Interval.open(0, sp.oo)),), density))
    s_xx = next(st.symbol for st in d.statistics if st.symbol != n_obs)
    assert len(d.candidates) == 1 and sp.simplify(d.estimate[s] - sp.sqrt(s_xx / n_obs)) == 0


def test_the_statistics_run_from_n_through_the_moments_in_degree():
    names = [s.symbol.name for s in derivation("linear_regression").statistics]
    assert names == ["n", "S_x", "S_y", "S_xp2", "S_xy", "S_yp2"]
    assert [s.symbol.name for s in derivation("poisson").statistics] == ["n", "S_x", "S_logfactorialx"]


def test_each_statistic_carries_its_latex_and_n_is_plain_n():
    latex = [s.latex for s in derivation("linear_regression").statistics]
    assert latex[0] == "n" and latex[1:3] == [r"\sum_{i=1}^{n} x_{i}", r"\sum_{i=1}^{n} y_{i}"]


def test_a_log_density_that_does_not_separate_is_a_sum_over_the_observations():
    d = derivation("cauchy")
    assert d.statistics == () and d.estimate is None
    assert d.no_closed_form == (
        "the log-density does not separate into f(theta) g(x) terms, so the score is a sum over the data with no "
        "closed-form root; the optimum is found numerically"
    )
    assert sp.latex(d.loglik).startswith(r"\sum_{i=1}^{n} ")
    xs = (0.5, -2.0, 3.0)
    at_three = d.loglik.subs(n_obs, 3).doit().subs({sp.IndexedBase("x")[k + 1]: v for k, v in enumerate(xs)})
    assert sp.simplify(at_three - sum(d.log_density.subs(x, v) for v in xs)) == 0


def _spin_until_stopped(seconds: float) -> None:
    with time_limit(seconds, "a slow solve"):
        while True:
            pass


def test_time_limit_works_off_the_main_thread():
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            _spin_until_stopped(0.05)
            outcome.append(None)
        except NoClosedForm as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive() and "did not finish within 0.05 s" in str(outcome[0])


def test_the_alarm_signal_bounds_the_main_thread_only():
    """Python runs a signal handler in the main thread alone: elsewhere the portable limit has to stand in."""
    elsewhere = []
    thread = threading.Thread(target=lambda: elsewhere.append(solve._signal_limit_available()))
    thread.start()
    thread.join(timeout=10)
    assert solve._signal_limit_available() and elsewhere == [False]


def test_portable_time_limit_in_the_main_thread(monkeypatch):
    monkeypatch.setattr(solve, "_signal_limit_available", lambda: False)
    with pytest.raises(NoClosedForm, match=r"did not finish within 0\.05 s"):
        _spin_until_stopped(0.05)


@pytest.mark.parametrize("signals", [True, False], ids=["SIGALRM", "portable"])
def test_time_limit_leaves_nothing_behind(monkeypatch, signals):
    # a block that ends in time returns its value, and no exception surfaces after it
    monkeypatch.setattr(solve, "_signal_limit_available", lambda: signals)
    with time_limit(0.05, "a quick solve"):
        value = sp.solve(sp.Symbol("z") - 2)
    time.sleep(0.1)
    assert value == [2]


def _one_parameter(t: sp.Symbol, domain: sp.Set, *more: sp.Symbol):
    from mlemap.derivations.model import Model, Parameter

    params = (Parameter(t, domain),) + tuple(Parameter(s, sp.Interval(0, 1)) for s in more)
    return Model("boundary", "boundary", (x,), params, sp.Integer(1))


BOUNDARY_CASES = [  # (domain, objective, the supremum's end or None), every kind of interval
    (sp.Interval.open(0, 1), 3 * sp.log(theta), 1),  # all heads
    (sp.Interval.open(0, 1), 3 * sp.log(1 - theta), 0),
    (sp.Interval.open(0, 1), sp.Symbol("m", positive=True) * sp.log(theta), 1),  # a count in the objective
    (sp.Interval.open(1, 3), -((theta - 4) ** 2), 3),  # rising on (1, 3), falling past 4
    (sp.Interval.open(1, 3), -((theta - sp.Rational(5, 2)) ** 2), None),  # the sign changes inside: no boundary maximum
    (sp.Interval.open(2, sp.oo), -((theta - 1) ** 2), 2),  # a half-line, falling from its finite end
    (sp.Interval.open(-sp.oo, 5), -((theta - 6) ** 2), 5),  # a half-line, rising to its finite end
    (sp.Interval.open(2, sp.oo), theta, None),  # rising to infinity: no maximum
]


@pytest.mark.parametrize(("domain", "objective", "end"), BOUNDARY_CASES)
def test_a_boundary_maximum_is_the_end_the_objective_rises_to(domain, objective, end):
    t = sp.Symbol("t", real=True)
    found = solve.boundary_maximum(objective.subs(theta, t), _one_parameter(t, domain))
    assert found == (None if end is None else {t: end})


def test_no_boundary_maximum_is_claimed_for_two_parameters():
    t, s = sp.Symbol("t", real=True), sp.Symbol("s", real=True)
    assert solve.boundary_maximum(3 * sp.log(t) + s, _one_parameter(t, sp.Interval.open(0, 1), s)) is None
