"""estimate(derivation, data): the MLE/MAP at a data set, with how it was found and whether to trust it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from derivations.engine import Derivation
from numerics.checks import maximiser_interval, numerical_optimum
from numerics.compile import compiled


@dataclass(frozen=True)
class PointEstimate:
    """values by parameter name (None when nothing converged); method "closed form", "numerical", or "set" (a flat
    likelihood: every point of an interval maximises it, and the reason names the interval)."""

    values: dict[str, float] | None
    method: str
    converged: bool
    reason: str


def estimate(derivation: Derivation, data: Mapping[str, object]) -> PointEstimate:
    """The closed form at the data's statistics where there is one (solved anew for a model whose closed
    form was derived at its observed data), else LBFGS from three starts, reported only when it converged."""
    checked = derivation.model.validate(data)
    c = compiled(derivation)
    if derivation.maximiser_set:
        lo, hi = maximiser_interval(derivation, checked)
        name = derivation.maximiser_set[0].name
        return PointEstimate(
            None, "set", False, f"every {name} in [{lo:.6g}, {hi:.6g}] maximises the likelihood: the maximiser is a set"
        )
    if derivation.separable:
        values = c.estimate(c.statistics(checked))
        if values is not None:
            return PointEstimate(values, "closed form", True, "the derived closed form at the data's statistics")
    found = numerical_optimum(derivation, checked)
    return PointEstimate(found.values, "numerical", found.converged, found.reason)
