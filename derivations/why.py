"""What a textbook says about an answer besides deriving it: the posterior's family by name, with its
normaliser, and where the MAP lies between the MLE and the prior's mode, with the weights where they exist.
Each is derived and checked here (a family only when the density equals it exactly), never asserted."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy as sp
from mlemap.derivations.engine import Derivation, derive, n_obs


@dataclass(frozen=True)
class Family:
    """A one-parameter density recognised as a named family: Beta(4, 5), Gamma(15, 8), N(m, s^2)."""

    name: str  # Beta, Gamma, Normal
    args: tuple[sp.Expr, ...]  # (alpha, beta); (shape, rate); (mean, variance)
    normaliser: sp.Expr  # the constant the kernel is multiplied by: 1/B(alpha, beta), rate^shape/Gamma(shape), ...
    kernel: sp.Expr  # the density without its constant: theta^3 (1 - theta)^4

    @property
    def mean(self) -> sp.Expr:
        a, b = self.args
        return {"Beta": a / (a + b), "Gamma": a / b, "Normal": a}[self.name]


LARGE = 200  # a family's parameters beyond this: its normaliser is kept as a Beta or Gamma function


def family(density: sp.Expr, p: sp.Symbol, domain: sp.Set) -> Family | None:
    """The named family density equals on the parameter's domain, or None. The exponents are read from the log
    derivative (theta (1 - theta) d/dtheta log f = a (1 - theta) - b theta for a Beta) and the match is proved."""
    slope = sp.simplify(sp.diff(sp.expand_log(sp.log(density), force=True), p))
    if not isinstance(domain, sp.Interval):
        return None
    start, end = domain.start, domain.end
    if (start, end) == (0, 1):
        g = sp.expand(sp.simplify(slope * p * (1 - p)))
        a, b = g.subs(p, 0) + 1, -g.subs(p, 1) + 1
        found = Family("Beta", (a, b), 1 / sp.beta(a, b), p ** (a - 1) * (1 - p) ** (b - 1))
    elif (start, end) == (0, sp.oo):
        g = sp.expand(sp.simplify(slope * p))
        a, b = g.subs(p, 0) + 1, -sp.diff(g, p)
        found = Family("Gamma", (a, b), b**a / sp.gamma(a), p ** (a - 1) * sp.exp(-b * p))
    elif (start, end) == (-sp.oo, sp.oo):
        curvature = sp.simplify(sp.diff(slope, p))
        if curvature.free_symbols or not curvature.is_negative:
            return None
        m = sp.solve(slope, p)
        if len(m) != 1:
            return None
        v = -1 / curvature
        found = Family("Normal", (m[0], v), 1 / sp.sqrt(2 * sp.pi * v), sp.exp(-((p - m[0]) ** 2) / (2 * v)))
    else:
        return None
    if any(not (x.is_number and x.is_positive) for x in found.args[1:]) or not found.args[0].is_number:
        return None
    if found.name != "Normal" and not found.args[0].is_positive:
        return None
    if found.name != "Normal" and sum(found.args) > LARGE:
        # 10^5 tosses: the normaliser's exact value has tens of thousands of digits; the density's own constant
        # (1/B(a, b) as the posterior keeps it) is the normaliser when what is left of the density is free of p
        ratio = sp.powsimp(density / found.kernel, force=True)
        return None if ratio.has(p) else dataclasses.replace(found, normaliser=ratio)
    found = dataclasses.replace(found, normaliser=sp.simplify(sp.gammasimp(found.normaliser)))
    return found if sp.simplify(density - found.normaliser * found.kernel) == 0 else None


@dataclass(frozen=True)
class Pull:
    """Where a one-parameter MAP lies: the MLE, the prior's mode, and (where the MAP is their weighted average
    with a weight free of the data's sums) the MLE's weight w, so MAP = w MLE + (1 - w) mode."""

    mle: sp.Expr
    mode: sp.Expr
    weight: sp.Expr | None  # at the data
    weight_in_n: sp.Expr | None = None  # the same weight as a function of n, where it depends on n


def prior_pull(d: Derivation) -> Pull | None:
    """The MAP against the MLE of the same model without its prior, and the prior's mode; None where there is
    no prior, several parameters, no closed form, or no single mode inside the domain."""
    m = d.model
    if m.prior is None or len(m.params) != 1 or d.estimate is None:
        return None
    (par,) = m.params
    p = par.symbol
    symbolic = derive(dataclasses.replace(m, name=f"{m.name}_in_sums", observed=None)) if m.observed else d
    plain = derive(dataclasses.replace(m, name=f"{m.name}_likelihood_only", prior=None, observed=None))
    if plain.estimate is None:
        return None
    modes = [r for r in sp.solve(sp.diff(sp.log(m.prior), p), p) if par.domain.contains(r) == sp.true]
    if len(modes) != 1 or not modes[0].is_number:
        return None
    mode = modes[0]
    # a MAP with no closed form in the sums (the coin's cubic) is no weighted average with fixed weights
    weight = sp.simplify((symbolic.estimate[p] - mode) / (plain.estimate[p] - mode)) if symbolic.estimate else None
    sums = {s.symbol for s in symbolic.statistics} - {n_obs}
    if weight is not None and (weight.free_symbols & sums or weight.has(sp.CRootOf, sp.Piecewise)):
        weight = None  # not a weighted average with weights fixed before the data: the prior is not conjugate
    at = d.observed_statistics or {}
    formula = weight if weight is not None and weight.has(n_obs) else None
    return Pull(plain.estimate[p].subs(at), mode, None if weight is None else weight.subs(at), formula)
