"""A model is a declaration: data symbols, parameters with domains, a density, optionally a prior."""

from __future__ import annotations

import functools
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp


class InputError(ValueError):
    """Bad user input: the message names the input and the rule it breaks."""


@dataclass(frozen=True)
class Parameter:
    symbol: sp.Symbol
    domain: sp.Set = sp.Reals
    description: str = ""

    @property
    def name(self) -> str:
        return self.symbol.name


@dataclass(frozen=True)
class Model:
    """Declarative metadata plus a per-observation density, in the manner of sympy.stats.

    density: p(data | params) for one observation, a SymPy expression.
    prior: an (unnormalised) density of the parameters; None means a flat prior, i.e. the MLE.
    support: the set each data symbol's values must lie in.
    observed: fixed data given by the exercise (exact values); the answers are derived at it.
    simulate: draws a seeded sample (rng, n, truth) -> {data name: array}, truth keyed by parameter name.
    truth: the parameter values simulate draws at (the Monte Carlo checks compare against them).
    constants: known quantities that are not estimated (symbol -> exact value).
    covariates: data symbols that are conditioned on, not modelled; they must not be constant.
    constraints: equations in the parameters (sympy.Eq); the MLE/MAP is a stationary point of the Lagrangian,
        and the numerics write the last parameters in the others to stay on the feasible set.
    matrices: symmetric sp.Matrix objects whose entries are parameters, declared positive definite (a
        covariance); solved by matrix calculus, and the numerics keep them positive definite.
    tolerances: per-model overrides of the numerical checks' tolerances (numerics.results and numerics.montecarlo name them).
    peer: an established estimate of the same parameters computed without SymPy (a scipy.stats fit, least
        squares): data -> {parameter name: value}; its docstring names it in the check table.
    """

    name: str
    title: str
    data: tuple[sp.Symbol, ...]
    params: tuple[Parameter, ...]
    density: sp.Expr
    prior: sp.Expr | None = None
    support: Mapping[sp.Symbol, sp.Set] = field(default_factory=dict)
    min_n: int = 1
    observed: Mapping[sp.Symbol, tuple] | None = None
    simulate: Callable[[np.random.Generator, int, Mapping[str, float]], dict[str, np.ndarray]] | None = None
    truth: Mapping[str, float] = field(default_factory=dict)
    constants: Mapping[sp.Symbol, sp.Expr] = field(default_factory=dict)
    covariates: tuple[sp.Symbol, ...] = ()
    tolerances: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    peer: Callable[[Mapping[str, np.ndarray]], Mapping[str, float]] | None = None
    solve_seconds: float | None = None  # SymPy's time for the score equations; None: derivations.solve.SOLVE_SECONDS
    constraints: tuple[sp.Equality, ...] = ()  # equations the parameters satisfy (a simplex: Eq(p1 + p2 + p3, 1))
    matrices: tuple[sp.Matrix, ...] = ()  # symmetric matrices of parameters, each positive definite (a covariance)

    def __post_init__(self):
        # keys by name or by symbol alike: observed data by data symbol, truth and the peer's by parameter name
        if self.observed is not None:
            object.__setattr__(self, "observed", observed_by_symbol(self))
        object.__setattr__(self, "truth", truth_by_name(self))
        if self.peer is not None and not getattr(self.peer, "keys_by_name", False):
            object.__setattr__(self, "peer", peer_by_name(self.name, self.peer))
        if _named(self.prior) and isinstance(self.params, (tuple, list)):
            from mlemap.derivations.distributions import prior_expression  # it imports this module

            prior, notes = prior_expression(self.name, tuple(self.params), self.prior)
            object.__setattr__(self, "prior", prior)
            object.__setattr__(self, "notes", (*self.notes, *notes))
        check_declared(self)

    @classmethod
    def from_distribution(cls, dist: object, *arguments: object, known=None, data=None, **keywords) -> Model:
        """A model of one data column from a named distribution, its density, support, sampler, truth and peer
        filled in.

            Model.from_distribution("gamma", shape=2, scale=theta)      # 2 is known, theta is estimated
            Model.from_distribution("gamma", known={"shape": 2})          # scale: its usual symbol, theta
            Model.from_distribution(sympy.stats.Gamma("X", 2, theta))    # a sympy.stats random variable
            Model.from_distribution(sympy.stats.Gamma, 2, theta)           # a constructor and its arguments
            Model.from_distribution("bernoulli", p=theta, prior=Beta(2, 2), observed={"x": [0, 1, 1]})

        dist: a name (below), a sympy.stats random variable, distribution, or constructor. Its parameters come in
        sympy.stats' order as positions, or by name: a SymPy symbol is estimated, a number is known (a float is
        the decimal it prints as), one left out is estimated under its usual symbol; known= names known ones.
        Names and parameters (sympy.stats' parametrisation; scipy.stats' samples and fits):
            normal(mean, sd) or (mean, variance=...); exponential(rate); gamma(shape, scale); poisson(rate);
            bernoulli(p); geometric(p), on 1, 2, ...; binomial(n, p), n known; beta(alpha, beta);
            lognormal(mean, sd) of log x; rayleigh(scale); laplace(location, scale); weibull(scale, shape);
            pareto(scale, shape).
        data: the data symbol or its name (x). The model's other fields pass through (name, title, prior, observed,
        truth, tolerances, notes, min_n, solve_seconds) and simulate or peer replace scipy's. The peer is
        scipy.stats' fit with the known parameters fixed; scipy.optimize on its log-density where there is no fit
        (a discrete distribution) or a prior by name (Beta, Gamma, Normal); none for a prior written out."""
        from mlemap.derivations.distributions import model_from_distribution  # it imports this module

        return model_from_distribution(dist, *arguments, known=known, data=data, **keywords)

    @property
    def param_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(p.symbol for p in self.params)

    def validate(self, data: Mapping[str, object]) -> dict[str, np.ndarray]:
        """Return the data as float64 arrays, or raise InputError naming the input and the rule."""
        return validate_data(self, data)

    def draw(self, rng: np.random.Generator, n: int, truth: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
        """n draws of the simulate hook at truth (the model's own by default), validated. The hook is the sheet's
        own code: whatever it raises, a sys.exit() included, is one line naming the model; Ctrl-C stays Ctrl-C."""
        if self.simulate is None:
            raise InputError(f"{self.name}: declares no simulate hook to draw data from")
        try:
            drawn = self.simulate(rng, n, self.truth if truth is None else truth)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - the sheet's hook failed in any way: say so in one line
            text = " ".join(str(exc).split())
            raise InputError(f"{self.name}: its simulate hook raised {type(exc).__name__}: {text}") from None
        return self.validate(drawn)


def _named(prior: object) -> bool:
    """A prior by name (Beta(2, 2)) or a mapping of parameter to prior, which Model turns into its expression."""
    return isinstance(prior, Mapping) or type(prior).__name__ == "Prior"


def observed_by_symbol(model: Model) -> dict[sp.Symbol, tuple]:
    """The observed data keyed by the data symbols: a key may be a data symbol, its name, or a symbol of that
    name (its assumptions aside); each column a sequence of values."""
    if not isinstance(model.observed, Mapping):
        raise InputError(
            f"{model.name}: observed must map data names (or symbols) to values, got {type(model.observed).__name__}"
        )
    by_name = {s.name: s for s in model.data} if isinstance(model.data, (tuple, list)) else {}
    keyed = {}
    for key, values in model.observed.items():
        if not isinstance(key, (str, sp.Symbol)):
            raise InputError(
                f"{model.name}: observed data keys must be data names or symbols ({sorted(by_name)}), got {key!r} "
                f"({type(key).__name__})"
            )
        name = key if isinstance(key, str) else key.name
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise InputError(f"{model.name}: observed data '{name}' must be a list or array of values, got {values!r}")
        column = values if isinstance(values, np.ndarray) else tuple(values)  # an array keeps its dtype (object)
        keyed[key if key in model.data else by_name.get(name, sp.Symbol(name))] = column
    return keyed


def truth_by_name(model: Model) -> dict[str, object]:
    """The truth keyed by parameter name: a key may be the name or the parameter's symbol."""
    if not isinstance(model.truth, Mapping):
        raise InputError(f"{model.name}: truth must map parameter names to values, got {type(model.truth).__name__}")
    odd = next((k for k in model.truth if not isinstance(k, (str, sp.Symbol))), None)
    if odd is not None:
        raise InputError(
            f"{model.name}: truth's keys must be parameter names or symbols, got {odd!r} ({type(odd).__name__})"
        )
    return {k if isinstance(k, str) else k.name: v for k, v in model.truth.items()}


def peer_by_name(model_name: str, peer: Callable) -> Callable:
    """The peer, its estimates keyed by parameter name whether it keys them by name or by symbol."""
    if not callable(peer):
        raise InputError(f"{model_name}: peer must be a function of the data, got {type(peer).__name__}")

    @functools.wraps(peer)
    def keyed(data):
        found = peer(data)
        if not isinstance(found, Mapping):
            raise InputError(f"{model_name}: its peer must return parameter name -> value, got {type(found).__name__}")
        odd = next((k for k in found if not isinstance(k, (str, sp.Symbol))), None)
        if odd is not None:
            raise InputError(f"{model_name}: its peer's keys must be parameter names or symbols, got {odd!r}")
        return {k if isinstance(k, str) else k.name: v for k, v in found.items()}

    keyed.keys_by_name = True  # type: ignore[attr-defined]
    return keyed


def observed_counts(model: Model) -> list[tuple[dict[sp.Symbol, object], int]]:
    """The observed data as their distinct rows (values as given), each with how often it occurs. Sums over the
    data are sums over these, times the counts: 10^5 coin tosses are two rows, so no symbolic work grows with n."""
    if not model.observed:
        return []
    counts = Counter(zip(*[model.observed[s] for s in model.data]))
    return [(dict(zip(model.data, row)), k) for row, k in counts.items()]


def check_declared(model: Model) -> None:
    """What a model must hold where it is declared, before anything uses it (the rest is checked when it is derived,
    in derivations.declaration): a parameter to estimate, constants that are finite real numbers, and a prior
    without nan or an infinity that is nowhere negative on the parameters' domains."""
    if not model.params:
        raise InputError(f"{model.name}: declares no parameter; a model needs at least one to estimate")
    if not isinstance(model.params, (tuple, list)):
        raise InputError(f"{model.name}: params must be a tuple of Parameter, got {type(model.params).__name__}")
    odd = next((p for p in model.params if not isinstance(p, Parameter)), None)
    if odd is not None:
        raise InputError(f"{model.name}: params must be a tuple of Parameter, got {odd!r} ({type(odd).__name__})")
    if not isinstance(model.constants, Mapping):
        raise InputError(f"{model.name}: constants must map symbols to numbers, got {type(model.constants).__name__}")
    for symbol, value in model.constants.items():
        try:
            number = None if isinstance(value, bool) else sp.sympify(value, strict=True)
        except (sp.SympifyError, TypeError, ValueError):
            number = None
        if not (isinstance(number, sp.Expr) and number.is_number and number.is_real and number.is_finite):
            raise InputError(f"{model.name}: the constant {symbol} must be a finite real number, got {value!r}")
    if isinstance(model.prior, sp.Expr):
        if model.prior.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            raise InputError(f"{model.name}: the prior contains nan or an infinity: {model.prior}")
        check_prior_sign(model)


PRIOR_GRID = 200  # points per parameter where a prior's sign is looked at when it is declared
PRIOR_CANDIDATES = 5  # negative grid values confirmed exactly, at most


def check_prior_sign(model: Model) -> None:
    """A prior negative somewhere in the domains is refused: at the two points the derivation checks exactly
    (derivations.declaration, with its message), then on a grid of each domain, a negative value there confirmed
    exactly (a float's rounding is not a negative prior). Constrained and matrix parameters are left to the
    derivation."""
    if model.constraints or model.matrices:
        return
    from mlemap.derivations.declaration import check_prior, parameter_points  # it imports this module

    for point in parameter_points(model):
        check_prior(model, point)
    constants = tuple(sorted(model.constants.items(), key=lambda kv: str(kv[0])))
    try:
        found = _negative_on_grid(model.prior, constants, tuple((p.symbol, p.domain) for p in model.params))
    except TypeError:  # something unhashable: a declaration the derivation refuses, with its own message
        return
    if found is not None:
        at, value = found
        shown = ", ".join(f"{symbol} = {v:.4g}" for symbol, v in at)
        raise InputError(f"{model.name}: the prior must be non-negative; at {shown} it is {value:.4g}")


def _grid(domain: object, shift: int) -> np.ndarray | None:
    """PRIOR_GRID points inside the domain (None for a domain that is not an interval), in an order of its own for
    each parameter, so that several parameters' grids, taken together, pair different values."""
    u = np.roll((np.arange(PRIOR_GRID) + 0.5) / PRIOR_GRID, 37 * shift)
    if domain == sp.Reals:
        return np.tan(np.pi * (u - 0.5))
    if not isinstance(domain, sp.Interval) or not (domain.start.is_number and domain.end.is_number):
        return None
    lo, hi = float(domain.start), float(domain.end)
    if np.isfinite(lo) and np.isfinite(hi):
        return lo + (hi - lo) * u
    if np.isfinite(lo):
        return lo + u / (1 - u)
    return hi - u / (1 - u) if np.isfinite(hi) else np.tan(np.pi * (u - 0.5))


@functools.lru_cache(maxsize=256)
def _negative_on_grid(prior: sp.Expr, constants: tuple, domains: tuple) -> tuple[tuple, float] | None:
    """((symbol, value) pairs, the prior there) at the first grid point where the prior is negative, exactly."""
    symbols = [symbol for symbol, _ in domains]
    expr = prior.subs(dict(constants))
    columns = [_grid(domain, k) for k, (_, domain) in enumerate(domains)]
    if expr.free_symbols - set(symbols) or any(c is None for c in columns):
        return None
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.broadcast_to(np.asarray(sp.lambdify(symbols, expr, "numpy")(*columns), float), (PRIOR_GRID,))
    except Exception:  # noqa: BLE001 - a prior numpy cannot evaluate: the derivation's exact checks stand
        return None
    for k in np.flatnonzero(values < 0)[:PRIOR_CANDIDATES]:
        at = tuple((symbol, float(column[k])) for symbol, column in zip(symbols, columns))  # type: ignore[index]
        value = expr.subs({symbol: sp.Rational(v) for symbol, v in at})
        if value.is_extended_negative:
            return at, float(value)
    return None


def in_support(values: np.ndarray, support: sp.Set) -> np.ndarray:
    """Which values lie in the support, for the sets data are declared in (any other set: its contains())."""
    whole = values == np.round(values)
    if support == sp.Reals:
        return np.ones(values.shape, dtype=bool)
    if isinstance(support, sp.FiniteSet):
        return np.isin(values, np.array([float(v) for v in support]))
    if support in (sp.Naturals0, sp.Naturals, sp.Integers):
        low = {sp.Naturals0: 0, sp.Naturals: 1}.get(support, -np.inf)
        return whole & (values >= low)
    if isinstance(support, sp.Range) and support.step == 1:  # an end that is a parameter bounds the parameter
        lo = float(support.start) if support.start.is_number else -np.inf
        hi = float(support.stop - 1) if support.stop.is_number else np.inf
        return whole & (values >= lo) & (values <= hi)
    if isinstance(support, sp.Interval):  # an end that is a parameter bounds the parameter, not the data
        lo = float(support.start) if support.start.is_number else -np.inf
        hi = float(support.end) if support.end.is_number else np.inf
        above = values > lo if support.left_open else values >= lo
        below = values < hi if support.right_open else values <= hi
        return above & below
    return _contains(values, support)


def _contains(values: np.ndarray, support: sp.Set) -> np.ndarray:
    """Each distinct value asked of SymPy, exactly (a float is the rational it stores)."""
    answers = {}
    for v in np.unique(values):
        answer = support.contains(sp.Rational(float(v)))
        if answer not in (sp.true, sp.false):
            raise InputError(f"cannot decide whether {v} lies in the data support {support}")
        answers[v] = bool(answer)
    return np.array([answers[v] for v in values], dtype=bool)


REFUSED_KINDS = {"c": "complex numbers", "m": "time spans", "M": "dates", "U": "strings", "S": "bytes", "V": "records"}


def as_float64(model_name: str, name: str, values: object) -> np.ndarray:
    """One data column as float64, or InputError: never a silent cast of complex numbers, dates or text."""
    if values is None:
        raise InputError(f"{model_name}: data '{name}' must be a list or array of real numbers, got None")
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{model_name}: data '{name}' must be real numbers ({exc})") from None
    if raw.dtype.kind in REFUSED_KINDS:
        raise InputError(
            f"{model_name}: data '{name}' must be real numbers, got {REFUSED_KINDS[raw.dtype.kind]} (dtype {raw.dtype})"
        )
    if raw.dtype.kind == "O":  # a mixed list: every element must already be a number, never text cast to one
        odd = next((v for v in raw.ravel() if not _is_real_number(v)), None)
        if odd is not None:
            raise InputError(f"{model_name}: data '{name}' must be real numbers, got {odd!r} ({type(odd).__name__})")
    try:
        return np.asarray(raw, dtype=np.float64)
    except OverflowError:
        raise InputError(
            f"{model_name}: data '{name}' must be real numbers within float64's range (|x| < 1.8e308)"
        ) from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{model_name}: data '{name}' must be real numbers ({exc})") from None


def _is_real_number(value: object) -> bool:
    """A Python or NumPy number (not a bool), or an exact SymPy one (a sheet's observed 1/2)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, sp.Expr):
        return bool(value.is_number and value.is_real)
    return isinstance(value, (int, float, np.integer, np.floating))


def validate_data(model: Model, data: Mapping[str, object]) -> dict[str, np.ndarray]:
    if not model.data:
        raise InputError(f"{model.name}: declares no data symbols, so there is no data to validate")
    if not isinstance(data, Mapping):
        raise InputError(f"{model.name}: data must be a mapping of column name to values, got {type(data).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for sym in model.data:
        if sym.name not in data:
            raise InputError(
                f"{model.name}: data '{sym.name}' is missing (the model needs {[s.name for s in model.data]})"
            )
        arr = as_float64(model.name, sym.name, data[sym.name])
        if arr.ndim != 1:
            raise InputError(f"{model.name}: data '{sym.name}' must be one-dimensional, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise InputError(f"{model.name}: data '{sym.name}' must be finite, got {arr[bad]} at index {bad}")
        support = model.support.get(sym, sp.Reals)
        ok = in_support(arr, support)
        if not np.all(ok):
            bad = int(np.flatnonzero(~ok)[0])
            raise InputError(f"{model.name}: data '{sym.name}' must lie in {support}, got {arr[bad]} at index {bad}")
        arrays[sym.name] = arr
    return _check_sizes(model, arrays)


def _check_sizes(model: Model, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sizes = {name: len(arr) for name, arr in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise InputError(f"{model.name}: data columns must have equal length, got {sizes}")
    n = next(iter(sizes.values()))
    if n < model.min_n:
        noun = "observation" if model.min_n == 1 else "observations"
        raise InputError(f"{model.name}: needs at least {model.min_n} {noun}, got {n}")
    for cov in model.covariates:
        values = arrays[cov.name]
        spread, size = float(np.ptp(values)), float(np.max(np.abs(values)))
        if spread == 0:
            raise InputError(
                f"{model.name}: covariate '{cov.name}' must not be constant (its slope is not identifiable)"
            )
        if spread < MIN_SPREAD * size:
            raise InputError(
                f"{model.name}: covariate '{cov.name}' must vary by at least {MIN_SPREAD:g} of its largest size "
                f"{size:.6g} for float64 to tell it from a constant, got a spread of {spread:.3g} (centre or rescale it)"
            )
    return arrays


MIN_SPREAD = 1e-6  # of a covariate's size: its variance from float64 sums is off by ~3e-15 / (spread/size)^2, 0.3% here


def exact_number(name: str, value: object) -> sp.Expr:
    """A number as SymPy holds it exactly: a float is the rational it stores (0.1 is not rounded to 1/10
    unless it was given as Rational(1, 10)), never nsimplify's guess."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        raise InputError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise InputError(f"{name} must be a finite number, got {value!r}")
        return sp.Rational(float(value))
    try:
        number = sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise InputError(f"{name} must be a real number, got {value!r}") from None
    if not (number.is_number and number.is_real and number.is_finite):
        raise InputError(f"{name} must be a finite real number, got {value!r}")
    return number
