"""Established peers: other libraries' estimates of the same quantities, computed without SymPy.

Keyed by model name (estimates, keyed by parameter name) and by answer key (the sheet's numbers).
The coin priors use the sheet's inputs (N(0.5, 0.1), declared in derivations.models), not any result.
"""

from __future__ import annotations

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.stats

from derivations.models import COIN_DATA, SHEET_PRIOR

SHEET_PRIOR_MEAN, SHEET_PRIOR_NUMBER = (float(v) for v in SHEET_PRIOR)


def gaussian_norm_fit(data):
    """scipy.stats.norm.fit"""
    loc, scale = scipy.stats.norm.fit(data["x"])
    return {"mu": loc, "sigma^2": scale**2}


def regression_lstsq(data):
    """numpy.linalg.lstsq and scipy.stats.linregress"""
    x, y = data["x"], data["y"]
    (slope, intercept), *_ = np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None)
    fit = scipy.stats.linregress(x, y)
    if not np.allclose([slope, intercept], [fit.slope, fit.intercept], rtol=1e-9, atol=1e-12):
        raise AssertionError("lstsq and linregress disagree")
    return {"a": slope, "b": intercept, "sigma^2": float(np.mean((y - slope * x - intercept) ** 2))}


def coin_map_scipy(prior_sd: float):
    def peer(data):
        """scipy.optimize.minimize_scalar on scipy.stats log-densities"""
        def negative_log_posterior(t):
            return -(scipy.stats.bernoulli.logpmf(data["x"], t).sum() + scipy.stats.norm.logpdf(t, SHEET_PRIOR_MEAN, prior_sd))

        res = scipy.optimize.minimize_scalar(negative_log_posterior, bounds=(1e-9, 1 - 1e-9), method="bounded", options={"xatol": 1e-13})
        return {"theta": res.x}

    return peer


def bernoulli_mean(data):
    """the sample mean (Bernoulli MLE)"""
    return {"theta": float(np.mean(data["x"]))}


def poisson_mean(data):
    """the sample mean (Poisson MLE)"""
    return {"lambda": float(np.mean(data["x"]))}


def exponential_fit(data):
    """scipy.stats.expon.fit with floc=0"""
    _, scale = scipy.stats.expon.fit(data["x"], floc=0)
    return {"lambda": 1 / scale}


def normal_normal_conjugate(data):
    """the conjugate normal posterior mean, (sum x / 4) / (n / 4 + 1)"""
    x = data["x"]
    return {"mu": (x.sum() / 4) / (len(x) / 4 + 1)}


def cauchy_fit(data):
    """scipy.stats.cauchy.fit with fscale=1 (its default fmin stops near 1e-4, so it gets a tight one)"""

    def tight_fmin(func, x0, args=(), disp=0):
        return scipy.optimize.fmin(func, x0, args=args, xtol=1e-12, ftol=1e-14, disp=disp)

    loc, _ = scipy.stats.cauchy.fit(data["x"], fscale=1, optimizer=tight_fmin)
    return {"mu": loc}


ESTIMATE_PEERS = {
    "gaussian": gaussian_norm_fit,
    "linear_regression": regression_lstsq,
    "coin_map": coin_map_scipy(np.sqrt(SHEET_PRIOR_NUMBER)),
    "coin_map_sd": coin_map_scipy(SHEET_PRIOR_NUMBER),
    "coin_uniform": bernoulli_mean,
    "poisson": poisson_mean,
    "exponential": exponential_fit,
    "normal_normal": normal_normal_conjugate,
    "cauchy": cauchy_fit,
}


def _two_tails(prior_sd: float) -> float:
    theta = coin_map_scipy(prior_sd)({"x": np.array(COIN_DATA, float)})["theta"]
    return float(scipy.stats.bernoulli.pmf(0, theta) ** 2)


def _next_head_by_quadrature() -> float:
    """P(x8 = 1 | D) = int theta L(theta) / int L(theta), by scipy.integrate.quad."""
    heads = int(np.sum(COIN_DATA))
    tails = len(COIN_DATA) - heads
    likelihood = lambda t: t**heads * (1 - t) ** tails  # noqa: E731
    num, _ = scipy.integrate.quad(lambda t: t * likelihood(t), 0, 1, epsabs=1e-15, epsrel=1e-13)
    den, _ = scipy.integrate.quad(likelihood, 0, 1, epsabs=1e-15, epsrel=1e-13)
    return num / den


ANSWER_PEERS = {
    "task3a.theta_map": lambda: coin_map_scipy(np.sqrt(SHEET_PRIOR_NUMBER))({"x": np.array(COIN_DATA, float)})["theta"],
    "task3a.p_two_tails": lambda: _two_tails(np.sqrt(SHEET_PRIOR_NUMBER)),
    "task3a.theta_map_sd": lambda: coin_map_scipy(SHEET_PRIOR_NUMBER)({"x": np.array(COIN_DATA, float)})["theta"],
    "task3a.p_two_tails_sd": lambda: _two_tails(SHEET_PRIOR_NUMBER),
    "task3b.p_next_head": _next_head_by_quadrature,
}
