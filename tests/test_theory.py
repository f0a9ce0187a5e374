"""Theory 2.1: the log keeps the maximiser, changes values and curvature, and avoids underflow."""

from __future__ import annotations

import numpy as np
import sympy as sp

from derivations.theory import log_theory
from numerics.theory import underflow


def test_log_keeps_the_argmax_and_rescales_the_curvature():
    t = log_theory()
    assert t.argmax_likelihood == t.argmax_log_likelihood
    # At a maximum L' = 0, so L'' = L * (log L)'': same sign, different size.
    assert sp.simplify(t.curvature_likelihood - t.max_likelihood * t.curvature_log_likelihood) == 0
    assert t.curvature_likelihood < 0 and t.curvature_log_likelihood < 0


def test_log_turns_the_product_into_a_sum_with_a_smaller_derivative():
    t = log_theory()
    assert isinstance(t.product_to_sum[1], sp.Sum)
    assert t.ops_derivative_log < t.ops_derivative_product


def test_product_of_densities_underflows_but_log_likelihood_is_finite():
    u = underflow(n=2000, seed=3)
    assert u.product == 0.0 and np.isfinite(u.log_likelihood)
    assert 1 < u.first_zero_n <= 2000
    assert abs(u.argmax_small_n[0] - u.argmax_small_n[1]) < u.grid_step / 2
