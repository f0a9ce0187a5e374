"""Predictive probabilities: plug-in at a point estimate, and the full posterior predictive integral."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp

from derivations import store
from derivations.engine import model_key
from derivations.model import InputError, Model


def _one_parameter(model: Model):
    if len(model.params) != 1 or not isinstance(model.params[0].domain, sp.Interval):
        raise InputError(f"{model.name}: the posterior predictive integral needs one parameter on an interval")
    return model.params[0]


def likelihood(model: Model, observations: Sequence[Mapping[sp.Symbol, object]]) -> sp.Expr:
    """prod_i p(x_i | theta), exact, for a handful of observations."""
    return sp.Mul(*[model.density.subs({k: sp.nsimplify(v) for k, v in obs.items()}) for obs in observations])


def observed_rows(model: Model) -> list[dict[sp.Symbol, object]]:
    if not model.observed:
        raise InputError(f"{model.name}: has no observed data")
    columns = [model.observed[s] for s in model.data]
    return [dict(zip(model.data, row)) for row in zip(*columns)]


def plug_in_predictive(
    model: Model, point: Mapping[sp.Symbol, sp.Expr], new: Sequence[Mapping[sp.Symbol, object]]
) -> sp.Expr:
    """P(new | theta = point): the predictive probability at a point estimate such as the MAP."""
    return sp.radsimp(sp.expand(likelihood(model, new).subs(point)))


def _cached(name: str, model: Model, compute, *inputs) -> sp.Expr:
    """SymPy's integrals take seconds: cached on disk with the derivation, keyed by the model and the inputs."""
    return store.load_or_compute("bayes", store.content_key([name, model_key(model), *inputs]), compute)


def posterior(model: Model) -> sp.Expr:
    """p(theta | D), normalised by integrating likelihood times prior over the parameter's interval."""
    return _cached("posterior", model, lambda: _posterior(model))


def _posterior(model: Model) -> sp.Expr:
    par = _one_parameter(model)
    unnormalised = likelihood(model, observed_rows(model))
    if model.prior is not None:
        unnormalised *= model.prior
    evidence = sp.integrate(unnormalised, (par.symbol, par.domain.start, par.domain.end))
    return sp.simplify(unnormalised / evidence)


def posterior_predictive(model: Model, new: Sequence[Mapping[sp.Symbol, object]]) -> sp.Expr:
    """P(new | D) = integral of p(new | theta) p(theta | D) d theta."""
    rows = [sorted((s.name, sp.nsimplify(v)) for s, v in row.items()) for row in new]
    return _cached("posterior_predictive", model, lambda: _posterior_predictive(model, new), rows)


def _posterior_predictive(model: Model, new: Sequence[Mapping[sp.Symbol, object]]) -> sp.Expr:
    par = _one_parameter(model)
    integrand = likelihood(model, new) * posterior(model)
    return sp.simplify(sp.integrate(integrand, (par.symbol, par.domain.start, par.domain.end)))


def truncation_log_normaliser(model: Model) -> sp.Expr:
    """log Z of the prior restricted to the parameter's interval; constant in theta, so the MAP is unmoved."""
    return _cached("truncation_log_normaliser", model, lambda: _truncation_log_normaliser(model))


def _truncation_log_normaliser(model: Model) -> sp.Expr:
    par = _one_parameter(model)
    z = sp.integrate(model.prior, (par.symbol, par.domain.start, par.domain.end))
    return sp.log(sp.simplify(z))
