"""How much the prior matters: the MAP (exact, from the engine) and the posterior mean (by quadrature) under
priors of growing strength, beside the MLE, on the model's observed data."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import sympy as sp

from mlemap.derivations.engine import Derivation
from mlemap.derivations.model import InputError, Model
from mlemap.derivations.sheet import PriorStrength


@dataclass(frozen=True)
class PriorRow:
    label: str
    map_exact: sp.Expr | None
    map: float
    posterior_mean: float
    numeric_map: float  # scipy's bounded search of the log-posterior: the check of the exact MAP
    log_posterior: Callable  # theta -> the log-posterior at the data, for a figure
    log_mass: float  # log of the integral of exp(log_posterior) over the domain: the posterior's normaliser
    prior: Callable  # theta -> the prior's density, normalised over the domain, for a figure

    def posterior(self, theta):
        """The posterior density p(theta | D), normalised over the domain."""
        return np.exp(self.log_posterior(theta) - self.log_mass)


@dataclass(frozen=True)
class PriorStudy:
    mle: float
    rows: tuple[PriorRow, ...]
    interval: tuple[float, float]
    prior_mean: float | None  # where the priors centre, when they share one (their means agree)
    likelihood: Callable | None = None  # theta -> the likelihood normalised to a density, where it integrates


def prior_study(q: PriorStrength, deriv: Callable[[Model], Derivation]) -> PriorStudy:
    models = q.prior_models()
    theta = q.model.param_symbols[0]
    domain = q.model.params[0].domain
    lo, hi = float(domain.inf), float(domain.sup)
    without = deriv(models[""])
    if without.estimate is None:
        raise InputError(f"{q.model.name}: the MLE has no closed form to compare the priors with")
    (mle,) = without.estimate.values()
    rows, means = [], []
    for label, model in list(models.items())[1:]:
        d = deriv(model)
        log_post = _objective(d, theta)
        exact = next(iter(d.estimate.values())) if d.estimate else None
        mode = float(exact) if exact is not None else _grid_mode(log_post, lo, hi)
        found = _bounded_mode(log_post, lo, hi)
        mean = posterior_mean(log_post, mode, lo, hi)
        prior = _prior_density(model, theta, lo, hi)
        rows.append(PriorRow(label, exact, mode, mean, found, log_post, log_mass(log_post, mode, lo, hi), prior))
        means.append(_prior_mean(model, theta, lo, hi))
    shared = means[0] if means and all(abs(m - means[0]) < 1e-12 for m in means) else None
    log_lik = _objective(without, theta)
    # the likelihood is only drawn beside the posteriors: one that does not integrate is left out, not an error
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error", scipy.integrate.IntegrationWarning)
        try:
            lik_mass = log_mass(log_lik, float(mle), lo, hi)
        except scipy.integrate.IntegrationWarning:
            lik_mass = float("inf")
    likelihood = (lambda t: np.exp(log_lik(t) - lik_mass)) if np.isfinite(lik_mass) else None
    return PriorStudy(float(mle), tuple(rows), (lo, hi), shared, likelihood)


def _objective(d: Derivation, theta) -> Callable:
    """theta -> the derivation's objective (log-likelihood or log-posterior) at the model's observed data."""
    return sp.lambdify(theta, d.objective.subs(d.observed_statistics).subs(d.model.constants), "numpy")


def log_mass(log_density, mode: float, lo: float, hi: float) -> float:
    """log int exp(log_density) over the domain, by quadrature, shifted by the value at the mode against
    underflow; inf where the integral does not converge."""
    peak = float(log_density(mode))
    if not np.isfinite(peak):  # a mode on the domain's edge, where the density is 0 or infinite
        return float("inf")
    mass, _ = scipy.integrate.quad(
        lambda t: np.exp(log_density(t) - peak), lo, hi, epsabs=0, epsrel=1e-10, limit=200, points=[mode]
    )
    return peak + float(np.log(mass)) if 0 < mass < np.inf else float("inf")


def posterior_mean(log_post, mode: float, lo: float, hi: float) -> float:
    """int theta p(theta | D) over the domain by quadrature; the density is shifted by its peak against underflow."""
    peak = float(log_post(mode))

    def density(t):
        return np.exp(log_post(t) - peak)

    mass, _ = scipy.integrate.quad(density, lo, hi, epsabs=0, epsrel=1e-12, limit=200, points=[mode])
    first, _ = scipy.integrate.quad(lambda t: t * density(t), lo, hi, epsabs=0, epsrel=1e-12, limit=200, points=[mode])
    return first / mass


def _bounded_mode(log_post, lo: float, hi: float) -> float:
    import scipy.optimize

    start = _grid_mode(log_post, lo, hi)
    step = (hi - lo) / 20000 if np.isfinite(hi - lo) else 1.0
    left, right = max(lo, start - 2 * step), min(hi, start + 2 * step)

    def negative(t):
        value = log_post(t)
        return -value if np.isfinite(value) else 1e300

    return float(
        scipy.optimize.minimize_scalar(negative, bounds=(left, right), method="bounded", options={"xatol": 1e-13}).x
    )


def _grid_mode(log_post, lo: float, hi: float) -> float:
    grid = np.linspace(lo, hi, 20001)[1:-1]
    with np.errstate(all="ignore"):
        return float(grid[np.nanargmax(log_post(grid))])


def _prior_density(model: Model, theta, lo: float, hi: float) -> Callable:
    """theta -> the prior density normalised over the domain (a prior declared on a wider set, a normal on a
    probability, is truncated to it)."""
    assert isinstance(model.prior, sp.Expr)  # PriorStrength's declaration requires one
    prior = sp.lambdify(theta, model.prior.subs(model.constants), "numpy")
    mass, _ = scipy.integrate.quad(prior, lo, hi, epsabs=0, epsrel=1e-10)
    return lambda t: np.broadcast_to(np.asarray(prior(t), float), np.shape(t)) / mass


def _prior_mean(model: Model, theta, lo: float, hi: float) -> float:
    assert isinstance(model.prior, sp.Expr)  # PriorStrength's declaration requires one
    prior = sp.lambdify(theta, model.prior.subs(model.constants), "numpy")
    mass, _ = scipy.integrate.quad(prior, lo, hi, epsabs=0, epsrel=1e-10)
    first, _ = scipy.integrate.quad(lambda t: t * prior(t), lo, hi, epsabs=0, epsrel=1e-10)
    return first / mass
