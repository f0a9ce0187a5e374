"""A Probability answer recomputed without SymPy's integrals: the density evaluated in floats and integrated by
scipy's quad over the event (summed over its integers for discrete data), at the estimate or, for the
posterior predictive, against the posterior normalised by quad as well."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.integrate
import sympy as sp

from mlemap.derivations.bayes import discrete, event_set
from mlemap.derivations.engine import Derivation
from mlemap.derivations.model import observed_counts
from mlemap.derivations.sheet import Probability
from mlemap.numerics.results import CheckResult, rel_error

TOLERANCE = 1e-7
TERMS = 100_000  # an infinite discrete event is summed this far (the tail of a Poisson or geometric law is far below)


def _ends(values: sp.Set) -> list[tuple[float, float]]:
    pieces = values.args if isinstance(values, sp.Union) else (values,)
    return [(float(p.inf), float(p.sup)) for p in pieces]


def _mass(q: Probability, density) -> float:
    """The event's probability under density(x) (a float function) by quad or a sum."""
    x, values = event_set(q.model, q.event, q.key)
    if discrete(q.model, x):
        if isinstance(values, sp.FiniteSet):
            points = np.array([float(v) for v in values])
        else:
            lo, hi = float(sp.ceiling(values.inf)), float(sp.floor(values.sup))
            points = np.arange(lo, min(hi, lo + TERMS) + 1)
        return float(np.sum(density(points)))
    return sum(
        scipy.integrate.quad(density, lo, hi, limit=200, epsabs=1e-13, epsrel=1e-11)[0] for lo, hi in _ends(values)
    )


def _density(q: Probability, at: dict) -> Callable:
    x = next(iter(q.event.free_symbols))
    expr = q.model.density.subs(q.model.constants).subs(at)
    return sp.lambdify(x, expr, "numpy")


def posterior_mass(q: Probability) -> float:
    """The integral of P(event | theta) against the posterior, both by quad."""
    (par,) = q.model.params
    lo, hi = float(par.domain.start), float(par.domain.end)
    density = q.model.density.subs(q.model.constants)
    log_lik = sp.Add(*[k * sp.log(density.subs(row)) for row, k in observed_counts(q.model)])  # distinct rows, counted
    if q.model.prior is not None:
        log_lik += sp.log(q.model.prior)
    weight = sp.lambdify(par.symbol, sp.exp(log_lik), "numpy")
    evidence = scipy.integrate.quad(weight, lo, hi, limit=200)[0]
    given = lambda t: _mass(q, _density(q, {par.symbol: t}))  # noqa: E731 - the event's mass at one theta
    return scipy.integrate.quad(lambda t: weight(t) * given(t), lo, hi, limit=200)[0] / evidence


def check_probability(q: Probability, d: Derivation, exact: sp.Expr) -> CheckResult:
    """The exact answer against its float recomputation."""
    if q.predictive == "posterior":
        found, how = posterior_mass(q), "vs quad over the event and the posterior"
    else:
        found, how = _mass(q, _density(q, dict(d.estimate or {}))), "vs quad (or a sum) over the event at the estimate"
    err = rel_error(float(exact), found)
    return CheckResult(q.model.name, f"answer {q.key}", err, TOLERANCE, bool(err <= TOLERANCE), how)
