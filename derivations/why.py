"""What a textbook says about an answer besides deriving it: the posterior's family by name, with its
normaliser, and where the MAP lies between the MLE and the prior's mode, with the weights where they exist.
Each is derived and checked here (a family only when the density equals it exactly), never asserted."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy as sp

from mlemap.derivations import store
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


@dataclass(frozen=True)
class Bias:
    """How an MLE misses its parameter on average, derived, never asserted. how: "moments" (E[theta_hat] exact from
    the data's first two moments), "residuals" (a least-squares noise variance: E exact given the covariates, the
    residuals being the noise projected off the fitted directions), "jensen" (the estimate a strictly convex or
    concave function of a sample mean that is unbiased for its argument: the direction only)."""

    param: sp.Symbol
    direction: str  # "low" or "high"
    how: str
    expectation: sp.Expr | None = None  # E[theta_hat] where derived exactly
    divisor: sp.Expr | None = None  # the unbiased estimator's divisor where theta_hat divides by n: n - 1, n - 2
    mean: sp.Expr | None = None  # jensen: E[g(x)], which the sample mean of g estimates without bias
    weights: tuple[sp.Symbol, ...] = ()  # residuals: the weights the fit spends degrees of freedom on
    g: sp.Expr | None = None  # jensen: the function of one observation whose sample mean the estimate is f of
    f: sp.Expr | None = None  # jensen: the estimate as f(t), t standing for that sample mean
    t: sp.Symbol | None = None


def estimator_bias(d: Derivation, param: sp.Symbol) -> Bias | None:
    """The bias of the MLE of param, where one of the three derivations applies; None otherwise (a MAP, no closed
    form, an unbiased estimate, or an expectation SymPy does not reach)."""
    m = d.model
    if m.prior is not None or m.constraints or m.matrices or d.bounds or d.piecewise or d.order_form:
        return None
    symbolic = derive(dataclasses.replace(m, name=f"{m.name}_in_sums", observed=None)) if m.observed else d
    if symbolic.estimate is None or param not in symbolic.estimate:
        return None
    return _residual_bias(symbolic, param) or _moment_bias(symbolic, param) or _jensen_bias(symbolic, param)


def declared_variance(model, param: sp.Symbol) -> bool:
    """Whether the model declares the parameter a variance ("variance", "noise variance", "variance of log x")."""
    return any(p.symbol == param and "variance" in p.description for p in model.params)


def _residual_bias(d: Derivation, param: sp.Symbol) -> Bias | None:
    """A noise variance estimated as the mean squared least-squares residual, RSS/n: given the covariates, RSS is
    the noise projected onto the n - k dimensions orthogonal to the k fitted columns, so E[RSS] = (n - k) sigma^2."""
    from mlemap.derivations.linear import normal_equations, residual_variance

    eq = normal_equations(d)
    if eq is None or eq.gram is None or eq.ridge != 0 or not declared_variance(d.model, param):
        return None
    if residual_variance(d, eq, param) is None:
        return None
    k = len(eq.params)
    return Bias(param, "low", "residuals", (n_obs - k) / n_obs * param, n_obs - k, weights=eq.params)


def _sums(d: Derivation) -> dict[sp.Symbol, sp.Expr]:
    return {s.symbol: s.expr for s in d.statistics if s.reduce == "sum" and s.symbol != n_obs}


def _moment_bias(d: Derivation, param: sp.Symbol) -> Bias | None:
    """A variance's MLE, a polynomial of degree at most 2 in the sums S_g: E[S_g] = n E[g] and E[S_g S_h] =
    n E[g h] + n (n - 1) E[g] E[h] for i.i.d. data, each moment integrated against the density."""
    if not declared_variance(d.model, param) or len(d.model.data) != 1 or not d.estimate:
        return None
    sums = _sums(d)
    used = sorted(d.estimate[param].free_symbols & set(sums), key=str)
    if not used:
        return None
    poly = sp.Poly(sp.expand(d.estimate[param]), *used)
    if poly.total_degree() > 2:
        return None
    expectation = sp.Integer(0)
    for powers, coefficient in poly.terms():
        factors = [sums[s] for s, k in zip(used, powers) for _ in range(k)]
        moments = [moment(d.model, g) for g in factors]
        if len(factors) == 2:
            moments.append(moment(d.model, factors[0] * factors[1]))
        if any(mu is None for mu in moments):
            return None
        if len(factors) == 0:
            term = 1
        elif len(factors) == 1:
            term = n_obs * moments[0]
        else:
            term = n_obs * moments[2] + n_obs * (n_obs - 1) * moments[0] * moments[1]
        expectation += coefficient * term
    expectation = sp.factor(sp.simplify(expectation))
    ratio = sp.simplify(expectation / param)
    if ratio.free_symbols - {n_obs} or sp.simplify(ratio - 1) == 0:
        return None
    gap = sp.simplify(ratio - 1)
    direction = "low" if gap.is_negative else "high" if gap.is_positive else None
    if direction is None:
        return None
    divisor = sp.factor(n_obs * ratio)
    linear = divisor.is_polynomial(n_obs) and sp.degree(divisor, n_obs) == 1
    return Bias(param, direction, "moments", expectation, divisor if linear else None)


def _jensen_bias(d: Derivation, param: sp.Symbol) -> Bias | None:
    """theta_hat = f(S_g / n) with E[g] = m(theta) and f(m(theta)) = theta: the sample mean of g is unbiased for
    m(theta), so a strictly convex f makes E[theta_hat] > theta (Jensen's inequality, the mean not constant), a
    strictly concave one E[theta_hat] < theta."""
    if len(d.model.data) != 1 or len(d.params) != 1 or not d.estimate:
        return None
    sums = _sums(d)
    used = d.estimate[param].free_symbols & set(sums)
    if len(used) != 1:
        return None
    (s,) = used
    g = sums[s]
    t = sp.Dummy("t", positive=True) if g.is_positive else sp.Dummy("t", real=True)
    f = sp.simplify(d.estimate[param].subs(s, n_obs * t))
    mean = moment(d.model, g)
    if f.has(n_obs) or mean is None or sp.simplify(f.subs(t, mean) - param) != 0:
        return None
    curvature = sp.simplify(sp.diff(f, t, 2))
    direction = "high" if curvature.is_positive else "low" if curvature.is_negative else None
    return None if direction is None else Bias(param, direction, "jensen", mean=mean, g=g, f=f, t=t)


def moment(model, g: sp.Expr) -> sp.Expr | None:
    """E[g(x)] under the model's density, one data variable, in closed form; None where SymPy leaves an integral.
    Where g is a function of log x (or another invertible function of x), the integral is taken in that variable:
    SymPy integrates a log-normal's log x as a Gaussian, not in x."""
    (x,) = model.data
    support = model.support.get(x, sp.Reals)
    key = store.content_key(["moment", model.density, x, support, g, [(p.symbol, p.domain) for p in model.params]])
    found = store.load_or_compute("moment", key, lambda: {"value": _moment(model, x, support, g)})["value"]
    return None if found is None else _on_domain(found, model)


def _moment(model, x: sp.Symbol, support: sp.Set, g: sp.Expr) -> sp.Expr | None:
    density = model.density
    if support in (sp.Naturals, sp.Naturals0):
        found = _on_domain(sp.piecewise_fold(sp.summation(g * density, (x, support.inf, sp.oo))), model)
        return None if found is None or found.has(sp.Sum) else sp.simplify(found)
    if not isinstance(support, sp.Interval):
        return None
    inner = {f for f in g.atoms(sp.Function) if f.has(x)}
    body, low, high = g * density, support.start, support.end
    if len(inner) == 1:  # g(x) = h(u(x)): integrate in u = u(x)
        (u_of_x,) = inner
        u = sp.Dummy("u", real=True)
        inverse = sp.solve(sp.Eq(u, u_of_x), x)
        if len(inverse) != 1 or g.subs(u_of_x, u).has(x):
            return None
        ends = sorted(
            (sp.limit(u_of_x, x, low, "+"), sp.limit(u_of_x, x, high, "-")), key=lambda e: float(sp.sign(e) * 1e300)
        )
        body = g.subs(u_of_x, u) * sp.simplify(density.subs(x, inverse[0]) * sp.Abs(sp.diff(inverse[0], u)))
        x, (low, high) = u, ends
    elif inner:
        return None
    found = sp.integrate(body, (x, low, high), conds="none")
    return None if found.has(sp.Integral) else sp.simplify(found)


def _on_domain(expr: sp.Expr, model) -> sp.Expr | None:
    """A Piecewise moment's branch that holds on the parameter's whole domain (a geometric mean 1/p for p < 2)."""
    if not isinstance(expr, sp.Piecewise):
        return expr
    domains = {p.symbol: p.domain for p in model.params}
    for value, condition in expr.args:
        if condition == sp.true:
            return value
        symbols = condition.free_symbols
        s = next(iter(symbols)) if len(symbols) == 1 else None
        if s in domains and domains[s].is_subset(condition.as_set()):
            return value
    return None


def family_density(name: str, args: tuple[sp.Expr, ...], p: sp.Symbol) -> sp.Expr:
    """The density of Beta(a, b) or Gamma(shape, rate) in p, normalised."""
    a, b = args
    if name == "Beta":
        return sp.gammasimp(1 / sp.beta(a, b)) * p ** (a - 1) * (1 - p) ** (b - 1)
    return b**a / sp.gamma(a) * p ** (a - 1) * sp.exp(-b * p)
