"""One sheet that uses every question kind and every declaration feature (a prior, observed data, a bound
support, constraints, a matrix parameter, covariates) builds its report, and each new kind's numbers agree with
an independent computation; each check fails on a wrong answer."""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
import scipy.stats
import sympy as sp

from mlemap.catalogue import COIN_MAP, EXPONENTIAL, GAUSSIAN, POISSON, normal_prior, theta
from mlemap.derivations import fisher
from mlemap.derivations.engine import derive, n_obs
from mlemap.derivations.sheet import Bias, Precision, PriorStrength
from mlemap.numerics.bias import bias_check
from mlemap.numerics.kinds import Context, _prior_checks, bias_work, work_checks
from mlemap.numerics.precision import precision_at_data
from mlemap.numerics.prior_strength import prior_study

EVERY_KIND = """
import sympy as sp
from dataclasses import replace
from mlemap.derivations.designs import gaussian_mean, linear_gaussian
from mlemap.derivations.sheet import (Bias, Estimate, LogTheory, OptimizerStudy, PlugIn, Posterior, PosteriorPredictive,
    Precision, PriorStrength, Probability, Sheet)
from mlemap.catalogue import COIN_MAP, COIN_UNIFORM, EXPONENTIAL, GAUSSIAN, POISSON, normal_prior, theta, x
from tests import textbook_catalogue as tc

DIE = replace(tc.categorical(), name="die", observed={"k": (1, 2, 2, 3, 3, 3, 1, 3)})
WIDTH = replace(tc.uniform_0_theta(), name="width", observed={"x": (0.4, 2.9, 1.7)})
SPREAD = tc.gaussian_mean_covariance(2)
LINE = linear_gaussian("line", 2, intercept=True)
WAITS = replace(EXPONENTIAL, name="waits", observed={"x": (0.5, 1, 1.5, 2, 0.75)})
CALLS = replace(POISSON, name="calls", observed={"x": (2, 4, 3, 5, 1, 3)})
MEAN = gaussian_mean("mean_1d", ((2,),), (0.5,))
SHEET = Sheet(
    title="Every kind",
    questions=(
        LogTheory("theory", "Why the log?", GAUSSIAN, example=COIN_UNIFORM, n=3000),
        Estimate("die", "The die's face probabilities?", DIE, remark="A simplex: Lagrange multipliers."),
        PlugIn("die.next", "P(the next roll is 2)?", DIE, ({tc.k: 2},)),
        Estimate("width", "The width of the uniform?", WIDTH),
        Estimate("spread", "Mean and covariance?", SPREAD),
        Estimate("line", "The line's weights?", LINE),
        Estimate("coin", "The coin's MAP?", COIN_MAP),
        Posterior("coin.posterior", "The posterior under a flat prior?", COIN_UNIFORM),
        PosteriorPredictive("coin.next", "P(next head | D)?", COIN_UNIFORM, ({x: 1},)),
        Probability("waits", "P(the next wait exceeds 1)?", WAITS, x > 1),
        OptimizerStudy("study", "Gradient ascent on the mean?", MEAN, fractions=(0.5, 1.5), n=400),
        OptimizerStudy("study.calls", "Gradient ascent on the rate?", CALLS, fractions=(0.5,), parts=("ascent",)),
        Bias("bias", "Is the rate's MLE unbiased?", EXPONENTIAL),
        Precision("precision", "How precise is the rate?", CALLS),
        PriorStrength(
            "prior", "How much does the prior matter?", COIN_MAP,
            priors={"weak": normal_prior(theta, sp.Rational(1, 2), 1), "strong": normal_prior(theta, sp.Rational(1, 2), sp.Rational(1, 100))},
        ),
    ),
)
"""


@pytest.mark.build
def test_a_sheet_with_every_kind_and_feature_builds_its_report(tmp_path):
    from mlemap.reports.cli import main

    sheet = tmp_path / "every.py"
    sheet.write_text(textwrap.dedent(EVERY_KIND))
    out = tmp_path / "r"
    assert main(["--sheet", str(sheet), "--out", str(out), "--format", "md,tex", "--n", "300"]) == 0
    text = (out / "report.md").read_text()
    rows = {r["key"]: r for r in json.loads((out / "answers.json").read_text())}
    assert rows["width.theta_mle"]["exact"] == "29/10"
    assert {"die.p1_mle", "die.next", "bias.lambda_unbiased", "precision.information_lambda", "prior.map_2"} <= set(
        rows
    )
    assert rows["die.next"]["value"] == pytest.approx(2 / 8)
    assert "| FAIL |" not in text
    for heading in range(1, 16):  # untitled: its number, and what it asks after a colon
        assert re.search(rf"^## Question {heading}(: .+)?$", text, flags=re.M), heading
    assert "Wald 95%" in text and "A simplex: Lagrange multipliers." in text


def test_the_exponential_rates_expectation_is_the_gamma_integral():
    """E[n / S] with S ~ Gamma(n, rate), by quadrature, against the derived lambda n / (n - 1)."""
    d = derive(EXPONENTIAL)
    (lam,) = d.params
    found = fisher.bias(d, lam)
    n, rate = 6, 2.5
    integral, _ = scipy.integrate.quad(lambda s: n / s * scipy.stats.gamma.pdf(s, n, scale=1 / rate), 0, np.inf)
    assert float(found.expectation.subs({lam: rate, n_obs: n})) == pytest.approx(integral, rel=1e-10)
    assert found.condition.subs(n_obs, 1) == sp.false and found.condition.subs(n_obs, 2) == sp.true
    (total,) = [s.symbol for s in d.statistics if s.symbol != n_obs]
    assert float(found.correction.subs({n_obs: n, total: 3.0})) == pytest.approx((n - 1) / 3.0)


def test_an_unbiased_estimator_has_no_correction_and_a_biased_one_by_numpy():
    d = derive(GAUSSIAN)
    mu, s2 = d.params
    assert fisher.bias(d, mu).bias == 0 and fisher.bias(d, mu).correction is None
    rng = np.random.default_rng(7)
    samples = rng.normal(1.5, 2.0, (40_000, 4))
    mle = samples.var(axis=1)  # numpy's divide-by-n variance
    found = fisher.bias(d, s2)
    assert float(found.expectation.subs({s2: 4.0, n_obs: 4})) == pytest.approx(mle.mean(), rel=0.02)


def test_the_bias_check_fails_a_wrong_expectation():
    d = derive(EXPONENTIAL)
    (lam,) = d.params
    right = fisher.bias(d, lam)
    assert bias_check(d, right).agrees
    wrong = replace(right, expectation=lam)  # "unbiased": the MLE's own bias forgotten
    assert not bias_check(d, wrong).agrees
    wrong_correction = replace(right, correction=right.estimator)
    assert not bias_check(d, wrong_correction).agrees


def test_bias_work_makes_checks_that_fail_on_a_wrong_expectation(monkeypatch):
    q = Bias("b", "Unbiased?", EXPONENTIAL)
    ctx = Context(seed=0)
    assert all(c.status == "PASS" for c in work_checks([q], {"b": bias_work(q, ctx)}))
    real = fisher.bias
    monkeypatch.setattr(fisher, "bias", lambda d, p: replace(real(d, p), expectation=p))
    assert any(c.status == "FAIL" for c in work_checks([q], {"b": bias_work(q, ctx)}))


def test_wald_and_likelihood_ratio_intervals_of_a_poisson_rate_by_hand():
    calls = replace(POISSON, name="calls", observed={"x": (2, 4, 3, 5, 1, 3)})
    at = precision_at_data(derive(calls), 0.95, 0)
    counts = np.array([2, 4, 3, 5, 1, 3])
    n, total = len(counts), counts.sum()
    rate = total / n
    z = scipy.stats.norm.ppf(0.975)
    se = np.sqrt(rate / n)
    assert at.se_observed["lambda"] == pytest.approx(se, rel=1e-9)
    assert (at.wald["lambda"].lower, at.wald["lambda"].upper) == pytest.approx((rate - z * se, rate + z * se), rel=1e-9)

    def drop(lam):  # 2 (l(rate) - l(lam)) - chi2, from the Poisson log-likelihood written here
        return 2 * (total * np.log(rate / lam) - n * (rate - lam)) - scipy.stats.chi2.ppf(0.95, 1)

    lower, upper = scipy.optimize.brentq(drop, 1e-6, rate), scipy.optimize.brentq(drop, rate, 100)
    lr = at.likelihood_ratio["lambda"]
    assert (lr.lower, lr.upper) == pytest.approx((lower, upper), rel=1e-7)


def test_a_profile_interval_of_a_gaussian_mean_is_the_t_free_normal_interval():
    """With sigma^2 profiled out, 2 (l_hat - l_p(mu)) = n log(1 + (mu - xbar)^2 / s2): solved by hand."""
    data = (1.2, 0.4, 2.2, 1.9, 0.7, 1.5)
    model = replace(GAUSSIAN, name="g_obs", observed={"x": data})
    at = precision_at_data(derive(model), 0.95, 0)
    x = np.array(data)
    n, xbar, s2 = len(x), x.mean(), x.var()
    half = np.sqrt(s2 * (np.exp(scipy.stats.chi2.ppf(0.95, 1) / n) - 1))
    lr = at.likelihood_ratio["mu"]
    assert (lr.lower, lr.upper) == pytest.approx((xbar - half, xbar + half), rel=1e-6)


def test_prior_strength_by_quadrature_and_a_wrong_map_fails():
    q = PriorStrength(
        "p", "?", COIN_MAP, priors={"v = 1/10": normal_prior(theta, sp.Rational(1, 2), sp.Rational(1, 10))}
    )
    study = prior_study(q, derive)
    (row,) = study.rows
    heads, tails = 3, 4
    post = lambda t: t**heads * (1 - t) ** tails * np.exp(-((t - 0.5) ** 2) / 0.2)  # noqa: E731
    mass = scipy.integrate.quad(post, 0, 1, epsabs=0, epsrel=1e-12)[0]
    mean = scipy.integrate.quad(lambda t: t * post(t), 0, 1, epsabs=0, epsrel=1e-12)[0] / mass
    assert row.posterior_mean == pytest.approx(mean, rel=1e-9)
    assert row.map == pytest.approx(np.sqrt(5) / 5, rel=1e-12)
    assert all(c.status == "PASS" for c in _prior_checks(q, study))
    wrong = replace(study, rows=(replace(row, map=0.5),))
    assert all(c.status == "FAIL" for c in _prior_checks(q, wrong))


def test_precision_answers_are_the_information_entries():
    q = Precision("p", "?", GAUSSIAN)
    rows = {a.key: a.expr for a in q.answers(derive)}
    _, s2 = GAUSSIAN.param_symbols
    assert sp.simplify(rows["p.information_mu"] - n_obs / s2) == 0
    assert sp.simplify(rows["p.cramer_rao_sigma2"] - 2 * s2**2 / n_obs) == 0
    assert rows["p.information_mu_sigma2"] == 0


@pytest.mark.parametrize("kind", ["plug_in", "predictive", "posterior"])
def test_the_float_recomputations_fail_a_wrong_answer(kind):
    from mlemap.catalogue import COIN_UNIFORM, x
    from mlemap.derivations.sheet import PlugIn, Posterior, PosteriorPredictive
    from mlemap.numerics.predictive import check_plug_in, check_posterior, check_posterior_predictive

    t = COIN_UNIFORM.param_symbols[0]
    if kind == "plug_in":
        q, check, right = PlugIn("q", "?", COIN_MAP, ({x: 0},)), check_plug_in, 1 - sp.sqrt(5) / 5
    elif kind == "predictive":
        q, check, right = (
            PosteriorPredictive("q", "?", COIN_UNIFORM, ({x: 1},)),
            check_posterior_predictive,
            sp.Rational(4, 9),
        )
    else:
        q, check, right = Posterior("q", "?", COIN_UNIFORM), check_posterior, 280 * t**3 * (1 - t) ** 4
    d = derive(q.model)
    assert check(q, d, right).status == "PASS"
    assert check(q, d, right * sp.Rational(11, 10)).status == "FAIL"
