"""Theory 2.1: the log keeps the maximiser, changes values and curvature, and avoids underflow."""

from __future__ import annotations

import numpy as np
import sympy as sp

from sheets.catalogue import COIN_DATA, GAUSSIAN
from sheets.exercise3_demos.log_theory import log_theory
from sheets.exercise3_demos.underflow import underflow


def test_log_keeps_the_argmax_and_rescales_the_curvature():
    t = log_theory()
    assert t.argmax_likelihood == t.argmax_log_likelihood
    # At a maximum L' = 0, so L'' = L * (log L)'': same sign, different size.
    assert sp.simplify(t.curvature_likelihood - t.max_likelihood * t.curvature_log_likelihood) == 0
    assert t.curvature_likelihood < 0 and t.curvature_log_likelihood < 0


def test_log_turns_the_product_into_a_sum_with_a_smaller_derivative():
    t = log_theory()
    i, n = sp.symbols("i n", integer=True, positive=True)
    xi, p = sp.IndexedBase("x")[i], sp.Function("p")
    assert t.product_to_sum == (sp.log(sp.Product(p(xi), (i, 1, n))), sp.Sum(sp.log(p(xi)), (i, 1, n)))
    assert t.ops_derivative_log < t.ops_derivative_product
    assert (t.ops_derivative_log, t.ops_derivative_product) == (
        sp.count_ops(t.derivative_log),
        sp.count_ops(t.derivative_product),
    )


def test_the_derivatives_compared_are_those_of_three_gaussian_observations():
    t = log_theory()
    xs = sp.symbols("x1:4", real=True)
    mu, s2 = GAUSSIAN.param_symbols
    score = sum((v - mu) / s2 for v in xs)
    assert sp.simplify(t.derivative_log - score) == 0
    product = sp.Mul(*[(2 * sp.pi * s2) ** sp.Rational(-1, 2) * sp.exp(-((v - mu) ** 2) / (2 * s2)) for v in xs])
    assert sp.simplify(t.derivative_product - product * score) == 0


def test_coin_likelihood_maximum_is_the_head_fraction():
    t = log_theory()
    heads, n = sum(COIN_DATA), len(COIN_DATA)
    assert t.argmax_log_likelihood == (sp.Rational(heads, n),)
    hat = sp.Rational(heads, n)
    assert t.max_likelihood == hat**heads * (1 - hat) ** (n - heads)
    assert t.curvature_log_likelihood == -n / (hat * (1 - hat))


def test_product_of_densities_underflows_but_log_likelihood_is_finite():
    u = underflow(n=2000, seed=3)
    assert u.product == 0.0 and np.isfinite(u.log_likelihood)
    assert 1 < u.first_zero_n <= 2000
    assert abs(u.argmax_small_n[0] - u.argmax_small_n[1]) < u.grid_step / 2
