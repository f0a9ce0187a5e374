"""estimate(derivation, data): the MLE/MAP at a data set, with how it was found and whether to trust it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from derivations.engine import Derivation
from numerics.checks import numerical_optimum
from numerics.compile import compiled


@dataclass(frozen=True)
class PointEstimate:
    """values by parameter name (None when nothing converged); method "closed form" or "numerical"."""

    values: dict[str, float] | None
    method: str
    converged: bool
    reason: str


def estimate(derivation: Derivation, data: Mapping[str, object]) -> PointEstimate:
    """The closed form at the data's statistics where there is one (solved anew for a model whose closed
    form was derived at its observed data), else LBFGS from three starts, reported only when it converged."""
    checked = derivation.model.validate(data)
    c = compiled(derivation)
    if derivation.separable:
        values = c.estimate(c.statistics(checked))
        if values is not None:
            return PointEstimate(values, "closed form", True, "the derived closed form at the data's statistics")
    found = numerical_optimum(derivation, checked)
    return PointEstimate(found.values, "numerical", found.converged, found.reason)
