"""estimate(derivation, data): the MLE/MAP at a data set, with how it was found and whether to trust it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp
from mlemap.derivations.engine import Derivation, derive
from mlemap.derivations.model import InputError, Model
from mlemap.numerics.checks import maximiser_interval, numerical_optimum
from mlemap.numerics.compile import compiled


@dataclass(frozen=True)
class PointEstimate:
    """values by parameter name (None when nothing converged); method "closed form", "numerical", or "set" (a flat
    likelihood: every point of an interval maximises it, and the reason names the interval)."""

    values: dict[str, float] | None
    method: str
    converged: bool
    reason: str


def estimate(derivation: Derivation | Model, data: Mapping[str, object]) -> PointEstimate:
    """The closed form at the data's statistics where there is one (solved anew for a model whose closed
    form was derived at its observed data), else LBFGS from three starts, reported only when it converged.
    A Model is derived first."""
    if isinstance(derivation, Model):
        derivation = derive(derivation)
    if not isinstance(derivation, Derivation):
        raise InputError(f"estimate() takes a Model or a Derivation, got {type(derivation).__name__}")
    checked = derivation.model.validate(data)
    c = compiled(derivation)
    if derivation.maximiser_set:
        lo, hi = maximiser_interval(derivation, checked)
        name = derivation.maximiser_set[0].name
        return PointEstimate(
            None, "set", False, f"every {name} in [{lo:.6g}, {hi:.6g}] maximises the likelihood: the maximiser is a set"
        )
    if derivation.separable or derivation.order_form:
        stats = c.statistics(checked)
        # the formula itself at these data (one derived at observed data is a number for those data only)
        general = derivation.estimate is not None and not derivation.observed_statistics
        raw = dict(zip(c.names, (float(v) for v in c.raw_estimate(stats)))) if general else {}
        unattained = no_maximum_inside(derivation, raw)
        if unattained is not None:
            return PointEstimate(None, "closed form", False, unattained)
        values = c.estimate(stats)
        if values is not None:
            unattained = no_maximum_inside(derivation, values)
            if unattained is not None:
                return PointEstimate(None, "closed form", False, unattained)
            return PointEstimate(values, "closed form", True, "the derived closed form at the data's statistics")
    found = numerical_optimum(derivation, checked)
    return PointEstimate(found.values, "numerical", found.converged, found.reason)


def no_maximum_inside(d: Derivation, values: Mapping[str, float]) -> str | None:
    """Why the likelihood has no maximum in the declared domain at these data, where the closed form shows it:
    a value that is infinite, one on an open end of its domain (the likelihood keeps rising towards it:
    sigma^2 = 0 when every observation is the same), or an order statistic's bound outside the domain (no
    value of the domain gives the data positive likelihood). None otherwise."""
    bounded = {b.param.name for b in d.bounds}
    for par in d.model.params:
        value = values.get(par.name)
        if value is None or np.isnan(value):
            continue
        if np.isinf(value):
            return f"no maximum: the closed form gives {par.name} = {value}; the likelihood grows without bound"
        domain = par.domain
        inside = bool(domain.contains(sp.Float(value)) == sp.true)
        if not inside and value in (float(domain.inf), float(domain.sup)):
            return (
                f"no maximum in the domain: the likelihood keeps rising as {par.name} -> {value:g}, an open "
                f"end of {interval(domain)}"
                + (" (every observation is the same, or their spread underflows float64)" if value == 0 else "")
            )
        if not inside and par.name in bounded:
            return (
                f"no {par.name} in its domain {interval(domain)} gives these data a positive likelihood: they need "
                f"{par.name} = {value:g} or beyond"
            )
    return None


def interval(domain: sp.Set) -> str:
    """(0, oo), [3/2, oo): an interval as a reader writes it."""
    if not isinstance(domain, sp.Interval):
        return str(domain)
    return f"{'(' if domain.left_open else '['}{domain.start}, {domain.end}{')' if domain.right_open else ']'}"
