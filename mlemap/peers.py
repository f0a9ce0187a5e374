"""Established peers: other libraries' estimates of the catalogue's parameters, computed without SymPy.

Each model of mlemap/catalogue.py declares its peer (Model.peer). The coin priors use the inputs (the
prior's mean and spread), never a result of the derivation.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.stats


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


def coin_map_scipy(prior_mean: float, prior_sd: float):
    def peer(data):
        """scipy.optimize.minimize_scalar on scipy.stats log-densities"""

        def negative_log_posterior(t):
            return -(
                scipy.stats.bernoulli.logpmf(data["x"], t).sum() + scipy.stats.norm.logpdf(t, prior_mean, prior_sd)
            )

        res = scipy.optimize.minimize_scalar(
            negative_log_posterior, bounds=(1e-9, 1 - 1e-9), method="bounded", options={"xatol": 1e-13}
        )
        return {"theta": res.x}

    return peer


def bernoulli_mean(data):
    """the sample mean (Bernoulli MLE)"""
    return {"theta": float(np.mean(data["x"]))}


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
