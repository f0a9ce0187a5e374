"""Textbook models the engine meets, by capability, each with an independent reference (its peer: a scipy.stats
fit, a NumPy textbook formula, or scipy.optimize on the negative log-likelihood). Two or more per capability;
tests/test_catalogue.py derives and verifies every one, and `nox -s bench` times their derivations."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.optimize
import sympy as sp
from scipy import stats

from mlemap.derivations.model import Model, Parameter
from tests.test_textbook import binomial_model, poisson_integer_model, von_mises, weibull

x = sp.Symbol("x", real=True)
xp = sp.Symbol("x", positive=True)
k = sp.Symbol("k", integer=True)
POSITIVE, UNIT = sp.Interval.open(0, sp.oo), sp.Interval.open(0, 1)
theta, lam1, lam2 = sp.Symbol("theta", positive=True), *sp.symbols("lambda1 lambda2", positive=True)
a, b, mu = sp.symbols("a b mu", real=True)
alpha, xm, s2, q = sp.symbols("alpha x_m s2 q", positive=True)
p1, p2, p3 = sp.symbols("p1 p2 p3", positive=True)


def _minimize_scalar(nll, lo, hi):
    """scipy's bounded Brent search on a negative log-likelihood: an optimum found without SymPy."""
    return float(scipy.optimize.minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}).x)


def uniform_0_theta() -> Model:
    return Model(
        "uniform_0_theta",
        "Uniform on [0, theta]",
        (x,),
        (Parameter(theta, POSITIVE, "upper end"),),
        1 / theta,
        support={x: sp.Interval(0, theta)},
        simulate=lambda rng, n, t: {"x": rng.uniform(0, t["theta"], n)},
        truth={"theta": 3.0},
        peer=lambda d: {"theta": float(np.sum(stats.uniform.fit(d["x"], floc=0)))},
    )


def shifted_exponential() -> Model:
    return Model(
        "shifted_exponential",
        "Exponential shifted by a",
        (x,),
        (Parameter(a, sp.Reals, "shift"),),
        sp.exp(-(x - a)),
        support={x: sp.Interval(a, sp.oo)},
        simulate=lambda rng, n, t: {"x": t["a"] + rng.exponential(1.0, n)},
        truth={"a": 1.5},
        peer=lambda d: {"a": float(stats.expon.fit(d["x"], fscale=1)[0])},
    )


def uniform_a_b() -> Model:
    return Model(
        "uniform_a_b",
        "Uniform on [a, b]",
        (x,),
        (Parameter(a), Parameter(b)),
        1 / (b - a),
        support={x: sp.Interval(a, b)},
        simulate=lambda rng, n, t: {"x": rng.uniform(t["a"], t["b"], n)},
        truth={"a": -1.0, "b": 2.0},
        peer=lambda d: dict(zip(("a", "b"), (float(v) for v in np.cumsum(stats.uniform.fit(d["x"]))))),
    )


def pareto() -> Model:
    """The scale is an order statistic; the shape then a stationary point given it."""
    return Model(
        "pareto",
        "Pareto, scale and shape",
        (xp,),
        (Parameter(xm, POSITIVE, "scale"), Parameter(alpha, POSITIVE)),
        alpha * xm**alpha / xp ** (alpha + 1),
        support={xp: sp.Interval(xm, sp.oo)},
        simulate=lambda rng, n, t: {"x": t["x_m"] * (1 + rng.pareto(t["alpha"], n))},
        truth={"x_m": 2.0, "alpha": 3.0},
        peer=lambda d: dict(
            zip(("alpha", "x_m"), (float(v) for v in np.array(stats.pareto.fit(d["x"], floc=0))[[0, 2]]))
        ),
    )


def symmetric_uniform() -> Model:
    """Uniform on [-theta, theta]: theta >= max x and theta >= -min x, so theta = max |x|."""
    return Model(
        "symmetric_uniform",
        "Uniform on [-theta, theta]",
        (x,),
        (Parameter(theta, POSITIVE, "half-width"),),
        1 / (2 * theta),
        support={x: sp.Interval(-theta, theta)},
        simulate=lambda rng, n, t: {"x": rng.uniform(-t["theta"], t["theta"], n)},
        truth={"theta": 2.0},
        peer=lambda d: {"theta": float(np.max(np.abs(d["x"])))},
    )


def uniform_theta_2theta() -> Model:
    """Uniform on [theta, 2 theta]: theta <= min x and 2 theta >= max x; the likelihood theta^-n falls, so
    theta = max x / 2."""
    return Model(
        "uniform_theta_2theta",
        "Uniform on [theta, 2 theta]",
        (xp,),
        (Parameter(theta, POSITIVE),),
        1 / theta,
        support={xp: sp.Interval(theta, 2 * theta)},
        simulate=lambda rng, n, t: {"x": rng.uniform(t["theta"], 2 * t["theta"], n)},
        truth={"theta": 1.5},
        peer=lambda d: {"theta": float(np.max(d["x"]) / 2)},
    )


def discrete_uniform() -> Model:
    """Uniform on 1, ..., N (the German tank problem): N = max k."""
    kk = sp.Symbol("k", integer=True, positive=True)
    big_n = sp.Symbol("N", positive=True)
    return Model(
        "discrete_uniform",
        "Discrete uniform on 1..N",
        (kk,),
        (Parameter(big_n, sp.Interval(1, sp.oo), "largest value"),),
        1 / big_n,
        support={kk: sp.Range(1, big_n + 1)},
        simulate=lambda rng, n, t: {"k": rng.integers(1, int(t["N"]) + 1, n).astype(float)},
        truth={"N": 40.0},
        peer=lambda d: {"N": float(np.max(d["k"]))},
    )


def window(lower: sp.Rational, upper: sp.Rational) -> Model:
    """Uniform on [t + lower, t + upper] with upper - lower = 1 or 2: the likelihood is constant on
    max x - upper <= t <= min x - lower, so every point of that interval is a maximiser (the peer is its
    midpoint, the mid-range shifted)."""
    t = sp.Symbol("t", real=True)
    width = float(upper - lower)
    return Model(
        f"window_{width:g}",
        f"Uniform on [t + {lower}, t + {upper}]",
        (x,),
        (Parameter(t),),
        1 / (upper - lower),
        support={x: sp.Interval(t + lower, t + upper)},
        simulate=lambda rng, n, tr: {"x": rng.uniform(tr["t"] + float(lower), tr["t"] + float(upper), n)},
        truth={"t": 0.3},
        peer=lambda d: {"t": float((np.max(d["x"]) - float(upper) + np.min(d["x"]) - float(lower)) / 2)},
    )


CATEGORIES = sp.FiniteSet(1, 2, 3)
CATEGORICAL_DENSITY = p1 ** sp.KroneckerDelta(k, 1) * p2 ** sp.KroneckerDelta(k, 2) * p3 ** sp.KroneckerDelta(k, 3)
SIMPLEX = (sp.Eq(p1 + p2 + p3, 1),)
DIRICHLET = (2, 3, 4)


def _draw_categories(rng, n, t):
    return {"k": rng.choice([1, 2, 3], n, p=[t["p1"], t["p2"], t["p3"]]).astype(float)}


def categorical() -> Model:
    return Model(
        "categorical",
        "Categorical on a simplex",
        (k,),
        tuple(Parameter(p, UNIT) for p in (p1, p2, p3)),
        CATEGORICAL_DENSITY,
        support={k: CATEGORIES},
        constraints=SIMPLEX,
        simulate=_draw_categories,
        truth={"p1": 0.2, "p2": 0.3, "p3": 0.5},
        peer=lambda d: {f"p{v}": float(np.mean(d["k"] == v)) for v in (1, 2, 3)},  # counts / n, by NumPy
    )


def signed_categorical() -> Model:
    """The categorical on -1, 0, 1: counts of opposite values, two statistics with two names."""
    density = p1 ** sp.KroneckerDelta(k, -1) * p2 ** sp.KroneckerDelta(k, 0) * p3 ** sp.KroneckerDelta(k, 1)
    return replace(categorical(), name="signed_categorical", density=density, support={k: sp.FiniteSet(-1, 0, 1)})


def bit_named_xy() -> Model:
    """Bits x, y and a third bit named xy: the sums of x*y and of xy would both be S_xy."""
    x, y = sp.symbols("x y", integer=True, nonnegative=True)
    xy = sp.Symbol("xy", integer=True, nonnegative=True)
    a, b = sp.symbols("a b", real=True)
    density = sp.exp(a * x * y + b * xy) / ((3 + sp.exp(a)) * (1 + sp.exp(b)))
    bit = sp.FiniteSet(0, 1)
    return Model(
        "bit_named_xy",
        "Two bits' product and a bit named xy",
        (x, y, xy),
        (Parameter(a), Parameter(b)),
        density,
        support={x: bit, y: bit, xy: bit},
    )


def categorical_dirichlet() -> Model:
    prior = sp.Mul(*[p ** (c - 1) for p, c in zip((p1, p2, p3), DIRICHLET)])
    return Model(
        "categorical_dirichlet",
        "Categorical MAP, Dirichlet(2, 3, 4) prior",
        (k,),
        tuple(Parameter(p, UNIT) for p in (p1, p2, p3)),
        CATEGORICAL_DENSITY,
        prior=prior,
        support={k: CATEGORIES},
        constraints=SIMPLEX,
        simulate=_draw_categories,
        truth={"p1": 0.2, "p2": 0.3, "p3": 0.5},
        # the textbook mode of the Dirichlet posterior: (N_k + a_k - 1) / (n + sum a - K)
        peer=lambda d: {
            f"p{v}": float((np.sum(d["k"] == v) + c - 1) / (len(d["k"]) + sum(DIRICHLET) - 3))
            for v, c in zip((1, 2, 3), DIRICHLET)
        },
    )


def tied_poisson() -> Model:
    """Two Poisson counts whose rates are known to add up to 10."""
    y = sp.Symbol("y", integer=True)

    def peer(d):
        def nll(r):
            return -np.sum(stats.poisson.logpmf(d["k"], r) + stats.poisson.logpmf(d["y"], 10 - r))

        r = _minimize_scalar(nll, 1e-9, 10 - 1e-9)
        return {"lambda1": r, "lambda2": 10 - r}

    return Model(
        "tied_poisson",
        "Poisson rates with a known total",
        (k, y),
        (Parameter(lam1, POSITIVE), Parameter(lam2, POSITIVE)),
        lam1**k * sp.exp(-lam1) / sp.factorial(k) * lam2**y * sp.exp(-lam2) / sp.factorial(y),
        support={k: sp.Naturals0, y: sp.Naturals0},
        constraints=(sp.Eq(lam1 + lam2, 10),),
        simulate=lambda rng, n, t: {"k": rng.poisson(t["lambda1"], n), "y": rng.poisson(t["lambda2"], n)},
        truth={"lambda1": 3.0, "lambda2": 7.0},
        peer=peer,
        tolerances={"peer": 1e-6},
    )


def log_normal() -> Model:
    """Written the natural way, exp(-(log x - mu)^2 / (2 s2)) / x: separates once the logs are expanded."""
    density = sp.exp(-((sp.log(xp) - mu) ** 2) / (2 * s2)) / (xp * sp.sqrt(2 * sp.pi * s2))
    return Model(
        "log_normal",
        "Log-normal",
        (xp,),
        (Parameter(mu), Parameter(s2, POSITIVE)),
        density,
        support={xp: POSITIVE},
        simulate=lambda rng, n, t: {"x": rng.lognormal(t["mu"], np.sqrt(t["s2"]), n)},
        truth={"mu": 0.5, "s2": 0.4},
        peer=lambda d: (lambda f: {"mu": float(np.log(f[2])), "s2": float(f[0] ** 2)})(
            stats.lognorm.fit(d["x"], floc=0)
        ),
        tolerances={"peer": 1e-4},  # scipy's lognorm fit is a numerical search
    )


def geometric() -> Model:
    """Trials up to the first success, on the natural numbers 1, 2, ..."""
    n_ = sp.Symbol("t", integer=True, positive=True)
    pp = sp.Symbol("p", positive=True)
    return Model(
        "geometric",
        "Geometric on 1, 2, ...",
        (n_,),
        (Parameter(pp, UNIT),),
        pp * (1 - pp) ** (n_ - 1),
        support={n_: sp.Naturals},
        simulate=lambda rng, n, t: {"t": rng.geometric(t["p"], n).astype(float)},
        truth={"p": 0.3},
        peer=lambda d: {"p": _minimize_scalar(lambda r: -np.sum(stats.geom.logpmf(d["t"], r)), 1e-9, 1 - 1e-9)},
    )


def discrete_laplace() -> Model:
    """(1 - q) / (1 + q) q^|z| on all integers: a quadratic score whose one root in (0, 1) is the estimate."""
    z = sp.Symbol("z", integer=True)
    return Model(
        "discrete_laplace",
        "Two-sided geometric on the integers",
        (z,),
        (Parameter(q, UNIT),),
        (1 - q) / (1 + q) * q ** sp.Abs(z),
        support={z: sp.Integers},
        simulate=lambda rng, n, t: {"z": (rng.geometric(1 - t["q"], n) - rng.geometric(1 - t["q"], n)).astype(float)},
        truth={"q": 0.4},
        peer=lambda d: {
            "q": _minimize_scalar(
                lambda r: -np.sum(np.log((1 - r) / (1 + r)) + np.abs(d["z"]) * np.log(r)), 1e-9, 1 - 1e-9
            )
        },
    )


LINKAGE_CELLS = (lambda t: (2 + t) / 4, lambda t: (1 - t) / 4, lambda t: (1 - t) / 4, lambda t: t / 4)


def genetic_linkage() -> Model:
    """Rao's genetic linkage: a multinomial with cell probabilities (2 + theta)/4, (1 - theta)/4, (1 - theta)/4,
    theta/4. The score clears to a quadratic whose one root in (0, 1) is the estimate, where the first and the
    middle cells are not empty (Rao's data 125, 18, 20, 34 give 0.6268)."""
    kk = sp.Symbol("k", integer=True)
    density = sp.Mul(*[cell(theta) ** sp.KroneckerDelta(kk, j + 1) for j, cell in enumerate(LINKAGE_CELLS)])

    def draw(rng, n, t):
        probs = [float(cell(t["theta"])) for cell in LINKAGE_CELLS]
        return {"k": rng.choice([1, 2, 3, 4], n, p=probs).astype(float)}

    def peer(d):
        counts = [np.sum(d["k"] == j) for j in (1, 2, 3, 4)]

        def nll(r):
            return -sum(c * np.log(float(cell(r))) for c, cell in zip(counts, LINKAGE_CELLS))

        return {"theta": _minimize_scalar(nll, 1e-9, 1 - 1e-9)}

    return Model(
        "genetic_linkage",
        "Rao's genetic linkage",
        (kk,),
        (Parameter(theta, UNIT),),
        density,
        support={kk: sp.FiniteSet(1, 2, 3, 4)},
        simulate=draw,
        truth={"theta": 0.6},
        peer=peer,
    )


def laplace_location_scale() -> Model:
    """The Laplace law exp(-|x - mu| / b) / (2 b): mu is the sample median (least absolute deviations) and b the
    mean absolute deviation from it, checked against scipy.stats.laplace.fit."""
    b_ = sp.Symbol("b", positive=True)
    return Model(
        "laplace_location_scale",
        "Laplace location and scale",
        (x,),
        (Parameter(mu), Parameter(b_, POSITIVE)),
        sp.exp(-sp.Abs(x - mu) / b_) / (2 * b_),
        simulate=lambda rng, n, t: {"x": rng.laplace(t["mu"], t["b"], n)},
        truth={"mu": 1.0, "b": 2.0},
        peer=lambda d: dict(zip(("mu", "b"), (float(v) for v in stats.laplace.fit(d["x"])))),
    )


def laplace_location() -> Model:
    """The Laplace location with the scale known (1/2): the sample median."""
    return Model(
        "laplace_location",
        "Laplace location, scale 1/2",
        (x,),
        (Parameter(mu),),
        sp.exp(-2 * sp.Abs(x - mu)),
        simulate=lambda rng, n, t: {"x": rng.laplace(t["mu"], 0.5, n)},
        truth={"mu": -0.5},
        peer=lambda d: {"mu": float(np.median(d["x"]))},
    )


def irls(design: np.ndarray, y: np.ndarray, iterations: int = 100) -> np.ndarray:
    """Logistic regression by iteratively reweighted least squares, in NumPy: w <- (X^T W X)^-1 X^T W z with
    W = diag(p (1 - p)) and z = X w + (y - p) / (p (1 - p)); written here, apart from the engine's Newton."""
    w = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-design @ w))
        weights = p * (1 - p)
        z = design @ w + (y - p) / weights
        new = np.linalg.solve(design.T @ (weights[:, None] * design), design.T @ (weights * z))
        if np.max(np.abs(new - w)) < 1e-14:
            return new
        w = new
    return w


def logistic_regression_3() -> Model:
    """P(y = 1 | x) = sigmoid(w . x) with three covariates: no closed form; LBFGS and the derived Newton step
    against IRLS written in NumPy."""
    y = sp.Symbol("y", integer=True, nonnegative=True)
    eta = sum(w * v for w, v in zip(WEIGHTS, REGRESSORS))

    def draw(rng, n, t):
        columns = rng.normal(size=(n, 3))
        p = 1 / (1 + np.exp(-columns @ np.array([t[f"w{j}"] for j in (1, 2, 3)])))
        return {f"x{j + 1}": columns[:, j] for j in range(3)} | {"y": (rng.uniform(size=n) < p).astype(float)}

    def peer(d):
        w = irls(np.column_stack([d[f"x{j}"] for j in (1, 2, 3)]), d["y"])
        return {f"w{j + 1}": float(w[j]) for j in range(3)}

    return Model(
        "logistic_regression_3",
        "Logistic regression, three covariates",
        (*REGRESSORS, y),
        tuple(Parameter(w) for w in WEIGHTS),
        sp.exp(y * eta) / (1 + sp.exp(eta)),
        support={y: sp.FiniteSet(0, 1)},
        covariates=REGRESSORS,
        simulate=draw,
        truth={"w1": 0.5, "w2": -1.0, "w3": 0.8},
        peer=peer,
    )


def cauchy_location() -> Model:
    """No closed form: the numerical optimum, reported only when three starts converge to it."""
    return Model(
        "cauchy_location",
        "Cauchy location",
        (x,),
        (Parameter(mu),),
        1 / (sp.pi * (1 + (x - mu) ** 2)),
        simulate=lambda rng, n, t: {"x": t["mu"] + rng.standard_cauchy(n)},
        truth={"mu": 1.0},
        peer=lambda d: {"mu": float(stats.cauchy.fit(d["x"], fscale=1)[0])},
        tolerances={"peer": 1e-4},
    )


def gamma_shape_rate() -> Model:
    """Shape and rate: the score has digamma(shape), so no closed form; LBFGS must converge."""
    shape, rate = sp.symbols("kappa beta", positive=True)
    return Model(
        "gamma_shape_rate",
        "Gamma shape and rate",
        (xp,),
        (Parameter(shape, POSITIVE), Parameter(rate, POSITIVE)),
        rate**shape * xp ** (shape - 1) * sp.exp(-rate * xp) / sp.gamma(shape),
        support={xp: POSITIVE},
        simulate=lambda rng, n, t: {"x": rng.gamma(t["kappa"], 1 / t["beta"], n)},
        truth={"kappa": 2.5, "beta": 1.5},
        peer=lambda d: (lambda f: {"kappa": float(f[0]), "beta": float(1 / f[2])})(stats.gamma.fit(d["x"], floc=0)),
        tolerances={"peer": 1e-4},
    )


def exponential_regression() -> Model:
    """Waiting times with rate theta * u for a covariate u: the information averages over the design."""
    u, y = sp.Symbol("u", positive=True), sp.Symbol("y", positive=True)
    return Model(
        "exponential_regression",
        "Exponential rate proportional to a covariate",
        (u, y),
        (Parameter(theta, POSITIVE),),
        theta * u * sp.exp(-theta * u * y),
        support={u: POSITIVE, y: POSITIVE},
        covariates=(u,),
        simulate=lambda rng, n, t: (lambda uu: {"u": uu, "y": rng.exponential(1 / (t["theta"] * uu))})(
            rng.uniform(0.5, 2, n)
        ),
        truth={"theta": 2.0},
        peer=lambda d: {"theta": float(1 / np.mean(d["u"] * d["y"]))},  # n / sum u y, by NumPy
    )


def poisson_binary_covariate() -> Model:
    """Counts with rate exp(a + b u) for a binary covariate u: solved through the groups' counts and sums,
    a = log y_bar_0 and b = log(y_bar_1 / y_bar_0)."""
    u, y = sp.Symbol("u", integer=True, nonnegative=True), sp.Symbol("y", integer=True, nonnegative=True)
    rate = sp.exp(a + b * u)

    def draw(rng, n, t):
        uu = (np.arange(n) % 2).astype(float)
        return {"u": uu, "y": rng.poisson(np.exp(t["a"] + t["b"] * uu)).astype(float)}

    def peer(d):  # the group means, by NumPy
        mean0, mean1 = (float(np.mean(d["y"][d["u"] == v])) for v in (0, 1))
        return {"a": float(np.log(mean0)), "b": float(np.log(mean1 / mean0))}

    return Model(
        "poisson_binary_covariate",
        "Poisson regression on a binary covariate",
        (u, y),
        (Parameter(a), Parameter(b)),
        rate**y * sp.exp(-rate) / sp.factorial(y),
        support={u: sp.FiniteSet(0, 1), y: sp.Naturals0},
        covariates=(u,),
        simulate=draw,
        truth={"a": 0.5, "b": 0.7},
        peer=peer,
    )


WEIGHTS = sp.symbols("w1:4", real=True)
REGRESSORS = sp.symbols("x1:4", real=True)
RESPONSE = sp.Symbol("y", real=True)
TRUE_WEIGHTS = {"w1": 0.5, "w2": -1.0, "w3": 2.0}


def _design(rng, n, t, noise):
    columns = rng.normal(size=(n, 3))
    mean = columns @ np.array([t[f"w{j}"] for j in (1, 2, 3)])
    return {f"x{j + 1}": columns[:, j] for j in range(3)} | {"y": mean + noise * rng.normal(size=n)}


def _matrix(d):
    return np.column_stack([d[f"x{j}"] for j in (1, 2, 3)]), d["y"]


def linear_model_3() -> Model:
    """y = X w + noise with three covariates and the noise variance unknown: w = (X^T X)^-1 X^T y and sigma^2 the
    mean squared residual, checked against NumPy's least squares."""
    s2_ = sp.Symbol("s2", positive=True)
    mean = sum(w * v for w, v in zip(WEIGHTS, REGRESSORS))

    def peer(d):
        design, y = _matrix(d)
        w, *_ = np.linalg.lstsq(design, y, rcond=None)
        return {f"w{j + 1}": float(w[j]) for j in range(3)} | {"s2": float(np.mean((y - design @ w) ** 2))}

    return Model(
        "linear_model_3",
        "Linear model, three covariates",
        (*REGRESSORS, RESPONSE),
        tuple(Parameter(w) for w in WEIGHTS) + (Parameter(s2_, POSITIVE),),
        sp.exp(-((RESPONSE - mean) ** 2) / (2 * s2_)) / sp.sqrt(2 * sp.pi * s2_),
        covariates=REGRESSORS,
        simulate=lambda rng, n, t: _design(rng, n, t, np.sqrt(t["s2"])),
        truth=TRUE_WEIGHTS | {"s2": 0.8},
        peer=peer,
    )


RIDGE_PRECISION, RIDGE_NOISE = 2, sp.Rational(1, 4)


def ridge_model_3() -> Model:
    """The weights' MAP under the prior N(0, I / 2) with noise variance 1/4: ridge regression,
    (X^T X + lambda I)^-1 X^T y with lambda = alpha sigma^2 = 1/2, checked against the formula solved by NumPy."""
    mean = sum(w * v for w, v in zip(WEIGHTS, REGRESSORS))

    def peer(d):
        design, y = _matrix(d)
        lam = float(RIDGE_PRECISION * RIDGE_NOISE)
        w = np.linalg.solve(design.T @ design + lam * np.eye(3), design.T @ y)
        return {f"w{j + 1}": float(w[j]) for j in range(3)}

    return Model(
        "ridge_model_3",
        "Ridge regression, three covariates",
        (*REGRESSORS, RESPONSE),
        tuple(Parameter(w) for w in WEIGHTS),
        sp.exp(-((RESPONSE - mean) ** 2) / (2 * RIDGE_NOISE)) / sp.sqrt(2 * sp.pi * RIDGE_NOISE),
        prior=sp.exp(-RIDGE_PRECISION * sum(w**2 for w in WEIGHTS) / 2),
        covariates=REGRESSORS,
        simulate=lambda rng, n, t: _design(rng, n, t, float(sp.sqrt(RIDGE_NOISE))),
        truth=TRUE_WEIGHTS,
        peer=peer,
    )


def regression_through_origin() -> Model:
    """y = beta u + unit Gaussian noise: the textbook sum u y / sum u^2, checked against NumPy's least squares."""
    u, y, beta = sp.Symbol("u", real=True), sp.Symbol("y", real=True), sp.Symbol("beta", real=True)
    return Model(
        "regression_origin",
        "Regression through the origin",
        (u, y),
        (Parameter(beta),),
        sp.exp(-((y - beta * u) ** 2) / 2) / sp.sqrt(2 * sp.pi),
        covariates=(u,),
        simulate=lambda rng, n, t: (lambda uu: {"u": uu, "y": t["beta"] * uu + rng.normal(size=n)})(
            rng.uniform(-2, 2, n)
        ),
        truth={"beta": 0.7},
        peer=lambda d: {"beta": float(np.linalg.lstsq(d["u"][:, None], d["y"], rcond=None)[0][0])},
    )


def gaussian_mean_covariance(d: int) -> Model:
    """A d-dimensional Gaussian with unknown mean and covariance: x_bar and (1/n) sum (x - x_bar)(x - x_bar)^T."""
    xs = sp.symbols(f"x1:{d + 1}", real=True)
    means = sp.symbols(f"mu1:{d + 1}", real=True)
    sigma = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"sigma{min(i, j) + 1}{max(i, j) + 1}", real=True))
    entries = [sigma[i, j] for i in range(d) for j in range(i, d)]
    r = sp.Matrix(xs) - sp.Matrix(means)
    density = sp.exp(-(r.T * sigma.inv() * r)[0] / 2) / sp.sqrt((2 * sp.pi) ** d * sigma.det())
    truth_cov = 0.5 * np.eye(d) + 0.3
    truth = {f"mu{i + 1}": float(i) - 0.5 for i in range(d)}
    truth |= {f"sigma{i + 1}{j + 1}": float(truth_cov[i, j]) for i in range(d) for j in range(i, d)}

    def simulate(rng, n, t):
        mean = np.array([t[f"mu{i + 1}"] for i in range(d)])
        cov = np.array([[t[f"sigma{min(i, j) + 1}{max(i, j) + 1}"] for j in range(d)] for i in range(d)])
        draws = rng.multivariate_normal(mean, cov, n)
        return {f"x{i + 1}": draws[:, i] for i in range(d)}

    def peer(data):  # NumPy's mean and biased covariance
        stacked = np.stack([data[f"x{i + 1}"] for i in range(d)])
        cov = np.cov(stacked, bias=True)
        out = {f"mu{i + 1}": float(stacked[i].mean()) for i in range(d)}
        return out | {f"sigma{i + 1}{j + 1}": float(cov[i, j]) for i in range(d) for j in range(i, d)}

    diagonal = {sigma[i, i] for i in range(d)}
    return Model(
        f"gaussian{d}d",
        f"{d}-dimensional Gaussian, mean and covariance",
        xs,
        tuple(Parameter(m) for m in means)
        + tuple(Parameter(e, POSITIVE if e in diagonal else sp.Reals) for e in entries),
        density,
        matrices=(sigma,),
        simulate=simulate,
        truth=truth,
        peer=peer,
    )


NORMAL_UNIT = sp.exp(-((x - mu) ** 2) / 2) / sp.sqrt(2 * sp.pi)


def _normal_draws(rng, n, t):
    return {"x": rng.normal(t["mu"], 1.0, n)}


def soft_threshold(total: float, threshold: float) -> float:
    """The Laplace prior's MAP in NumPy: the sum shrunk towards 0 by the threshold, and 0 within it."""
    return float(np.sign(total) * max(abs(total) - threshold, 0.0))


def laplace_prior_mean() -> Model:
    """A unit-variance normal mean with the Laplace prior exp(-2 |mu|): the MAP is the soft threshold
    sign(S_x) max(|S_x| - 2, 0) / n, with a kink at mu = 0."""
    return Model(
        "laplace_prior_mean",
        "Normal mean, Laplace prior exp(-2|mu|)",
        (x,),
        (Parameter(mu),),
        NORMAL_UNIT,
        prior=sp.exp(-2 * sp.Abs(mu)),
        simulate=_normal_draws,
        truth={"mu": 0.8},
        peer=lambda d: {"mu": soft_threshold(float(np.sum(d["x"])), 2.0) / len(d["x"])},
    )


def laplace_prior_shifted() -> Model:
    """Variance 4 and the Laplace prior exp(-|mu - 1| / 4), centred at 1: the MAP shrinks towards 1,
    1 + sign(S_x - n) max(|S_x - n| - 1, 0) / n."""
    return Model(
        "laplace_prior_shifted",
        "Normal mean (variance 4), Laplace prior centred at 1",
        (x,),
        (Parameter(mu),),
        sp.exp(-((x - mu) ** 2) / 8) / sp.sqrt(8 * sp.pi),
        prior=sp.exp(-sp.Abs(mu - 1) / 4),
        simulate=lambda rng, n, t: {"x": rng.normal(t["mu"], 2.0, n)},
        truth={"mu": 1.4},
        peer=lambda d: {"mu": 1 + soft_threshold(float(np.sum(d["x"])) - len(d["x"]), 1.0) / len(d["x"])},
    )


def nonnegative_mean() -> Model:
    """A unit-variance normal mean declared >= 0: max(x_bar, 0)."""
    return Model(
        "nonnegative_mean",
        "Normal mean declared >= 0",
        (x,),
        (Parameter(mu, sp.Interval(0, sp.oo)),),
        NORMAL_UNIT,
        simulate=_normal_draws,
        truth={"mu": 0.5},
        peer=lambda d: {"mu": max(float(np.mean(d["x"])), 0.0)},
    )


def capped_rate() -> Model:
    """An exponential rate declared in (0, 2]: min(n / S_x, 2)."""
    return Model(
        "capped_rate",
        "Exponential rate declared <= 2",
        (xp,),
        (Parameter(sp.Symbol("lambda", positive=True), sp.Interval.Lopen(0, 2)),),
        sp.Symbol("lambda", positive=True) * sp.exp(-sp.Symbol("lambda", positive=True) * xp),
        support={xp: POSITIVE},
        simulate=lambda rng, n, t: {"x": rng.exponential(1 / t["lambda"], n)},
        truth={"lambda": 1.5},
        peer=lambda d: {"lambda": min(1 / float(np.mean(d["x"])), 2.0)},
    )


def uniform_pareto_prior() -> Model:
    """Uniform(0, theta) with a Pareto(3/2, 11/5) prior on theta >= 3/2: max(max x, 3/2)."""
    return Model(
        "uniform_pareto_prior",
        "Uniform on [0, theta], Pareto(1.5, 2.2) prior",
        (x,),
        (Parameter(theta, sp.Interval(sp.Rational(3, 2), sp.oo), "upper end"),),
        1 / theta,
        prior=theta ** -(sp.Rational(11, 5) + 1),
        support={x: sp.Interval(0, theta)},
        simulate=lambda rng, n, t: {"x": rng.uniform(0, t["theta"], n)},
        truth={"theta": 2.0},
        peer=lambda d: {"theta": max(float(np.max(d["x"])), 1.5)},
    )


def nonnegative_mean_and_variance() -> Model:
    """Mean declared >= 0 and a free variance: the closed form x_bar holds where S_x >= 0; elsewhere the optimum
    is mu = 0, sigma^2 = mean(x^2), found on the domain."""

    def peer(d):
        m = max(float(np.mean(d["x"])), 0.0)
        return {"mu": m, "s2": float(np.mean((d["x"] - m) ** 2))}

    return Model(
        "nonnegative_mean_and_variance",
        "Normal, mean declared >= 0, variance free",
        (x,),
        (Parameter(mu, sp.Interval(0, sp.oo)), Parameter(s2, POSITIVE)),
        sp.exp(-((x - mu) ** 2) / (2 * s2)) / sp.sqrt(2 * sp.pi * s2),
        simulate=lambda rng, n, t: {"x": rng.normal(t["mu"], np.sqrt(t["s2"]), n)},
        truth={"mu": 0.5, "s2": 2.0},
        peer=peer,
    )


def log_series() -> Model:
    """The log-series law -p^k / (k log(1 - p)): two negative factors, whose logs must not make the
    log-likelihood complex; no closed form (the score mixes p and log(1 - p))."""
    kk = sp.Symbol("k", integer=True, positive=True)
    pp = sp.Symbol("p", positive=True)

    def peer(d):
        return {"p": _minimize_scalar(lambda r: -np.sum(stats.logser.logpmf(d["k"], r)), 1e-9, 1 - 1e-9)}

    return Model(
        "log_series",
        "Log-series",
        (kk,),
        (Parameter(pp, UNIT),),
        -(pp**kk) / (kk * sp.log(1 - pp)),
        support={kk: sp.Naturals},
        simulate=lambda rng, n, t: {"k": rng.logseries(t["p"], n).astype(float)},
        truth={"p": 0.6},
        peer=peer,
        tolerances={"peer": 1e-6},
    )


IG_SHAPE, IG_SCALE = 10, 5


def inverse_gamma_map() -> Model:
    """A normal variance (mean 0) with an InvGamma(10, 5) prior: the MAP (S_x2 + 10) / (n + 22) is biased, so the
    Monte Carlo holds it to its own derived variance, not to the unbiased bound."""
    v = sp.Symbol("v", positive=True)
    return Model(
        "inverse_gamma_map",
        "Normal variance, inverse-gamma prior",
        (x,),
        (Parameter(v, POSITIVE),),
        sp.exp(-(x**2) / (2 * v)) / sp.sqrt(2 * sp.pi * v),
        prior=v ** (-IG_SHAPE - 1) * sp.exp(-IG_SCALE / v),
        simulate=lambda rng, n, t: {"x": rng.normal(0.0, np.sqrt(t["v"]), n)},
        truth={"v": 0.5},
        # the textbook mode of the inverse-gamma posterior: (beta + S / 2) / (alpha + n / 2 + 1)
        peer=lambda d: {"v": float((IG_SCALE + np.sum(d["x"] ** 2) / 2) / (IG_SHAPE + len(d["x"]) / 2 + 1))},
    )


def gamma_poisson_map() -> Model:
    """A Poisson rate with a Gamma(30, 10) prior: the MAP (S_k + 29) / (n + 10), strongly shrunk and biased."""
    kk = sp.Symbol("k", integer=True, nonnegative=True)
    lam = sp.Symbol("lambda", positive=True)
    return Model(
        "gamma_poisson_map",
        "Poisson rate, Gamma(30, 10) prior",
        (kk,),
        (Parameter(lam, POSITIVE),),
        lam**kk * sp.exp(-lam) / sp.factorial(kk),
        prior=lam**29 * sp.exp(-10 * lam),
        support={kk: sp.Naturals0},
        simulate=lambda rng, n, t: {"k": rng.poisson(t["lambda"], n).astype(float)},
        truth={"lambda": 1.0},
        peer=lambda d: {"lambda": float((np.sum(d["k"]) + 29) / (len(d["k"]) + 10))},  # the Gamma posterior's mode
    )


@dataclass(frozen=True)
class Case:
    model: Model
    capability: str


CAPABILITIES = {
    "root": "admissible real root kept among complex ones",
    "support": "support that depends on a parameter: an order statistic",
    "constraint": "equality constraints by Lagrange multipliers",
    "rewrite": "a density that separates once rewritten",
    "routes": "special functions and integer data in NumPy and torch",
    "numerical": "no closed form: a converged numerical optimum",
    "covariates": "covariates: information averaged over the design",
    "supports": "Naturals, Integers, Range and finite-set supports",
    "matrix": "a positive-definite matrix parameter by matrix calculus",
    "kink": "a kink in the objective: a Piecewise over subgradient conditions",
    "affine": "support ends affine in a parameter: the matching order statistic",
    "set": "a flat likelihood: the maximiser is an interval, named",
    "design": "weights of a linear model by the normal equations: least squares and ridge",
    "median": "least absolute deviations: the location is the sample median",
    "biased": "a biased MAP, held to its own derived variance",
    "range": "a declared range with a closed end: the projection onto it, or the conditions of the closed form",
}
CASES = [
    Case(weibull(3), "root"),
    Case(weibull(4), "root"),
    Case(discrete_laplace(), "root"),
    Case(genetic_linkage(), "root"),
    Case(uniform_0_theta(), "support"),
    Case(shifted_exponential(), "support"),
    Case(uniform_a_b(), "support"),
    Case(pareto(), "support"),
    Case(symmetric_uniform(), "affine"),
    Case(uniform_theta_2theta(), "affine"),
    Case(discrete_uniform(), "affine"),
    Case(window(-sp.Rational(1, 2), sp.Rational(1, 2)), "set"),
    Case(laplace_location_scale(), "median"),
    Case(laplace_location(), "median"),
    Case(window(sp.Integer(0), sp.Integer(2)), "set"),
    Case(categorical(), "constraint"),
    Case(categorical_dirichlet(), "constraint"),
    Case(tied_poisson(), "constraint"),
    Case(von_mises(), "rewrite"),
    Case(log_normal(), "rewrite"),
    Case(binomial_model(sp.Range(0, 11)), "routes"),
    Case(poisson_integer_model(), "routes"),
    Case(cauchy_location(), "numerical"),
    Case(gamma_shape_rate(), "numerical"),
    Case(exponential_regression(), "covariates"),
    Case(regression_through_origin(), "covariates"),
    Case(poisson_binary_covariate(), "covariates"),
    Case(linear_model_3(), "design"),
    Case(ridge_model_3(), "design"),
    Case(geometric(), "supports"),
    Case(binomial_model(sp.FiniteSet(*range(11))), "supports"),
    Case(discrete_laplace(), "supports"),
    Case(gaussian_mean_covariance(2), "matrix"),
    Case(gaussian_mean_covariance(3), "matrix"),
    Case(laplace_prior_mean(), "kink"),
    Case(laplace_prior_shifted(), "kink"),
    Case(log_series(), "numerical"),
    Case(logistic_regression_3(), "numerical"),
    Case(inverse_gamma_map(), "biased"),
    Case(gamma_poisson_map(), "biased"),
    Case(nonnegative_mean(), "range"),
    Case(capped_rate(), "range"),
    Case(uniform_pareto_prior(), "range"),
    Case(nonnegative_mean_and_variance(), "range"),
]
