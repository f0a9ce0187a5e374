"""How much the prior matters: the MAP (exact, from the engine) and the posterior mean (by quadrature) under
priors of growing strength, beside the MLE, on the model's observed data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import sympy as sp

from derivations.engine import Derivation
from derivations.model import InputError, Model
from derivations.sheet import PriorStrength


@dataclass(frozen=True)
class PriorRow:
    label: str
    map_exact: sp.Expr | None
    map: float
    posterior_mean: float
    numeric_map: float  # scipy's bounded search of the log-posterior: the check of the exact MAP
    log_posterior: Callable  # theta -> the log-posterior at the data, for a figure


@dataclass(frozen=True)
class PriorStudy:
    mle: float
    rows: tuple[PriorRow, ...]
    interval: tuple[float, float]
    prior_mean: float | None  # where the priors centre, when they share one (their means agree)


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
        log_post = sp.lambdify(theta, d.objective.subs(d.observed_statistics).subs(model.constants), "numpy")
        exact = next(iter(d.estimate.values())) if d.estimate else None
        mode = float(exact) if exact is not None else _grid_mode(log_post, lo, hi)
        found = _bounded_mode(log_post, lo, hi)
        rows.append(PriorRow(label, exact, mode, posterior_mean(log_post, mode, lo, hi), found, log_post))
        means.append(_prior_mean(model, theta, lo, hi))
    shared = means[0] if means and all(abs(m - means[0]) < 1e-12 for m in means) else None
    return PriorStudy(float(mle), tuple(rows), (lo, hi), shared)


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


def _prior_mean(model: Model, theta, lo: float, hi: float) -> float:
    assert isinstance(model.prior, sp.Expr)  # PriorStrength's declaration requires one
    prior = sp.lambdify(theta, model.prior.subs(model.constants), "numpy")
    mass, _ = scipy.integrate.quad(prior, lo, hi, epsabs=0, epsrel=1e-10)
    first, _ = scipy.integrate.quad(lambda t: t * prior(t), lo, hi, epsabs=0, epsrel=1e-10)
    return first / mass
