"""Lambdify a Derivation once, with an explicit argument order; results are keyed by parameter name."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from mlemap.derivations.constraints import eliminated
from mlemap.derivations.constraints import residuals as constraint_residuals
from mlemap.derivations.engine import Derivation, estimate_at, n_obs
from mlemap.derivations.model import InputError
from mlemap.numerics.torch_optional import torch_module

if TYPE_CHECKING:  # torch is the extra mlemap[torch]: imported where a torch function is first used
    import torch


def _dirac_delta(x, k=0):
    """The derivative of an indicator (Heaviside) away from its jump, where the checks evaluate it: zero."""
    return np.zeros_like(np.asarray(x, dtype=float))


NUMPY_MODULES = [{"DiracDelta": _dirac_delta}, "scipy", "numpy"]


def _absolute_deviation(values: np.ndarray, axis=None) -> np.ndarray:
    """sum_i |x_i - median|: the Laplace law's spread at its location's estimate."""
    return np.sum(np.abs(values - np.median(values, axis=axis, keepdims=True)), axis=axis)


REDUCE: dict[str, Callable[..., np.ndarray]] = {  # over the observations
    "sum": np.sum,
    "max": np.max,
    "min": np.min,
    "median": np.median,
    "absdev": _absolute_deviation,
}
Params = Mapping[str, float]
Data = Mapping[str, np.ndarray]


def indicators_as_signs(expr: sp.Expr) -> sp.Expr:
    """[a = b] (KroneckerDelta) as 1 - |sign(a - b)|: SymPy prints the indicator as a Python conditional, which
    neither NumPy arrays nor torch tensors take."""
    return expr.replace(sp.KroneckerDelta, lambda a, b: 1 - sp.Abs(sp.sign(a - b)))


def torch_ready(expr: sp.Expr) -> sp.Expr:
    """torch functions take tensors, not Python numbers: fold constants like log(2) to floats first,
    and write log(x!) as lgamma(x + 1) and gamma through lgamma, which torch has."""
    expr = expr.replace(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.factorial),
        lambda e: sp.loggamma(e.args[0].args[0] + 1, evaluate=False),
    )
    # torch has lgamma but no gamma: data declared integer=True turn loggamma back into log(gamma(...)).
    expr = expr.replace(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.gamma),
        lambda e: sp.loggamma(e.args[0].args[0], evaluate=False),
    )
    # torch.heaviside wants its value at 0 as a tensor; (sign + 1) / 2 is SymPy's Heaviside, 1/2 at 0 included
    expr = expr.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: (sp.sign(e.args[0]) + 1) / 2)
    # binomial(n, k) = n! / (k! (n - k)!), through lgamma like the factorials
    expr = expr.replace(
        lambda e: isinstance(e, sp.binomial),
        lambda e: sp.exp(
            sp.loggamma(e.args[0] + 1, evaluate=False)
            - sp.loggamma(e.args[1] + 1, evaluate=False)
            - sp.loggamma(e.args[0] - e.args[1] + 1, evaluate=False)
        ),
    )
    expr = expr.replace(
        lambda e: isinstance(e, sp.factorial), lambda e: sp.exp(sp.loggamma(e.args[0] + 1, evaluate=False))
    )
    expr = expr.replace(lambda e: isinstance(e, sp.gamma), lambda e: sp.exp(sp.loggamma(e.args[0], evaluate=False)))
    return fold_numbers(expr)


def log_gammas(expr: sp.Expr) -> sp.Expr:
    """log(k!) as loggamma(k + 1) and log(Gamma(a)) as loggamma(a): factorial(171) overflows float64, its log
    does not (a Poisson count of 200 is ordinary data)."""
    expr = sp.sympify(expr, strict=True)  # a derived expression or a number, never text
    if not expr.has(sp.factorial, sp.gamma):
        return expr
    expr = expr.replace(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.factorial),
        lambda e: sp.loggamma(e.args[0].args[0] + 1, evaluate=False),
    )
    return expr.replace(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.gamma),
        lambda e: sp.loggamma(e.args[0].args[0], evaluate=False),
    )


def fold_numbers(expr: sp.Expr) -> sp.Expr:
    """Evaluate exact numeric subexpressions (log(2), CRootOf(...)) to 20-digit floats for lambdify."""
    return sp.sympify(expr).replace(lambda e: e.is_number and not e.is_Atom, lambda e: e.evalf(20))


def require_float64(tensor: torch.Tensor, what: str) -> torch.Tensor:
    """Gradient checks run in float64 only: float32 holds a log-likelihood of 10^4 points to about 1e-7."""
    if tensor.dtype != torch_module().float64:
        raise InputError(f"{what} must be float64 for gradient checks, got {tensor.dtype}")
    return tensor


class Compiled:
    """The derivation's expressions as NumPy and torch functions, each lambdified on first use. It refers to
    its derivation weakly: the registry of compiled() must not keep derivations alive."""

    def __init__(self, derivation: Derivation):
        self._derivation = weakref.ref(derivation)

    @property
    def derivation(self) -> Derivation:
        found = self._derivation()
        assert found is not None  # a Compiled is used only through compiled(d), while d lives
        return found

    @property
    def model(self):
        return self.derivation.model

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.derivation.params)

    @cached_property
    def _params(self) -> tuple[sp.Symbol, ...]:
        return self.derivation.params

    @cached_property
    def _stats(self) -> tuple[sp.Symbol, ...]:
        return tuple(s.symbol for s in self.derivation.statistics)

    def _expr(self, expr):
        return log_gammas(indicators_as_signs(sp.sympify(expr).subs(self.model.constants)))

    @cached_property
    def constraint_jacobian(self) -> Callable:
        """d(lhs - rhs) / d theta of every constraint, one row each, from the parameters in order."""
        residuals = sp.Matrix([self._expr(r) for r in constraint_residuals(self.model)])
        return sp.lambdify(self._params, residuals.jacobian(self._params), NUMPY_MODULES)

    @cached_property
    def constraint_residuals(self) -> Callable:
        """lhs - rhs of every constraint, from the parameters in order: zero on the feasible set."""
        return sp.lambdify(self._params, [self._expr(r) for r in constraint_residuals(self.model)], NUMPY_MODULES)

    @cached_property
    def elimination(self) -> tuple[tuple[str, ...], tuple[str, ...], Callable]:
        """The constraints solved for the last parameters: (free names, eliminated names, their values from the
        free ones in NumPy)."""
        solved = eliminated(self.model)
        free = tuple(p for p in self._params if p not in solved)
        values = [self._expr(solved[p]) for p in solved]
        return tuple(p.name for p in free), tuple(p.name for p in solved), sp.lambdify(free, values, NUMPY_MODULES)

    @cached_property
    def elimination_torch(self) -> Callable:
        """The eliminated parameters' values from the free ones, in torch."""
        solved = eliminated(self.model)
        free = [p for p in self._params if p not in solved]
        return sp.lambdify(free, [torch_ready(self._expr(solved[p])) for p in solved], "torch")

    # --- per observation: the declaration itself, summed over the raw data -------------------------
    @cached_property
    def _logp_np(self):
        return sp.lambdify(self._params + self.model.data, self._expr(self.derivation.log_density), NUMPY_MODULES)

    @cached_property
    def _logp_torch(self):
        return sp.lambdify(
            self._params + self.model.data, torch_ready(self._expr(self.derivation.log_density)), "torch"
        )

    @cached_property
    def _logprior_np(self):
        return sp.lambdify(self._params, self._expr(self.derivation.log_prior), NUMPY_MODULES)

    @cached_property
    def _logprior_torch(self):
        return sp.lambdify(self._params, torch_ready(self._expr(self.derivation.log_prior)), "torch")

    def objective_raw(self, theta: Params, data: Data) -> float:
        """sum_i log p(x_i | theta) + log p(theta), straight from the declared density."""
        args = [theta[k] for k in self.names]
        terms = np.broadcast_to(self._logp_np(*args, *(data[s.name] for s in self.model.data)), _length(data))
        return float(np.sum(terms) + self._logprior_np(*args))

    def objective_torch(self, theta: Mapping[str, torch.Tensor], data: Mapping[str, torch.Tensor]) -> torch.Tensor:
        args = [
            require_float64(theta[k], f"parameter '{k}'") if isinstance(theta[k], torch_module().Tensor) else theta[k]
            for k in self.names
        ]
        columns = [require_float64(data[s.name], f"data '{s.name}'") for s in self.model.data]
        terms = self._logp_torch(*args, *columns)
        tensor = torch_module().Tensor
        total = terms.sum() if isinstance(terms, tensor) and terms.ndim else terms * columns[0].numel()
        # 0 * theta: a parameter the objective does not depend on (a flat likelihood) gets a zero gradient, not none
        unused = sum(0.0 * a for a in args if isinstance(a, tensor))
        return total + self._logprior_torch(*args) + unused

    # --- through the sample statistics ---------------------------------------------------------------
    @cached_property
    def _stat_fns(self):
        return [
            sp.lambdify(self.model.data, log_gammas(indicators_as_signs(s.expr)), NUMPY_MODULES)
            for s in self.derivation.statistics
        ]

    def statistics(self, data: Data) -> dict[str, float]:
        columns = [data[s.name] for s in self.model.data]
        n = _length(data)
        out = {}
        with np.errstate(over="ignore", invalid="ignore"):
            for stat, fn in zip(self.derivation.statistics, self._stat_fns):
                reduce = REDUCE[stat.reduce]
                out[stat.symbol.name] = float(n if stat.symbol == n_obs else reduce(np.broadcast_to(fn(*columns), n)))
        for stat in self.derivation.statistics:
            if not np.isfinite(out[stat.symbol.name]):
                raise InputError(
                    f"{self.model.name}: data too large for float64: the statistic sum_i {stat.expr} is "
                    f"{out[stat.symbol.name]} (rescale the data)"
                )
        return out

    @cached_property
    def _objective_stats(self):
        return sp.lambdify(self._params + self._stats, self._expr(self.derivation.objective), NUMPY_MODULES)

    @cached_property
    def _score_stats(self):
        return sp.lambdify(self._params + self._stats, self._expr(self.derivation.score), NUMPY_MODULES)

    @cached_property
    def _hessian_stats(self):
        return sp.lambdify(self._params + self._stats, self._expr(self.derivation.hessian), NUMPY_MODULES)

    @cached_property
    def evaluator(self) -> Evaluator:
        return Evaluator(self)

    @cached_property
    def _objective_stats_torch(self):
        return sp.lambdify(self._params + self._stats, torch_ready(self._expr(self.derivation.objective)), "torch")

    def objective_stats_torch(self, theta: Mapping[str, torch.Tensor], stats: Mapping[str, float]) -> torch.Tensor:
        """The objective through the statistics, for autograd: O(1) per evaluation whatever n is.
        Statistics go in as Python floats so their data-only terms cost no torch dispatch."""
        return self._objective_stats_torch(*(theta[k] for k in self.names), *self.stat_args(stats))

    @cached_property
    def _quadratic(self):
        """theta^T A theta + b^T theta + c with A, b, c lambdified in the statistics; None unless the
        objective is a polynomial of degree <= 2 in the parameters (a Gaussian mean, a linear model's a, b)."""
        expr = self._expr(self.derivation.objective)
        if not expr.is_polynomial(*self._params) or sp.Poly(expr, *self._params).total_degree() > 2:
            return None
        k = len(self._params)
        hess = sp.hessian(expr, self._params)
        grad0 = [sp.diff(expr, p).subs({q: 0 for q in self._params}) for p in self._params]
        const = expr.subs({q: 0 for q in self._params})
        parts = (
            [fold_numbers(hess[i, j] / 2) for i in range(k) for j in range(k)]
            + [fold_numbers(g) for g in grad0]
            + [fold_numbers(const)]
        )
        return sp.lambdify(self._stats, parts, NUMPY_MODULES), k

    def quadratic_coefficients(self, stats: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(A, b, c) at the statistics, as float64 arrays, for whole-grid evaluations of the objective."""
        if self._quadratic is None:
            return None
        fn, k = self._quadratic
        values = np.array([float(v) for v in fn(*self.stat_args(stats))])
        return values[: k * k].reshape(k, k), values[k * k : k * k + k], float(values[-1])

    def quadratic_form(self, stats: Mapping[str, float]) -> tuple[torch.Tensor, torch.Tensor, float] | None:
        """(A, b, c) at the statistics, as float64 tensors, for O(1) autograd evaluations of the objective."""
        coefficients = self.quadratic_coefficients(stats)
        if coefficients is None:
            return None
        a, b, c = coefficients
        return torch_module().from_numpy(a), torch_module().from_numpy(b), c

    def stat_args(self, stats: Mapping[str, float] | Mapping[str, np.ndarray]) -> list:
        """The statistics in the order the functions of `numpy_in_statistics` take them, after the parameters."""
        return [stats[s.name] for s in self._stats]

    @property
    def numpy_in_statistics(self) -> tuple[Callable, Callable, Callable]:
        """Objective, score and Hessian as f(*params, *stat_args(stats)); they broadcast over arrays."""
        return self._objective_stats, self._score_stats, self._hessian_stats

    @property
    def numpy_per_observation(self) -> tuple[Callable, Callable]:
        """log p(x | theta) as f(*params, *data columns) and log p(theta) as g(*params); they broadcast."""
        return self._logp_np, self._logprior_np

    def objective(self, theta: Params, stats: Mapping[str, float]) -> float:
        return float(self._objective_stats(*(theta[k] for k in self.names), *self.stat_args(stats)))

    def score(self, theta: Params, stats: Mapping[str, float]) -> np.ndarray:
        return np.asarray(self._score_stats(*(theta[k] for k in self.names), *self.stat_args(stats)), float).ravel()

    def hessian(self, theta: Params, stats: Mapping[str, float]) -> np.ndarray:
        return np.asarray(self._hessian_stats(*(theta[k] for k in self.names), *self.stat_args(stats)), float)

    @cached_property
    def _estimate_fn(self):
        est = self.derivation.estimate
        return sp.lambdify(self._stats, [fold_numbers(self._expr(est[p])) for p in self._params], NUMPY_MODULES)

    def raw_estimate(self, stats: Mapping[str, float]) -> list:
        """The closed form's formula at the statistics, wherever its value lies (nan where no clause holds)."""
        with np.errstate(all="ignore"):
            return list(self._estimate_fn(*self.stat_args(stats)))

    def estimate(self, stats: Mapping[str, float]) -> dict[str, float] | None:
        """The closed-form MLE/MAP evaluated at the statistics; None when there is none. Where the closed form
        does not hold at these statistics (its value leaves the parameter domain, or it was derived at the
        model's observed data) the score is solved anew, exactly, the floats taken as the numbers they are."""
        d = self.derivation
        if d.estimate is None and not d.observed_statistics:
            return None
        if not d.observed_statistics:
            values = dict(zip(self.names, (float(v) for v in self._estimate_fn(*self.stat_args(stats)))))
            if all(np.isfinite(v) for v in values.values()) and self._inside(values):
                return values
        found = estimate_at(d, {s: sp.Rational(stats[s.name]) for s in self._stats})
        return None if found is None else {p.name: float(self._expr(found[p])) for p in self._params}

    def _inside(self, values: Mapping[str, float]) -> bool:
        """Each value in its parameter's (closed) domain: an open end is reached only in the limit."""
        return all(bool(par.domain.closure.contains(values[par.name])) for par in self.model.params)

    def statistics_rows(self, data: Data) -> dict[str, np.ndarray]:
        """Sample statistics of many samples at once: data columns of shape (replications, n)."""
        columns = [np.asarray(data[s.name]) for s in self.model.data]
        reps, n = columns[0].shape
        stats = {}
        for stat, fn in zip(self.derivation.statistics, self._stat_fns):
            stats[stat.symbol.name] = (
                np.full(reps, float(n))
                if stat.symbol == n_obs
                else REDUCE[stat.reduce](np.broadcast_to(fn(*columns), (reps, n)), axis=1)
            )
        return stats

    def estimate_rows(self, stats: Mapping[str, np.ndarray]) -> np.ndarray:
        """The closed form at many samples' statistics at once, one row per sample."""
        values = self._estimate_fn(*self.stat_args(stats))
        reps = len(next(iter(stats.values())))
        return np.column_stack([np.broadcast_to(np.asarray(v, float), reps) for v in values])


def _length(data: Data) -> int:
    return len(next(iter(data.values())))


_COMPILED: dict[int, Compiled] = {}  # by id of a live Derivation: numerics keeps its state to itself


def compiled(derivation: Derivation) -> Compiled:
    """One Compiled per Derivation object, so each expression is lambdified once; the entry goes when the
    derivation does. A copy of a derivation (a test's altered one) gets its own."""
    key = id(derivation)
    found = _COMPILED.get(key)
    if found is None or found.derivation is not derivation:
        found = Compiled(derivation)
        _COMPILED[key] = found
        weakref.finalize(derivation, _COMPILED.pop, key, None)
    return found


class Evaluator:
    """Score and Hessian of the objective on raw data: through the statistics where the model
    separates, else by summing the per-observation derivatives (the general fallback)."""

    def __init__(self, c: Compiled):
        self.c = c
        d = c.derivation
        if not d.separable:
            params, k = d.params, len(d.params)
            per_obs = list(sp.hessian(d.log_density, params)) + [sp.diff(d.log_density, p) for p in params]
            prior = list(sp.hessian(d.log_prior, params)) + [sp.diff(d.log_prior, p) for p in params]
            self._per_obs = [sp.lambdify(params + c.model.data, c._expr(e), NUMPY_MODULES) for e in per_obs]
            self._prior = [sp.lambdify(params, c._expr(e), NUMPY_MODULES) for e in prior]
            self._k = k

    @property
    def derivatives_per_observation(self) -> tuple[list[Callable], list[Callable]]:
        """Non-separable models: [Hessian entries..., score entries...] of log p as f(*params, *data columns),
        and the same of log p(theta) as g(*params)."""
        return self._per_obs, self._prior

    def _sums(self, theta: Params, data: Data) -> np.ndarray:
        args = [theta[k] for k in self.c.names]
        columns = [data[s.name] for s in self.c.model.data]
        n = _length(data)
        return np.array(
            [np.sum(np.broadcast_to(f(*args, *columns), n)) + g(*args) for f, g in zip(self._per_obs, self._prior)]
        )

    def score(self, theta: Params, data: Data) -> np.ndarray:
        if self.c.derivation.separable:
            return self.c.score(theta, self.c.statistics(data))
        return self._sums(theta, data)[self._k**2 :]

    def hessian(self, theta: Params, data: Data) -> np.ndarray:
        if self.c.derivation.separable:
            return self.c.hessian(theta, self.c.statistics(data))
        return self._sums(theta, data)[: self._k**2].reshape(self._k, self._k)
