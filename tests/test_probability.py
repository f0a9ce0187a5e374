"""The Probability question kind: the probability of an event for one new observation, at the estimate or
under the posterior, exact and against scipy.stats; a point event of a continuous variable is refused, since
its probability is 0 and a density is not one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from mlemap.catalogue import COIN_UNIFORM, EXPONENTIAL, POISSON
from mlemap.derivations import derive
from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import PlugIn, Probability, Sheet, answers
from mlemap.numerics.probability import check_probability

WAITS = (0.5, 1.0, 1.5, 2.0, 0.75)
T = EXPONENTIAL.data[0]
EXP_OBSERVED = replace(EXPONENTIAL, name="waits", observed={T: tuple(sp.nsimplify(v) for v in WAITS)})
K = POISSON.data[0]
COUNTS = (2, 0, 3, 1, 4, 2)
POISSON_OBSERVED = replace(POISSON, name="counts", observed={K: COUNTS})


def _value(q: Probability) -> float:
    (answer,) = answers(Sheet("s", (q,)))
    return float(answer.expr)


@pytest.mark.parametrize(
    ("event", "scipy_value"),
    [
        (T > 1, lambda rate: stats.expon.sf(1, scale=1 / rate)),
        ((T >= 1) & (T <= 3), lambda rate: stats.expon.cdf(3, scale=1 / rate) - stats.expon.cdf(1, scale=1 / rate)),
        ((sp.Rational(1, 2) > T) | (T > 2), lambda rate: 1 - np.diff(stats.expon.cdf([0.5, 2], scale=1 / rate))[0]),
    ],
    ids=["tail", "interval", "two-pieces"],
)
def test_a_continuous_event_at_the_mle_is_scipys_probability(event, scipy_value):
    rate = 1 / np.mean(WAITS)
    assert _value(Probability("q", "P?", EXP_OBSERVED, event)) == pytest.approx(scipy_value(rate), rel=1e-12)


@pytest.mark.parametrize(
    ("event", "scipy_value"),
    [
        (K <= 2, lambda m: stats.poisson.cdf(2, m)),
        (K > 3, lambda m: stats.poisson.sf(3, m)),
        (sp.Eq(K, 0), lambda m: stats.poisson.pmf(0, m)),
    ],
    ids=["at-most-2", "above-3", "zero"],
)
def test_a_discrete_event_at_the_mle_is_scipys_probability(event, scipy_value):
    assert _value(Probability("q", "P?", POISSON_OBSERVED, event)) == pytest.approx(
        scipy_value(np.mean(COUNTS)), rel=1e-12
    )


def test_the_posterior_probability_of_heads_is_laplaces_rule():
    k = COIN_UNIFORM.data[0]
    data = COIN_UNIFORM.observed[k]
    q = Probability("q", "P(heads | D)?", COIN_UNIFORM, sp.Eq(k, 1), predictive="posterior")
    assert _value(q) == pytest.approx((sum(data) + 1) / (len(data) + 2), rel=1e-14)


def test_the_numerical_check_passes_the_exact_answer_and_fails_a_density():
    q = Probability("q", "P(T > 1)?", EXP_OBSERVED, T > 1)
    d = derive(EXP_OBSERVED)
    (answer,) = answers(Sheet("s", (q,)))
    assert check_probability(q, d, answer.expr).status == "PASS"
    density_at_1 = EXP_OBSERVED.density.subs(d.estimate).subs(T, 1)  # the plug-in density: not a probability
    assert check_probability(q, d, density_at_1).status == "FAIL"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PlugIn("p", "P(T = 1)?", EXP_OBSERVED, new=({T: 1},)), r"single point of a continuous variable"),
        (lambda: Probability("p", "P(T = 1)?", EXP_OBSERVED, sp.Eq(T, 1)), r"probability is 0"),
        (lambda: Probability("p", "?", EXP_OBSERVED, "T > 1"), r"must be a condition on one data symbol"),
        (lambda: Probability("p", "?", EXP_OBSERVED, sp.Symbol("z") > 1), r"condition on one data symbol of"),
        (lambda: Probability("p", "?", EXP_OBSERVED, T > 1, predictive="bayes"), r"must be 'plug-in' or 'posterior'"),
    ],
    ids=["plug-in-point", "point-event", "text", "unknown-symbol", "bad-predictive"],
)
def test_a_question_whose_probability_is_not_defined_is_refused_in_one_line(make, message):
    with pytest.raises(InputError, match=message) as err:
        make()
    assert "\n" not in str(err.value) and str(err.value).startswith("question p")
