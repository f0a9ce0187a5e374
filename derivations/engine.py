"""From a Model declaration to exact log-likelihood, score, Hessian, stationary points and steps."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property

import sympy as sp

from mlemap.derivations import codec, store
from mlemap.derivations.constraints import counts_sum_to_n, lagrange_points
from mlemap.derivations.declaration import check_declaration
from mlemap.derivations.matrix import matrix_stationary, quotient_derivatives
from mlemap.derivations.model import Model, observed_counts
from mlemap.derivations.pieces import crosses_closed_end, needs_pieces, piecewise_maximum, relation
from mlemap.derivations.roots import quadratic_root
from mlemap.derivations.solve import (  # noqa: F401  (re-exported: the engine's public names)
    BUDGET_FACTOR,
    BUDGET_SECONDS,
    SOLVE_SECONDS,
    TIMED_OUT,
    NoClosedForm,
    OutOfTime,
    _in_domain,
    _minors_status,
    _pick_maximum,
    _solve_stationary,
    admissible,
    boundary_maximum,
    budget_seconds,
    budgeted,
    derivation_budget,
    one_line,
    time_limit,
    timed_out,
)
from mlemap.derivations.support import Bound, FlatMaximum, order_symbol, support_bounds, support_maximum

n_obs = sp.Symbol("n", positive=True, integer=True)


@codec.register
@dataclass(frozen=True)
class Statistic:
    """S = sum_i g(x_i); g = 1 gives the sample size n. With reduce "max" or "min", the order statistic
    max_i g(x_i) or min_i g(x_i) instead (a support that depends on a parameter needs it)."""

    symbol: sp.Symbol
    expr: sp.Expr
    latex: str
    reduce: str = "sum"


@codec.register
@dataclass(frozen=True)
class SecondOrder:
    """Leading principal minors of -H at a stationary point: all > 0 means a strict local maximum."""

    hessian: sp.Matrix
    minors: tuple[sp.Expr, ...]
    status: str  # "proved", "conditional" (some minors undecided) or "fails"
    conditions: tuple[sp.Expr, ...] = ()


def log_density(model: Model) -> sp.Expr:
    """log p(x | theta), with the log pushed through products and powers, then expanded; sums inside sines
    and cosines are expanded too (cos(x - mu) = cos x cos mu + sin x sin mu), so such a density separates.
    Factors proved negative on the domain and the support are negated in pairs first, so no log of a negative
    factor makes the log-likelihood complex: -p^k / (k log(1 - p)) is p^k / (k (-log(1 - p)))."""
    logp = positive_log(model.density, model)
    return sp.expand(sp.expand_trig(logp)) if logp.has(sp.sin, sp.cos) else logp


def log_prior(model: Model) -> sp.Expr:
    if model.prior is None:
        return sp.Integer(0)
    return positive_log(model.prior, model)


def _running(domain: sp.Set) -> sp.Expr | None:
    """A point of an interval as a positive dummy runs (so SymPy's sign rules apply); None for other sets."""
    if domain == sp.Reals or not isinstance(domain, sp.Interval):
        return None
    lo, hi, u = domain.start, domain.end, sp.Dummy(positive=True)
    if lo.is_finite and hi.is_finite:
        return lo + (hi - lo) / (1 + u)
    return lo + u if lo.is_finite else (hi - u if hi.is_finite else None)


def _sign_symbols(model: Model) -> dict[sp.Symbol, sp.Expr]:
    places = {p.symbol: p.domain for p in model.params}
    places |= {x: model.support.get(x, sp.Reals) for x in model.data}
    places = {s: (sp.Interval(d.inf, sp.oo) if d in (sp.Naturals, sp.Naturals0) else d) for s, d in places.items()}
    running = {s: _running(d) for s, d in places.items() if not d.free_symbols}
    return {s: r for s, r in running.items() if r is not None}


def positive_factors(expr: sp.Expr, model: Model) -> tuple[sp.Expr, dict[sp.Dummy, sp.Expr]]:
    """expr with its factors that are negative throughout the domain and the support negated in pairs, each
    negated base held by a positive placeholder (else SymPy would pull the sign back out): the product and the
    placeholders' values."""
    factors = list(sp.Mul.make_args(expr))
    at = _sign_symbols(model)
    negative = [k for k, f in enumerate(factors) if _negative(f, at)]
    if not negative or len(negative) % 2:
        return expr, {}
    hidden = {}
    for k in negative:
        f = factors[k]
        base, exp = (f.base, f.exp) if f.is_Pow else (f, sp.Integer(1))
        if base == -1:
            factors[k] = sp.Integer(1)
            continue
        z = sp.Dummy("z", positive=True)
        hidden[z] = -base
        factors[k] = z**exp
    return sp.Mul(*factors), hidden


def positive_log(expr: sp.Expr, model: Model) -> sp.Expr:
    """log(expr) pushed through products and powers, with no log of a factor that is negative."""
    product, hidden = positive_factors(expr, model)
    return sp.expand(sp.expand_log(sp.log(product), force=True)).xreplace(hidden)


def _negative(factor: sp.Expr, at: dict) -> bool:
    if factor.is_Pow and factor.exp.is_integer and factor.exp.is_odd:
        factor = factor.base
    return bool(factor.xreplace(at).is_negative)


SIGNS = {"**": "p", "-": "m", "/": "d"}  # x**(-2) -> xpm2, exp(-x) -> expmx: not x**2's, exp(x)'s name


def _stat_name(g: sp.Expr) -> str:
    if isinstance(g, sp.KroneckerDelta):  # a count: sum_i [x_i = 2] -> N_x_2
        return "N_" + "_".join(_word(str(a)) for a in sorted(g.args, key=lambda a: a.is_number))
    deltas = [f for f in sp.Mul.make_args(g) if isinstance(f, sp.KroneckerDelta)]
    if len(deltas) == 1 and g != deltas[0]:  # a group's sum: sum_i y_i [u_i = 1] -> S_y_u_1
        return _stat_name(g / deltas[0]) + "_" + _stat_name(deltas[0]).removeprefix("N_")
    return "S_" + _word(str(g))  # x**2 -> S_xp2, x*y -> S_xy


def _word(text: str) -> str:
    for sign, letter in SIGNS.items():
        text = text.replace(sign, letter)
    return re.sub(r"\W+", "", text)


def _distinct(name: str, taken: set[str]) -> str:
    """name, or name_2, name_3, ...: two statistics never share a symbol (whose log-likelihood would merge)."""
    unique, k = name, 1
    while unique in taken:
        k += 1
        unique = f"{name}_{k}"
    taken.add(unique)
    return unique


def _stat_latex(g: sp.Expr, data: tuple[sp.Symbol, ...]) -> str:
    indexed = g.xreplace({s: sp.Symbol(f"{s.name}_i") for s in data})
    return r"\sum_{i=1}^{n} " + sp.latex(indexed)


def separate(logp: sp.Expr, data: tuple[sp.Symbol, ...], params: tuple[sp.Symbol, ...]):
    """Split log p into sum_k f_k(theta) g_k(x); None when some term mixes data and parameters."""
    coefficients: dict[sp.Expr, sp.Expr] = {}
    for term in sp.Add.make_args(logp):
        if term == 0:  # a constant density (a uniform's 1 on its support): no statistic
            continue
        f, g = term.as_independent(*data, as_Add=False)
        if g.free_symbols & set(params):
            return None
        coefficients[g] = coefficients.get(g, sp.Integer(0)) + f
    return coefficients


def by_groups(logp: sp.Expr, model: Model) -> sp.Expr:
    """Terms that mix the parameters with a data symbol of finite support (a binary covariate u in exp(a + b u))
    written as a sum over its values, sum_v [u = v] t(v): each group's counts and sums are then statistics."""
    finite = {x: model.support[x] for x in model.data if isinstance(model.support.get(x), sp.FiniteSet)}
    terms = []
    for term in sp.Add.make_args(logp):
        _, g = term.as_independent(*model.data, as_Add=False)
        mixed = [x for x in finite if term.has(x)] if g.free_symbols & set(model.param_symbols) else []
        if mixed:  # grouped by one symbol of finite support; a term mixing several stays as it is
            x = mixed[0]
            terms.append(sp.expand(sp.Add(*[sp.KroneckerDelta(x, v) * term.subs(x, v) for v in finite[x]])))
        else:
            terms.append(term)
    return sp.Add(*terms)


@dataclass
class Derivation:
    model: Model
    log_density: sp.Expr
    log_prior: sp.Expr
    statistics: tuple[Statistic, ...]
    loglik: sp.Expr
    estimate: dict[sp.Symbol, sp.Expr] | None
    no_closed_form: str | None
    candidates: tuple[dict[sp.Symbol, sp.Expr], ...] = ()
    second_order: SecondOrder | None = None
    observed_statistics: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    boundary: bool = False  # the estimate is an end of the domain the objective rises towards, not a root
    bounds: tuple[Bound, ...] = ()  # parameters bounded by an order statistic: their estimate is that statistic
    piecewise: bool = False  # the estimate is a Piecewise over optimality conditions (kinks, closed ends)
    conditions: tuple[sp.Basic, ...] = ()  # where the closed form holds, when it does not hold for all data
    maximiser_set: tuple[sp.Expr, ...] = ()  # (param, lo, hi): a flat likelihood, maximal on all of [lo, hi]
    order_form: bool = False  # a log-likelihood in sum_i |x_i - mu|: only the estimate is in (order) statistics

    def __setattr__(self, name: str, value) -> None:
        """The engine fills a derivation in while it solves; derive() then freezes it, and no layer can change
        it afterwards (numerics keeps its compiled functions to itself)."""
        if self.__dict__.get("_frozen"):
            raise AttributeError(f"a Derivation is immutable once derived: cannot set {name}")
        super().__setattr__(name, value)

    def freeze(self) -> Derivation:
        self.__dict__["_frozen"] = True
        return self

    @classmethod
    def revived(cls, model: Model, state: dict) -> Derivation:
        """A derivation from its stored state: its fields, and the cached properties (score, Hessian) computed
        when it was stored, so they are not simplified again."""
        init = {f.name for f in fields(cls)}
        deriv = cls(model=model, **{k: v for k, v in state.items() if k in init and not k.startswith("_")})
        cached = {
            k: v for k, v in state.items() if k not in init and isinstance(getattr(cls, k, None), cached_property)
        }
        vars(deriv).update(cached)  # what cached_property itself writes
        return deriv.freeze()

    @property
    def separable(self) -> bool:
        """Whether the log-likelihood is written in the statistics (not only the estimate, as for the median)."""
        return bool(self.statistics) and not self.order_form

    @property
    def kinked(self) -> bool:
        """Whether the objective has a kink in a parameter (|.|, max, min, a step, a Piecewise)."""
        return needs_pieces(self.objective, self.params)

    @property
    def params(self) -> tuple[sp.Symbol, ...]:
        return self.model.param_symbols

    @property
    def objective(self) -> sp.Expr:
        """Log-likelihood plus log-prior: the function whose maximiser is the MLE or the MAP."""
        return self.loglik + self.log_prior

    @cached_property
    def score(self) -> sp.Matrix:
        if self.model.matrices:
            return self._matrix_derivatives[0]
        return sp.Matrix([sp.simplify(sp.diff(self.objective, p)) for p in self.params])

    @cached_property
    def hessian(self) -> sp.Matrix:
        if self.model.matrices:
            return self._matrix_derivatives[1]
        return sp.simplify(sp.hessian(self.objective, self.params))

    @cached_property
    def _matrix_derivatives(self) -> tuple[sp.Matrix, sp.Matrix]:
        """By the quotient rule where the objective is c log det + Q / det (differentiating a written-out 3x3
        inverse takes SymPy minutes), else SymPy's own derivatives, unsimplified."""
        try:
            return quotient_derivatives(self.objective, self.model)
        except NoClosedForm:
            return sp.Matrix([sp.diff(self.objective, p) for p in self.params]), sp.hessian(self.objective, self.params)

    @property
    def kind(self) -> str:
        return "MAP" if self.model.prior is not None else "MLE"

    def latex(self, expr) -> str:
        names = {s.symbol: s.latex for s in self.statistics}
        return sp.latex(expr, symbol_names=names)

    def _repr_markdown_(self) -> str:
        """In a notebook: the derivation stage by stage (derivations/show.py)."""
        from mlemap.derivations.show import as_markdown  # show imports this module

        return as_markdown(self)

    def _repr_latex_(self) -> str:
        """In a notebook that typesets LaTeX, and in nbconvert's PDF: the stages as LaTeX text and displays."""
        from mlemap.derivations.show import as_latex

        return as_latex(self)

    def _repr_html_(self) -> str:
        """In a notebook and its offline HTML: the stages with MathML formulas, no MathJax needed."""
        from mlemap.derivations.show import as_html

        return as_html(self)

    def __repr__(self) -> str:
        return (
            f"<Derivation of {self.model.name}: {self.kind}, "
            + ("closed form" if self.estimate is not None else "no closed form")
            + ">"
        )


def exact_statistics(deriv_stats: tuple[Statistic, ...], model: Model) -> dict[sp.Symbol, sp.Expr]:
    """Exact values of the sample statistics at the model's observed data, computed from the distinct rows and
    their counts: a sum is sum_rows count g(row), so 10^5 coin tosses cost two substitutions, not 10^5."""
    if not model.observed:
        return {}
    rows = [({s: sp.nsimplify(v) for s, v in row.items()}, k) for row, k in observed_counts(model)]
    found = {}
    for st in deriv_stats:
        values = [(st.expr.subs(row), k) for row, k in rows]
        if st.reduce == "sum":
            found[st.symbol] = sp.Add(*[k * v for v, k in values])
        else:  # an order statistic: the count does not matter
            found[st.symbol] = {"max": sp.Max, "min": sp.Min}[st.reduce](*[v for v, _ in values])
    return found


def model_key(model: Model) -> str:
    """The cache key of a model's derivation: every symbolic input, not its name or sampler."""
    support = sorted(model.support.items(), key=lambda kv: kv[0].name)
    observed = sorted((s.name, tuple(v)) for s, v in (model.observed or {}).items())
    constants = sorted(model.constants.items(), key=lambda kv: kv[0].name)
    params = [(p.symbol, p.domain) for p in model.params]
    return store.content_key(
        [model.data, params, model.density, model.prior, support, observed, constants, model.covariates]
        + [list(model.constraints), list(model.matrices)]
    )


def derive(model: Model) -> Derivation:
    """The model's derivation with its steps; from the disk cache when the model and this code are unchanged.
    Everything after the declaration's checks shares one budget, BUDGET_FACTOR x solve_seconds + BUDGET_SECONDS:
    a step it ends gives up (no closed form, saying which step ran out) instead of running on."""
    cut_short: list[str] = []  # steps the budget ended: what a faster machine would finish is not cached

    def compute() -> dict:
        check_declaration(model)
        with derivation_budget(budget_seconds(model.solve_seconds)):
            deriv = _derive(model)
            if not _simplified_derivatives(deriv):
                cut_short.append("the score and the Hessian")
        return {k: v for k, v in vars(deriv).items() if k != "model" and not k.startswith("_")}

    state = store.load_or_compute(
        "derivation",
        model_key(model),
        compute,
        keep=lambda st: not cut_short and not timed_out(st["no_closed_form"]),
    )
    return Derivation.revived(model, state)


def _simplified_derivatives(deriv: Derivation) -> bool:
    """The simplified score and Hessian, computed now so they are stored with the rest, within what is left of
    the budget. False when it runs out: they are then left to be computed when first asked for (by the
    numerics, outside the derivation), rather than holding up the derivation."""
    try:
        with budgeted("simplifying the score and the Hessian"):
            deriv.score, deriv.hessian  # noqa: B018 - cached_property: computing them stores them
    except OutOfTime:
        for name in ("score", "hessian", "_matrix_derivatives"):
            vars(deriv).pop(name, None)
        return False
    return True


def _solve_within_budget(deriv: Derivation, solve: Callable[[], None]) -> None:
    """Run the solving steps; when the derivation's budget runs out in them, give up on the estimate whatever
    was found so far (a candidate not yet ranked or checked is no answer), saying where it ran out."""
    try:
        with budgeted("solving for the estimate"):
            solve()
    except OutOfTime as exc:
        deriv.estimate, deriv.candidates, deriv.second_order = None, (), None
        deriv.boundary, deriv.piecewise, deriv.conditions, deriv.maximiser_set = False, False, (), ()
        deriv.no_closed_form = str(exc)


def _derive(model: Model) -> Derivation:
    params = model.param_symbols
    logp = log_density(model)
    logprior = log_prior(model)
    parts = separate(logp, model.data, params) or separate(by_groups(logp, model), model.data, params)
    if parts is None and (median := median_form(logp, model)) is not None:
        return _derive_median(model, logp, logprior, *median)
    if parts is None:
        i = sp.Idx("i")
        indexed = logp.xreplace({s: sp.IndexedBase(s.name)[i] for s in model.data})
        loglik = sp.Sum(indexed, (i, 1, n_obs))
        return Derivation(
            model,
            logp,
            logprior,
            (),
            loglik,
            None,
            "the log-density does not separate into f(theta) g(x) terms, so the score is a sum over "
            "the data with no closed-form root; the optimum is found numerically",
        )
    stats = []
    taken = {s.name for s in (*model.data, *params, *model.constants, n_obs)}
    ordered = sorted(
        parts,
        key=lambda g: (
            g != 1,
            sp.Poly(g, *model.data).total_degree() if g.is_polynomial(*model.data) else math.inf,
            str(g),
        ),
    )
    for g in ordered:
        if g == 1:
            stats.append(Statistic(n_obs, sp.Integer(1), "n"))
        else:
            sign = _sign_on_support(g, model)
            sym = sp.Symbol(_distinct(_stat_name(g), taken), real=True, **sign)
            stats.append(Statistic(sym, g, _stat_latex(g, model.data)))
    loglik = sp.Add(*[parts[st.expr] * st.symbol for st in stats])
    bounds = support_bounds(model)
    stats += [order_statistic(model, x, side) for x, side in dict.fromkeys((b.data, b.side) for b in bounds)]
    deriv = Derivation(model, logp, logprior, tuple(stats), loglik, None, None, bounds=bounds)
    deriv.observed_statistics = exact_statistics(deriv.statistics, model)
    _solve_within_budget(deriv, lambda: _solve(deriv))
    return deriv


def median_form(logp: sp.Expr, model: Model) -> tuple[sp.Symbol, sp.Expr, sp.Expr, sp.Expr] | None:
    """log p = f0(theta) + f1(theta) |x - mu| with f1 < 0 on the domains (the Laplace law): (mu, |x - mu|, f1,
    f0); None for any other form. Sum_i |x_i - mu| is least at the median, whatever f0 and f1."""
    if len(model.data) != 1 or model.covariates or model.constraints or model.matrices or model.prior is not None:
        return None
    (x,) = model.data
    atoms = [a for a in logp.atoms(sp.Abs) if a.has(x)]
    if len(atoms) != 1:
        return None
    (atom,) = atoms
    located = [p for p in model.param_symbols if atom.has(p)]
    if len(located) != 1 or sp.expand(atom.args[0] ** 2 - (x - located[0]) ** 2) != 0:
        return None
    mu = located[0]
    f1 = sp.expand(logp).coeff(atom)
    f0 = sp.expand(logp - f1 * atom)
    if f1.has(x, mu) or f0.has(x, mu) or not f1.xreplace(_sign_symbols(model)).is_negative:
        return None
    return mu, atom, f1, f0


def median_profile(d: Derivation) -> tuple[sp.Symbol, sp.Expr]:
    """The location of a median-form derivation and its log-likelihood at the median, n f0 + f1 D, in the other
    parameters and the statistic D = sum_i |x_i - median|."""
    found = median_form(d.log_density, d.model)
    assert found is not None, "median_profile asked of a derivation without order_form"
    mu, _, f1, f0 = found
    spread = next(s.symbol for s in d.statistics if s.reduce == "absdev")
    return mu, n_obs * f0 + f1 * spread


def _derive_median(model: Model, logp, logprior, mu: sp.Symbol, atom, f1, f0) -> Derivation:
    """mu = the sample median: unique for odd n; for even n every point between the two middle observations
    maximises, and the midpoint (a maximiser, like any of them) is given. The other parameters are solved with
    D = sum_i |x_i - mu| at it, a statistic."""
    (x,) = model.data
    median = Statistic(
        sp.Symbol(f"med_{x.name}", real=True), x, rf"\operatorname{{med}}_{{i}} {sp.latex(x)}_{{i}}", "median"
    )
    spread = Statistic(
        sp.Symbol(f"D_{x.name}", nonnegative=True),
        x,
        rf"\sum_{{i=1}}^{{n}} \left|{sp.latex(x)}_{{i}} - \operatorname{{med}}_{{j}} {sp.latex(x)}_{{j}}\right|",
        "absdev",
    )
    i = sp.Idx("i")
    loglik = sp.Sum(logp.xreplace({x: sp.IndexedBase(x.name)[i]}), (i, 1, n_obs))
    stats = (Statistic(n_obs, sp.Integer(1), "n"), median, spread)
    deriv = Derivation(model, logp, logprior, stats, loglik, None, None, order_form=True)
    profile = n_obs * f0 + f1 * spread.symbol
    _solve_within_budget(deriv, lambda: _solve_profile(deriv, {mu: median.symbol}, profile))
    return deriv


def _solve_profile(deriv: Derivation, located: dict[sp.Symbol, sp.Expr], profile: sp.Expr) -> None:
    """The parameters other than the located ones (the median) from the profile log-likelihood's score."""
    model = deriv.model
    rest = tuple(p for p in model.param_symbols if p not in located)
    try:
        solutions = _solve_stationary(profile, rest, model.solve_seconds) if rest else [{}]
        inside = admissible(model, [{**located, **s} for s in solutions])
        if len(inside) != 1:
            raise NoClosedForm(f"{len(inside)} stationary points of the profile log-likelihood inside the domains")
    except NoClosedForm as exc:
        deriv.no_closed_form = str(exc)
        return
    deriv.estimate, deriv.candidates = inside[0], tuple(inside)


def observation_derivatives(d: Derivation) -> tuple[sp.Matrix, sp.Matrix]:
    """The score and Hessian of one observation's log-density: summed over the data, they make the Newton step
    theta - H^-1 g of a model solved numerically (for the logistic regression, x (y - sigma) and -sigma (1 - sigma)
    x x^T: iteratively reweighted least squares)."""
    logp = d.log_density.subs(d.model.constants)

    def tidy(expr: sp.Expr) -> sp.Expr:  # exponentials merged (e^(a u1 + b u2)), one fraction, factored
        return sp.powsimp(sp.factor(sp.together(expr)), combine="exp")

    score = sp.Matrix([tidy(sp.diff(logp, p)) for p in d.params])
    hessian = sp.Matrix(len(d.params), len(d.params), lambda i, j: tidy(sp.diff(logp, d.params[i], d.params[j])))
    return score, hessian


def order_statistic(model: Model, x: sp.Symbol, side: str) -> Statistic:
    latex = rf"\{side}_{{i}} {sp.latex(x)}_{{i}}"
    return Statistic(order_symbol(model, x, side), x, latex, side)


def order_statistics(deriv: Derivation) -> dict[Bound, sp.Symbol]:
    """Each support bound with the symbol of the order statistic that bounds its parameter."""
    by_side = {(s.expr, s.reduce): s.symbol for s in deriv.statistics}  # a bound's side is "max" or "min"
    return {b: by_side[(b.data, b.side)] for b in deriv.bounds}


def _sign_on_support(g: sp.Expr, model: Model) -> dict[str, bool]:
    """The sign a sum of g over the data is known to have: positive when g is positive on the support (then the
    complex and negative roots of a score equation in it can be discarded), else nonnegative, else unknown."""
    if isinstance(g, sp.KroneckerDelta):  # a count
        return {"nonnegative": True}
    on_support = {}
    for x in model.data:
        support = model.support.get(x, sp.Reals)
        if support.is_subset(sp.Interval.open(0, sp.oo)):
            on_support[x] = sp.Dummy(positive=True)
        elif support.is_subset(sp.Interval(0, sp.oo)):
            on_support[x] = sp.Dummy(nonnegative=True)
    value = g.xreplace(on_support)
    if value.is_positive or g.is_positive:
        return {"positive": True}
    if value.is_nonnegative or g.is_nonnegative:
        return {"nonnegative": True}
    return {}


def _solve(deriv: Derivation) -> None:
    model = deriv.model
    objective = deriv.objective.subs(deriv.observed_statistics)
    if model.constraints:
        _solve_constrained(deriv, objective)
        return
    if model.matrices:
        _solve_matrix(deriv, objective)
        return
    if needs_pieces(objective, deriv.params):
        _solve_pieces(deriv, objective)
        return
    try:
        edges, where = support_maximum(objective.subs(model.constants), model, order_statistics(deriv))
        rest = tuple(p for p in deriv.params if p not in edges)
        solutions = _solve_stationary(objective.subs(edges), rest, model.solve_seconds) if rest else [{}]
    except FlatMaximum as exc:
        deriv.no_closed_form = str(exc)
        deriv.maximiser_set = (exc.param, *(e.subs(deriv.observed_statistics) for e in exc.interval))
        return
    except NoClosedForm as exc:
        deriv.no_closed_form = str(exc)
        return
    deriv.conditions = tuple(
        c.subs(deriv.observed_statistics) for c in where if c.subs(deriv.observed_statistics) != sp.true
    )
    edges = {p: v.subs(deriv.observed_statistics) for p, v in edges.items()}
    solutions = [{**edges, **s} for s in solutions]
    inside = admissible(model, solutions)
    if not inside:
        edge = boundary_maximum(objective.subs(model.constants), model)
        if edge is not None:
            deriv.estimate, deriv.boundary = edge, True
            return
        deriv.no_closed_form = f"no stationary point inside the parameter domain (SymPy found {len(solutions)} outside)"
        return
    deriv.candidates = tuple(inside)
    try:
        with time_limit(model.solve_seconds or SOLVE_SECONDS, "ranking the stationary points"):
            best = _pick_maximum(objective.subs(model.constants), inside)
    except NoClosedForm as exc:
        facts = counts_sum_to_n(model, deriv.statistics, n_obs)  # the counts of a finite support add up to n
        found = quadratic_root(objective.subs(model.constants), model.params[0], facts) if len(rest) == 1 else None
        if found is None:
            deriv.no_closed_form = str(exc)
            return
        best = {**edges, rest[0]: found[0]}
        deriv.conditions += found[1]
    deriv.estimate = best
    if _within_declared_range(deriv, objective, edges):
        return
    if not edges:  # at a support bound the maximum is not a stationary point: no second-order condition
        deriv.second_order = _second_order(deriv, objective, best)


def _solve_pieces(deriv: Derivation, objective: sp.Expr) -> None:
    """A kinked objective: one parameter gets the Piecewise maximiser, several are solved numerically."""
    model = deriv.model
    if len(model.params) != 1 or deriv.bounds or model.constraints or model.matrices:
        deriv.no_closed_form = (
            "the objective has kinks (|.|, max, min or a Piecewise) and more than one parameter, a support bound or "
            "a constraint; the optimum is found numerically"
        )
        return
    try:
        value = piecewise_maximum(objective.subs(model.constants), model.params[0], model.solve_seconds)
    except NoClosedForm as exc:
        deriv.no_closed_form = str(exc)
        return
    deriv.estimate, deriv.piecewise = {model.params[0].symbol: value}, True  # solved piece by piece, at numbers too


def _within_declared_range(deriv: Derivation, objective: sp.Expr, edges: Mapping) -> bool:
    """A stationary point that may leave the domain through a closed end: one parameter gets the projection onto
    the domain where the objective is proved concave; otherwise the closed form carries the conditions under
    which it lies in the domain. True when the estimate was replaced."""
    model, best = deriv.model, deriv.estimate or {}
    crossing = [p for p in model.params if p.symbol not in edges and crosses_closed_end(best[p.symbol], p)]
    if not crossing:
        return False
    if len(model.params) == 1:
        try:
            value = piecewise_maximum(objective.subs(model.constants), crossing[0], model.solve_seconds)
        except NoClosedForm:
            pass
        else:
            deriv.estimate, deriv.piecewise = {crossing[0].symbol: value}, True
            return True
    deriv.conditions += tuple(_lies_in(best[p.symbol], p.domain) for p in crossing)
    return False


def _lies_in(value: sp.Expr, domain: sp.Interval) -> sp.Basic:
    """value in the interval, written as inequalities in the statistics."""
    conds = []
    if domain.start.is_finite:
        conds.append(relation(value - domain.start, sp.StrictGreaterThan if domain.left_open else sp.GreaterThan))
    if domain.end.is_finite:
        conds.append(relation(domain.end - value, sp.StrictGreaterThan if domain.right_open else sp.GreaterThan))
    return sp.And(*conds)


def _solve_constrained(deriv: Derivation, objective: sp.Expr) -> None:
    """Lagrange's stationary points inside the domains, the highest one, its counts written in n."""
    model = deriv.model
    try:
        points = lagrange_points(objective, model, model.solve_seconds or SOLVE_SECONDS)
        inside = admissible(model, points)
        if not inside:
            raise NoClosedForm(f"no stationary point of the Lagrangian inside the domains ({len(points)} outside)")
        deriv.candidates = tuple(inside)
        best = _pick_maximum(objective.subs(model.constants), inside)
    except NoClosedForm as exc:
        deriv.no_closed_form = str(exc)
        return
    relations = counts_sum_to_n(model, deriv.statistics, n_obs)
    deriv.estimate = {p: sp.factor(v.subs(relations)) for p, v in best.items()}
    if relations and all(s.symbol != n_obs for s in deriv.statistics):  # the counts' sum is now n: a statistic
        deriv.statistics = (Statistic(n_obs, sp.Integer(1), "n"), *deriv.statistics)
        if deriv.observed_statistics and model.observed:
            deriv.observed_statistics = {
                n_obs: sp.Integer(len(next(iter(model.observed.values())))),
                **deriv.observed_statistics,
            }


def _solve_matrix(deriv: Derivation, objective: sp.Expr) -> None:
    """Matrix calculus for a positive-definite matrix parameter; no second-order minors (positive-definiteness
    of the 2d + d(d-1)/2 parameters' Hessian is the numerics' negative_definite check)."""
    model = deriv.model
    try:
        points = matrix_stationary(objective.subs(model.constants), model, model.solve_seconds or SOLVE_SECONDS)
    except NoClosedForm as exc:
        deriv.no_closed_form = str(exc)
        return
    inside = admissible(model, points)
    if len(inside) != 1:
        deriv.no_closed_form = f"{len(inside)} stationary points of the matrix route inside the domains"
        return
    deriv.candidates, deriv.estimate = tuple(inside), inside[0]


def estimate_at(d: Derivation, statistics: Mapping[sp.Symbol, sp.Expr]) -> dict[sp.Symbol, sp.Expr] | None:
    """The MLE/MAP at the given exact statistics. A closed form in the statistics is evaluated there when its
    value lies in the parameter domain; otherwise (a form that holds only for some data, or one derived at the
    model's observed data) the score is solved anew at these statistics."""
    exact = {s.symbol: sp.sympify(statistics[s.symbol], strict=True) for s in d.statistics}  # numbers, never text
    if not d.observed_statistics and d.estimate is not None:
        values = {p: v.subs(exact) for p, v in d.estimate.items()}
        if all(v.is_finite for v in values.values()) and _in_domain(d.model, values):
            return values
    found = d.estimate
    if not (d.observed_statistics and all(exact[k] == v for k, v in d.observed_statistics.items())):
        again = Derivation(d.model, d.log_density, d.log_prior, d.statistics, d.loglik, None, None, bounds=d.bounds)
        again.observed_statistics = exact
        _solve(again)
        found = again.estimate
    # solved at numbers, an estimate can still be a statistic itself (a bound at the sample maximum)
    return None if found is None else {p: v.subs(exact) for p, v in found.items()}


def _domains(model: Model) -> dict[sp.Symbol, sp.Set]:
    return {p.symbol: p.domain for p in model.params}


def _second_order(deriv: Derivation, objective: sp.Expr, solution) -> SecondOrder:
    """Hessian at the stationary point, written in the parameters where the statistics allow it.

    The log-likelihood is linear in the sample statistics, so at a stationary point the score equations
    can be solved for some statistics instead of the parameters; substituting those into the Hessian
    expresses it through the (domain-restricted) parameters, whose assumptions often decide the signs.
    """
    params = deriv.params
    hess = sp.hessian(objective, params).subs(deriv.model.constants)
    best = None
    if not deriv.observed_statistics:
        grad = [sp.diff(objective, p).subs(deriv.model.constants) for p in params]
        free = [s.symbol for s in deriv.statistics if s.symbol != n_obs and any(g.has(s.symbol) for g in grad)]
        # Highest-order statistics first (the data's second moments): the first set the score equations
        # determine leaves the Hessian in the parameters and the lowest moments.
        for combo in itertools.combinations(reversed(free), len(params)):
            try:
                sol = sp.solve(grad, combo, dict=True)
            except NotImplementedError:
                continue
            if len(sol) != 1 or set(sol[0]) != set(combo):
                continue
            h = sp.simplify(hess.subs(sol[0]))
            best = SecondOrder(h, *_minors_status(-h, _domains(deriv.model)))
            break
    if best is None:
        h = sp.simplify(hess.subs(solution))
        minors, status, conds = _minors_status(-h, _domains(deriv.model))
        best = SecondOrder(h, minors, status, conds)
    return best
