"""Praxis: the mean of a 2-D Gaussian with known Sigma, and what gradient methods do on it, derived."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp

from derivations import codec, store
from derivations.model import InputError, Model, Parameter, exact_number

x1, x2 = sp.symbols("x1 x2", real=True)
mu1, mu2 = sp.symbols("mu1 mu2", real=True)
s11, s12, s22 = sp.symbols("Sigma11 Sigma12 Sigma22", real=True)
SIGMA = sp.Matrix([[s11, s12], [s12, s22]])
lr, n_sym, k_sym = sp.symbols("lambda n k", positive=True)
var_i = sp.Symbol("sigma_i", positive=True)


def exact_sigma(sigma) -> sp.Matrix:
    """An exact symmetric positive-definite 2x2 matrix, or InputError naming the rule it breaks."""
    try:
        rows = [list(row) for row in sigma]
    except TypeError:
        raise InputError(f"Sigma must be a 2x2 matrix of real numbers, got {sigma!r}") from None
    if len(rows) != 2 or any(len(row) != len(rows[0]) for row in rows):
        shape = (len(rows), len(rows[0])) if rows and len({len(r) for r in rows}) == 1 else "ragged"
        raise InputError(f"Sigma must be 2x2, got shape {shape}")
    try:
        m = sp.Matrix([[exact_number("Sigma entry", v) for v in row] for row in rows])
    except InputError:
        raise InputError(
            f"Sigma must be a 2x2 matrix of real numbers, got {[[str(v) for v in row] for row in rows]}"
        ) from None
    if m.shape != (2, 2):
        raise InputError(f"Sigma must be 2x2, got shape {m.shape}")
    if m != m.T:
        raise InputError(f"Sigma must be symmetric, got {m.tolist()}")
    if not (m[0, 0] > 0 and m.det() > 0):
        raise InputError(f"Sigma must be positive definite (Sigma11 > 0 and det > 0), got {m.tolist()}")
    return m


def mean_model(sigma=((5, 0), (0, 5)), truth=(1.0, 1.0)) -> Model:
    """x ~ N(mu, Sigma) in 2-D, Sigma known: the log-likelihood keeps its constant (the sheet's L drops it).
    Its simulate hook draws what the praxis draws: rng.multivariate_normal(truth, Sigma, n)."""
    sig = exact_sigma(sigma)
    cov = np.array(sig.tolist(), dtype=float)

    def simulate(rng: np.random.Generator, n: int, at) -> dict[str, np.ndarray]:
        sample = rng.multivariate_normal([at["mu1"], at["mu2"]], cov, n)
        return {"x1": sample[:, 0], "x2": sample[:, 1]}

    xv, mv = sp.Matrix([x1, x2]), sp.Matrix([mu1, mu2])
    quad = ((xv - mv).T * SIGMA.inv() * (xv - mv))[0, 0]
    density = sp.exp(-quad / 2) / (2 * sp.pi * sp.sqrt(SIGMA.det()))
    return Model(
        name="praxis_mean_2d",
        title="Praxis: mean of a 2-D Gaussian with known Sigma",  # pragma: no mutate (prose)
        data=(x1, x2),
        params=(
            Parameter(mu1, sp.Reals, "mean, first coordinate"),
            Parameter(mu2, sp.Reals, "mean, second coordinate"),
        ),  # pragma: no mutate (prose)
        density=density,
        constants={s11: sig[0, 0], s12: sig[0, 1], s22: sig[1, 1]},
        simulate=simulate,
        truth={"mu1": float(truth[0]), "mu2": float(truth[1])},
    )


@codec.register
@dataclass(frozen=True)
class StepSizeTheory:
    """Gradient ascent on L: mu_{t+1} - mu_hat = (I - lambda n Sigma^-1)(mu_t - mu_hat)."""

    iteration_matrix: sp.Matrix
    stability: sp.Set  # learning rates for which |1 - lambda n / sigma_i| < 1
    bound: sp.Expr  # 2 sigma_min / n
    optimal: sp.Expr  # the rate minimising the worst contraction factor
    optimal_factor: sp.Expr  # that worst factor, (kappa - 1) / (kappa + 1)
    subset_bound: sp.Expr  # the bound for the subset log-likelihood of k points


def step_size_theory(sigma) -> StepSizeTheory:
    """The rates of gradient ascent for this Sigma, exact; kept in the disk cache (the inequality solve
    takes about 0.4 s)."""
    sig = exact_sigma(sigma)
    return store.load_or_compute("step_size", store.content_key([sig]), lambda: _step_size_theory(sig))


def _step_size_theory(sig: sp.Matrix) -> StepSizeTheory:
    eig = sorted(sig.eigenvals(multiple=True), key=float)
    smin, smax = eig[0], eig[-1]
    stability = sp.solve_univariate_inequality(sp.Abs(1 - lr * n_sym / var_i) < 1, lr, relational=False)
    bound = stability.end.subs(var_i, smin)
    optimal = sp.solve(sp.Eq(1 - lr * n_sym / smax, -(1 - lr * n_sym / smin)), lr)[0]
    factor = sp.simplify(1 - optimal * n_sym / smax)
    return StepSizeTheory(
        iteration_matrix=sp.eye(2) - lr * n_sym * sig.inv(),
        stability=stability.subs(var_i, smin),
        bound=bound,
        optimal=sp.simplify(optimal),
        optimal_factor=factor,
        subset_bound=bound.subs(n_sym, k_sym),
    )


def minibatch_variance_factor() -> sp.Expr:
    """Var(sum_{i in B} z_i) / sum_i z_i^2 for a batch B of k drawn without replacement, sum_i z_i = 0.

    With indicators I_i of i in B: Var(I_i) = p(1 - p), p = k/n, and Cov(I_i, I_j) = k(k-1)/(n(n-1)) - p^2;
    centred data give sum_{i != j} z_i z_j = -sum_i z_i^2.
    """
    p = k_sym / n_sym
    var_indicator = p * (1 - p)
    cov_indicators = k_sym * (k_sym - 1) / (n_sym * (n_sym - 1)) - p**2
    return sp.factor(sp.simplify(var_indicator - cov_indicators))


@cache  # a constant expression, asked for once per batch size
def minibatch_gradient_covariance_scale() -> sp.Expr:
    """Cov of the unbiased gradient (n/k) sum_{i in B} Sigma^-1 (x_i - mu), in units of n Sigma^-1 C Sigma^-1,
    C the population covariance of the data: (n/k)^2 * factor * n / n."""
    return sp.factor(sp.simplify((n_sym / k_sym) ** 2 * minibatch_variance_factor()))
