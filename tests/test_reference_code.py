"""The handout's reference torch code runs as printed and does what the text says: gradient ascent at a
fraction of the derived bound lands on the estimate, past the bound it does not, an optimizer and mini-batch
SGD reach the optimum (mini-batch SGD to within its noise). The data and loglik are a student's own: a 2-D
Gaussian with known covariance, its log-likelihood written directly."""

import numpy as np
import pytest
import torch
from mlemap.reports import reference_code

N, SIGMA = 2000, 5.0  # the praxis: Sigma = 5 I; the stability bound of gradient ascent is 2 / (n / 5)
BOUND = 2 / (N / SIGMA)


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(3)
    X = torch.tensor(rng.multivariate_normal([1.0, 1.0], SIGMA * np.eye(2), N), dtype=torch.float64)

    def loglik(theta, rows):
        return -0.5 * ((rows - theta) ** 2).sum() / SIGMA

    return {"torch": torch, "X": X, "loglik": loglik}, X.mean(0).numpy()


def run(code: str, names: dict) -> np.ndarray:
    scope = dict(names)
    exec(code, scope)  # the code is ours, the handout's own text
    return scope["theta"].detach().numpy()


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.95])
def test_gradient_ascent_below_the_bound_lands_on_the_estimate(sample, fraction):
    names, optimum = sample
    theta = run(reference_code.ascent_code([0.0, 0.0], BOUND, fraction, 200), names)
    assert np.linalg.norm(theta - optimum) < 1e-8


def test_gradient_ascent_past_the_bound_does_not(sample):
    names, optimum = sample
    theta = run(reference_code.ascent_code([0.0, 0.0], BOUND, 1.02, 200), names)
    assert np.linalg.norm(theta - optimum) > 1.0


@pytest.mark.parametrize(
    "name, settings", [("Adam", {"lr": 0.1}), ("SGD", {"lr": 2.5, "momentum": 0.9}), ("RMSprop", {"lr": 0.01})]
)
def test_an_optimizer_minimising_the_mean_negative_log_likelihood_reaches_the_optimum(sample, name, settings):
    names, optimum = sample
    theta = run(reference_code.optimizer_code([0.0, 0.0], name, settings), names)
    assert np.linalg.norm(theta - optimum) < 0.05  # RMSprop ends oscillating at about its rate


def test_mini_batch_sgd_ends_within_its_noise_of_the_optimum(sample):
    names, optimum = sample
    k = 5
    rate = 0.1 * 2 / (k / SIGMA)  # a tenth of a k-point batch's own bound
    theta = run(reference_code.batch_code([0.0, 0.0], k, rate, 400, 0), names)
    # the noise floor is about sqrt(0.1 * Sigma / k) ~ 0.3 per coordinate here; from (0, 0) at distance 1.4
    assert np.linalg.norm(theta - optimum) < 1.0
    far = run(reference_code.batch_code([0.0, 0.0], k, rate, 0, 0), names)
    assert np.linalg.norm(far - optimum) > 1.0  # no steps, no progress: the check can fail
