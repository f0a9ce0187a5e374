"""Models of a design matrix declared by their dimension: least squares (with an intercept column), ridge,
logistic regression, each against NumPy written here."""

from __future__ import annotations

import numpy as np
import pytest

from mlemap.derivations import derive
from mlemap.derivations.designs import linear_gaussian, logistic
from mlemap.derivations.linear import normal_equations
from mlemap.derivations.model import InputError
from mlemap.numerics.checks import check_data
from mlemap.numerics.estimate import estimate
from tests.textbook_catalogue import irls


def _design(data, d, intercept):
    columns = [data[f"x{j}"] for j in range(1, d + 1)] + ([np.ones(len(data["y"]))] if intercept else [])
    return np.column_stack(columns)


def test_least_squares_with_an_intercept_is_numpys_and_sigma2_the_mean_squared_residual():
    model = linear_gaussian("ls2", 2, intercept=True)
    d = derive(model)
    data = check_data(model, seed=2)
    found = estimate(d, data).values
    design = _design(data, 2, True)
    w, *_ = np.linalg.lstsq(design, data["y"], rcond=None)
    assert [found["w1"], found["w2"], found["w0"]] == pytest.approx(w, rel=1e-10)
    assert found["sigma^2"] == pytest.approx(np.mean((data["y"] - design @ w) ** 2), rel=1e-10)


def test_the_ridge_of_a_gaussian_prior_is_alpha_sigma2():
    model = linear_gaussian("ridge2", 2, noise_variance=0.5, prior_precision=4)
    d = derive(model)
    assert normal_equations(d).ridge == 2  # alpha sigma^2 = 4 * 1/2
    data = check_data(model, seed=4)
    design = _design(data, 2, False)
    expected = np.linalg.solve(design.T @ design + 2 * np.eye(2), design.T @ data["y"])
    found = estimate(d, data).values
    assert [found["w1"], found["w2"]] == pytest.approx(expected, rel=1e-10)


def test_logistic_regression_is_irls():
    model = logistic("logit2", 2, intercept=True)
    d = derive(model)
    assert d.estimate is None
    data = check_data(model, seed=6)
    found = estimate(d, data)
    assert found.converged, found.reason
    expected = irls(_design(data, 2, True), data["y"])
    assert [found.values["w1"], found.values["w2"], found.values["w0"]] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("d", [0, 9, 2.5, True, "3"])
def test_a_dimension_that_is_not_a_small_whole_number_is_refused(d):
    with pytest.raises(InputError, match=r"^a design needs a whole number of covariates d in \[1, 8\]"):
        linear_gaussian("m", d)
