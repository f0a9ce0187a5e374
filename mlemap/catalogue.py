"""The model catalogue: one declaration each (density, domains, data, sampler, peer), for sheets to use; those
of a named distribution by Model.from_distribution, the others written out.

MODELS names every model here; derivation(name) derives each once per process."""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

from mlemap import peers
from mlemap.derivations.distributions import Gamma, Normal
from mlemap.derivations.engine import Derivation, derive
from mlemap.derivations.model import InputError, Model, Parameter, exact_number

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
mu = sp.Symbol("mu", real=True)
sigma2 = sp.Symbol("sigma^2", positive=True)
a, b = sp.symbols("a b", real=True)
theta = sp.Symbol("theta", positive=True)
lam = sp.Symbol("lambda", positive=True)
POSITIVE = sp.Interval.open(0, sp.oo)
UNIT = sp.Interval.open(0, 1)

COIN_DATA = (0, 0, 1, 1, 0, 0, 1)
SHEET_PRIOR = (sp.Rational(1, 2), sp.Rational(1, 10))  # the sheet's N(0.5, 0.1): mean and its second number


def normal_pdf(value, mean, variance) -> sp.Expr:
    return sp.exp(-((value - mean) ** 2) / (2 * variance)) / sp.sqrt(2 * sp.pi * variance)


def normal_prior(value, mean, variance) -> sp.Expr:
    """N(mean, variance) density; the sheet writes N(mu, sigma^2), so the second number is a variance."""
    exact_variance = exact_number("prior variance", variance)
    if not exact_variance.is_positive:
        raise InputError(f"prior variance must be > 0, got {variance!r}")
    return normal_pdf(value, exact_number("prior mean", mean), exact_variance)


def _gaussian_sample(rng, n, t):
    return {"x": rng.normal(t["mu"], np.sqrt(t["sigma^2"]), n)}


def _regression_sample(rng, n, t):
    xs = rng.uniform(-2.0, 3.0, n)
    return {"x": xs, "y": t["a"] * xs + t["b"] + rng.normal(0.0, np.sqrt(t["sigma^2"]), n)}


def _coin_sample(rng, n, t):
    return {"x": (rng.random(n) < t["theta"]).astype(float)}


def coin_model(name: str, title: str, prior: sp.Expr | None, notes: tuple[str, ...] = (), peer=None) -> Model:
    return Model(
        name=name,
        title=title,
        data=(x,),
        params=(Parameter(theta, UNIT, "probability of heads"),),  # pragma: no mutate (prose)
        density=theta**x * (1 - theta) ** (1 - x),
        prior=prior,
        support={x: sp.FiniteSet(0, 1)},
        observed={x: COIN_DATA},
        simulate=_coin_sample,
        truth={"theta": 0.4},
        notes=notes,
        peer=peer,
    )


GAUSSIAN = Model(
    name="gaussian",
    title=r"Gaussian, MLE of $\mu$ and $\sigma^2$",
    data=(x,),
    params=(Parameter(mu, sp.Reals, "mean"), Parameter(sigma2, POSITIVE, "variance")),
    density=normal_pdf(x, mu, sigma2),
    min_n=2,
    simulate=_gaussian_sample,
    truth={"mu": 1.5, "sigma^2": 4.0},
    peer=peers.gaussian_norm_fit,
    notes=(
        "The variance MLE divides by n, not n - 1: E[sigma^2_MLE] = (n - 1)/n sigma^2, so it is biased low; "
        "the unbiased sample variance divides by n - 1.",
    ),
)

LINEAR_REGRESSION = Model(
    name="linear_regression",
    title=r"Linear model $y = a x + b + \epsilon$, MLE of $a$, $b$ and $\sigma^2$",
    data=(x, y),
    params=(
        Parameter(a, sp.Reals, "slope"),
        Parameter(b, sp.Reals, "intercept"),
        Parameter(sigma2, POSITIVE, "noise variance"),
    ),
    density=normal_pdf(y, a * x + b, sigma2),
    min_n=3,
    covariates=(x,),
    simulate=_regression_sample,
    truth={"a": 2.0, "b": -1.0, "sigma^2": 0.25},
    peer=peers.regression_lstsq,
    notes=("a and b are the least-squares line; sigma^2 is the mean squared residual (divides by n).",),
)

COIN_MAP = coin_model(
    "coin_map",
    r"Coin, MAP with prior $N(0.5, 0.1)$, 0.1 read as the variance",
    normal_prior(theta, SHEET_PRIOR[0], SHEET_PRIOR[1]),
    peer=peers.coin_map_scipy(float(SHEET_PRIOR[0]), float(sp.sqrt(SHEET_PRIOR[1]))),
    notes=(
        "The sheet writes N(mu, sigma^2), so 0.1 is the variance.",
        "Truncating the prior to [0, 1] multiplies it by a constant on (0, 1); the log-posterior shifts by a "
        "constant there and the likelihood is zero outside, so the maximiser does not move.",
    ),
)

COIN_MAP_SD = coin_model(
    "coin_map_sd",
    r"Coin, MAP with prior $N(0.5, 0.1^2)$, 0.1 read as the standard deviation",
    normal_prior(theta, SHEET_PRIOR[0], SHEET_PRIOR[1] ** 2),
    peer=peers.coin_map_scipy(float(SHEET_PRIOR[0]), float(SHEET_PRIOR[1])),
    notes=("The stationarity condition is an irreducible cubic: the answer is an exact root object.",),
)

COIN_UNIFORM = coin_model(
    "coin_uniform",
    r"Coin with a flat prior $U(0, 1)$",
    sp.Integer(1),
    notes=("A flat prior makes the MAP equal to the MLE; the predictive probability integrates over theta.",),
    peer=peers.bernoulli_mean,
)

# Declared by their distribution: density, support, sampler (scipy.stats) and peer (scipy.stats' fit with the known
# parameters fixed, or scipy.optimize on its log-density where there is no fit) filled in by Model.from_distribution.
POISSON = Model.from_distribution("poisson", rate=lam, title="Poisson rate", truth={lam: 3.0})

EXPONENTIAL = Model.from_distribution("exponential", rate=lam, title="Exponential rate", truth={lam: 2.5})

NORMAL_NORMAL = Model.from_distribution(
    "normal",
    mean=mu,
    variance=4,
    prior=Normal(0, 1),
    name="normal_normal",
    title=r"Normal mean with known variance 4 and a $N(0, 1)$ prior (conjugate)",
    truth={mu: 0.7},
    peer=peers.normal_normal_conjugate,  # the textbook's closed form, beside scipy.optimize's
    notes=("Conjugate: the posterior is normal, so its mode (the MAP) equals its mean.",),
)

GAMMA_KNOWN_SHAPE = Model.from_distribution(
    "gamma", shape=2, scale=theta, name="gamma_known_shape", title=r"Gamma scale $\theta$, shape 2 known"
)

GEOMETRIC = Model.from_distribution(
    "geometric", p=theta, name="geometric_trials", title="Geometric, trials to a success"
)

BINOMIAL = Model.from_distribution("binomial", n=10, p=theta, name="binomial", title="Binomial, 10 trials each")

BETA = Model.from_distribution("beta", name="beta", title=r"Beta shapes $\alpha$ and $\beta$ (no closed form)")

LOG_NORMAL = Model.from_distribution("lognormal", mean=mu, name="lognormal_mu_sigma", title="Log-normal")

LAPLACE_SCALE = Model.from_distribution(
    "laplace", location=0, name="laplace_scale", title="Laplace scale, location 0 known"
)

POISSON_GAMMA = Model.from_distribution(
    "poisson",
    rate=lam,
    prior=Gamma(2, 1),
    name="poisson_gamma",
    title=r"Poisson rate, MAP with a $\mathrm{Gamma}(2, 1)$ prior (shape 2, rate 1)",
    notes=("Conjugate: the posterior is Gamma(2 + sum x, 1 + n), its mode (1 + sum x) / (1 + n).",),
)

CAUCHY = Model(
    name="cauchy",
    title="Cauchy location (no closed form)",
    data=(x,),
    params=(Parameter(mu, sp.Reals, "location"),),
    density=1 / (sp.pi * (1 + (x - mu) ** 2)),
    simulate=lambda rng, n, t: {"x": t["mu"] + rng.standard_cauchy(n)},
    truth={"mu": 0.5},
    peer=peers.cauchy_fit,
)

SHEET_MODELS = (GAUSSIAN, LINEAR_REGRESSION, COIN_MAP, COIN_MAP_SD, COIN_UNIFORM)
DISTRIBUTION_MODELS = (
    POISSON,
    EXPONENTIAL,
    NORMAL_NORMAL,
    GAMMA_KNOWN_SHAPE,
    GEOMETRIC,
    BINOMIAL,
    BETA,
    LOG_NORMAL,
    LAPLACE_SCALE,
    POISSON_GAMMA,
)  # declared by Model.from_distribution
EXTRA_MODELS = (*DISTRIBUTION_MODELS, CAUCHY)
MODELS: dict[str, Model] = {m.name: m for m in SHEET_MODELS + EXTRA_MODELS}


@cache
def derivation(name: str) -> Derivation:
    """Derive each catalogue model once per process (SymPy's solve is the slow part)."""
    return derive(MODELS[name])
