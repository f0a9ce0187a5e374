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


# Exercise 4's study: the log-normal's (m, v) from (0, 1), where the log-likelihood is not quadratic
LOGNORMAL_N, LOGNORMAL_START = 500, [0.0, 1.0]


def lognormal_loglik(theta, rows):
    """A student's own log-likelihood of log-normal rows at theta = (m, v)."""
    m, v = theta[0], theta[1]
    logs = torch.log(rows[:, 0])
    return (-((logs - m) ** 2) / (2 * v) - logs - 0.5 * torch.log(2 * torch.pi * v)).sum()


@pytest.fixture(scope="module")
def lognormal():
    """500 points at m = 1, v = 1/4; the closed-form MLE and the bound 2 / max(n / v_hat, n / (2 v_hat^2)),
    from the eigenvalues of -H at the MLE, which is diagonal there."""
    rng = np.random.default_rng(11)
    X = torch.tensor(rng.lognormal(1.0, 0.5, (LOGNORMAL_N, 1)), dtype=torch.float64)
    logs = np.log(X.numpy()[:, 0])
    m_hat, v_hat = logs.mean(), logs.var()
    bound = 2 / max(LOGNORMAL_N / v_hat, LOGNORMAL_N / (2 * v_hat**2))
    return {"torch": torch, "X": X, "loglik": lognormal_loglik}, np.array([m_hat, v_hat]), bound


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_log_normal_ascent_below_the_bound_lands_on_the_closed_form(lognormal, fraction):
    names, optimum, bound = lognormal
    theta = run(reference_code.ascent_code(LOGNORMAL_START, bound, fraction, 600), names)
    assert np.linalg.norm(theta - optimum) < 1e-8


def test_log_normal_ascent_past_the_bound_oscillates_between_two_points(lognormal):
    """1.1 x the bound, as the handout says: neither converging nor running away, back every second step."""
    names, optimum, bound = lognormal
    ends = [run(reference_code.ascent_code(LOGNORMAL_START, bound, 1.1, steps), names) for steps in (998, 999, 1000)]
    assert all(np.all(np.isfinite(t)) and 1e-3 < np.linalg.norm(t - optimum) < 1 for t in ends)
    assert np.linalg.norm(ends[2] - ends[0]) < 1e-9 < np.linalg.norm(ends[2] - ends[1])


def test_the_handouts_own_snippet_converges_on_the_studys_data():
    """The snippet the handout prints for Exercise 4 (its start, bound, fraction and step count), run on the
    study's data with a student's loglik, ends where the study's run converged: at the optimum."""
    from pathlib import Path

    from mlemap.derivations.engine import derive
    from mlemap.derivations.sheet import OptimizerStudy, load_sheet
    from mlemap.numerics.checks import check_data
    from mlemap.numerics.study import run_study

    sheet = load_sheet(Path(__file__).resolve().parents[1] / "mlemap" / "sheets" / "exercise4.py")
    (q,) = [q for q in sheet.questions if isinstance(q, OptimizerStudy)]
    st = run_study(derive(q.model), seed=0, parts=())
    half = next(r for r in st.ascent if round(r.lr / st.bound, 6) == 0.5)
    X = torch.tensor(check_data(q.model, 0)["x"], dtype=torch.float64)[:, None]
    names = {"torch": torch, "X": X, "loglik": lognormal_loglik}
    theta = run(reference_code.ascent_code(half.path[0], st.bound, 0.5, half.steps), names)
    assert np.linalg.norm(theta - [st.optimum["m"], st.optimum["v"]]) < 1e-5
    early = run(reference_code.ascent_code(half.path[0], st.bound, 0.5, half.steps // 4), names)
    assert np.linalg.norm(early - [st.optimum["m"], st.optimum["v"]]) > 1e-3  # fewer steps: not there yet
