"""Exercise 3 (2025): Gaussian MLE, linear-model MLE, the coin's MAP and posterior predictive."""

from __future__ import annotations

import numpy as np
import scipy.integrate
import scipy.stats
import sympy as sp

from derivations.engine import n_obs as n
from derivations.proof import over_observations
from derivations.sheet import Estimate, OptimizerStudy, PlugIn, Posterior, PosteriorPredictive, Sheet
from sheets.catalogue import (
    COIN_DATA,
    COIN_MAP,
    COIN_MAP_SD,
    COIN_UNIFORM,
    GAUSSIAN,
    LINEAR_REGRESSION,
    SHEET_PRIOR,
    x,
    y,
)
from sheets.exercise3_demos.praxis_theory import mean_model
from sheets.peers import coin_map_scipy

TWO_TAILS = ({x: 0}, {x: 0})
NEXT_HEAD = ({x: 1},)
PRIOR_MEAN, PRIOR_NUMBER = (float(v) for v in SHEET_PRIOR)
TASK1 = r"We observe $D = \{x_1, \dots, x_n\}$ with i.i.d. $x_i \sim N(\mu, \sigma^2)$. What is the MLE for $\mu$ and $\sigma^2$?"
TASK2 = (
    r"We observe $D = \{(x_1, y_1), \dots, (x_n, y_n)\}$ with $y_i = a x_i + b + \epsilon_i$, i.i.d. "
    r"$\epsilon_i \sim N(0, \sigma^2)$. What is the MLE for $a$, $b$ and $\sigma^2$?"
)
TASK3A = r"With $p(\theta) = N(0.5, 0.1)$: what is $\theta_{MAP}$, and $P(x_8 = 0, x_9 = 0 \mid \theta_{MAP})$?"
TASK3B = r"With $p(\theta) = U(0, 1)$: what is $P(x_8 = 1 \mid D)$?"
# The estimates in the form a textbook gives them; the build proves each equal to the derived one.
xbar, ybar, ahat, bhat = sp.symbols(r"\bar{x} \bar{y} \hat{a} \hat{b}", real=True)


def total(g: sp.Expr) -> sp.Sum:
    """sum_{i=1}^{n} g(x_i, y_i)."""
    return over_observations(g, (x, y), n)


MEANS = {xbar: total(x) / n, ybar: total(y) / n}
GAUSSIAN_FORMS = {"mu": xbar, "sigma^2": total((x - xbar) ** 2) / n}
REGRESSION_WHERE = {**MEANS, ahat: total((x - xbar) * (y - ybar)) / total((x - xbar) ** 2), bhat: ybar - ahat * xbar}
REGRESSION_FORMS = {
    "a": REGRESSION_WHERE[ahat],
    "b": ybar - ahat * xbar,
    "sigma^2": total((y - ahat * x - bhat) ** 2) / n,
}

PRAXIS1 = (
    r"Find the maximum of $L(\mu)$ by gradient ascent $\mu_{t+1} = \mu_t + \lambda \frac{d}{d\mu} L(\mu)$ from "
    r"$\mu_0 = (0, 0)$ with autograd, visualise the updates. How does the learning rate $\lambda$ affect convergence?"
)
PRAXIS_MODEL = mean_model(sigma=((5, 0), (0, 5)), truth=(1.0, 1.0))  # the praxis: x ~ N(mu, 5 I) in 2-D
PRAXIS_RATES = (0.05, 0.25, 0.5, 0.75, 0.95, 1.02)  # fractions of the stability bound, the last one past it


def _coin_map(prior_sd: float) -> float:
    return coin_map_scipy(PRIOR_MEAN, prior_sd)({"x": np.array(COIN_DATA, float)})["theta"]


def _two_tails(prior_sd: float) -> float:
    return float(scipy.stats.bernoulli.pmf(0, _coin_map(prior_sd)) ** 2)


def _next_head_by_quadrature() -> float:
    """P(x8 = 1 | D) = int theta L(theta) / int L(theta), by scipy.integrate.quad."""
    heads = int(np.sum(COIN_DATA))
    tails = len(COIN_DATA) - heads
    likelihood = lambda t: t**heads * (1 - t) ** tails  # noqa: E731
    num, _ = scipy.integrate.quad(lambda t: t * likelihood(t), 0, 1, epsabs=1e-15, epsrel=1e-13)
    den, _ = scipy.integrate.quad(likelihood, 0, 1, epsabs=1e-15, epsrel=1e-13)
    return num / den


VARIANCE_SD, SD = float(sp.sqrt(SHEET_PRIOR[1])), PRIOR_NUMBER  # the prior's spread under each reading of 0.1

SHEET = Sheet(
    title="Exercise 3: maximum likelihood and MAP",
    questions=(
        Estimate(
            "task1",
            TASK1,
            GAUSSIAN,
            labels={"mu": r"Gaussian MLE of $\mu$", "sigma^2": r"Gaussian MLE of $\sigma^2$"},
            familiar=GAUSSIAN_FORMS,
            where=MEANS,
        ),
        Estimate(
            "task2",
            TASK2,
            LINEAR_REGRESSION,
            labels={
                "a": r"Linear model MLE of $a$",
                "b": r"Linear model MLE of $b$",
                "sigma^2": r"Linear model MLE of $\sigma^2$",
            },
            familiar=REGRESSION_FORMS,
            where=REGRESSION_WHERE,
        ),
        Estimate("task3a", TASK3A, COIN_MAP, labels={"theta": r"$\theta_{MAP}$, prior 0.1 read as the variance"}),
        PlugIn(
            "task3a.p_two_tails",
            TASK3A,
            COIN_MAP,
            TWO_TAILS,
            r"$P(x_8 = 0, x_9 = 0 \mid \theta_{MAP})$, 0.1 read as the variance",
        ),
        Estimate(
            "task3a",
            TASK3A,
            COIN_MAP_SD,
            suffix="_sd",
            labels={"theta": r"$\theta_{MAP}$, prior 0.1 read as the standard deviation"},
        ),
        PlugIn(
            "task3a.p_two_tails_sd",
            TASK3A,
            COIN_MAP_SD,
            TWO_TAILS,
            r"$P(x_8 = 0, x_9 = 0 \mid \theta_{MAP})$, 0.1 read as the standard deviation",
        ),
        Posterior("task3b.posterior", TASK3B, COIN_UNIFORM, r"$p(\theta \mid D)$ under $U(0, 1)$"),
        PosteriorPredictive(
            "task3b.p_next_head", TASK3B, COIN_UNIFORM, NEXT_HEAD, r"$P(x_8 = 1 \mid D)$ under $U(0, 1)$"
        ),
        OptimizerStudy("praxis1", PRAXIS1, PRAXIS_MODEL, fractions=PRAXIS_RATES),
    ),
    peers={
        "task3a.theta_map": lambda: _coin_map(VARIANCE_SD),
        "task3a.p_two_tails": lambda: _two_tails(VARIANCE_SD),
        "task3a.theta_map_sd": lambda: _coin_map(SD),
        "task3a.p_two_tails_sd": lambda: _two_tails(SD),
        "task3b.p_next_head": _next_head_by_quadrature,
    },
)


def __getattr__(name: str):
    """REPORT, the worked-solution report, imported when a build asks for it: the sheet itself (its models and
    answers) needs SymPy alone, not the report's torch and matplotlib."""
    if name == "REPORT":
        from sheets.exercise3_report import Exercise3Report

        return Exercise3Report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
