"""The closed form in every regime of its pieces. A Piecewise estimate (a kink, a declared range), one bounded
by a domain's end (max(max x, 3/2)) or one that holds under conditions is right only if it is right on each
side of its conditions, and data drawn at a typical truth fall on one side. Small samples drawn with the
parameter at each kink and closed end fall on both; at each, the objective at the closed form must be at least
the best a derivative-free search of the feasible set finds (compared as objective values, which stay
well-defined at a kink where the maximiser is not a stationary point)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from mlemap.derivations.engine import Derivation
from mlemap.derivations.model import InputError
from mlemap.derivations.pieces import pieces
from mlemap.numerics.compile import compiled
from mlemap.numerics.domains import feasible_limits
from mlemap.numerics.optimizers import optimum_scipy
from mlemap.numerics.results import CheckResult, result, tolerance

REGIME_N = 5  # small samples: their statistics spread across the thresholds
REGIME_SEEDS = 4


def has_pieces(d: Derivation) -> bool:
    """Whether the closed form changes formula with the data, or holds only under conditions."""
    if d.estimate is None:
        return False
    return d.piecewise or bool(d.conditions) or any(v.has(sp.Max, sp.Min, sp.Piecewise) for v in d.estimate.values())


def regime_points(d: Derivation) -> list[dict[str, float]]:
    """The truth, and the truth with one parameter moved to each of its kinks and closed domain ends."""
    truth = dict(d.model.truth)
    points = [truth]
    for par in d.model.params:
        spots: set[sp.Expr] = set()
        domain = par.domain
        if isinstance(domain, sp.Interval):
            spots |= {e for e in (domain.start, domain.end) if e.is_finite and domain.contains(e) == sp.true}
        if d.piecewise and len(d.model.params) == 1:
            cut = pieces(d.objective.subs(d.model.constants), par)
            spots |= {e for q in cut for e in (q.lo, q.hi) if e.is_finite and domain.contains(e) == sp.true}
        points += [{**truth, par.name: float(s)} for s in sorted(spots, key=float)]
    return points


def claimed(d: Derivation, closed: Mapping[str, float], stats: Mapping[str, float], data) -> bool:
    """Whether the closed form claims to hold at these data: finite, inside the feasible set, and its
    conditions true."""
    if not all(np.isfinite(v) for v in closed.values()):
        return False
    limits = feasible_limits(d, data)
    if not all(limits[k][0] <= v <= limits[k][1] for k, v in closed.items()):
        return False
    at = {s.symbol: sp.Rational(stats[s.symbol.name]) for s in d.statistics}
    return all(cond.subs(at) == sp.true for cond in d.conditions)


def _clause(d: Derivation, stats: Mapping[str, float]) -> tuple[str, ...]:
    """Which clause of each Piecewise value the statistics select: the regime the sample is in."""
    at = {s.symbol: sp.Float(stats[s.symbol.name], 30) for s in d.statistics}
    chosen = []
    for p, value in (d.estimate or {}).items():
        if isinstance(value, sp.Piecewise):
            k = next((k for k, (_, c) in enumerate(value.args) if c.subs(at) == sp.true), -1)
            chosen.append(f"{p}:{k}")
        elif isinstance(value, (sp.Max, sp.Min)):
            numbers = [float(a.subs(at)) for a in value.args]
            chosen.append(f"{p}:{numbers.index(float(value.subs(at)))}")
    return tuple(chosen)


def check_regimes(d: Derivation, seed: int = 0) -> CheckResult:
    model = d.model
    tol = tolerance(model, "regimes")
    if not has_pieces(d):
        return CheckResult(
            model.name, "regimes", float("nan"), tol, True, "skipped: the closed form has no pieces", skipped=True
        )
    if model.simulate is None or model.observed:
        reason = "observed data" if model.observed else "no simulate hook"
        return CheckResult(
            model.name, "regimes", float("nan"), tol, True, f"skipped: {reason} to draw samples from", skipped=True
        )
    c, worst, hit, counted = compiled(d), 0.0, set(), 0
    for k, truth in enumerate(regime_points(d)):
        for s in range(REGIME_SEEDS):
            rng = np.random.default_rng([seed, k, s])
            try:
                data = model.draw(rng, max(REGIME_N, model.min_n), truth)
            except InputError:
                continue
            stats = c.statistics(data)
            closed = dict(zip(c.names, (float(v) for v in c.raw_estimate(stats))))
            if not claimed(d, closed, stats, data):
                continue  # the closed form's conditions fail here: it claims nothing at these data
            found = optimum_scipy(d, data)
            ours, theirs = c.objective_raw(closed, data), c.objective_raw(found, data)
            worst = max(worst, (theirs - ours) / max(1.0, abs(ours)) if np.isfinite(theirs) else 0.0)
            hit.add(_clause(d, stats))
            counted += 1
    detail = f"{counted} samples of n = {REGIME_N} at the truth, kinks and closed ends; {len(hit)} regime(s) met"
    return result(model, "regimes", worst if counted else float("inf"), detail)
