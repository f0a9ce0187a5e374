"""Seeded Monte Carlo checks of the Fisher information (Cramer-Rao bound) and of estimator bias."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from mlemap.derivations.engine import Derivation, NoClosedForm, derive, n_obs
from mlemap.derivations.fisher import Fisher, estimator_variance, expected_value, fisher
from mlemap.derivations.model import Model
from mlemap.numerics.checks import CheckResult, guarded
from mlemap.numerics.compile import compiled
from mlemap.numerics.domains import _bounds, tangent_basis
from mlemap.numerics.newton import newton

REPLICATIONS = 2000
SAMPLE_SIZE = 200
# cramer_rao_mc, a stated bound on |var / bound - 1|: the sampling error of a variance over 2000 replications
# (relative s.e. sqrt(2 / 1999) = 0.032 for a Gaussian estimator, so 4 s.e. = 0.13) plus the O(1/n) gap between
# the finite-n variance and the asymptotic bound at n = 200. bias_mc: a z-score, |mean - E| / s.e. <= 4.
DEFAULT_TOLERANCES = {"cramer_rao_mc": 0.15, "bias_mc": 4.0}


def _tol(d: Derivation, check: str) -> float:
    return float(d.model.tolerances.get(check, DEFAULT_TOLERANCES[check]))


def _simulate(model: Model) -> Callable:
    """The model's sampler; the Monte Carlo checks run only on models that declare one (run_monte_carlo)."""
    assert model.simulate is not None, model.name
    return model.simulate


def _row_functions(d: Derivation, replications: int, n: int, rng):
    """Objective, score and curvature of a one-parameter model for chosen replicates at once, f(t, rows)
    with t of shape (len(rows),): through the rows' statistics, or summed over each row of raw data."""
    c = compiled(d)
    if d.separable:
        stats = _sample_rows(d, replications, n, rng)
        args = c.stat_args(stats)

        def through_stats(fn):
            return lambda t, rows: np.broadcast_to(
                np.asarray(fn(t, *(a[rows] for a in args)), float).reshape(-1), t.shape
            )

        return tuple(through_stats(fn) for fn in c.numpy_in_statistics)
    model = d.model
    data = model.validate(_simulate(model)(rng, replications * n, model.truth))
    columns = [data[s.name].reshape(replications, n) for s in model.data]
    ev = c.evaluator  # per-observation [d2 log p, d log p] and the prior's, lambdified once

    def summed(per_obs, prior):
        def f(t, rows):
            cols = [col[rows] for col in columns]
            return np.sum(np.broadcast_to(per_obs(t[:, None], *cols), (len(rows), n)), axis=1) + prior(t)

        return f

    (curvature, slope), (prior_curvature, prior_slope) = ev.derivatives_per_observation
    return summed(*c.numpy_per_observation), summed(slope, prior_slope), summed(curvature, prior_curvature)


def newton_rows(d: Derivation, replications: int, n: int, rng, iterations: int = 50) -> np.ndarray:
    """newton() for a one-parameter model, vectorised over replicates: the same damped steps, each row
    halving its own step until the objective does not decrease and the point stays in the domain; rows
    that have converged drop out."""
    (lo, hi), name = _bounds(d.model.params[0].domain), d.model.params[0].name
    objective, score, curvature = _row_functions(d, replications, n, rng)
    start = float(d.model.truth[name])

    def value(t, rows):
        inside = (lo < t) & (t < hi)
        return np.where(inside, objective(np.where(inside, t, start), rows), -np.inf)

    theta = np.full(replications, start)
    current = value(theta, np.arange(replications))
    active = np.arange(replications)
    for _ in range(iterations):
        t = theta[active]
        step = -score(t, active) / curvature(t, active)
        scale = np.ones(len(active))
        new = t + step
        new_value = value(new, active)
        rejected = np.flatnonzero(~(new_value >= current[active]))
        while len(rejected) and scale[rejected].min() > 1e-8:
            scale[rejected] /= 2
            new[rejected] = t[rejected] + scale[rejected] * step[rejected]
            new_value[rejected] = value(new[rejected], active[rejected])
            rejected = rejected[~(new_value[rejected] >= current[active[rejected]])]
        done = np.abs(new - t) <= 1e-12 * (1 + np.abs(t))
        theta[active], current[active] = new, new_value
        active = active[~done]
        if not len(active):
            break
    return theta[:, None]


def _sample_rows(d: Derivation, replications: int, n: int, rng) -> dict[str, np.ndarray]:
    """One draw of replications * n points at the truth, one row per sample, statistics per row."""
    model, c = d.model, compiled(d)
    data = model.validate(_simulate(model)(rng, replications * n, model.truth))
    return c.statistics_rows({k: v.reshape(replications, n) for k, v in data.items()})


def estimates(d: Derivation, replications: int = REPLICATIONS, n: int = SAMPLE_SIZE, seed: int = 0) -> np.ndarray:
    """The model's estimator on `replications` seeded samples of size n drawn at model.truth."""
    return _estimates_and_stats(d, replications, n, seed)[0]


def in_statistics(d: Derivation) -> Derivation:
    """The derivation whose estimator applies to simulated samples: for a model with constraints and observed
    data (whose estimate is a number, and whose replicates Newton cannot solve on the constraints), the same
    model derived without the data, in the statistics. Other models with observed data use Newton's replicates."""
    if d.observed_statistics and d.model.constraints:
        return derive(dataclasses.replace(d.model, observed=None))
    return d


def _estimates_and_stats(d: Derivation, replications: int, n: int, seed: int):
    model, c = d.model, compiled(d)
    rng = np.random.default_rng(seed)
    general = in_statistics(d)
    closed = (general.separable or general.order_form) and general.estimate is not None
    if closed and not general.observed_statistics:  # the estimator broadcast over the rows' statistics
        stats = _sample_rows(general, replications, n, rng)
        return compiled(general).estimate_rows(stats), stats
    if model.constraints:
        raise NoClosedForm("no closed form in the statistics, and Newton's replicates would leave the constraints")
    if len(c.names) == 1:  # every replicate's Newton at once
        return newton_rows(d, replications, n, rng), None
    rows = []
    for _ in range(replications):
        data = model.validate(_simulate(model)(rng, n, model.truth))
        est = newton(d, data, dict(model.truth))
        rows.append([est[k] for k in c.names])
    return np.array(rows), None


def asymptotic_covariance(fish: Fisher, d: Derivation, n: int) -> np.ndarray:
    """I^-1 for the MLE (the Cramer-Rao bound); for a MAP the sandwich J^-1 I J^-1, J = I - d^2 log prior,
    because the prior's curvature shrinks the estimator (biased, so below the bound)."""
    truth = {p.symbol: d.model.truth[p.name] for p in d.model.params}
    assert fish.expected is not None and fish.cramer_rao is not None  # asked for only where Fisher found both
    info = fish.expected.subs(n_obs, n)
    if d.model.constraints:
        return constrained_covariance(d, info, truth)
    if d.model.prior is None:
        cov = fish.cramer_rao.subs(n_obs, n)
    else:
        j_inv = (info - sp.hessian(d.log_prior, d.params)).inv()
        cov = j_inv * info * j_inv
    return np.array(cov.subs(truth).subs(d.model.constants).evalf(), dtype=float)


def constrained_covariance(d: Derivation, info: sp.Matrix, truth) -> np.ndarray:
    """With constraints the information counts along them only: Z (Z^T J Z)^-1 Z^T, Z spanning the directions
    that keep the constraints (the constrained Cramer-Rao bound); J = I - d^2 log prior for a MAP (whose sandwich
    is Z (Z^T J Z)^-1 Z^T I Z (Z^T J Z)^-1 Z^T)."""
    numeric = np.array(info.subs(truth).subs(d.model.constants).evalf(), dtype=float)
    curvature = numeric - np.array(
        sp.hessian(d.log_prior, d.params).subs(truth).subs(d.model.constants).evalf(), dtype=float
    )
    z = tangent_basis(compiled(d), d.model.truth)
    inner = z @ np.linalg.inv(z.T @ curvature @ z) @ z.T
    return inner @ numeric @ inner if d.model.prior is not None else inner


@dataclass(frozen=True)
class MonteCarlo:
    empirical_variance: np.ndarray
    bound: np.ndarray
    mean: np.ndarray


def design_averaged_variance(fish: Fisher, d: Derivation, stats_rows: dict[str, np.ndarray]) -> np.ndarray:
    """With covariates the bound is conditional on the design; the estimator being conditionally unbiased,
    Var = E_design[Var | design] (law of total variance): the bound at each sample's statistics, averaged."""
    c = compiled(d)
    truth = {p.symbol: d.model.truth[p.name] for p in d.model.params}
    stat_syms = [s.symbol for s in d.statistics]
    assert fish.cramer_rao is not None  # asked for only where Fisher found it
    diag = [fish.cramer_rao[i, i].subs(truth).subs(d.model.constants) for i in range(len(c.names))]
    fn = sp.lambdify(stat_syms, diag, "numpy")
    values = fn(*(stats_rows[s.name] for s in stat_syms))
    return np.array([np.mean(np.broadcast_to(v, len(stats_rows[stat_syms[0].name]))) for v in values])


def check_cramer_rao(
    d: Derivation, draws: np.ndarray, fish: Fisher | None = None, n: int = SAMPLE_SIZE, stats_rows=None
) -> CheckResult:
    """Empirical variance of the estimator against its derived asymptotic variance (see asymptotic_covariance),
    design-averaged where there are covariates."""
    fish = fish or fisher(d)
    if fish.cramer_rao is None:
        return CheckResult(
            d.model.name,
            "cramer_rao_mc",
            float("nan"),
            _tol(d, "cramer_rao_mc"),
            True,
            f"skipped: {fish.reason}",
            skipped=True,
        )
    own = own_variance(d, n)
    if own is not None:
        bound = own
    elif d.model.covariates:
        bound = design_averaged_variance(fish, d, stats_rows)
    else:
        bound = np.diag(asymptotic_covariance(fish, d, n))
    empirical = np.var(draws, axis=0, ddof=1)
    error = float(np.max(np.abs(empirical / bound - 1)))
    against = "the estimator's own derived variance" if own is not None else "bound"
    return CheckResult(
        d.model.name,
        "cramer_rao_mc",
        error,
        _tol(d, "cramer_rao_mc"),
        error <= _tol(d, "cramer_rao_mc"),
        f"max |var / {against} - 1|, {len(draws)} samples of n = {n}",
    )


def own_variance(d: Derivation, n: int) -> np.ndarray | None:
    """A MAP's exact variance where it is linear in the sums: a biased estimator is not held to the unbiased
    bound (an inverse-gamma MAP of a variance sits 16% below it at n = 200). None for an MLE, or where it is
    not derived."""
    if d.model.prior is None or d.estimate is None or d.observed_statistics or d.piecewise:
        return None
    truth = {p.symbol: d.model.truth[p.name] for p in d.model.params}
    try:
        variances = [estimator_variance(d, d.estimate[p]) for p in d.params]
    except NoClosedForm:
        return None
    return np.array([float(v.subs(truth).subs(d.model.constants).subs(n_obs, n)) for v in variances])


def derived_means(d: Derivation, n: int = SAMPLE_SIZE) -> dict[str, float] | None:
    """E[estimator] at the truth, where it is polynomial in the statistics; None otherwise."""
    if d.estimate is None or d.observed_statistics:
        return None
    truth = {p.symbol: d.model.truth[p.name] for p in d.model.params}
    out = {}
    for p in d.params:
        try:
            out[p.name] = float(expected_value(d, d.estimate[p]).subs(truth).subs(n_obs, n))
        except NoClosedForm:
            return None
    return out


def check_bias(
    d: Derivation, draws: np.ndarray, means: dict[str, float] | None = None, n: int = SAMPLE_SIZE
) -> CheckResult:
    """Monte Carlo mean against the derived E[estimator], as a z-score."""
    means = means if means is not None else derived_means(d, n)
    if means is None:
        return CheckResult(
            d.model.name,
            "bias_mc",
            float("nan"),
            _tol(d, "bias_mc"),
            True,
            "skipped: E[estimator] not polynomial in the statistics",
            skipped=True,
        )
    c = compiled(d)
    expected = np.array([means[k] for k in c.names])
    z = np.abs(draws.mean(axis=0) - expected) / (draws.std(axis=0, ddof=1) / np.sqrt(len(draws)))
    error = float(np.max(z))
    return CheckResult(
        d.model.name,
        "bias_mc",
        error,
        _tol(d, "bias_mc"),
        error <= _tol(d, "bias_mc"),
        "max |MC mean - derived E| / MC standard error",
    )


def run_monte_carlo(d: Derivation, seed: int = 0) -> list[CheckResult]:
    if d.model.simulate is None or not d.model.truth:
        return []
    drawn: list = []

    def sample():  # the replications, drawn once for both checks; a failure to draw fails both, with its reason
        if not drawn:
            drawn.append(_estimates_and_stats(d, REPLICATIONS, SAMPLE_SIZE, seed))
        return drawn[0]

    def unless_undrawable(check: str, run: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
        def attempt() -> CheckResult:
            try:
                return run()
            except NoClosedForm as exc:  # no way to compute the estimator on simulated samples: SKIP, with why
                return CheckResult(
                    d.model.name, check, float("nan"), _tol(d, check), True, f"skipped: {exc}", skipped=True
                )

        return attempt

    cramer_rao = unless_undrawable("cramer_rao_mc", lambda: check_cramer_rao(d, sample()[0], stats_rows=sample()[1]))
    bias = unless_undrawable("bias_mc", lambda: check_bias(d, sample()[0]))
    return [
        guarded(d.model, "cramer_rao_mc", cramer_rao, _tol(d, "cramer_rao_mc")),
        guarded(d.model, "bias_mc", bias, _tol(d, "bias_mc")),
    ]


def standard_errors(d: Derivation, fish: Fisher, data) -> dict[str, tuple[float, float]]:
    """Asymptotic standard errors at the estimate: sqrt(diag((-H)^-1)) from the observed information
    and sqrt(diag(I(theta_hat)^-1)) from the expected one, keyed by parameter name."""
    from mlemap.numerics.checks import optimum

    c = compiled(d)
    est = optimum(d, data)
    if est is None:  # no closed form and the optimizers did not converge: no estimate to take errors at
        return {}
    n = len(next(iter(data.values())))
    observed = np.sqrt(np.diag(np.linalg.inv(-c.evaluator.hessian(est, data))))
    at = {p.symbol: est[p.name] for p in d.model.params}
    if d.separable:  # a fixed-design bound (covariates) is written in the sample's statistics
        stats = c.statistics(data)
        at.update({s.symbol: stats[s.symbol.name] for s in d.statistics})
    at[n_obs] = n
    expected = (
        np.sqrt(np.diag(np.array(fish.cramer_rao.subs(at).subs(d.model.constants).evalf(), dtype=float)))
        if fish.cramer_rao is not None
        else np.full(len(c.names), np.nan)
    )
    return {k: (float(o), float(e)) for k, o, e in zip(c.names, observed, expected)}
