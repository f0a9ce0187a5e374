"""A model is a declaration: data symbols, parameters with domains, a density, optionally a prior."""

from __future__ import annotations

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
        # observed data keyed by a data symbol's name, as simulate, truth and estimate() key theirs
        if self.observed and any(isinstance(k, str) for k in self.observed):
            by_name = {s.name: s for s in self.data}
            keyed = {
                by_name.get(k, sp.Symbol(k)) if isinstance(k, str) else k: tuple(v) for k, v in self.observed.items()
            }
            object.__setattr__(self, "observed", keyed)

    @property
    def param_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(p.symbol for p in self.params)

    def validate(self, data: Mapping[str, object]) -> dict[str, np.ndarray]:
        """Return the data as float64 arrays, or raise InputError naming the input and the rule."""
        return validate_data(self, data)


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
        raise InputError(f"{model.name}: needs at least {model.min_n} observations, got {n}")
    for cov in model.covariates:
        if np.ptp(arrays[cov.name]) == 0:
            raise InputError(
                f"{model.name}: covariate '{cov.name}' must not be constant (its slope is not identifiable)"
            )
    return arrays


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
