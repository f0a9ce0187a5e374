"""Models and priors from named distributions.

    Model.from_distribution("gamma", shape=2, scale=theta)          # a number is known, a symbol is estimated
    Model.from_distribution("gamma", known={"shape": 2})              # the others get their usual symbols (theta)
    Model.from_distribution(sympy.stats.Gamma("X", 2, theta))        # a sympy.stats random variable
    Model.from_distribution(sympy.stats.Gamma, 2, theta)               # a sympy.stats constructor, its arguments
    Model.from_distribution("bernoulli", p=theta, prior=Beta(2, 2), observed={"x": [0, 1, 1]})

The density is sympy.stats' density (a finite one's written as one expression), the support is the
distribution's set (its numeric ends open: the density's log is finite inside), the sampler and the peer are
scipy.stats with the matching parametrisation, the peer its `fit` with the known parameters fixed (a discrete
distribution, which has no `fit`, and a prior by name: scipy.optimize on scipy.stats' log-densities). SymPy
only at import: scipy is imported when a sample is drawn or a peer runs.

Priors by name: Beta(a, b), Gamma(shape, rate), Normal(mean, standard deviation) give a Prior that Model's
prior accepts (the density in the model's one parameter, or a mapping of parameter name to prior)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sympy as sp

from mlemap.derivations.model import InputError, Model, Parameter

POSITIVE = sp.Interval.open(0, sp.oo)
UNIT = sp.Interval.open(0, 1)
BOUND = 40.0  # a one-parameter numeric fit searches the parameter's unconstrained coordinate in [-BOUND, BOUND]


def exact(name: str, value: object) -> sp.Expr:
    """A number exactly: an int, a SymPy number, a float read as the decimal it prints as (0.1 is 1/10, as typed)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, sp.Expr)) or isinstance(value, sp.Symbol):
        raise InputError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{name} must be a finite number, got {value!r}")
        return sp.Rational(repr(value))
    number = sp.sympify(value, strict=True)  # an int or a SymPy number: the check above lets no text through
    if not (number.is_number and number.is_real and number.is_finite):
        raise InputError(f"{name} must be a finite real number, got {value!r}")
    return number


# ---------------------------------------------------------------------------------------------------- priors


@dataclass(frozen=True)
class Prior:
    """A named prior of one parameter: `density(t)` is its density in t; `logpdf` its scipy.stats log-density."""

    family: str  # Beta, Gamma, Normal
    args: tuple[sp.Expr, sp.Expr]
    reading: str  # what its two numbers are
    domain: sp.Set  # where the density is a density

    def __str__(self) -> str:
        return f"{self.family}({self.args[0]}, {self.args[1]})"

    def density(self, t: sp.Symbol) -> sp.Expr:
        a, b = self.args
        if self.family == "Beta":
            return t ** (a - 1) * (1 - t) ** (b - 1) * sp.gamma(a + b) / (sp.gamma(a) * sp.gamma(b))
        if self.family == "Gamma":
            return b**a * t ** (a - 1) * sp.exp(-b * t) / sp.gamma(a)
        return sp.exp(-((t - a) ** 2) / (2 * b**2)) / sp.sqrt(2 * sp.pi * b**2)

    def logpdf(self, value: float) -> float:
        import scipy.stats

        a, b = float(self.args[0]), float(self.args[1])
        if self.family == "Beta":
            return float(scipy.stats.beta.logpdf(value, a, b))
        if self.family == "Gamma":
            return float(scipy.stats.gamma.logpdf(value, a, scale=1 / b))
        return float(scipy.stats.norm.logpdf(value, a, b))

    def on(self, model_name: str, par: Parameter) -> sp.Expr:
        """Its density in the parameter, whose domain must lie where the prior is a density."""
        if not par.domain.is_subset(self.domain):
            raise InputError(
                f"{model_name}: the prior {self} is a density on {self.domain}, but {par.name} ranges over {par.domain}"
            )
        return self.density(par.symbol)


def _positive(family: str, what: str, value: object) -> sp.Expr:
    number = exact(f"{family}'s {what}", value)
    if not number.is_positive:
        raise InputError(f"{family}'s {what} must be > 0, got {value!r}")
    return number


def Beta(a: object, b: object) -> Prior:
    """The Beta(a, b) prior, density t^(a-1) (1-t)^(b-1) / B(a, b) on (0, 1): a and b are its two shapes."""
    args = (_positive("Beta", "first shape a", a), _positive("Beta", "second shape b", b))
    return Prior("Beta", args, f"Beta({args[0]}, {args[1]}): shapes a = {args[0]}, b = {args[1]}", sp.Interval(0, 1))


def Gamma(shape: object, rate: object) -> Prior:
    """The Gamma(shape, rate) prior, density rate^shape t^(shape-1) e^(-rate t) / Gamma(shape) on (0, oo): the
    second number is the RATE (mean shape / rate), not the scale."""
    args = (_positive("Gamma", "shape", shape), _positive("Gamma", "rate", rate))
    text = f"Gamma({args[0]}, {args[1]}): shape {args[0]}, its second number the rate (mean {args[0] / args[1]})"
    return Prior("Gamma", args, text, sp.Interval(0, sp.oo))


def Normal(mean: object, sd: object) -> Prior:
    """The Normal(mean, sd) prior: the second number is the STANDARD DEVIATION (variance sd^2). A sheet that
    writes N(mu, sigma^2) with a variance v means Normal(mu, sqrt(v))."""
    args = (exact("Normal's mean", mean), _positive("Normal", "standard deviation", sd))
    text = f"Normal({args[0]}, {args[1]}): mean {args[0]}, its second number the standard deviation (variance {args[1] ** 2})"
    return Prior("Normal", args, text, sp.Reals)


def prior_expression(model_name: str, params: tuple[Parameter, ...], prior: object) -> tuple[sp.Expr, tuple[str, ...]]:
    """A named prior (or a mapping of parameter name or symbol to a named prior or an expression) as the
    expression Model holds, with a note on each named prior's reading of its numbers."""
    if isinstance(prior, Prior):
        if len(params) != 1:
            raise InputError(
                f"{model_name}: the prior {prior} is of one parameter, and the model has {len(params)}; give a "
                "mapping of parameter name to prior"
            )
        prior = {params[0].name: prior}
    if not isinstance(prior, Mapping):
        raise InputError(f"{model_name}: the prior must be a SymPy expression or a prior by name, got {prior!r}")
    by_name = {p.name: p for p in params}
    factors, notes = [], []
    for key, value in prior.items():
        name = key.name if isinstance(key, sp.Symbol) else key
        if not isinstance(name, str) or name not in by_name:
            raise InputError(
                f"{model_name}: the prior's key {key!r} must name a parameter (one of {sorted(by_name)}), by its "
                "name or its symbol"
            )
        if isinstance(value, Prior):
            factors.append(value.on(model_name, by_name[name]))
            notes.append(f"The prior of {name} is {value.reading}.")
        elif isinstance(value, sp.Expr):
            factors.append(value)
        else:
            raise InputError(
                f"{model_name}: the prior of {name} must be Beta(...), Gamma(...), Normal(...) or a SymPy "
                f"expression, got {type(value).__name__}"
            )
    return sp.Mul(*factors), tuple(notes)


# ---------------------------------------------------------------------------------------------------- families


@dataclass(frozen=True)
class Argument:
    """One parameter of a family: its name, domain, usual symbol, default truth and scipy.stats keyword (with
    the maps between the two parametrisations)."""

    name: str
    domain: sp.Set
    symbol: str
    truth: float
    scipy: str
    to_scipy: Callable[[float], float] = lambda v: v
    from_scipy: Callable[[float], float] = lambda v: v


@dataclass(frozen=True)
class Family:
    name: str
    stats: str  # the sympy.stats constructor
    arguments: tuple[Argument, ...]  # in sympy.stats' order
    scipy: str  # the scipy.stats distribution
    fixed: Mapping[str, float]  # scipy keywords fixed whatever the parameters (loc 0 of a positive variable)
    discrete: bool = False
    stats_extra: tuple = ()  # sympy.stats' further arguments at their defaults (Bernoulli's succ=1, fail=0)


NORMAL_MEAN = Argument("mean", sp.Reals, "mu", 1.5, "loc")
NORMAL_SD = Argument("sd", POSITIVE, "sigma", 2.0, "scale")
RATE = Argument("rate", POSITIVE, "lambda", 2.5, "scale", lambda v: 1 / v, lambda v: 1 / v)
PROBABILITY = Argument("p", UNIT, "theta", 0.35, "p")  # theta, not p: p(x | p) would read badly
FAMILY_LIST = (  # the families from_distribution knows, each in sympy.stats' and scipy.stats' terms
    Family("normal", "Normal", (NORMAL_MEAN, NORMAL_SD), "norm", {}),
    Family("exponential", "Exponential", (RATE,), "expon", {"loc": 0.0}),
    Family(
        "gamma",
        "Gamma",
        (Argument("shape", POSITIVE, "k", 2.5, "a"), Argument("scale", POSITIVE, "theta", 1.5, "scale")),
        "gamma",
        {"loc": 0.0},
    ),
    Family("poisson", "Poisson", (Argument("rate", POSITIVE, "lambda", 3.0, "mu"),), "poisson", {}, True),
    Family("bernoulli", "Bernoulli", (PROBABILITY,), "bernoulli", {}, True, (1, 0)),
    Family("geometric", "Geometric", (PROBABILITY,), "geom", {}, True),
    Family(
        "binomial", "Binomial", (Argument("n", POSITIVE, "n", 10, "n", int), PROBABILITY), "binom", {}, True, (1, 0)
    ),
    Family(
        "beta",
        "Beta",
        (Argument("alpha", POSITIVE, "alpha", 2.0, "a"), Argument("beta", POSITIVE, "beta", 3.0, "b")),
        "beta",
        {"loc": 0.0, "scale": 1.0},
    ),
    Family(
        "lognormal",
        "LogNormal",
        (
            Argument("mean", sp.Reals, "mu", 0.5, "scale", math.exp, math.log),
            Argument("sd", POSITIVE, "sigma", 0.75, "s"),
        ),
        "lognorm",
        {"loc": 0.0},
    ),
    Family("rayleigh", "Rayleigh", (Argument("scale", POSITIVE, "sigma", 1.5, "scale"),), "rayleigh", {"loc": 0.0}),
    Family(
        "laplace",
        "Laplace",
        (Argument("location", sp.Reals, "mu", 0.5, "loc"), Argument("scale", POSITIVE, "b", 1.2, "scale")),
        "laplace",
        {},
    ),
    Family(
        "weibull",
        "Weibull",
        (Argument("scale", POSITIVE, "lambda", 1.5, "scale"), Argument("shape", POSITIVE, "k", 2.0, "c")),
        "weibull_min",
        {"loc": 0.0},
    ),
    Family(
        "pareto",
        "Pareto",
        (Argument("scale", POSITIVE, "x_m", 1.0, "scale"), Argument("shape", POSITIVE, "alpha", 3.0, "b")),
        "pareto",
        {"loc": 0.0},
    ),
)


FAMILIES = {f.name: f for f in FAMILY_LIST}
VARIANCE = Argument("variance", POSITIVE, "sigma^2", 4.0, "scale", math.sqrt, lambda v: v * v)  # normal's alias of sd

DESCRIPTIONS = {"sd": "standard deviation", "p": "success probability", "n": "number of trials"}
MODEL_FIELDS = ("name", "title", "prior", "observed", "truth", "tolerances", "notes", "min_n", "solve_seconds")
OVERRIDES = ("simulate", "peer")  # a model's own sampler or peer in place of scipy's


def family_of(dist: object) -> tuple[Family, tuple]:
    """The family a distribution names, and the arguments it carries (a sympy.stats one's own)."""
    if isinstance(dist, str):
        family = FAMILIES.get(dist.strip().lower())
        if family is None:
            raise InputError(f"from_distribution: unknown distribution {dist!r}; known are {sorted(FAMILIES)}")
        return family, ()
    carried: tuple = ()
    pspace = getattr(dist, "pspace", None)
    if pspace is not None and hasattr(pspace, "distribution"):  # a random symbol: sympy.stats.Gamma("X", 2, theta)
        dist = pspace.distribution
    name = dist.__name__ if isinstance(dist, type) or (callable(dist) and hasattr(dist, "__name__")) else None
    if name is None and (type(dist).__module__ or "").startswith("sympy.stats"):
        name, carried = type(dist).__name__, tuple(getattr(dist, "args", ()))
    family = next((f for f in FAMILIES.values() if name in (f.stats, f"{f.stats}Distribution")), None)
    if family is None:
        known = sorted(f.stats for f in FAMILIES.values())
        raise InputError(
            f"from_distribution: {dist!r} is not a distribution it knows; give a name ({sorted(FAMILIES)}) or one "
            f"of sympy.stats' {known}"
        )
    count = len(family.arguments)
    if carried and tuple(carried[count:]) != family.stats_extra[: len(carried) - count]:
        raise InputError(
            f"from_distribution: {family.stats}'s further arguments must be their defaults {family.stats_extra}, "
            f"got {tuple(carried[count:])}"
        )
    return family, tuple(carried[:count])


def given_arguments(family: Family, positional: tuple, keywords: Mapping[str, object]) -> dict[str, object]:
    """Each argument's value by name: from the positions (sympy.stats' order), the keywords and known=."""
    names = [a.name for a in family.arguments]
    accepted = names + (["variance"] if family.name == "normal" else [])
    if len(positional) > len(names):
        raise InputError(
            f"from_distribution: {family.name} takes at most {len(names)} positional arguments {names}, got {len(positional)}"
        )
    given = dict(zip(names, positional))
    for key, value in keywords.items():
        if key not in accepted:
            raise InputError(
                f"from_distribution: {family.name} has no parameter {key!r}; its parameters are {accepted}"
                + (" (and the model's fields " + ", ".join(MODEL_FIELDS + OVERRIDES) + ")")
            )
        if key in given:
            raise InputError(f"from_distribution: {family.name}'s {key!r} is given twice")
        given[key] = value
    if family.name == "normal":
        sd = given.get("sd")  # sympy.stats.Normal("X", mu, sqrt(v)): v is the variance
        if isinstance(sd, sp.Pow) and sd.exp == sp.S.Half and isinstance(sd.base, sp.Symbol):
            given["variance"] = given.pop("sd").base
        if "variance" in given and "sd" in given:
            raise InputError("from_distribution: normal takes the standard deviation sd or the variance, not both")
    return given


@dataclass(frozen=True)
class Resolved:
    """A family with each argument either estimated (a Parameter) or known (an exact number)."""

    family: Family
    arguments: tuple[Argument, ...]  # normal's sd replaced by its variance where the variance is given
    values: tuple[sp.Expr, ...]  # each argument's symbol or known number, as sympy.stats takes it

    @property
    def free(self) -> list[tuple[Argument, sp.Symbol]]:
        return [(a, v) for a, v in zip(self.arguments, self.values) if isinstance(v, sp.Symbol)]

    @property
    def known(self) -> dict[str, float]:
        return {a.name: float(v) for a, v in zip(self.arguments, self.values) if not isinstance(v, sp.Symbol)}


def resolve(family: Family, given: Mapping[str, object]) -> Resolved:
    arguments = tuple(VARIANCE if a.name == "sd" and "variance" in given else a for a in family.arguments)
    values = []
    for arg in arguments:
        value = given.get(arg.name)
        if value is None:
            assumption = {"real": True} if arg.domain == sp.Reals else {"positive": True}
            value = sp.Symbol(arg.symbol, **assumption)
        elif isinstance(value, str) or (isinstance(value, sp.Expr) and value.free_symbols and not value.is_Symbol):
            shown = f"the text {value!r}" if isinstance(value, str) else f"the expression {value}"
            raise InputError(
                f"from_distribution: {family.name}'s {arg.name} must be a SymPy symbol (estimated) or a number "
                f"(known), got {shown}"
            )
        elif not isinstance(value, sp.Symbol):
            value = exact(f"from_distribution: {family.name}'s {arg.name}", value)
            if not arg.domain.contains(value) == sp.true:
                raise InputError(f"from_distribution: {family.name}'s {arg.name} must lie in {arg.domain}, got {value}")
        values.append(value)
    if family.name == "binomial" and not (values[0].is_Integer and values[0] > 0):
        raise InputError(f"from_distribution: binomial's n must be known, a positive integer, got {values[0]}")
    resolved = Resolved(family, arguments, tuple(values))
    if not resolved.free:
        raise InputError(f"from_distribution: every parameter of {family.name} is known; leave one to estimate")
    return resolved


def density_and_support(r: Resolved, x: sp.Symbol) -> tuple[sp.Expr, sp.Set]:
    """sympy.stats' density at x (a finite distribution's piecewise table written as one expression) and its set,
    a numeric end of an interval open (the log-density is finite inside it)."""
    import sympy.stats as st

    stats_values = [sp.sqrt(v) if a is VARIANCE else v for a, v in zip(r.arguments, r.values)]
    variable = getattr(st, r.family.stats)("X", *stats_values)
    support = variable.pspace.distribution.set
    if isinstance(support, (set, frozenset)):  # a finite distribution's values, as a Python set
        support = sp.FiniteSet(*support)
    if r.family.name == "bernoulli":
        (p,) = stats_values
        return p**x * (1 - p) ** (1 - x), support
    if r.family.name == "binomial":
        n, p = stats_values
        return sp.binomial(n, x) * p**x * (1 - p) ** (n - x), support
    density = st.density(variable)(x).replace(sp.beta, lambda a, b: sp.gamma(a) * sp.gamma(b) / sp.gamma(a + b))
    if isinstance(support, sp.Interval):
        support = sp.Interval(
            support.start,
            support.end,
            support.left_open or support.start.is_number,
            support.right_open or support.end.is_number,
        )
    return density, support


def scipy_keywords(r: Resolved, values: Mapping[str, float]) -> dict[str, float]:
    """scipy.stats' keywords at the arguments' values (by argument name)."""
    return {**r.family.fixed, **{a.scipy: a.to_scipy(float(values[a.name])) for a in r.arguments}}


def sampler(r: Resolved, x: sp.Symbol) -> Callable:
    """Draws of scipy.stats' distribution at the truth (keyed by parameter name), the known arguments fixed."""
    by_param = {symbol.name: arg.name for arg, symbol in r.free}

    def simulate(rng, n, truth):
        import numpy as np
        import scipy.stats

        values = {**r.known, **{arg: truth[name] for name, arg in by_param.items()}}
        draws = getattr(scipy.stats, r.family.scipy).rvs(size=n, random_state=rng, **scipy_keywords(r, values))
        return {x.name: np.asarray(draws, dtype=float)}

    simulate.__doc__ = f"scipy.stats.{r.family.scipy}.rvs"
    return simulate


def _tight_fmin(func, x0, args=(), disp=0):
    """scipy's fit's default fmin stops near 1e-4; the peer is held to 1e-6."""
    import scipy.optimize

    return scipy.optimize.fmin(func, x0, args=args, xtol=1e-12, ftol=1e-14, maxiter=20000, maxfun=40000, disp=disp)


def fit_peer(r: Resolved, x: sp.Symbol) -> Callable:
    """scipy.stats' fit with the known arguments (and the family's fixed loc, scale) fixed."""
    fixed = {**r.family.fixed, **{a.scipy: a.to_scipy(r.known[a.name]) for a in r.arguments if a.name in r.known}}
    keywords = {f"f{k}": v for k, v in fixed.items()}

    def peer(data):
        import scipy.stats

        dist = getattr(scipy.stats, r.family.scipy)
        names = [*(dist.shapes.split(", ") if dist.shapes else []), "loc", "scale"]
        found = dict(zip(names, dist.fit(data[x.name], optimizer=_tight_fmin, **keywords)))
        return {symbol.name: float(arg.from_scipy(found[arg.scipy])) for arg, symbol in r.free}

    shown = ", ".join(f"{k}={v:g}" for k, v in keywords.items())
    peer.__doc__ = f"scipy.stats.{r.family.scipy}.fit" + (f" with {shown}" if shown else "")
    return peer


UNCONSTRAINED = {  # each domain's map from the real line, and back
    "reals": (lambda u: u, lambda v: v),
    "positive": (math.exp, math.log),
    "unit": (lambda u: 1 / (1 + math.exp(-u)), lambda v: math.log(v / (1 - v))),
}


def _coordinates(domain: sp.Set) -> str:
    return "reals" if domain == sp.Reals else "unit" if domain == UNIT else "positive"


def numeric_peer(r: Resolved, x: sp.Symbol, priors: Mapping[str, Prior], start: Callable | None) -> Callable:
    """scipy.optimize on scipy.stats' log-likelihood (plus the named priors' log-densities), each parameter on the
    real line (its log, its logit): minimize_scalar bounded for one parameter, Nelder-Mead from the fit for more."""
    maps = [UNCONSTRAINED[_coordinates(arg.domain)] for arg, _ in r.free]

    def peer(data):
        import numpy as np
        import scipy.optimize
        import scipy.stats

        dist = getattr(scipy.stats, r.family.scipy)
        log = dist.logpmf if r.family.discrete else dist.logpdf
        values = data[x.name]

        def minus_log_posterior(u):
            free = {s.name: to(float(v)) for (_, s), (to, _), v in zip(r.free, maps, np.atleast_1d(u))}
            at = {**r.known, **{a.name: free[s.name] for a, s in r.free}}
            with np.errstate(all="ignore"):
                total = float(np.sum(log(values, **scipy_keywords(r, at))))
            total += sum(priors[name].logpdf(v) for name, v in free.items() if name in priors)
            return -total if math.isfinite(total) else math.inf

        begin = start(data) if start is not None else {s.name: a.truth for a, s in r.free}
        u0 = [back(begin[s.name]) for (_, s), (_, back) in zip(r.free, maps)]
        if len(u0) == 1:
            found = scipy.optimize.minimize_scalar(
                minus_log_posterior, bounds=(u0[0] - BOUND, u0[0] + BOUND), method="bounded", options={"xatol": 1e-12}
            )
            u = [found.x]
        else:
            u = _tight_fmin(minus_log_posterior, np.array(u0))
        return {s.name: to(float(v)) for (_, s), (to, _), v in zip(r.free, maps, u)}

    what = "logpmf" if r.family.discrete else "logpdf"
    plural = "s" if len(priors) > 1 else ""
    with_priors = f" plus the prior{plural} " + ", ".join(str(p) for p in priors.values()) if priors else ""
    peer.__doc__ = f"scipy.optimize on scipy.stats.{r.family.scipy}.{what}{with_priors}"
    return peer


def model_from_distribution(dist: object, *arguments: object, known=None, data=None, **keywords) -> Model:
    """Model.from_distribution: see its docstring."""
    family, carried = family_of(dist)
    if carried and arguments:
        raise InputError("from_distribution: a sympy.stats random variable carries its arguments; give no more")
    fields = {k: keywords.pop(k) for k in (*MODEL_FIELDS, *OVERRIDES) if k in keywords}
    if known is not None and not isinstance(known, Mapping):
        raise InputError(f"from_distribution: known must map parameter names to numbers, got {type(known).__name__}")
    for key in known or {}:
        if key in keywords:
            raise InputError(f"from_distribution: {family.name}'s {key!r} is given twice (and in known=)")
    r = resolve(family, given_arguments(family, carried or arguments, {**keywords, **(known or {})}))
    x = _data_symbol(data)
    density, support = density_and_support(r, x)
    name = fields.pop("name", family.name)
    params = tuple(Parameter(s, a.domain, DESCRIPTIONS.get(a.name, a.name)) for a, s in r.free)
    prior = fields.get("prior")
    priors = _named_priors(name, params, prior)
    if "peer" not in fields and priors is not None:  # none for a prior scipy has no log-density of
        start = fit_peer(r, x) if not r.family.discrete else None
        fields["peer"] = numeric_peer(r, x, priors, start) if priors or r.family.discrete else start
    fields.setdefault("simulate", sampler(r, x))
    truth = {s.name: a.truth for a, s in r.free}
    fields["truth"] = {**truth, **_names(fields.get("truth") or {})}
    fields.setdefault("title", _title(r, prior is not None))
    fields["notes"] = (*tuple(fields.get("notes", ())), _reading(r))
    return Model(name=name, data=(x,), params=params, density=density, support={x: support}, **fields)


def _data_symbol(data: object) -> sp.Symbol:
    if data is None:
        return sp.Symbol("x", real=True)
    if isinstance(data, str) and data.isidentifier():
        return sp.Symbol(data, real=True)
    if isinstance(data, sp.Symbol):
        return data
    raise InputError(f"from_distribution: data must be the data symbol or its name, got {data!r}")


def _names(mapping: Mapping) -> dict:
    return {k.name if isinstance(k, sp.Symbol) else k: v for k, v in mapping.items()}


def _named_priors(name: str, params: tuple[Parameter, ...], prior: object) -> dict[str, Prior] | None:
    """The named priors by parameter name ({} for none); None where some prior is an expression scipy has no
    log-density for (a constant one is flat)."""
    if prior is None:
        return {}
    if isinstance(prior, Prior):
        return {params[0].name: prior} if len(params) == 1 else None
    if not isinstance(prior, Mapping):
        return {} if isinstance(prior, sp.Expr) and not prior.free_symbols else None
    named = _names(prior)
    if any(not isinstance(v, Prior) and not (isinstance(v, sp.Expr) and not v.free_symbols) for v in named.values()):
        return None
    return {k: v for k, v in named.items() if isinstance(v, Prior)}


def _title(r: Resolved, with_prior: bool) -> str:
    shown = ", ".join(sp.latex(v) for v in r.values)
    estimated = ", ".join(sp.latex(s) for _, s in r.free)
    return f"{r.family.stats}$({shown})$, {'MAP' if with_prior else 'MLE'} of ${estimated}$"


def _reading(r: Resolved) -> str:
    """The parametrisation in words: sympy.stats' arguments and scipy.stats' keywords."""
    ours = ", ".join(f"{a.name} {v}" for a, v in zip(r.arguments, r.values))
    theirs = ", ".join(f"{a.scipy} from {a.name}" for a in r.arguments)
    return f"{r.family.stats}({ours}), as sympy.stats writes it; sampled and fitted by scipy.stats.{r.family.scipy} ({theirs})."
