"""Declarations of the models of a design matrix: y = X w + noise with w in R^d, the covariates x_1..x_d the
columns of X (with an intercept column of ones where asked), and logistic regression P(y = 1) = sigmoid(X w).
Each returns an ordinary Model, so derive, verify, estimate and the report treat it like any other; the
engine's normal equations show the least-squares and ridge answers as (X^T X + lambda I)^-1 X^T y."""

from __future__ import annotations

import numpy as np
import sympy as sp

from mlemap.derivations.model import InputError, Model, Parameter, exact_number

POSITIVE = sp.Interval.open(0, sp.oo)


def _symbols(d: int, intercept: bool) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...], sp.Expr]:
    if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 8:
        raise InputError(f"a design needs a whole number of covariates d in [1, 8], got {d!r}")
    covariates = sp.symbols(f"x1:{d + 1}", real=True)
    weights = sp.symbols(f"w1:{d + 1}", real=True) + ((sp.Symbol("w0", real=True),) if intercept else ())
    eta = sum(w * x for w, x in zip(weights, covariates)) + (weights[-1] if intercept else 0)
    return covariates, weights, eta


def _draw(covariates, weights, noise):
    """Covariates standard normal; the response from the model at the truth (keyed by weight name)."""

    def simulate(rng, n, t):
        design = rng.normal(size=(n, len(covariates)))
        w = np.array([t[f"w{j + 1}"] for j in range(len(covariates))])
        mean = design @ w + t.get("w0", 0.0)
        data = {x.name: design[:, j] for j, x in enumerate(covariates)}
        return data | {"y": noise(rng, mean, t)}

    return simulate


def linear_gaussian(
    name: str, d: int, noise_variance=None, prior_precision=None, intercept: bool = False, truth=None
) -> Model:
    """y = X w + eps, eps ~ N(0, sigma^2). noise_variance None: sigma^2 is a parameter too (its MLE the mean squared
    residual); a number: known. prior_precision alpha: the prior N(0, I / alpha) on w, whose MAP is ridge
    regression with lambda = alpha sigma^2 and whose Posterior is N(m_N, S_N)."""
    covariates, weights, eta = _symbols(d, intercept)
    y = sp.Symbol("y", real=True)
    params = tuple(Parameter(w) for w in weights)
    variance = sp.Symbol("sigma^2", positive=True) if noise_variance is None else sp.nsimplify(noise_variance)
    if noise_variance is None:
        params += (Parameter(variance, POSITIVE, "noise variance"),)
    density = sp.exp(-((y - eta) ** 2) / (2 * variance)) / sp.sqrt(2 * sp.pi * variance)
    prior = None
    if prior_precision is not None:
        prior = sp.exp(-sp.nsimplify(prior_precision) * sum(w**2 for w in weights) / 2)
    truth = dict(truth or {w.name: (-1.0) ** k * (0.5 + 0.5 * k) for k, w in enumerate(weights)})
    if noise_variance is None:
        truth.setdefault("sigma^2", 1.0)
    known = float(variance) if noise_variance is not None else None

    def noise(rng, mean, t):
        return mean + np.sqrt(known if known is not None else t["sigma^2"]) * rng.normal(size=mean.shape)

    return Model(
        name,
        f"Linear model, {d} covariate{'s' if d > 1 else ''}" + (" and an intercept" if intercept else ""),
        (*covariates, y),
        params,
        density,
        prior=prior,
        covariates=covariates,
        simulate=_draw(covariates, weights, noise),
        truth=truth,
    )


def logistic(name: str, d: int, intercept: bool = False, truth=None) -> Model:
    """P(y = 1 | x) = sigmoid(w . x): no closed form; solved numerically, the derived Newton step checked."""
    covariates, weights, eta = _symbols(d, intercept)
    y = sp.Symbol("y", integer=True, nonnegative=True)
    truth = dict(truth or {w.name: (-1.0) ** k * (0.5 + 0.3 * k) for k, w in enumerate(weights)})

    def noise(rng, mean, t):
        return (rng.uniform(size=mean.shape) < 1 / (1 + np.exp(-mean))).astype(float)

    return Model(
        name,
        f"Logistic regression, {d} covariate{'s' if d > 1 else ''}" + (" and an intercept" if intercept else ""),
        (*covariates, y),
        tuple(Parameter(w) for w in weights),
        sp.exp(y * eta) / (1 + sp.exp(eta)),
        support={y: sp.FiniteSet(0, 1)},
        covariates=covariates,
        simulate=_draw(covariates, weights, noise),
        truth=truth,
    )


def exact_covariance(sigma, name: str = "Sigma") -> sp.Matrix:
    """An exact symmetric positive-definite d x d matrix (d in 1..4), or InputError naming the rule it breaks."""
    try:
        rows = [list(row) for row in sigma]
    except TypeError:
        raise InputError(f"{name} must be a square matrix of real numbers, got {sigma!r}") from None
    if not rows:
        raise InputError(f"{name} must be a square matrix of real numbers, got {sigma!r}")
    if not 1 <= len(rows) <= 4 or any(len(row) != len(rows) for row in rows):
        shape = (len(rows), len(rows[0])) if rows and len({len(r) for r in rows}) == 1 else "ragged"
        raise InputError(f"{name} must be square with 1 to 4 rows, got shape {shape}")
    try:
        m = sp.Matrix([[exact_number(f"{name} entry", v) for v in row] for row in rows])
    except InputError:
        raise InputError(
            f"{name} must be a square matrix of real numbers, got {[[str(v) for v in row] for row in rows]}"
        ) from None
    if m != m.T:
        raise InputError(f"{name} must be symmetric, got {m.tolist()}")
    if not all(m[:k, :k].det() > 0 for k in range(1, m.rows + 1)):
        raise InputError(f"{name} must be positive definite (every leading minor > 0), got {m.tolist()}")
    return m


def gaussian_mean(name: str, sigma, truth, title: str = "") -> Model:
    """x ~ N(mu, Sigma) in d dimensions with Sigma known: the MLE of the mean, a quadratic log-likelihood whose
    Hessian -n Sigma^-1 makes gradient methods exact to analyse. The simulate hook draws
    rng.multivariate_normal(truth, Sigma, n)."""
    sig = exact_covariance(sigma)
    d = sig.rows
    try:
        truth = tuple(float(v) for v in truth)
    except (TypeError, ValueError):
        raise InputError(f"{name}: the true mean must be {d} finite numbers, got {truth!r}") from None
    if len(truth) != d or not all(np.isfinite(truth)):
        raise InputError(f"{name}: the true mean must be {d} finite numbers, got {truth!r}")
    xs = sp.symbols(f"x1:{d + 1}", real=True)
    mus = sp.symbols(f"mu1:{d + 1}", real=True)
    entries = {  # a variance is positive, a covariance real
        (i, j): sp.Symbol(f"Sigma{i + 1}{j + 1}", **({"positive": True} if i == j else {"real": True}))
        for i in range(d)
        for j in range(i, d)
    }
    symbolic = sp.Matrix(d, d, lambda i, j: entries[(min(i, j), max(i, j))])
    diff = sp.Matrix(xs) - sp.Matrix(mus)
    density = sp.exp(-(diff.T * symbolic.inv() * diff)[0, 0] / 2) / sp.sqrt((2 * sp.pi) ** d * symbolic.det())
    cov = np.array(sig.tolist(), dtype=float)

    def simulate(rng, n, at):
        sample = rng.multivariate_normal([at[m.name] for m in mus], cov, n)
        return {x.name: sample[:, i] for i, x in enumerate(xs)}

    return Model(
        name,
        title or f"Mean of a {d}-D Gaussian with known Sigma",
        xs,
        tuple(Parameter(m, sp.Reals, f"mean, coordinate {i + 1}") for i, m in enumerate(mus)),
        density,
        constants={s: sig[i, j] for (i, j), s in entries.items()},
        simulate=simulate,
        truth={m.name: float(v) for m, v in zip(mus, truth)},
    )
