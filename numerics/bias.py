"""An estimator's bias by Monte Carlo: its mean over seeded samples at the model's truth, against the derived
expectation, and the unbiased correction's mean against the truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from mlemap.derivations.engine import Derivation, n_obs
from mlemap.derivations.fisher import EstimatorBias
from mlemap.numerics.compile import compiled
from mlemap.numerics.montecarlo import _sample_rows

SAMPLE_SIZE = 10
REPLICATIONS = 20_000
SIGMAS = 5  # a Monte Carlo mean within 5 of its standard errors of the derived one agrees


@dataclass(frozen=True)
class BiasCheck:
    param: str
    n: int
    truth: float
    derived_mean: float  # E[estimator] at the truth and n, from the derivation
    simulated_mean: float
    simulated_se: float  # the Monte Carlo mean's standard error
    corrected_mean: float | None  # the unbiased correction's Monte Carlo mean, where there is one
    corrected_se: float | None
    replications: int

    @property
    def agrees(self) -> bool:
        ok = abs(self.simulated_mean - self.derived_mean) <= SIGMAS * self.simulated_se
        if self.corrected_mean is not None and self.corrected_se is not None:
            ok = ok and abs(self.corrected_mean - self.truth) <= SIGMAS * self.corrected_se
        return bool(ok)


def bias_check(d: Derivation, found: EstimatorBias, seed: int = 0, n: int = SAMPLE_SIZE) -> BiasCheck:
    """Both means on one seeded draw of REPLICATIONS samples of size n (the condition n > 1 holds at 10)."""
    model, c = d.model, compiled(d)
    stats = _sample_rows(d, REPLICATIONS, max(n, model.min_n), np.random.default_rng(seed))
    n = int(stats["n"][0]) if "n" in stats else max(n, model.min_n)
    at = {p.symbol: model.truth[p.name] for p in model.params} | {n_obs: n}
    column = c.names.index(found.param.name)
    values = c.estimate_rows(stats)[:, column]
    corrected = None
    if found.correction is not None:
        fn = sp.lambdify([s.symbol for s in d.statistics], found.correction.subs(n_obs, n), "numpy")
        corrected = np.broadcast_to(np.asarray(fn(*[stats[s.symbol.name] for s in d.statistics]), float), values.shape)
    assert found.expectation is not None  # only derived expectations are checked
    return BiasCheck(
        found.param.name,
        n,
        float(model.truth[found.param.name]),
        float(found.expectation.subs(at)),
        float(values.mean()),
        float(values.std(ddof=1) / np.sqrt(len(values))),
        None if corrected is None else float(corrected.mean()),
        None if corrected is None else float(corrected.std(ddof=1) / np.sqrt(len(corrected))),
        len(values),
    )
