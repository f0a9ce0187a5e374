"""Exercise 4: waiting times, trials to a first success and counts with a prior (MLE, MAP, predictive).

The next sheet of the course: three models Exercise 3 does not use, each declared here, with the peers that
check their answers computed by scipy alone.
"""

from __future__ import annotations

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.stats
import sympy as sp

from mlemap.derivations.engine import n_obs
from mlemap.derivations.model import Model, Parameter
from mlemap.derivations.proof import over_observations
from mlemap.derivations.sheet import Estimate, OptimizerStudy, PlugIn, Posterior, PosteriorPredictive, Sheet

x = sp.Symbol("x", positive=True)
k = sp.Symbol("k", integer=True, positive=True)
c = sp.Symbol("c", integer=True, nonnegative=True)
s2 = sp.Symbol("s^2", positive=True)
p = sp.Symbol("p", positive=True)
lam = sp.Symbol("lambda", positive=True)
POSITIVE = sp.Interval.open(0, sp.oo)
CALLS = (2, 0, 3, 1, 4, 2, 1)  # calls per hour at a help desk, seven hours
GAMMA_SHAPE, GAMMA_RATE = 2, 1  # the prior Gamma(2, 1) on the call rate: mean 2, mode 1


def rayleigh_fit(data):
    """scipy.stats.rayleigh.fit with floc=0 (scale^2 is the MLE of s^2)"""
    _, scale = scipy.stats.rayleigh.fit(data["x"], floc=0)
    return {"s^2": scale**2}


def geometric_mean(data):
    """1 / the sample mean (scipy.stats.geom's MLE)"""
    return {"p": 1 / float(np.mean(data["k"]))}


def calls_map(data):
    """scipy.optimize.minimize_scalar on scipy.stats.poisson and gamma log-densities"""

    def negative_log_posterior(rate):
        return -(
            scipy.stats.poisson.logpmf(data["c"], rate).sum()
            + scipy.stats.gamma.logpdf(rate, GAMMA_SHAPE, scale=1 / GAMMA_RATE)
        )

    res = scipy.optimize.minimize_scalar(
        negative_log_posterior, bounds=(1e-9, 50), method="bounded", options={"xatol": 1e-12}
    )
    return {"lambda": res.x}


RAYLEIGH = Model(
    name="rayleigh",
    title=r"Rayleigh wind speeds, MLE of the scale $s^2$",
    data=(x,),
    params=(Parameter(s2, POSITIVE, "squared scale"),),
    density=x / s2 * sp.exp(-(x**2) / (2 * s2)),
    support={x: POSITIVE},
    simulate=lambda rng, n, t: {"x": rng.rayleigh(np.sqrt(t["s^2"]), n)},
    truth={"s^2": 4.0},
    peer=rayleigh_fit,
)

GEOMETRIC = Model(
    name="geometric",
    title=r"Trials until the first success, MLE of $p$",
    data=(k,),
    params=(Parameter(p, sp.Interval.open(0, 1), "success probability"),),
    density=p * (1 - p) ** (k - 1),
    support={k: sp.Naturals},
    simulate=lambda rng, n, t: {"k": rng.geometric(t["p"], n).astype(float)},
    truth={"p": 0.3},
    peer=geometric_mean,
)

CALLS_MODEL = Model(
    name="calls_gamma_prior",
    title=r"Calls per hour: Poisson rate with a Gamma(2, 1) prior",
    data=(c,),
    params=(Parameter(lam, POSITIVE, "call rate"),),
    density=lam**c * sp.exp(-lam) / sp.factorial(c),
    prior=lam ** (GAMMA_SHAPE - 1) * sp.exp(-GAMMA_RATE * lam) * GAMMA_RATE**GAMMA_SHAPE / sp.gamma(GAMMA_SHAPE),
    support={c: sp.Naturals0},
    observed={c: CALLS},
    simulate=lambda rng, n, t: {"c": rng.poisson(t["lambda"], n).astype(float)},
    truth={"lambda": 2.0},
    peer=calls_map,
)

m = sp.Symbol("m", real=True)
v = sp.Symbol("v", positive=True)


def lognormal_fit(data):
    """scipy.stats.lognorm.fit with floc=0: m = log(scale), v = shape^2"""
    shape, _, scale = scipy.stats.lognorm.fit(data["x"], floc=0)
    return {"m": float(np.log(scale)), "v": shape**2}


LOGNORMAL = Model(
    name="lognormal",
    title=r"Log-normal incomes, MLE of $m$ and $v$",
    data=(x,),
    params=(Parameter(m, sp.Reals, "mean of log x"), Parameter(v, POSITIVE, "variance of log x")),
    density=sp.exp(-((sp.log(x) - m) ** 2) / (2 * v)) / (x * sp.sqrt(2 * sp.pi * v)),
    support={x: POSITIVE},
    min_n=2,
    simulate=lambda rng, n, t: {"x": rng.lognormal(t["m"], np.sqrt(t["v"]), n)},
    truth={"m": 1.0, "v": 0.25},
    peer=lognormal_fit,
)

# The estimates as a textbook writes them, proved equal to the derived ones in the worked steps.
kbar, mhat = sp.symbols(r"\bar{k} \hat{m}", real=True)
RAYLEIGH_FORMS = {"s^2": over_observations(x**2, (x,), n_obs) / (2 * n_obs)}
GEOMETRIC_WHERE = {kbar: over_observations(k, (k,), n_obs) / n_obs}
GEOMETRIC_FORMS = {"p": 1 / kbar}
LOGNORMAL_WHERE = {mhat: over_observations(sp.log(x), (x,), n_obs) / n_obs}
LOGNORMAL_FORMS = {"m": LOGNORMAL_WHERE[mhat], "v": over_observations((sp.log(x) - mhat) ** 2, (x,), n_obs) / n_obs}

NO_CALL = ({c: 0},)
CALLS_DATA = {"c": np.array(CALLS, float)}


def _no_call_by_quadrature() -> float:
    """P(c8 = 0 | D) = int e^-lambda L(lambda) pi(lambda) / int L(lambda) pi(lambda), by scipy.integrate.quad."""

    def unnormalised(rate):
        return np.exp(scipy.stats.poisson.logpmf(CALLS_DATA["c"], rate).sum()) * scipy.stats.gamma.pdf(
            rate, GAMMA_SHAPE, scale=1 / GAMMA_RATE
        )

    num, _ = scipy.integrate.quad(lambda r: np.exp(-r) * unnormalised(r), 0, np.inf, epsabs=1e-15, epsrel=1e-12)
    den, _ = scipy.integrate.quad(unnormalised, 0, np.inf, epsabs=1e-15, epsrel=1e-12)
    return num / den


SHEET = Sheet(
    title="Exercise 4: waiting times, first successes and counts with a prior",
    questions=(
        Estimate(
            "task1",
            r"Wind speeds $x_i > 0$ follow a Rayleigh law $p(x \mid s^2) = \frac{x}{s^2} e^{-x^2 / (2 s^2)}$. What is the MLE of $s^2$?",
            RAYLEIGH,
            familiar=RAYLEIGH_FORMS,
        ),
        Estimate(
            "task2",
            r"A die is thrown until the first six; $k_i$ is the number of throws, $p(k \mid p) = p (1 - p)^{k - 1}$. What is the MLE of $p$?",
            GEOMETRIC,
            familiar=GEOMETRIC_FORMS,
            where=GEOMETRIC_WHERE,
        ),
        Estimate(
            "task3a",
            r"A help desk counts calls per hour, $D = (2, 0, 3, 1, 4, 2, 1)$, $c_i \sim \mathrm{Poisson}(\lambda)$ with prior $\lambda \sim \mathrm{Gamma}(2, 1)$. What is $\lambda_{MAP}$?",
            CALLS_MODEL,
        ),
        PlugIn(
            "task3b.p_no_call_map",
            r"What is the probability of an hour without calls, $P(c_8 = 0 \mid \lambda_{MAP})$?",
            CALLS_MODEL,
            NO_CALL,
        ),
        Posterior("task3c.posterior", r"What is the posterior $p(\lambda \mid D)$?", CALLS_MODEL),
        PosteriorPredictive(
            "task3d.p_no_call",
            r"What is the posterior predictive probability of an hour without calls, $P(c_8 = 0 \mid D)$?",
            CALLS_MODEL,
            NO_CALL,
        ),
        Estimate(
            "task4a",
            r"Incomes follow a log-normal law, $\log x_i \sim N(m, v)$. What are the MLEs of $m$ and $v$?",
            LOGNORMAL,
            familiar=LOGNORMAL_FORMS,
            where=LOGNORMAL_WHERE,
        ),
        OptimizerStudy(
            "task4b",
            r"Find the MLE of $(m, v)$ by gradient ascent from $(0, 1)$ instead. Which learning rates converge, and why? "
            r"How do torch.optim's optimizers and mini-batch gradients compare?",
            LOGNORMAL,
        ),
    ),
    peers={
        "task3a.lambda_map": lambda: calls_map(CALLS_DATA)["lambda"],
        "task3b.p_no_call_map": lambda: float(scipy.stats.poisson.pmf(0, calls_map(CALLS_DATA)["lambda"])),
        "task3d.p_no_call": _no_call_by_quadrature,
    },
)
