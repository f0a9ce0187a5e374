"""Why the log: the log keeps the maximiser, changes values and curvature, and avoids underflow."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from mlemap.catalogue import COIN_DATA, COIN_UNIFORM, EXPONENTIAL, GAUSSIAN, POISSON
from mlemap.derivations.engine import derive
from mlemap.derivations.model import InputError
from mlemap.derivations.theory import log_theory
from mlemap.numerics.underflow import underflow


def test_log_keeps_the_argmax_and_rescales_the_curvature():
    t = log_theory(GAUSSIAN, COIN_UNIFORM)
    assert t.argmax_likelihood == t.argmax_log_likelihood
    # At a maximum L' = 0, so L'' = L * (log L)'': same sign, different size.
    assert sp.simplify(t.curvature_likelihood - t.max_likelihood * t.curvature_log_likelihood) == 0
    assert t.curvature_likelihood < 0 and t.curvature_log_likelihood < 0


def test_log_turns_the_product_into_a_sum_with_a_smaller_derivative():
    t = log_theory(GAUSSIAN)
    i, n = sp.symbols("i n", integer=True, positive=True)
    xi, p = sp.IndexedBase("x")[i], sp.Function("p")
    assert t.product_to_sum == (sp.log(sp.Product(p(xi), (i, 1, n))), sp.Sum(sp.log(p(xi)), (i, 1, n)))
    assert t.ops_derivative_log < t.ops_derivative_product
    assert t.argmax_likelihood == () and t.example == ""


def test_the_derivatives_compared_are_those_of_three_gaussian_observations():
    t = log_theory(GAUSSIAN)
    xs = sp.symbols("x1:4", real=True)
    mu, s2 = GAUSSIAN.param_symbols
    score = sum((v - mu) / s2 for v in xs)
    assert sp.simplify(t.derivative_log - score) == 0
    product = sp.Mul(*[(2 * sp.pi * s2) ** sp.Rational(-1, 2) * sp.exp(-((v - mu) ** 2) / (2 * s2)) for v in xs])
    assert sp.simplify(t.derivative_product - product * score) == 0


def test_coin_likelihood_maximum_is_the_head_fraction():
    t = log_theory(GAUSSIAN, COIN_UNIFORM)
    heads, n = sum(COIN_DATA), len(COIN_DATA)
    hat = sp.Rational(heads, n)
    assert t.argmax_log_likelihood == (hat,)
    assert t.max_likelihood == hat**heads * (1 - hat) ** (n - heads)
    assert t.curvature_log_likelihood == -n / (hat * (1 - hat))


def test_an_example_needs_one_parameter_and_observed_data():
    with pytest.raises(InputError, match="one parameter and observed data"):
        log_theory(GAUSSIAN, GAUSSIAN)


@pytest.mark.parametrize("model", [GAUSSIAN, POISSON], ids=lambda m: m.name)
def test_product_of_densities_underflows_but_log_likelihood_is_finite(model):
    u = underflow(derive(model), n=5000, seed=3)
    assert u.product == 0.0 and np.isfinite(u.log_likelihood)
    assert 1 < u.first_zero_n <= 5000
    assert abs(u.argmax_small_n[0] - u.argmax_small_n[1]) < u.grid_step / 2


def test_a_product_that_stays_in_range_is_reported_as_it_is():
    """Densities above 1 (an exponential of rate 2.5) keep the product representable longer: no zero claimed."""
    u = underflow(derive(EXPONENTIAL), n=5000, seed=3)
    assert u.first_zero_n == -1 and u.product > 0
    assert np.log(u.product) == pytest.approx(u.log_likelihood, rel=1e-9)


def test_the_log_likelihood_is_the_sum_of_scipys_log_densities():
    import scipy.stats

    u = underflow(derive(GAUSSIAN), n=3000, seed=1)
    x = GAUSSIAN.simulate(np.random.default_rng(1), 3000, GAUSSIAN.truth)["x"]
    expected = scipy.stats.norm.logpdf(x, 1.5, 2.0).sum()
    assert u.log_likelihood == pytest.approx(expected, rel=1e-12)
    assert u.first_zero_n == int(np.flatnonzero(np.cumprod(scipy.stats.norm.pdf(x, 1.5, 2.0)) == 0)[0]) + 1
