"""Fisher information, asymptotic variances and bias: derived exactly, checked by seeded Monte Carlo."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import sympy as sp

from mlemap.catalogue import COIN_MAP, GAUSSIAN, MODELS, derivation
from mlemap.derivations import fisher as fisher_module
from mlemap.derivations.designs import gaussian_mean
from mlemap.derivations.engine import NoClosedForm, derive, n_obs
from mlemap.derivations.fisher import expectation, expected_statistic, expected_value, fisher, fisher_key
from mlemap.numerics import montecarlo as mc
from mlemap.numerics.checks import check_data
from tests.conftest import cache_in, mutate

SIMULATED = sorted(m for m, model in MODELS.items() if model.simulate is not None)


@pytest.mark.parametrize("name", SIMULATED)
def test_monte_carlo_matches_derived_variance_and_mean(name):
    results = mc.run_monte_carlo(derivation(name))
    assert [r.check for r in results] == ["cramer_rao_mc", "bias_mc"]
    assert all(r.passed for r in results), [(r.check, r.error, r.tolerance) for r in results]
    assert not np.isnan(results[0].error)


def test_a_wrong_information_fails_the_variance_check():
    d = derivation("poisson")
    right = fisher(d)
    wrong = dataclasses.replace(right, expected=right.expected * 2, cramer_rao=right.cramer_rao / 2)
    draws = mc.estimates(d, replications=1000)
    assert mc.check_cramer_rao(d, draws, right).passed
    assert not mc.check_cramer_rao(d, draws, wrong).passed


def test_a_wrong_expectation_fails_the_bias_check():
    d = derivation("gaussian")
    draws = mc.estimates(d, replications=1000, n=10)
    right = mc.derived_means(d, n=10)
    assert mc.check_bias(d, draws, right, n=10).passed
    unbiased_claim = dict(right, **{"sigma^2": MODELS["gaussian"].truth["sigma^2"]})  # "sigma^2_MLE is unbiased"
    assert not mc.check_bias(d, draws, unbiased_claim, n=10).passed


def test_variance_mle_bias_is_n_minus_1_over_n():
    d = derivation("gaussian")
    _, s2 = d.params
    mean = expected_value(d, d.estimate[s2])
    assert sp.simplify(mean - (n_obs - 1) / n_obs * s2) == 0
    assert sp.simplify(expected_value(d, d.estimate[s2] * n_obs / (n_obs - 1)) - s2) == 0
    from mlemap.derivations.fisher import bias
    from mlemap.numerics.bias import bias_check

    vb = bias_check(d, bias(d, s2), n=5)
    se = vb.truth * np.sqrt(2 / (vb.n - 1)) / np.sqrt(vb.replications)  # sd of the unbiased estimator, over sqrt(R)
    assert vb.derived_mean == pytest.approx(vb.truth * (vb.n - 1) / vb.n, rel=1e-12)
    assert abs(vb.corrected_mean - vb.truth) < 4 * se
    assert abs(vb.simulated_mean - vb.derived_mean) < 4 * se


def test_cauchy_information_is_derived_by_the_general_fallback():
    f = fisher(derivation("cauchy"))
    (mu,) = derivation("cauchy").params
    assert not f.expected.has(sp.Sum) and not f.expected.has(mu)


def test_map_moves_from_the_mle_to_the_prior_mean_as_the_prior_strengthens():
    from mlemap.numerics.prior_strength import prior_study
    from mlemap.sheets.exercise3 import SHEET

    (q,) = [q for q in SHEET.appendix if q.key == "appendix.prior_strength"]
    study = prior_study(q, derive)
    mle, rows = study.mle, study.rows
    assert study.prior_mean == pytest.approx(0.5, abs=1e-10)
    gaps = [abs(r.map - 0.5) for r in rows]
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    assert all(min(mle, 0.5) < r.map < 0.5 and min(mle, 0.5) < r.posterior_mean < 0.5 for r in rows)
    assert all(abs(r.map - r.numeric_map) < 1e-8 for r in rows)
    sheet = next(r for r in rows if r.label == r"$N(0.5, \frac{1}{10})$")
    assert sheet.map_exact == next(iter(derivation(COIN_MAP.name).estimate.values()))


def test_regression_information_is_conditional_on_the_design():
    d = derivation("linear_regression")
    _a, _b, s2 = d.params
    stats = {s.expr: s.symbol for s in d.statistics}
    n, sx, sxx = stats[sp.Integer(1)], stats[sp.Symbol("x", real=True)], stats[sp.Symbol("x", real=True) ** 2]
    bound = fisher(d).cramer_rao
    # Var(a_hat) of ordinary least squares: sigma^2 / sum (x_i - x_bar)^2
    assert sp.simplify(bound[0, 0] - s2 / (sxx - sx**2 / n)) == 0
    data = check_data(d.model, 0)
    ses = mc.standard_errors(d, fisher(d), data)
    x = data["x"]
    residual_var = np.mean((data["y"] - np.polyval(np.polyfit(x, data["y"], 1), x)) ** 2)
    assert ses["a"][1] == pytest.approx(np.sqrt(residual_var / np.sum((x - x.mean()) ** 2)), rel=1e-9)


def test_expected_value_of_an_affine_estimator_keeps_its_constant():
    d = derivation("gaussian")
    mu, _ = d.params
    s_x = next(s.symbol for s in d.statistics if s.expr == d.model.data[0])
    assert sp.simplify(expected_value(d, s_x / n_obs + 1) - (mu + 1)) == 0
    assert sp.simplify(expected_value(d, 3 * s_x / n_obs - 2) - (3 * mu - 2)) == 0


def test_expected_value_refuses_estimators_it_cannot_take():
    d = derivation("gaussian")
    s_x, s_xx = (s.symbol for s in d.statistics if s.symbol != n_obs)
    with pytest.raises(
        NoClosedForm, match=r"^the estimator divides by a statistic; its expectation is not a polynomial one$"
    ):
        expected_value(d, n_obs / s_x)
    with pytest.raises(NoClosedForm, match=r"^estimators of degree > 2 in the statistics are not handled$"):
        expected_value(d, s_x**3 / n_obs**3)
    with pytest.raises(NoClosedForm, match=r"^estimators of degree > 2 in the statistics are not handled$"):
        expected_value(d, s_x**2 * s_xx)
    with pytest.raises(NoClosedForm, match=r"^the estimator is not a polynomial in the statistics$"):
        expected_value(d, sp.sqrt(s_xx) / n_obs)  # a root of a statistic, as a Weibull scale has


@pytest.mark.parametrize("name", ["cauchy", "coin_map_sd"])
def test_newton_over_all_replicates_equals_newton_one_sample_at_a_time(name):
    d = derivation(name)
    par = d.model.params[0].name
    rows = mc.newton_rows(d, 40, 200, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    loop = [
        mc.newton(d, d.model.validate(d.model.simulate(rng, 200, d.model.truth)), dict(d.model.truth))[par]
        for _ in range(40)
    ]
    np.testing.assert_allclose(rows[:, 0], loop, rtol=0, atol=1e-9)


def test_covariate_expectations_the_model_statistics_cannot_hold_are_refused_by_name():
    d = derivation("linear_regression")
    (y,) = (v for v in d.model.data if v not in d.model.covariates)
    with pytest.raises(
        NoClosedForm, match=r"^E\[y\*\*3 \| covariates\] needs statistics the model does not have: \[x\*\*3\]$"
    ):
        expected_statistic(d, y**3)
    with pytest.raises(
        NoClosedForm, match=r"^E\[exp\(y\) \| covariates\] does not separate into covariate statistics$"
    ):
        expected_statistic(d, sp.exp(y))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_expectation_of_one_is_one(name):
    """The density integrates (sums) to 1 over the declared support: the support's bounds are the right ones."""
    assert sp.simplify(expectation(derivation(name), sp.Integer(1)) - 1) == 0


def test_expectations_over_two_responses_are_refused_by_name():
    d = derive(gaussian_mean("m", ((5, 0), (0, 5)), (1, 1)))
    with pytest.raises(NoClosedForm, match=r"^expectations over several response symbols are not derived$"):
        expectation(d, d.model.data[0])


@pytest.mark.parametrize(
    "unevaluated",
    [
        lambda x, mu: sp.Integral(sp.exp(-(x**4) - mu), (x, -sp.oo, sp.oo)),
        lambda x, mu: sp.Sum(mu / (x**3 + 1), (x, 0, sp.oo)),
        lambda x, mu: sp.Piecewise((mu, mu > 0), (0, True)),
    ],
    ids=["Integral", "Sum", "Piecewise"],
)
def test_an_expectation_sympy_leaves_unevaluated_is_no_closed_form(monkeypatch, unevaluated):
    """Each of the three unevaluated forms SymPy can hand back is refused, not passed on as an answer."""
    d = derivation("cauchy")  # support Reals: the integrate route
    (x,), (mu,) = d.model.data, d.params
    monkeypatch.setattr(fisher_module.sp, "integrate", lambda *args, **kwargs: unevaluated(x, mu))
    with pytest.raises(NoClosedForm, match=r"^SymPy could not take E\[x\]$"):
        expectation(d, x)


def test_an_expectation_needs_no_sign_on_the_symbol_when_the_domain_declares_it():
    """E[X] = 1/lambda converges only for lambda > 0. The Parameter's domain says so; SymPy, seeing a rate
    declared merely real, would wrap the answer in a Piecewise over arg(lambda) unless told conds="none"."""
    from mlemap.derivations.model import Model, Parameter

    rate, x = sp.Symbol("lambda", real=True), sp.Symbol("x", positive=True)
    positive = sp.Interval.open(0, sp.oo)
    model = Model(
        "exponential_real_rate",
        "Exponential",
        (x,),
        (Parameter(rate, positive),),
        rate * sp.exp(-rate * x),
        support={x: positive},
    )
    assert expectation(derive(model), x) == 1 / rate


def test_the_observed_information_is_minus_the_hessian_of_the_log_likelihood():
    d = derivation("gaussian")
    assert fisher(d).observed == -sp.hessian(d.loglik, d.params)


def test_an_information_that_ran_out_of_time_keeps_the_observed_one_and_is_not_cached(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path)
    d = derive(GAUSSIAN)  # its observed information holds statistics, whose expectations are integrals
    monkeypatch.setattr(fisher_module, "EXPECTATION_SECONDS", 1e-3)
    f = fisher(d)
    assert f.expected is None and f.cramer_rao is None
    assert re.fullmatch(r"E\[.+\] did not finish within 0\.001 s", f.reason), f.reason
    assert f.observed == -sp.hessian(d.loglik, d.params)
    assert list(tmp_path.glob("fisher-*")) == []


def test_the_fisher_key_changes_with_the_statistics():
    d = derivation("gaussian")
    assert fisher_key(mutate(d, statistics=d.statistics[:-1])) != fisher_key(d)


def test_an_integer_range_support_is_summed_and_a_range_with_gaps_is_refused():
    from tests.test_textbook import binomial_model

    d = derive(binomial_model(sp.Range(0, 11)))
    (k,), (p,) = d.model.data, d.params
    assert sp.simplify(expectation(d, k) - 10 * p) == 0  # the binomial mean N p
    gapped = mutate(d, model=dataclasses.replace(d.model, support={k: sp.Range(0, 11, 2)}))
    with pytest.raises(NoClosedForm, match=r"^E\[k\] over the support Range\(0, 12, 2\) is not derived$"):
        expectation(gapped, k)


def test_a_density_in_log_x_has_its_textbook_information():
    """The log-normal: log x is Gaussian(m, v), so the information is the Gaussian's, n diag(1/v, 1/(2 v^2))."""
    from mlemap.sheets.exercise4 import LOGNORMAL

    info = fisher(derive(LOGNORMAL))
    _, v = LOGNORMAL.param_symbols
    assert info.reason == "" and sp.simplify(info.expected - sp.diag(n_obs / v, n_obs / (2 * v**2))) == sp.zeros(2)


def test_a_density_in_log_x_needs_no_sign_on_the_symbol_when_the_domain_declares_it():
    """As for the exponential's rate: the log-normal's variance declared merely real, its domain positive.
    SymPy's answer then carries polar_lift(v), equal to v for every v in the domain."""
    from dataclasses import replace

    from mlemap.sheets.exercise4 import LOGNORMAL

    m, v = LOGNORMAL.param_symbols
    real_v = sp.Symbol("v", real=True)
    model = replace(
        LOGNORMAL,
        params=(LOGNORMAL.params[0], replace(LOGNORMAL.params[1], symbol=real_v)),
        density=LOGNORMAL.density.subs(v, real_v),
    )
    d = derive(model)
    (x,) = model.data
    at = {real_v: sp.Rational(1, 4)}
    assert sp.unpolarify(expectation(d, sp.log(x)).subs(at)) == m
    assert sp.expand(sp.unpolarify(expectation(d, sp.log(x) ** 2).subs(at))) == m**2 + sp.Rational(1, 4)
