"""How precise an estimate is, at data: standard errors from the observed and the expected information, and
Wald and likelihood-ratio (profile) confidence intervals. Returns data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.stats

from mlemap.derivations.engine import Derivation
from mlemap.derivations.fisher import fisher
from mlemap.numerics.checks import check_data
from mlemap.numerics.compile import compiled
from mlemap.numerics.estimate import estimate
from mlemap.numerics.montecarlo import standard_errors

MAX_WIDENINGS = 60


@dataclass(frozen=True)
class Interval:
    lower: float
    upper: float
    open_lower: bool = False  # the profile never fell below the threshold: the domain's end
    open_upper: bool = False


@dataclass(frozen=True)
class PrecisionAtData:
    observed_data: bool  # the model's own observed data, else a seeded simulated sample
    n: int
    level: float
    estimate: dict[str, float]
    se_observed: dict[str, float]
    se_expected: dict[str, float]  # nan where the expected information is not derived
    wald: dict[str, Interval]
    likelihood_ratio: dict[str, Interval]
    reason: str = ""  # why there is nothing at the data, or why the likelihood-ratio intervals are missing


def precision_at_data(d: Derivation, level: float, seed: int) -> PrecisionAtData:
    data = check_data(d.model, seed)
    n = len(next(iter(data.values())))
    found = estimate(d, data)
    if not found.converged or not found.values:
        return PrecisionAtData(bool(d.model.observed), n, level, {}, {}, {}, {}, {}, f"no estimate ({found.reason})")
    errors = standard_errors(d, fisher(d), data)
    z = float(scipy.stats.norm.ppf((1 + level) / 2))
    est = found.values
    wald = {k: Interval(est[k] - z * obs, est[k] + z * obs) for k, (obs, _) in errors.items()}
    reason, ratio = "", {}
    if d.model.constraints or d.model.matrices or d.bounds or d.kinked:
        reason = "the likelihood-ratio interval needs a smooth likelihood of free parameters"
    else:
        ratio = {k: _profile_interval(d, data, est, k, errors[k][0], level) for k in errors}
    return PrecisionAtData(
        bool(d.model.observed),
        n,
        level,
        dict(est),
        {k: v[0] for k, v in errors.items()},
        {k: v[1] for k, v in errors.items()},
        wald,
        ratio,
        reason,
    )


def _profile_interval(d: Derivation, data, est: dict, name: str, se: float, level: float) -> Interval:
    """{theta_j : 2 (l(theta_hat) - max over the others l) <= chi2_1(level)}, its ends by root bracketing
    outward from the estimate in steps that double from a standard error."""
    c = compiled(d)
    threshold = c.objective_raw(est, data) - scipy.stats.chi2.ppf(level, 1) / 2
    domain = next(p.domain for p in d.model.params if p.name == name)
    others = [k for k in c.names if k != name]

    def profile(value: float) -> float:
        if not others:
            return c.objective_raw({name: value}, data) - threshold
        start = np.array([est[k] for k in others])

        def negative(v):
            out = c.objective_raw({name: value, **dict(zip(others, v))}, data)
            return -out if np.isfinite(out) else 1e300

        best = scipy.optimize.minimize(negative, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12})
        return -float(best.fun) - threshold

    ends = [_interval_end(profile, est[name], side * se, edge) for side, edge in ((-1, domain.inf), (1, domain.sup))]
    (lower, open_lower), (upper, open_upper) = ends
    return Interval(lower, upper, open_lower, open_upper)


def _interval_end(profile, estimate: float, step: float, edge) -> tuple[float, bool]:
    """Where the profile (minus the cutoff) first drops below 0 going from the estimate towards edge: steps double
    from a standard error; past a finite edge they halve towards it instead, since the profile may still drop
    below the cutoff before the edge (a variance's profile falls to -oo as it tends to 0). (edge, True) when it
    never drops: the interval is open there."""
    edge, inner, distance = float(edge), estimate, step
    for _ in range(MAX_WIDENINGS):
        outer = estimate + distance
        if (outer - edge) * distance >= 0:  # at or past the edge: halve the way to it instead
            outer = (inner + edge) / 2
            if outer in (inner, edge):
                break
        else:
            distance *= 2
        if profile(outer) < 0:
            return scipy.optimize.brentq(profile, min(inner, outer), max(inner, outer), xtol=1e-12), False
        inner = outer
    return edge, True
