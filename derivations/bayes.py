"""Predictive probabilities: plug-in at a point estimate, and the full posterior predictive integral."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import sympy as sp

from mlemap.derivations import store
from mlemap.derivations.engine import model_key
from mlemap.derivations.model import InputError, Model


def _one_parameter(model: Model):
    if len(model.params) != 1 or not isinstance(model.params[0].domain, sp.Interval):
        raise InputError(f"{model.name}: the posterior predictive integral needs one parameter on an interval")
    return model.params[0]


def likelihood(model: Model, observations: Sequence[Mapping[sp.Symbol, object]]) -> sp.Expr:
    """prod_i p(x_i | theta), exact: each distinct observation's density once, to the power of how often it
    occurs (10^5 coin tosses are theta^h (1 - theta)^t, two substitutions)."""
    counts = Counter(tuple(sorted(obs.items(), key=lambda kv: kv[0].name)) for obs in observations)
    return sp.Mul(*[model.density.subs({k: sp.nsimplify(v) for k, v in row}) ** c for row, c in counts.items()])


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
    evidence = integral(unnormalised, par.symbol, par.domain)
    return sp.simplify(unnormalised / evidence) if _small(evidence) else unnormalised / evidence


BIG_EXPONENT = 200  # beyond this a Beta integral stays B(a, b): its exact value has too many digits to show


def integral(f: sp.Expr, p: sp.Symbol, domain: sp.Interval) -> sp.Expr:
    """The integral of f over the parameter's interval: a Beta integral C p^a (1 - p)^b on (0, 1) in closed form
    (SymPy's integrate takes minutes for 10^5 coin tosses), else by SymPy."""
    if (domain.start, domain.end) == (0, 1):
        found = _beta_kernel(f, p)
        if found is not None:
            constant, a, b = found
            if a + b > BIG_EXPONENT:
                return constant * sp.beta(a + 1, b + 1, evaluate=False)
            return constant * sp.gamma(a + 1) * sp.gamma(b + 1) / sp.gamma(a + b + 2)
    return sp.integrate(f, (p, domain.start, domain.end))


def _beta_kernel(f: sp.Expr, p: sp.Symbol) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """(C, a, b) with f = C p^a (1 - p)^b, a and b numbers above -1 and C free of p; None otherwise."""
    constant, rest = sp.powsimp(f).as_independent(p, as_Add=False)
    a = b = sp.Integer(0)
    for factor in sp.Mul.make_args(rest):
        base, power = factor.as_base_exp()
        if base == p:
            a += power
        elif sp.expand(base - (1 - p)) == 0:
            b += power
        else:
            return None
    if not (a.is_number and b.is_number and a > -1 and b > -1):
        return None
    return constant, a, b


def _small(evidence: sp.Expr) -> bool:
    return not evidence.has(sp.beta)


def posterior_predictive(model: Model, new: Sequence[Mapping[sp.Symbol, object]]) -> sp.Expr:
    """P(new | D) = integral of p(new | theta) p(theta | D) d theta."""
    rows = [sorted((s.name, sp.nsimplify(v)) for s, v in row.items()) for row in new]
    return _cached("posterior_predictive", model, lambda: _posterior_predictive(model, new), rows)


def _posterior_predictive(model: Model, new: Sequence[Mapping[sp.Symbol, object]]) -> sp.Expr:
    par = _one_parameter(model)
    integrand = likelihood(model, new) * posterior(model)
    found = integral(integrand, par.symbol, par.domain)
    return sp.simplify(found) if _small(found) else sp.combsimp(found.rewrite(sp.gamma))


def truncation_log_normaliser(model: Model) -> sp.Expr:
    """log Z of the prior restricted to the parameter's interval; constant in theta, so the MAP is unmoved."""
    return _cached("truncation_log_normaliser", model, lambda: _truncation_log_normaliser(model))


def _truncation_log_normaliser(model: Model) -> sp.Expr:
    par = _one_parameter(model)
    z = sp.integrate(model.prior, (par.symbol, par.domain.start, par.domain.end))
    return sp.log(sp.simplify(z))


DISCRETE = (sp.Naturals, sp.Naturals0, sp.Integers)


def discrete(model: Model, x: sp.Symbol) -> bool:
    """Whether a data symbol takes countably many values (a finite set, the naturals, an integer range)."""
    support = model.support.get(x, sp.Reals)
    return bool(x.is_integer) or isinstance(support, (sp.FiniteSet, sp.Range)) or support in DISCRETE


def event_set(model: Model, event: sp.Basic, where: str) -> tuple[sp.Symbol, sp.Set]:
    """The data symbol an event is about and its values as a set, within the support; InputError otherwise."""
    if (
        not isinstance(event, sp.Basic)
        or not isinstance(event, sp.logic.boolalg.Boolean)
        or event in (sp.true, sp.false)
    ):
        raise InputError(f"{where}: the event must be a condition on one data symbol, such as x > 1, got {event!r}")
    symbols = event.free_symbols
    if len(symbols) != 1 or next(iter(symbols)) not in model.data:
        raise InputError(f"{where}: the event must be a condition on one data symbol of {model.name}, got {event}")
    (x,) = symbols
    try:
        values = event.as_set()
    except (NotImplementedError, TypeError, ValueError):
        raise InputError(f"{where}: SymPy cannot write the event {event} as a set of values of {x}") from None
    inside = sp.Intersection(values, model.support.get(x, sp.Reals))
    if not discrete(model, x) and (isinstance(values, sp.FiniteSet) or inside.measure == 0):
        raise InputError(
            f"{where}: the event {event} is a set of single points of the continuous {x}: its probability is 0"
        )
    return x, inside


def _event_mass(model: Model, event: sp.Basic, density: sp.Expr) -> sp.Expr:
    """The density integrated (or summed) over the event's values."""
    x, values = event_set(model, event, model.name)
    if discrete(model, x):
        if isinstance(values, sp.FiniteSet):
            return sp.Add(*[density.subs(x, v) for v in values])
        if isinstance(values, sp.Range) or values.is_subset(sp.Integers):
            return sp.summation(density, (x, values.inf, values.sup))
        lo, hi = sp.ceiling(values.inf), sp.floor(values.sup)
        return sp.summation(density, (x, lo, hi))
    pieces = values.args if isinstance(values, sp.Union) else (values,)
    return sp.Add(*[sp.integrate(density, (x, piece.inf, piece.sup), conds="none") for piece in pieces])


def event_probability(model: Model, event: sp.Basic, point: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    """P(event | theta = point) for one new observation: exact."""
    density = model.density.subs(model.constants).subs(dict(point))
    return sp.simplify(_event_mass(model, event, density))


def posterior_probability(model: Model, event: sp.Basic) -> sp.Expr:
    """P(event | D) = integral of P(event | theta) p(theta | D) d theta."""

    def compute() -> sp.Expr:
        par = _one_parameter(model)
        given = _event_mass(model, event, model.density.subs(model.constants))
        return sp.simplify(sp.integrate(given * posterior(model), (par.symbol, par.domain.start, par.domain.end)))

    return _cached("posterior_probability", model, compute, event)


def gaussian_posterior(d) -> tuple[sp.Matrix, sp.Matrix] | None:
    """A log-posterior quadratic in every parameter, -(1/2) w^T A w + c^T w + const, is the Gaussian N(A^-1 c,
    A^-1) (for a linear model with the prior N(0, I / alpha): S_N^-1 = alpha I + X^T X / sigma^2, m_N = S_N X^T y /
    sigma^2). None where it is not quadratic in all of them, or A is not positive definite."""
    from mlemap.derivations.linear import normal_equations  # linear imports the engine, which this module does not

    eq = normal_equations(d)
    if eq is None or set(eq.params) != set(d.params) or d.model.prior is None:
        return None
    if not all(m.is_positive is not False for m in _leading_minors(eq.matrix)):
        return None
    covariance = sp.simplify(eq.matrix.inv())
    return sp.simplify(covariance * eq.vector), covariance


def _leading_minors(matrix: sp.Matrix) -> list[sp.Expr]:
    return [sp.simplify(matrix[:k, :k].det()) for k in range(1, matrix.rows + 1)]
