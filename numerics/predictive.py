"""Plug-in and posterior-predictive probabilities, and a one-parameter posterior, recomputed without SymPy's
solving or integrals: the estimate by scipy's bounded search, the densities in floats, the posterior normalised
by quad."""

from __future__ import annotations

import numpy as np
import scipy.integrate
import scipy.optimize
import sympy as sp

from mlemap.derivations.engine import Derivation
from mlemap.derivations.model import observed_counts
from mlemap.derivations.sheet import PlugIn, Posterior, PosteriorPredictive
from mlemap.numerics.results import CheckResult, rel_error

TOLERANCE = 1e-6  # the plug-in's estimate is found by a bounded search to about 1e-10


def _weight(model):
    """theta -> the unnormalised posterior (likelihood times prior) at the observed data, in floats, and its
    parameter's interval."""
    (par,) = model.params
    density = model.density.subs(model.constants)
    log_post = sp.Add(*[k * sp.log(density.subs(row)) for row, k in observed_counts(model)])  # distinct rows, counted
    if model.prior is not None:
        log_post += sp.log(model.prior.subs(model.constants))
    # expanded, log(lambda exp(-lambda)) is log(lambda) - lambda: no exp to underflow far from the peak
    f = sp.lambdify(par.symbol, sp.expand_log(log_post, force=True), "numpy")
    lo, hi = float(par.domain.inf), float(par.domain.sup)

    def quiet(t):
        with np.errstate(all="ignore"):
            return f(t)

    return quiet, lo, hi


def _new_probability(model, new, theta) -> float:
    (par,) = model.params
    density = model.density.subs(model.constants)
    return float(np.prod([float(density.subs(row).subs(par.symbol, theta)) for row in new]))


def check_plug_in(q: PlugIn, d: Derivation, exact: sp.Expr) -> CheckResult:
    """P(new | theta_hat) with theta_hat from scipy's bounded search of the log-posterior at the data."""
    if len(q.model.params) != 1 or not q.model.observed:
        return CheckResult(
            q.model.name,
            f"answer {q.key}",
            float("nan"),
            TOLERANCE,
            True,
            "skipped: the plug-in is recomputed for one parameter with observed data only",
            skipped=True,
        )
    f, lo, hi = _weight(q.model)
    lo_, hi_ = (lo if np.isfinite(lo) else -1e6), (hi if np.isfinite(hi) else 1e6)
    found = scipy.optimize.minimize_scalar(
        lambda t: -f(t) if np.isfinite(f(t)) else 1e300, bounds=(lo_, hi_), method="bounded", options={"xatol": 1e-12}
    )
    err = rel_error(float(exact), _new_probability(q.model, q.new, float(found.x)))
    return CheckResult(
        q.model.name, f"answer {q.key}", err, TOLERANCE, bool(err <= TOLERANCE), "vs the density at scipy's optimum"
    )


def _grid(lo: float, hi: float) -> np.ndarray:
    """Points across an interval, geometrically spaced towards an infinite end."""
    far = np.geomspace(1e-8, 1e6, 4000)
    if np.isfinite(lo) and np.isfinite(hi):
        return np.linspace(lo, hi, 4001)[1:-1]
    if np.isfinite(lo):
        return lo + far
    if np.isfinite(hi):
        return hi - far[::-1]
    return np.concatenate([-far[::-1], far])


def _posterior_density(model):
    """theta -> the unnormalised posterior shifted by its peak on a grid (against underflow), its integral,
    and the points where it is not negligible."""
    f, lo, hi = _weight(model)
    grid = _grid(lo, hi)
    with np.errstate(all="ignore"):
        values = np.asarray(f(grid), float)
    peak = float(np.nanmax(values))
    weight = lambda t: np.exp(f(t) - peak)  # noqa: E731
    mode = float(grid[np.nanargmax(values)])
    evidence = scipy.integrate.quad(
        weight,
        lo,
        hi,
        limit=400,
        epsabs=0,
        epsrel=1e-12,
        points=None if not (np.isfinite(lo) and np.isfinite(hi)) else [mode],
    )[0]
    bulk = grid[np.nan_to_num(values, nan=-np.inf) > peak - 10]
    return weight, evidence, lo, hi, (float(bulk.min()), float(bulk.max()))


def check_posterior_predictive(q: PosteriorPredictive, d: Derivation, exact: sp.Expr) -> CheckResult:
    weight, evidence, lo, hi, _ = _posterior_density(q.model)
    given = lambda t: weight(t) * _new_probability(q.model, q.new, t)  # noqa: E731
    found = scipy.integrate.quad(given, lo, hi, limit=200, epsabs=0, epsrel=1e-12)[0] / evidence
    err = rel_error(float(exact), found)
    return CheckResult(q.model.name, f"answer {q.key}", err, 1e-7, bool(err <= 1e-7), "vs quad against the posterior")


def check_posterior(q: Posterior, d: Derivation, exact: sp.Expr) -> CheckResult:
    """The exact density against the likelihood times prior normalised by quad, at nine points of the domain."""
    weight, evidence, _, _, bulk = _posterior_density(q.model)
    (par,) = q.model.params
    mine = sp.lambdify(par.symbol, exact, "numpy")
    points = np.linspace(bulk[0], bulk[1], 11)[1:-1]  # where the posterior is within e^-10 of its peak
    err = rel_error(np.array([float(mine(t)) for t in points]), np.array([weight(t) / evidence for t in points]))
    return CheckResult(
        q.model.name,
        f"answer {q.key}",
        err,
        1e-7,
        bool(err <= 1e-7),
        "vs the likelihood times the prior, normalised by quad",
    )
