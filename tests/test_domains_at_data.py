"""At the data: an estimate on an open end of its domain, infinite, or a bound outside the domain is never
"converged", and says what happened; counts whose factorials overflow float64 are ordinary data."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from mlemap.catalogue import EXPONENTIAL, GAUSSIAN, POISSON
from mlemap.derivations import derive
from mlemap.numerics.estimate import estimate
from tests.textbook_catalogue import uniform_0_theta


@pytest.mark.parametrize(
    ("model", "data", "reason"),
    [
        (GAUSSIAN, [5.0, 5.0, 5.0], r"sigma\^2 -> 0, an open end of \(0, oo\) \(every observation is the same"),
        (GAUSSIAN, [1e-200, 2e-200, 3e-200], r"sigma\^2 -> 0"),
        (EXPONENTIAL, [5e-324, 5e-324], r"lambda = inf; the likelihood grows without bound"),
    ],
    ids=["equal-values", "underflowing-spread", "infinite-rate"],
)
def test_an_unattained_maximum_is_not_converged_and_says_why(model, data, reason):
    found = estimate(derive(model), {"x": data})
    assert not found.converged and found.values is None
    assert re.search(reason, found.reason), found.reason


def test_a_bound_outside_the_declared_domain_is_refused_at_the_data():
    base = uniform_0_theta()
    narrow = replace(base, params=(replace(base.params[0], domain=sp.Interval.open(0, sp.Rational(1, 2))),))
    d = derive(narrow)
    refused = estimate(d, {"x": [0.1, 0.9]})
    assert not refused.converged and "need theta = 0.9" in refused.reason and "(0, 1/2)" in refused.reason
    assert estimate(d, {"x": [0.1, 0.3]}).values == {"theta": 0.3}


@pytest.mark.parametrize("counts", [[171, 200, 190], list(np.random.default_rng(4).poisson(200.0, 40))])
def test_counts_whose_factorials_overflow_float64_are_estimated_and_their_log_likelihood_is_scipys(counts):
    from mlemap.numerics.compile import compiled

    d = derive(POISSON)
    found = estimate(d, {"x": counts})
    assert found.converged and found.values["lambda"] == pytest.approx(np.mean(counts), rel=1e-14)
    c = compiled(d)
    at = {"lambda": 150.0}
    expected = float(np.sum(stats.poisson.logpmf(counts, 150.0)))
    assert c.objective_raw(at, {"x": np.asarray(counts, float)}) == pytest.approx(expected, rel=1e-12)
