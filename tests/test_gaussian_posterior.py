"""The Posterior of several parameters in which the log-posterior is quadratic: N(m_N, S_N), against Bayesian
linear regression written in NumPy (S_N = (alpha I + X^T X / sigma^2)^-1, m_N = S_N X^T y / sigma^2)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from mlemap.derivations import derive
from mlemap.derivations.model import InputError, Model, Parameter
from mlemap.derivations.sheet import Posterior, Sheet, answers
from mlemap.numerics.posterior import check_gaussian_posterior
from tests.textbook_catalogue import ridge_model_3

x, y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)
a, b = sp.symbols("a b", real=True)
XS, YS = (0, 1, 2, 3), (1, 2, 2, 4)
PRECISION, NOISE = 2, sp.Rational(1, 2)
LINE = Model(
    "bayes_line",
    "Line with a Gaussian prior on its weights",
    (x, y),
    (Parameter(a), Parameter(b)),
    sp.exp(-((y - a * x - b) ** 2) / (2 * NOISE)) / sp.sqrt(2 * sp.pi * NOISE),
    prior=sp.exp(-PRECISION * (a**2 + b**2) / 2),
    covariates=(x,),
    observed={x: XS, y: YS},
)


def _numpy_posterior(design, response, precision, noise):
    cov = np.linalg.inv(precision * np.eye(design.shape[1]) + design.T @ design / noise)
    return cov @ design.T @ response / noise, cov


def test_the_posterior_of_a_line_is_the_textbook_gaussian():
    found = {ans.key: float(ans.expr) for ans in answers(Sheet("s", (Posterior("q", "p(a, b | D)?", LINE),)))}
    design = np.column_stack([XS, np.ones(len(XS))])
    mean, cov = _numpy_posterior(design, np.array(YS, float), PRECISION, float(NOISE))
    assert [found["q.mean_a"], found["q.mean_b"]] == pytest.approx(mean, rel=1e-14)
    assert [found["q.cov_a_a"], found["q.cov_a_b"], found["q.cov_b_b"]] == pytest.approx(
        [cov[0, 0], cov[0, 1], cov[1, 1]], rel=1e-14
    )


def test_three_weights_in_the_statistics_check_against_the_numbers_and_a_wrong_covariance_fails():
    model = ridge_model_3()
    q = Posterior("q", "p(w | D)?", model)
    d = derive(model)
    found = answers(Sheet("s", (q,)))
    assert {a.key for a in found} >= {"q.mean_w1", "q.cov_w1_w3", "q.cov_w3_w3"}
    assert check_gaussian_posterior(q, d, found).status == "PASS"
    doubled = [replace(a, expr=2 * a.expr) if a.key == "q.cov_w2_w2" else a for a in found]
    assert check_gaussian_posterior(q, d, doubled).status == "FAIL"


def test_a_posterior_of_several_parameters_that_is_not_gaussian_is_refused_naming_the_question():
    s2 = sp.Symbol("s2", positive=True)
    model = Model(
        "normal_both",
        "Normal mean and variance",
        (x,),
        (Parameter(a), Parameter(s2, sp.Interval.open(0, sp.oo))),
        sp.exp(-((x - a) ** 2) / (2 * s2)) / sp.sqrt(2 * sp.pi * s2),
        prior=sp.exp(-(a**2)) / s2,
    )
    with pytest.raises(InputError, match=r"^question q: the posterior of several parameters is derived where"):
        answers(Sheet("s", (Posterior("q", "?", model),)))
