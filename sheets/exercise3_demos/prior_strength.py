"""The coin under priors of growing strength: MLE, MAP (exact, from the engine) and posterior mean."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.integrate
import sympy as sp

from derivations.engine import derive
from sheets.catalogue import coin_model, normal_prior, theta

PRIOR_VARIANCES = (
    1,
    sp.Rational(3, 10),
    sp.Rational(1, 10),
    sp.Rational(3, 100),
    sp.Rational(1, 100),
    sp.Rational(3, 1000),
    sp.Rational(1, 1000),
)


@dataclass(frozen=True)
class PriorStrengthRow:
    variance: sp.Expr
    map_exact: sp.Expr
    map: float
    posterior_mean: float


def posterior_mean(log_post, mode: float) -> float:
    """int theta p(theta | D) over (0, 1) by quadrature; the density is shifted by its peak against underflow."""
    peak = float(log_post(mode))

    def density(t):
        return np.exp(log_post(t) - peak)

    mass, _ = scipy.integrate.quad(density, 0, 1, epsabs=0, epsrel=1e-12, limit=200)
    first, _ = scipy.integrate.quad(lambda t: t * density(t), 0, 1, epsabs=0, epsrel=1e-12, limit=200)
    return first / mass


def prior_strength(variances=PRIOR_VARIANCES) -> tuple[float, list[PriorStrengthRow]]:
    """(MLE, rows): N(0.5, v) priors on the sheet's coin data, v from weak to strong."""
    mle_model = coin_model("coin_mle", "coin MLE", None)
    (mle,) = derive(mle_model).estimate.values()
    rows = []
    for v in variances:
        d = derive(
            coin_model(f"coin_prior_{v}", f"coin, prior variance {v}", normal_prior(theta, sp.Rational(1, 2), v))
        )
        (exact,) = d.estimate.values()
        log_post = sp.lambdify(theta, d.objective.subs(d.observed_statistics), "numpy")
        rows.append(PriorStrengthRow(v, exact, float(exact), posterior_mean(log_post, float(exact))))
    return float(mle), rows
