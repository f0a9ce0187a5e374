"""Fisher information, Cramer-Rao bounds and estimator bias, exact where SymPy can take the expectation.

The log-likelihood is linear in the sample statistics S_k = sum_i g_k(x_i), so E[S_k] = n E[g_k(X)]
and the expected information is the negative Hessian with every S_k replaced by its expectation.
Products of two statistics have E[S_a S_b] = n E[g_a g_b] + n (n - 1) E[g_a] E[g_b] for i.i.d. data.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from mlemap.derivations import codec, store
from mlemap.derivations.engine import Derivation, NoClosedForm, model_key, n_obs, separate, time_limit, timed_out

EXPECTATION_SECONDS = 20
NOT_REGULAR = (
    "the support depends on a parameter, so the Cramer-Rao regularity conditions fail "
    "(an order statistic's variance falls as 1/n^2, not 1/n)"
)


KINKED = (
    "the log-density has a kink in the location (|x - mu|), so it is not twice differentiable there and the "
    "Cramer-Rao regularity conditions fail"
)


def expectation(deriv: Derivation, g: sp.Expr) -> sp.Expr:
    """E[g(X)] under the declared density at the (symbolic) parameters, by integration or summation;
    with covariates, the expectation over the response given them (a function of the covariates)."""
    model = deriv.model
    responses = [s for s in model.data if s not in model.covariates]
    if len(responses) != 1:
        raise NoClosedForm("expectations over several response symbols are not derived")
    (x,) = responses
    support = model.support.get(x, sp.Reals)
    integrand = sp.simplify(g * model.density.subs(model.constants))  # known constants are numbers, not symbols
    with time_limit(EXPECTATION_SECONDS, f"E[{g}]"):
        if isinstance(support, sp.FiniteSet):
            value = sp.Add(*[integrand.subs(x, v) for v in support])
        elif support in (sp.Naturals0, sp.Naturals, sp.Integers) or (
            isinstance(support, sp.Range) and support.step == 1
        ):
            # summed over integers: say so to SymPy, whatever the data symbol declares (a real x from sympy.stats)
            k = sp.Dummy("k", integer=True, nonnegative=bool(support.inf >= 0))
            value = sp.summation(integrand.subs(x, k), (k, support.inf, support.sup))
        elif support != sp.Reals and not isinstance(support, sp.Interval):
            raise NoClosedForm(f"E[{g}] over the support {support} is not derived")
        elif integrand.has(sp.log(x)) and support == sp.Interval.open(0, sp.oo):
            # A density in log x (log-normal): x = e^u turns it into an integral SymPy knows over the reals.
            u = sp.Dummy("u", real=True)
            value = sp.integrate(
                sp.simplify(integrand.subs(x, sp.exp(u)) * sp.exp(u)), (u, -sp.oo, sp.oo), conds="none"
            )
        else:
            lo, hi = (-sp.oo, sp.oo) if support == sp.Reals else (support.start, support.end)
            # Rational integrands (Cauchy) integrate about 10x faster without the Meijer-G route,
            # which exponential-family integrands (Gaussian moments) need.
            value = sp.integrate(
                integrand, (x, lo, hi), conds="none", meijerg=False if integrand.is_rational_function(x) else None
            )
    value = sp.simplify(on_parameter_domains(value, model))
    if value.has(sp.Integral, sp.Sum, sp.Piecewise):
        raise NoClosedForm(f"SymPy could not take E[{g}]")
    return value


def on_parameter_domains(value: sp.Expr, model) -> sp.Expr:
    """Each Piecewise's first branch whose condition holds on the whole declared domain of the one parameter it
    names: a geometric series sums to 1/theta where |theta - 1| < 1, which holds for every theta in (0, 1)."""
    domains = {p.symbol: p.domain for p in model.params}

    def branch(piecewise: sp.Piecewise) -> sp.Expr:
        # a branch is taken where its condition holds and no earlier one does: the first branch that holds on
        # the whole domain is the value once every branch before it holds nowhere on it
        for expr, condition in piecewise.args:
            if condition == sp.true:
                return expr
            free = condition.free_symbols
            if len(free) != 1 or next(iter(free)) not in domains:
                return piecewise
            domain = domains[next(iter(free))]
            try:
                where = condition.as_set()
            except (NotImplementedError, TypeError, ValueError):
                return piecewise
            if domain.is_subset(where):
                return expr
            if domain.intersect(where) != sp.EmptySet:
                return piecewise
        return piecewise

    return value.replace(lambda e: isinstance(e, sp.Piecewise), branch)


@codec.register
@dataclass(frozen=True)
class Fisher:
    observed: sp.Matrix  # -Hessian of the log-likelihood, in the statistics
    expected: sp.Matrix | None  # E[-Hessian] at the parameters
    cramer_rao: sp.Matrix | None  # expected^-1: the bound on an unbiased estimator's covariance
    reason: str = ""


def expected_statistic(deriv: Derivation, g: sp.Expr) -> sp.Expr:
    """E[sum_i g(x_i)]: n E[g(X)], or with covariates sum_i E[g | covariates_i] written back in the
    model's own covariate statistics (the conditional, fixed-design expectation)."""
    mean = expectation(deriv, g)
    covariates = deriv.model.covariates
    if not covariates:
        return n_obs * mean
    parts = separate(sp.expand(mean), covariates, deriv.params)
    if parts is None:
        raise NoClosedForm(f"E[{g} | covariates] does not separate into covariate statistics")
    by_expr = {s.expr: s.symbol for s in deriv.statistics}
    missing = [h for h in parts if h not in by_expr]
    if missing:
        raise NoClosedForm(f"E[{g} | covariates] needs statistics the model does not have: {missing}")
    return sp.Add(*[coeff * by_expr[h] for h, coeff in parts.items()])


def fisher(deriv: Derivation) -> Fisher:
    """Information of the likelihood alone (a prior adds its own curvature, not information from data);
    from the disk cache when the derivation and this code are unchanged."""
    return store.load_or_compute(
        "fisher", fisher_key(deriv), lambda: _fisher(deriv), keep=lambda f: not timed_out(f.reason)
    )


def fisher_key(deriv: Derivation) -> str:
    """The model and every part of its derivation _fisher reads: a derivation altered by hand (a test's wrong
    one) never meets the cached information of the right one."""
    stats = [(s.symbol, s.expr) for s in deriv.statistics]
    return store.content_key([model_key(deriv.model), deriv.log_density, deriv.loglik, stats, deriv.params])


def _fisher(deriv: Derivation) -> Fisher:
    observed = -sp.hessian(deriv.loglik, deriv.params)
    if deriv.bounds:
        return Fisher(observed, None, None, NOT_REGULAR)
    if deriv.order_form:
        return Fisher(observed, None, None, KINKED)
    try:
        if deriv.separable:
            means = {
                s.symbol: expected_statistic(deriv, s.expr)
                for s in deriv.statistics
                if s.symbol != n_obs and observed.has(s.symbol)
            }
            expected = sp.simplify(observed.subs(means))
        else:  # the general fallback: n E[-d^2 log p(X) / d theta^2], one observation at a time
            per_obs = -sp.hessian(deriv.log_density, deriv.params)
            expected = n_obs * per_obs.applyfunc(lambda h: expectation(deriv, h))
    except NoClosedForm as exc:
        return Fisher(observed, None, None, str(exc))
    try:
        inverse = sp.simplify(expected.inv())
    except sp.matrices.exceptions.NonInvertibleMatrixError:
        return Fisher(observed, expected, None, SINGULAR)
    return Fisher(observed, expected, inverse)


SINGULAR = (
    "the expected information is singular as derived (with covariates, one observation's information has rank 1 "
    "and only the design makes the sum invertible), so there is no bound to compare with"
)


def estimator_variance(deriv: Derivation, estimator: sp.Expr) -> sp.Expr:
    """Var[estimator] for an estimator linear in the sums, c0 + sum_k c_k S_k with data-free coefficients (a
    conjugate MAP, (S_x2 + 2 beta) / (n + 2 alpha + 2)): n sum_jk c_j c_k Cov(g_j(X), g_k(X)), exact at every n,
    so a biased estimator is held to its own variance, not to the unbiased bound."""
    if deriv.model.covariates:
        raise NoClosedForm("the variance of an estimator with covariates is not derived")
    sums = {s.symbol: s.expr for s in deriv.statistics if s.symbol != n_obs and s.reduce == "sum"}
    if any(s.reduce != "sum" and estimator.has(s.symbol) for s in deriv.statistics):
        raise NoClosedForm("the estimator uses an order statistic")
    expanded = sp.expand(estimator)
    if not expanded.is_polynomial(*sums) or sp.Poly(expanded, *sums).total_degree() > 1:
        raise NoClosedForm("the estimator is not linear in the sums")
    coeffs = {sym: expanded.coeff(sym) for sym in sums if expanded.has(sym)}
    if any(c.has(*sums) for c in coeffs.values()):
        raise NoClosedForm("the estimator's coefficients depend on the data")
    means = {sym: expectation(deriv, sums[sym]) for sym in coeffs}
    total = sp.Integer(0)
    for a, ca in coeffs.items():
        for b, cb in coeffs.items():
            total += ca * cb * (expectation(deriv, sums[a] * sums[b]) - means[a] * means[b])
    return sp.simplify(n_obs * total)


def expected_value(deriv: Derivation, estimator: sp.Expr) -> sp.Expr:
    """E[estimator] for an estimator polynomial (degree <= 2) in the sample statistics."""
    orders = {s.symbol: s for s in deriv.statistics if s.reduce != "sum" and estimator.has(s.symbol)}
    if orders:
        return _expected_linear_in_orders(deriv, estimator, orders)
    stats = {s.symbol: s.expr for s in deriv.statistics if s.symbol != n_obs}
    numer, denom = sp.fraction(sp.together(estimator))
    if denom.free_symbols & set(stats):
        raise NoClosedForm("the estimator divides by a statistic; its expectation is not a polynomial one")
    if not numer.is_polynomial(*stats):  # a root or a log of a statistic (a Weibull scale's cube root)
        raise NoClosedForm("the estimator is not a polynomial in the statistics")
    poly = sp.Poly(sp.expand(numer), *stats)
    if poly.total_degree() > 2:
        raise NoClosedForm("estimators of degree > 2 in the statistics are not handled")
    total = sp.Integer(0)
    for monom, coeff in poly.terms():
        factors = [sym for sym, power in zip(stats, monom) for _ in range(power)]
        if not factors:
            term = 1
        elif len(factors) == 1:
            term = n_obs * expectation(deriv, stats[factors[0]])
        else:
            ga, gb = (stats[f] for f in factors)
            term = n_obs * expectation(deriv, ga * gb) + n_obs * (n_obs - 1) * expectation(deriv, ga) * expectation(
                deriv, gb
            )
        total += coeff * term
    return sp.simplify(total / denom)


def _expected_linear_in_orders(deriv: Derivation, estimator: sp.Expr, orders) -> sp.Expr:
    """E[c0 + sum_k c_k O_k] for order statistics O_k, coefficients c_k free of the data and c0 a polynomial in
    the sums (expectation is linear: the two kinds of statistic need no joint law)."""
    sums = [s.symbol for s in deriv.statistics if s.symbol not in orders and s.symbol != n_obs]
    poly = sp.Poly(estimator, *orders) if estimator.is_polynomial(*orders) else None
    if poly is None or poly.total_degree() > 1 or any(poly.coeff_monomial(o).has(*sums) for o in orders):
        raise NoClosedForm("the estimator is not linear in the order statistics with coefficients free of the data")
    total = expected_value(deriv, poly.coeff_monomial(1))
    for symbol, stat in orders.items():
        total += poly.coeff_monomial(symbol) * expected_order_statistic(deriv, stat)
    return sp.simplify(total)


def expected_order_statistic(deriv: Derivation, stat) -> sp.Expr:
    """E[max_i x_i] or E[min_i x_i] of n i.i.d. observations: x integrated against the derivative of the order
    statistic's distribution function, F(x)^n for the maximum and 1 - (1 - F(x))^n for the minimum."""
    model, x = deriv.model, stat.expr
    if stat.reduce not in ("max", "min"):
        raise NoClosedForm(f"E[{stat.reduce} {x}] is not derived (only the maximum's and the minimum's are)")
    if not isinstance(model.support[x], sp.Interval):  # a discrete support (1..N): a sum SymPy does not close
        raise NoClosedForm(f"E[{stat.reduce} {x}] over the discrete support {model.support[x]} is not derived")
    lo, hi = model.support[x].start, model.support[x].end
    t = sp.Dummy("t", real=True)
    with time_limit(EXPECTATION_SECONDS, f"E[{stat.reduce} {x}]"):
        cdf = sp.integrate(model.density.subs(x, t), (t, lo, x), conds="none")
        order_cdf = cdf**n_obs if stat.reduce == "max" else 1 - (1 - cdf) ** n_obs
        integrand, limits = x * sp.diff(order_cdf, x), (x, lo, hi)
        if lo.is_finite and hi.is_finite:  # on [0, 1] SymPy integrates the powers (x - a)^(n - 1) at once
            u = sp.Dummy("u", positive=True)
            integrand, limits = sp.simplify(integrand.subs(x, lo + (hi - lo) * u) * (hi - lo)), (u, 0, 1)
        value = sp.simplify(sp.integrate(integrand, limits, conds="none"))
    if value.has(sp.Integral, sp.Piecewise):
        raise NoClosedForm(f"SymPy could not take E[{stat.reduce} {x}]")
    return value


@codec.register
@dataclass(frozen=True)
class EstimatorBias:
    """E[estimator] at the parameters, its bias, and the unbiased estimator c(n) * estimator where the ratio
    E[estimator] / theta is free of the parameters; condition: where the expectation is finite (n > 1)."""

    param: sp.Symbol
    estimator: sp.Expr
    expectation: sp.Expr | None
    bias: sp.Expr | None
    correction: sp.Expr | None
    condition: sp.Basic = sp.true
    reason: str = ""


def bias(deriv: Derivation, param: sp.Symbol) -> EstimatorBias:
    """The bias of the closed-form estimator of param: polynomial (degree <= 2) in the sums, or a constant over
    a power of one sum of a positive function (n / S_x for an exponential rate)."""
    if deriv.estimate is None or param not in deriv.estimate:
        return EstimatorBias(param, sp.nan, None, None, None, reason=f"{param} has no closed-form estimator")
    estimator = deriv.estimate[param].subs(deriv.model.constants)
    condition: sp.Basic = sp.true
    try:
        try:
            mean = expected_value(deriv, estimator)
        except NoClosedForm:
            mean, condition = _expected_reciprocal(deriv, estimator)
    except NoClosedForm as exc:
        return EstimatorBias(param, estimator, None, None, None, reason=str(exc))
    ratio = sp.simplify(mean / param)
    correction = None if ratio.has(*deriv.params) or ratio == 1 else sp.simplify(estimator / ratio)
    return EstimatorBias(param, estimator, mean, sp.simplify(mean - param), correction, condition)


def _expected_reciprocal(deriv: Derivation, estimator: sp.Expr) -> tuple[sp.Expr, sp.Basic]:
    """E[c S^-k] for S = sum_i g(x_i) with g > 0: c / Gamma(k) int_0^oo t^(k-1) M(-t)^n dt, where
    M(-t) = E[exp(-t g(X))] (the Laplace transform of S is M(-t)^n). Finite only for n above some value:
    SymPy's condition is returned with the expectation."""
    sums = {s.symbol: s for s in deriv.statistics if s.symbol != n_obs and s.reduce == "sum"}
    numer, denom = sp.fraction(sp.together(estimator))
    used = [sym for sym in sums if denom.has(sym)]
    if numer.has(*sums) or len(used) != 1:
        raise NoClosedForm("the estimator is neither polynomial in the sums nor a constant over one sum")
    (sym,) = used
    power = sp.Poly(denom, sym)
    if len(power.terms()) != 1:
        raise NoClosedForm("the estimator divides by more than a power of one sum")
    ((k,), coeff) = power.terms()[0]
    g = sums[sym].expr
    (x,) = [s for s in deriv.model.data if g.has(s)] or [None]
    support = deriv.model.support.get(x, sp.Reals) if x is not None else sp.Reals
    if not (isinstance(support, sp.Interval) and support.inf >= 0 and g == x):
        raise NoClosedForm(f"E[1/{sums[sym].latex}] needs a positive observation x summed as it is")
    t = sp.Dummy("t", positive=True)
    with time_limit(EXPECTATION_SECONDS, f"E[1/{sym}^{k}]"):
        laplace = sp.simplify(expectation(deriv, sp.exp(-t * g)))
        found = sp.integrate(t ** (k - 1) * laplace**n_obs, (t, 0, sp.oo), conds="separate")
    value, condition = found if isinstance(found, tuple) else (found, sp.true)
    if value.has(sp.Integral):
        raise NoClosedForm(f"SymPy could not take E[1/{sym}^{k}]")
    return sp.simplify(sp.gammasimp(numer / coeff * value / sp.gamma(k))), condition
