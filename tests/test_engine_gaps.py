"""Textbook cases that used to crash or raise false alarms: a density with two negative factors (the
log-series), observed data with a support bound or a simplex constraint, a singular information, and a biased
MAP held to its own variance (each against an independent computation)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from mlemap.derivations import derive
from mlemap.derivations.engine import n_obs
from mlemap.derivations.fisher import SINGULAR, estimator_variance, fisher
from mlemap.derivations.model import Model, Parameter
from mlemap.derivations.sheet import Estimate, Sheet, answers
from mlemap.numerics.estimate import estimate
from mlemap.numerics.verify import verify
from tests.textbook_catalogue import categorical, gamma_poisson_map, inverse_gamma_map, log_series, uniform_0_theta, x


def test_the_log_series_log_likelihood_is_real_and_its_optimum_is_scipys():
    model = log_series()
    d = derive(model)
    assert not d.log_density.has(sp.I) and not d.loglik.has(sp.I)
    k, p = model.data[0], model.param_symbols[0]
    at = {k: 3, p: sp.Rational(2, 5)}  # the declared density's log, by SciPy
    assert float(d.log_density.subs(at)) == pytest.approx(stats.logser.logpmf(3, 0.4), rel=1e-12)
    data = {"k": np.array([1, 1, 2, 3, 1, 5, 1, 2])}
    found = estimate(d, data)
    assert found.converged, found.reason
    assert found.values["p"] == pytest.approx(model.peer(data)["p"], rel=1e-6)


def test_a_sign_that_cannot_be_paired_is_left_alone():
    """One negative factor: the density is negative, which the declaration refuses, not the log's rewriting."""
    from mlemap.derivations.engine import positive_factors

    p = sp.Symbol("p", positive=True)
    model = replace(log_series(), density=p / sp.log(1 - p))
    product, hidden = positive_factors(model.density, model)
    assert product == model.density and hidden == {}


def test_observed_data_with_a_support_bound_answer_the_sample_maximum():
    model = replace(uniform_0_theta(), observed={x: (sp.Rational(29, 10), 1, sp.Rational(1, 2))})
    sheet = Sheet(title="t", questions=(Estimate("q", "theta?", model),))
    (answer,) = answers(sheet)
    assert answer.expr == sp.Rational(29, 10) and answer.value == 2.9


def test_observed_counts_on_a_simplex_verify_without_a_false_alarm():
    k = sp.Symbol("k", integer=True)
    counts = (1, 2, 2, 3, 3, 3, 1, 3)
    model = replace(categorical(), name="die_observed", observed={k: counts})
    d = derive(model)
    assert {p.name: v for p, v in d.estimate.items()} == {f"p{j}": sp.Rational(counts.count(j), 8) for j in (1, 2, 3)}
    result = verify(model)
    assert result.passed, result.table()
    assert {c.check: c.status for c in result.checks}["cramer_rao_mc"] == "PASS"


def test_a_singular_information_is_a_skip_with_its_reason():
    u1, u2, u3 = sp.symbols("u1 u2 u3", real=True)
    y = sp.Symbol("y", integer=True, nonnegative=True)
    a, b, c = sp.symbols("a b c", real=True)
    eta = a * u1 + b * u2 + c * u3
    model = Model(
        "logistic3",
        "Logistic regression, three covariates",
        (u1, u2, u3, y),
        (Parameter(a), Parameter(b), Parameter(c)),
        sp.exp(y * eta) / (1 + sp.exp(eta)),
        support={y: sp.FiniteSet(0, 1)},
        covariates=(u1, u2, u3),
    )
    found = fisher(derive(model))
    assert found.cramer_rao is None and found.reason == SINGULAR


@pytest.mark.parametrize("factory", [inverse_gamma_map, gamma_poisson_map])
def test_a_linear_map_has_its_own_variance_which_a_simulation_confirms(factory):
    model = factory()
    d = derive(model)
    (p,) = d.params
    n = 40
    variance = float(estimator_variance(d, d.estimate[p]).subs({p: model.truth[p.name], n_obs: n}))
    rng = np.random.default_rng(7)
    draws = [model.peer(model.simulate(rng, n, model.truth))[p.name] for _ in range(20000)]
    assert variance == pytest.approx(np.var(draws, ddof=1), rel=0.05)  # s.e. of a variance over 20000: 1%


def test_draws_wider_than_the_derived_variance_fail_the_variance_check():
    from mlemap.numerics.montecarlo import check_cramer_rao, estimates

    d = derive(inverse_gamma_map())
    draws = estimates(d)
    assert check_cramer_rao(d, draws).status == "PASS"
    widened = draws.mean(axis=0) + 1.2 * (draws - draws.mean(axis=0))  # variance 44% larger
    result = check_cramer_rao(d, widened)
    assert result.status == "FAIL" and "own derived variance" in result.detail


def test_twice_the_map_fails_the_estimate_checks():
    d = derive(inverse_gamma_map())
    (v,) = d.params
    failed = {c.check for c in verify(replace(d, estimate={v: 2 * d.estimate[v]})).checks if c.status == "FAIL"}
    assert {"peer", "scipy_optimize", "stationary"} <= failed


def test_raos_linkage_has_one_root_in_the_domain_and_raos_value():
    from tests.textbook_catalogue import genetic_linkage

    d = derive(genetic_linkage())
    counts = {s.symbol.name: s.symbol for s in d.statistics}
    rao = {counts["N_k_1"]: 125, counts["N_k_2"]: 18, counts["N_k_3"]: 20, counts["N_k_4"]: 34, n_obs: 197}
    (value,) = d.estimate.values()
    assert sp.simplify(value.subs(rao) - (15 + sp.sqrt(53809)) / 394) == 0  # Rao (1973), 0.6268


def test_a_quadratic_score_picks_its_root_by_the_sign_change_across_the_domain():
    """Without the counts' signs SymPy cannot discard the second root; the score's sign at the domain's ends
    names the one inside, under the conditions that make the sign change."""
    from mlemap.derivations.roots import quadratic_root
    from tests.textbook_catalogue import genetic_linkage

    model = genetic_linkage()
    d = derive(model)
    plain = {s.symbol: sp.Symbol(s.symbol.name) for s in d.statistics if s.symbol != n_obs}  # no sign known
    objective = d.objective.xreplace(plain)
    total = sp.Add(*plain.values())
    root, conditions = quadratic_root(objective, model.params[0], {total: n_obs})
    by_name = {s.name: s for s in plain.values()}
    rao = {by_name["N_k_1"]: 125, by_name["N_k_2"]: 18, by_name["N_k_3"]: 20, by_name["N_k_4"]: 34, n_obs: 197}
    assert sp.simplify(root.subs(rao) - (15 + sp.sqrt(53809)) / 394) == 0
    assert conditions and all(c.subs(rao) == sp.true for c in conditions)
    empty = {**rao, by_name["N_k_4"]: 0, n_obs: 163}  # no observation in the last cell: the score is 0 at theta = 0
    assert not all(c.subs(empty) == sp.true for c in conditions)


def test_the_normal_equations_name_the_gram_matrix_and_the_ridge():
    from mlemap.derivations.linear import normal_equations
    from tests.textbook_catalogue import RIDGE_NOISE, RIDGE_PRECISION, linear_model_3, ridge_model_3

    least = normal_equations(derive(linear_model_3()))
    assert least.ridge == 0 and least.gram.shape == (3, 3) and least.gram.is_symmetric()
    ridge = normal_equations(derive(ridge_model_3()))
    assert ridge.ridge == RIDGE_PRECISION * RIDGE_NOISE and ridge.scale == 1 / RIDGE_NOISE
    d = derive(ridge_model_3())
    weights = sp.Matrix([d.estimate[p] for p in ridge.params])
    assert sp.simplify((ridge.gram + ridge.ridge * sp.eye(3)) * weights - ridge.moment) == sp.zeros(3, 1)


def test_a_model_with_one_weight_has_no_normal_equations_block():
    from mlemap.derivations.linear import normal_equations
    from tests.textbook_catalogue import regression_through_origin

    assert normal_equations(derive(regression_through_origin())) is None


def test_a_parameter_bounding_two_data_symbols_is_at_the_larger_maximum():
    """x and y both on [0, theta]: theta >= max x and theta >= max y, so theta = max(max x, max y)."""
    x_, y_ = sp.Symbol("x", nonnegative=True), sp.Symbol("y", nonnegative=True)
    theta = sp.Symbol("theta", positive=True)
    model = Model(
        "uniform_pair",
        "Two uniforms on [0, theta]",
        (x_, y_),
        (Parameter(theta, sp.Interval.open(0, sp.oo)),),
        1 / theta**2,
        support={x_: sp.Interval(0, theta), y_: sp.Interval(0, theta)},
    )
    d = derive(model)
    data = {"x": np.array([0.2, 1.7, 0.4]), "y": np.array([2.1, 0.3, 0.9])}
    found = estimate(d, data)
    assert found.method == "closed form" and found.values["theta"] == 2.1


@pytest.mark.parametrize("n", [7, 8])
def test_the_laplace_location_is_the_median_and_its_scale_the_mean_absolute_deviation(n):
    from mlemap.numerics.compile import compiled
    from tests.textbook_catalogue import laplace_location_scale

    model = laplace_location_scale()
    d = derive(model)
    data = {"x": np.random.default_rng(n).laplace(1.0, 2.0, n)}
    found = estimate(d, data)
    assert found.method == "closed form" and found.converged
    median = float(np.median(data["x"]))
    assert found.values["mu"] == median
    assert found.values["b"] == pytest.approx(float(np.mean(np.abs(data["x"] - median))), rel=1e-14)
    ordered = np.sort(data["x"])
    middle = (ordered[(n - 1) // 2], ordered[n // 2])  # one point for odd n, the middle pair for even n
    c = compiled(d)
    at = {p: c.objective_raw({"mu": m, "b": found.values["b"]}, data) for p, m in zip(("lo", "hi"), middle)}
    best = c.objective_raw(found.values, data)
    assert best == pytest.approx(at["lo"], rel=1e-12) and best == pytest.approx(at["hi"], rel=1e-12)
    assert best > c.objective_raw({"mu": median + 0.3, "b": found.values["b"]}, data)


def test_the_derived_newton_step_reaches_irls_and_one_step_does_not():
    from mlemap.numerics.checks import check_data
    from mlemap.numerics.newton import check_newton, newton
    from tests.textbook_catalogue import irls, logistic_regression_3

    model = logistic_regression_3()
    d = derive(model)
    assert d.estimate is None
    data = check_data(model, seed=3)
    assert check_newton(d, data).status == "PASS"
    design = np.column_stack([data[f"x{j}"] for j in (1, 2, 3)])
    expected = irls(design, data["y"])
    reached = newton(d, data, {"w1": 0.0, "w2": 0.0, "w3": 0.0})
    assert np.allclose([reached[f"w{j}"] for j in (1, 2, 3)], expected, rtol=1e-9, atol=1e-12)
    once = newton(d, data, {"w1": 0.0, "w2": 0.0, "w3": 0.0}, iterations=1)
    assert not np.allclose([once[f"w{j}"] for j in (1, 2, 3)], expected, rtol=1e-3)
