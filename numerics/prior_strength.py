"""How much the prior matters: the MAP (exact, from the engine) and the posterior mean (by quadrature) under
priors of growing strength, beside the MLE, on the model's observed data.

The check of each exact MAP is scipy's own search of the log-posterior, on any interval the parameter ranges over:
bounded, half-bounded or the whole line. The search runs in an unconstrained coordinate u (a logit on a bounded
interval, a log on a half-line, asinh on the line), first on a grid of u, then by scipy's bounded scalar search
between the grid's best point's neighbours, polished by brentq on the slope's sign change; integrals run over a finite window round the mode, out to where the
density has fallen far below its peak. Every evaluation ignores numpy's floating-point warnings: outside the
window a density overflows or underflows, and such a value is read as no density there."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.special
import sympy as sp

from mlemap.derivations.engine import Derivation
from mlemap.derivations.model import InputError, Model
from mlemap.derivations.sheet import PriorStrength
from mlemap.numerics.results import CheckResult

MAP_TOLERANCE = 1e-8  # |exact MAP - scipy's| / max(|scipy's|, 1): scipy's is good to ~1e-10 on the examples
REACH = 40.0  # the search's range of the unconstrained coordinate, [-REACH, REACH]: e^40 ~ 2e17 spans any scale
GRID = 8001  # points of the coarse search in u (steps of 0.01): one of them is next to any single peak
DROP = 40.0  # a quadrature window ends where the log-density is this far below its peak (e^-40 ~ 4e-18)
SHOWN_DROP = float(np.log(1e3))  # a figure of an unbounded domain shows where a posterior is within 1/1000 of its peak


@dataclass(frozen=True)
class Coordinate:
    """t(u): the whole line onto the open interval (lo, hi), increasing, so a search in u never leaves the domain."""

    lo: float
    hi: float

    def __call__(self, u):
        lo, hi = self.lo, self.hi
        if np.isfinite(lo) and np.isfinite(hi):
            return lo + (hi - lo) * scipy.special.expit(u)
        if np.isfinite(lo):
            return lo + np.exp(u)
        return hi - np.exp(-u) if np.isfinite(hi) else np.sinh(u)

    def inverse(self, t: float) -> float:
        lo, hi = self.lo, self.hi
        if np.isfinite(lo) and np.isfinite(hi):
            return float(np.log((t - lo) / (hi - t)))
        if np.isfinite(lo):
            return float(np.log(t - lo))
        return float(-np.log(hi - t)) if np.isfinite(hi) else float(np.arcsinh(t))


@dataclass(frozen=True)
class Search:
    """scipy's search of a log-density over the domain."""

    mode: float | None  # the interior maximum, None where none was found
    anchor: float | None  # the grid's best point, where the density is finite: the quadrature splits there
    edge: float | None = None  # the domain's end the log-density rises towards, where it has no interior maximum
    why: str = ""  # why no mode was found


@dataclass(frozen=True)
class PriorRow:
    label: str
    map_exact: sp.Expr | None
    map: float
    posterior_mean: float
    numeric_map: float  # scipy's search of the log-posterior: the check of the exact MAP; NaN where none was found
    log_posterior: Callable  # theta -> the log-posterior at the data, for a figure
    log_mass: float  # log of the integral of exp(log_posterior) over the domain: the posterior's normaliser
    prior: Callable  # theta -> the prior's density, normalised over the domain, for a figure
    edge: float | None = None  # the domain's end the log-posterior rises towards, where it has no interior maximum
    why: str = ""  # why scipy's search found no mode

    def posterior(self, theta):
        """The posterior density p(theta | D), normalised over the domain."""
        return np.exp(self.log_posterior(theta) - self.log_mass)


@dataclass(frozen=True)
class PriorStudy:
    mle: float
    rows: tuple[PriorRow, ...]
    interval: tuple[float, float]  # what a figure shows: the domain, or on an unbounded one where the posteriors are
    prior_mean: float | None  # where the priors centre, when they share one (their means agree)
    likelihood: Callable | None = None  # theta -> the likelihood normalised to a density, where it integrates


def prior_study(q: PriorStrength, deriv: Callable[[Model], Derivation]) -> PriorStudy:
    models = q.prior_models()
    theta = q.model.param_symbols[0]
    lo, hi = _ends(q)
    without = deriv(models[""])
    if without.estimate is None:
        raise InputError(f"{q.model.name}: the MLE has no closed form to compare the priors with")
    (mle,) = without.estimate.values()
    rows, means = [], []
    for label, model in list(models.items())[1:]:
        d = deriv(model)
        prior, prior_mean = _prior_density(label, d, theta, lo, hi)
        rows.append(_row(label, d, theta, lo, hi, prior))
        means.append(prior_mean)
    shared = means[0] if means and all(abs(m - means[0]) < 1e-12 for m in means) else None
    log_lik = _objective(without, theta)
    lik_search = search_mode(log_lik, lo, hi)
    lik_mass = log_mass(log_lik, lik_search.anchor, lo, hi) if lik_search.anchor is not None else float("inf")
    # the likelihood is only drawn beside the posteriors: one that does not integrate is left out, not an error
    likelihood = (lambda t: np.exp(_finite(log_lik, t) - lik_mass)) if np.isfinite(lik_mass) else None
    shown = [(r.log_posterior, r.map) for r in rows] + ([(log_lik, float(mle))] if likelihood else [])
    return PriorStudy(float(mle), tuple(rows), shown_interval(shown, lo, hi), shared, likelihood)


def _as_float(value: sp.Expr) -> float:
    """An exact MAP as a float; NaN where it is no real number (its check then fails, saying so)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _ends(q: PriorStrength) -> tuple[float, float]:
    domain = q.model.params[0].domain
    return float(domain.inf), float(domain.sup)


def _row(label: str, d: Derivation, theta, lo: float, hi: float, prior: Callable) -> PriorRow:
    """The MAP under one prior, exact and by scipy's search, and the posterior's mean and normaliser."""
    log_post = _objective(d, theta)
    exact = next(iter(d.estimate.values())) if d.estimate else None
    found = search_mode(log_post, lo, hi)
    numeric = found.mode if found.mode is not None else float("nan")
    value = _as_float(exact) if exact is not None else numeric
    anchor = found.anchor if found.anchor is not None else value
    mean = posterior_mean(log_post, anchor, lo, hi)
    mass = log_mass(log_post, anchor, lo, hi)
    return PriorRow(label, exact, value, mean, numeric, log_post, mass, prior, found.edge, found.why)


def _objective(d: Derivation, theta) -> Callable:
    """theta -> the derivation's objective (log-likelihood or log-posterior) at the model's observed data."""
    return _lambdified(theta, d.objective.subs(d.observed_statistics).subs(d.model.constants))


def _log_prior(d: Derivation, theta) -> Callable:
    """theta -> the log of the prior, as the derivation takes it (pushed through products: no overflow of a
    power that the exponential it multiplies would bring back)."""
    return _lambdified(theta, d.log_prior.subs(d.model.constants))


def _lambdified(theta, expr: sp.Expr) -> Callable:
    """theta -> expr in numpy, its exact numbers as floats first: numpy cannot take the log of an integer too
    large for a float (the 100**50 of a Gamma(50, 100) prior's normaliser)."""
    return sp.lambdify(theta, expr.evalf(20), "numpy")


def _finite(log_density: Callable, t):
    """The log-density at t (a number or an array), -inf where it is not a finite number: numpy's overflow or
    0 * inf far out in a tail, a log of 0 on an edge, say that there is no density there. No warning leaks."""
    with np.errstate(all="ignore"):
        value = np.asarray(log_density(t))
        if np.iscomplexobj(value):  # a log of a negative number: no density there
            value = np.where(value.imag == 0, value.real, np.nan)
        value = np.broadcast_to(value.astype(float), np.shape(t))
        out = np.where(np.isfinite(value), value, -np.inf)
    return float(out) if np.ndim(out) == 0 else out


def search_mode(log_density: Callable, lo: float, hi: float) -> Search:
    """The log-density's interior maximum: the best point of a grid in the unconstrained coordinate, refined by
    scipy's bounded search between its neighbours (for a single peak the two bracket it). None where the best
    grid point has no finite neighbour on both sides: the density rises towards an end of the domain."""
    to_t = Coordinate(lo, hi)
    u = np.linspace(-REACH, REACH, GRID)
    t = to_t(u)
    try:  # a point rounded onto an end of the domain is outside it: no density there
        values = np.where((t > lo) & (t < hi), _finite(log_density, t), -np.inf)
    except (TypeError, ValueError, ArithmeticError) as exc:  # a function numpy has no loop for: nothing to search
        return Search(None, None, why=f"numpy cannot evaluate the log-posterior ({type(exc).__name__})")
    if not np.isfinite(values).any():
        return Search(None, None, why="the log-posterior is not a finite number anywhere on the domain")
    i = int(np.argmax(values))
    anchor = float(t[i])
    inside = 0 < i < GRID - 1 and np.isfinite(values[i - 1]) and np.isfinite(values[i + 1])
    if not inside:
        edge = lo if i < GRID // 2 else hi
        return Search(None, anchor, edge, f"the log-posterior rises towards the domain's end {edge:g}")

    def negative(s):
        value = _finite(log_density, to_t(s))
        return -value if np.isfinite(value) else 1e300

    found = scipy.optimize.minimize_scalar(
        negative, bounds=(u[i - 1], u[i + 1]), method="bounded", options={"xatol": 1e-13}
    )
    return Search(float(to_t(_polish(log_density, to_t, float(found.x)))), anchor)


def _polish(log_density: Callable, to_t: Coordinate, s: float) -> float:
    """The root of the log-density's central difference slope in u next to s, by brentq: the bounded search
    stops where the flat top's values round alike (~1e-8 off); the slope's sign change is sharper (~1e-10).
    s itself where the slope does not change sign there."""
    h, reach = 1e-5, 1e-4

    def slope(v):
        return (_finite(log_density, to_t(v + h)) - _finite(log_density, to_t(v - h))) / (2 * h)

    left, right = slope(s - reach), slope(s + reach)
    if not (np.isfinite(left) and np.isfinite(right) and left > 0 > right):
        return s
    return float(scipy.optimize.brentq(slope, s - reach, s + reach, xtol=1e-15))


def window(log_density: Callable, anchor: float, lo: float, hi: float, drop: float) -> tuple[float, float] | None:
    """(a, b) round anchor outside which the density is below e^-drop of its value at anchor: stepping out in the
    unconstrained coordinate, by doubling steps, to where it falls that low (then the crossing, by brentq), or to
    the domain's end. None where it never falls that low towards an infinite end: it has no finite mass."""
    if not lo < anchor < hi:  # an end of the domain (a MAP there) has no coordinate to step out from
        return None
    to_t = Coordinate(lo, hi)
    start, level = to_t.inverse(anchor), _finite(log_density, anchor) - drop
    ends = []
    for sign, end in ((-1, lo), (1, hi)):
        inner, step = start, 1e-3
        while True:
            outer = start + sign * step
            if abs(outer) >= REACH:
                if not np.isfinite(end):
                    return None
                ends.append(end)
                break
            if _finite(log_density, to_t(outer)) < level:
                cross = scipy.optimize.brentq(lambda s: _finite(log_density, to_t(s)) - level, inner, outer)
                ends.append(float(to_t(cross)))
                break
            inner, step = outer, 2 * step
    return ends[0], ends[1]


def _quad(f: Callable, a: float, b: float, epsrel: float) -> float:
    """int_a^b f by scipy's quad, NaN where quad warns it did not converge (a density that does not integrate)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error", scipy.integrate.IntegrationWarning)
        try:
            return float(scipy.integrate.quad(f, a, b, epsabs=0, epsrel=epsrel, limit=200)[0])
        except scipy.integrate.IntegrationWarning:
            return float("nan")


def _moments(log_density: Callable, anchor: float, lo: float, hi: float, epsrel: float) -> tuple[float, float, float]:
    """(peak, mass, first moment) of exp(log_density - peak) over the domain, peak its log at anchor: over the
    window round anchor, split there. NaN mass and moment where it has no finite mass."""
    peak = _finite(log_density, anchor)
    ends = window(log_density, anchor, lo, hi, DROP) if np.isfinite(peak) else None
    if ends is None:
        return peak, float("nan"), float("nan")

    def density(t):
        return np.exp(_finite(log_density, t) - peak)

    mass = _quad(density, ends[0], anchor, epsrel) + _quad(density, anchor, ends[1], epsrel)
    first = _quad(lambda t: t * density(t), ends[0], anchor, epsrel)
    first += _quad(lambda t: t * density(t), anchor, ends[1], epsrel)
    return peak, mass, first


def log_mass(log_density: Callable, anchor: float, lo: float, hi: float) -> float:
    """log int exp(log_density) over the domain, by quadrature, shifted by the value at anchor (the mode, or a
    point near it) against underflow; inf where the integral does not converge."""
    peak, mass, _ = _moments(log_density, anchor, lo, hi, 1e-10)
    return peak + float(np.log(mass)) if 0 < mass < np.inf else float("inf")


def posterior_mean(log_post: Callable, anchor: float, lo: float, hi: float) -> float:
    """int theta p(theta | D) over the domain by quadrature; NaN where the posterior has no finite mass."""
    _, mass, first = _moments(log_post, anchor, lo, hi, 1e-12)
    return first / mass if 0 < mass < np.inf else float("nan")


def _prior_density(label: str, d: Derivation, theta, lo: float, hi: float) -> tuple[Callable, float]:
    """(theta -> the prior's density normalised over the domain, for a figure; the prior's mean): a prior
    declared on a wider set (a normal on a probability) is truncated to the domain. A prior without finite mass
    there is refused in one line."""
    log_prior = _log_prior(d, theta)
    found = search_mode(log_prior, lo, hi)
    anchor = found.mode if found.mode is not None else found.anchor
    peak, mass, first = (float("nan"),) * 3 if anchor is None else _moments(log_prior, anchor, lo, hi, 1e-10)
    if not 0 < mass < np.inf:
        raise InputError(
            f"the prior {label} has no finite mass where {theta} ranges, ({lo:g}, {hi:g}): a prior here must be a "
            "density (an improper prior has no posterior mean to compare)"
        )
    normaliser = peak + float(np.log(mass))
    return (lambda t: np.exp(_finite(log_prior, t) - normaliser)), first / mass


def shown_interval(curves: list[tuple[Callable, float]], lo: float, hi: float) -> tuple[float, float]:
    """What a figure shows: a bounded domain whole; else where some curve (a log-density and a point near its
    peak) is within SHOWN_DROP of its peak, reaching to a finite end of the domain when that is nearer than the
    window is wide (a rate's figure starts at 0 unless the posteriors sit far from it)."""
    if np.isfinite(lo) and np.isfinite(hi):
        return lo, hi
    found = [window(f, at, lo, hi, SHOWN_DROP) for f, at in curves if np.isfinite(at)]
    spans = [s for s in found if s is not None]
    if not spans:
        return (lo, lo + 1.0) if np.isfinite(lo) else ((hi - 1.0, hi) if np.isfinite(hi) else (-1.0, 1.0))
    a, b = min(s[0] for s in spans), max(s[1] for s in spans)
    width = b - a
    a = lo if np.isfinite(lo) and a - lo < width else a - 0.05 * width
    b = hi if np.isfinite(hi) and hi - b < width else b + 0.05 * width
    return float(a), float(b)


# ---------------------------------------------------------------------------------------------------- checks


def prior_checks(q: PriorStrength, study: PriorStudy) -> list[CheckResult]:
    """Each exact MAP of the study against scipy's search of the same log-posterior."""
    return [
        map_check(q, i, r.label, r.map, r.numeric_map, r.edge, r.why)
        for i, r in enumerate(study.rows, 1)
        if r.map_exact is not None
    ]


def map_checks(q: PriorStrength, deriv: Callable[[Model], Derivation]) -> list[CheckResult]:
    """verify's check of each exact MAP: the same comparison as a report's, without its posterior means and
    figure (so without the MLE the report needs)."""
    theta = q.model.param_symbols[0]
    lo, hi = _ends(q)
    out = []
    for i, (label, model) in enumerate(list(q.prior_models().items())[1:], 1):
        d = deriv(model)
        if d.estimate is None:
            continue  # no exact MAP, no answer to check
        found = search_mode(_objective(d, theta), lo, hi)
        numeric = found.mode if found.mode is not None else float("nan")
        exact = _as_float(next(iter(d.estimate.values())))
        out.append(map_check(q, i, label, exact, numeric, found.edge, found.why))
    return out


def map_check(
    q: PriorStrength, i: int, label: str, exact: float, numeric: float, edge: float | None, why: str
) -> CheckResult:
    """The exact MAP against scipy's: within MAP_TOLERANCE of its interior maximum, or of the domain's finite end
    the log-posterior rises towards. One rising towards an infinite end has no maximum: an exact MAP FAILs. A
    SKIP saying why where scipy could not search (the log-posterior is nowhere a finite number in numpy)."""
    check = f"answer {q.key}.map_{i}"
    what = f"MAP under the prior {label} vs scipy's search of the log-posterior"
    if edge is None and not np.isfinite(numeric):
        reason = f"skipped: scipy cannot search the log-posterior under the prior {label}: {why}"
        return CheckResult(q.model.name, check, float("nan"), MAP_TOLERANCE, True, reason, what, skipped=True)
    found = numeric if np.isfinite(numeric) else edge
    assert found is not None  # no edge and no finite search returned above
    err = abs(exact - found) / max(abs(found), 1.0) if np.isfinite(found) else float("inf")
    passed = bool(err <= MAP_TOLERANCE)  # a NaN error (an exact MAP that is no real number) fails
    detail = "" if passed or np.isfinite(numeric) else f"{why}: it has no interior maximum at {exact:.6g}"
    return CheckResult(q.model.name, check, err, MAP_TOLERANCE, passed, detail, what if not why else f"{what}: {why}")
