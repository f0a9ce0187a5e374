"""Checks of a model's declaration before anything is derived from it: the density is a SymPy expression in
the declared symbols, a probability density (non-negative, integrating or summing to 1 over the support at a
few parameter values), the prior is non-negative, and the observed data lie in the support."""

from __future__ import annotations

import math
import warnings

import numpy as np
import sympy as sp

from mlemap.derivations.constraints import check_constraints, eliminated
from mlemap.derivations.matrix import check_matrices
from mlemap.derivations.model import InputError, Model
from mlemap.derivations.support import support_bounds
from mlemap.derivations.text import check_text

TOLERANCE = 1e-6
FRACTIONS = (sp.Rational(3, 10), sp.Rational(7, 10))  # where in a bounded domain the checks look
OFFSETS = (sp.Rational(7, 10), sp.Rational(21, 10))  # how far from a one-sided domain's end
COVARIATE_VALUE = sp.Rational(1, 2)


def check_declaration(model: Model) -> None:
    """Raise InputError naming the model and the rule its declaration breaks."""
    check_text(model.name, "a model's name")
    check_text(model.title, f"{model.name}: its title")
    for k, note in enumerate(model.notes):
        check_text(note, f"{model.name}: note {k + 1}")
    check_symbols(model)
    seconds = model.solve_seconds
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf
    ):
        raise InputError(f"{model.name}: solve_seconds must be a positive number of seconds, got {seconds!r}")
    support_bounds(model)  # a parameter-dependent support the engine cannot use, named before anything else
    points = parameter_points(model)
    if model.constraints:
        check_constraints(model)
        points = on_constraints(model, points)
    if model.matrices:
        check_matrices(model)
        points = []  # independent points of the entries are rarely positive definite: the density is not integrated
    for point in points:
        check_normalised(model, point)
        check_prior(model, point)
    if model.observed:
        unknown = [str(k) for k in model.observed if k not in model.data]
        if unknown:
            raise InputError(
                f"{model.name}: observed data name {unknown[0]!r}, which is not a data symbol "
                f"(the model's are {[s.name for s in model.data]})"
            )
        missing = [s.name for s in model.data if s not in model.observed]
        if missing:
            raise InputError(f"{model.name}: observed data give no column for {missing[0]!r}")
        model.validate({s.name: model.observed[s] for s in model.data})


def check_symbols(model: Model) -> None:
    density = model.density
    if (type(density).__module__ or "").startswith("sympy.stats"):
        raise InputError(
            f"{model.name}: the density is a sympy.stats random variable; pass its density as an expression, density(X)(x)"
        )
    if not isinstance(density, sp.Expr):
        raise InputError(f"{model.name}: the density must be a SymPy expression, got {type(density).__name__}")
    declared = set(model.data) | set(model.param_symbols) | set(model.constants)
    for name, expr in (
        (name, expr) for name, expr in (("density", density), ("prior", model.prior)) if expr is not None
    ):
        if not isinstance(expr, sp.Expr):
            raise InputError(f"{model.name}: the {name} must be a SymPy expression, got {type(expr).__name__}")
        undeclared = sorted(s.name for s in expr.free_symbols - declared)
        if undeclared:
            raise InputError(
                f"{model.name}: the {name} uses {undeclared[0]!r}, which is neither data, a parameter nor a constant"
            )
        undefined = sorted({str(f.func) for f in expr.atoms(sp.core.function.AppliedUndef)})
        if undefined:
            raise InputError(f"{model.name}: the {name} uses the undefined function {undefined[0]!r}; write it out")
        if expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            raise InputError(f"{model.name}: the {name} contains nan or an infinity: {expr}")
    # A uniform's density 1/theta carries its data in the support alone, which then depends on a parameter.
    params = set(model.param_symbols)
    absent = [
        s.name
        for s in model.data
        if s not in density.free_symbols and not (model.support.get(s, sp.Reals).free_symbols & params)
    ]
    if absent:
        raise InputError(f"{model.name}: the data symbol {absent[0]!r} does not appear in the density")
    supports = {s for x in model.data for s in model.support.get(x, sp.Reals).free_symbols}
    unused = [p.name for p in model.params if p.symbol not in density.free_symbols and p.symbol not in supports]
    if unused:
        raise InputError(
            f"{model.name}: the parameter {unused[0]!r} appears in neither the density nor a support: the data say "
            "nothing about it"
        )
    for par in model.params:
        domain = par.domain
        if domain != sp.Reals and not (isinstance(domain, sp.Interval) and domain.measure > 0):
            raise InputError(
                f"{model.name}: the domain of {par.name} must be an interval of positive length (or the reals), "
                f"got {domain}"
            )


def parameter_points(model: Model) -> list[dict[sp.Symbol, sp.Expr]]:
    """Two points inside every parameter's domain, exact."""
    columns = []
    for k, par in enumerate(model.params):
        domain = par.domain
        if domain == sp.Reals:  # shifted by position: two real parameters (a < b of a uniform) never coincide
            values = [-sp.Rational(3, 5) + k, sp.Rational(13, 10) + k]
        elif isinstance(domain, sp.Interval) and domain.start.is_finite and domain.end.is_finite:
            values = [domain.start + f * (domain.end - domain.start) for f in FRACTIONS]
        elif isinstance(domain, sp.Interval) and domain.start.is_finite:
            values = [domain.start + o for o in OFFSETS]
        elif isinstance(domain, sp.Interval) and domain.end.is_finite:
            values = [domain.end - o for o in OFFSETS]
        else:
            return []  # a domain these checks cannot sample: nothing to check numerically
        columns.append(values)
    return [dict(zip(model.param_symbols, row)) for row in zip(*columns)]


def on_constraints(model: Model, points: list[dict[sp.Symbol, sp.Expr]]) -> list[dict[sp.Symbol, sp.Expr]]:
    """The points moved onto the constraints (their last parameters solved for), those left inside the domains."""
    solved = eliminated(model)
    moved = [{**point, **{p: v.subs(point) for p, v in solved.items()}} for point in points]
    return [m for m in moved if all(par.domain.contains(m[par.symbol]) is sp.true for par in model.params)]


def check_normalised(model: Model, point: dict[sp.Symbol, sp.Expr]) -> None:
    import scipy.integrate  # here, not at import: checking a student's answer never declares a model

    modelled = [s for s in model.data if s not in model.covariates]
    fixed = {**model.constants, **point, **{c: COVARIATE_VALUE for c in model.covariates}}
    density = model.density.subs(fixed)
    if density.has(sp.zoo, sp.nan):
        return  # a point where the declared density is undefined: nothing is claimed either way
    shown = ", ".join(f"{k} = {v}" for k, v in point.items())
    fn = sp.lambdify(modelled, density, ["scipy", "numpy"])
    try:
        # at a point, a support with a parameter's end may be no set SymPy can form (Range(1, 27/10)): ValueError
        supports = [model.support.get(s, sp.Reals).subs(fixed) for s in modelled]
        # a Gaussian in any dimension, however narrow or correlated, integrates exactly; quadrature otherwise
        total = _quadratic_total(density, modelled, supports)
        if total is None:
            total = _integrate(fn, supports)
        if total is not None and (not math.isfinite(total) or abs(total - 1) > TOLERANCE):
            second = _second_opinion(fn, density, modelled, supports, model.name)
            total = total if second is None else second
    except NegativeDensity as exc:
        raise InputError(
            f"{model.name}: the density must be real and non-negative; at {shown} it takes {exc.args[0]:.6g}"
        ) from None
    except (
        ValueError,
        TypeError,
        ZeroDivisionError,
        ArithmeticError,
        NotImplementedError,
        scipy.integrate.IntegrationWarning,
    ):
        return  # mpmath cannot integrate it: nothing is claimed either way
    if total is not None and (not math.isfinite(total) or abs(total - 1) > TOLERANCE):
        raise InputError(
            f"{model.name}: the density must integrate (or sum) to 1 over the support; at {shown} it gives {total:.8g}"
        )


EXACT_SECONDS = 5
SCALED_DIMENSIONS = 2  # nested quadrature in more dimensions than this takes minutes


def _second_opinion(fn, density: sp.Expr, modelled, supports, name: str) -> float | None:
    """Where quadrature does not find 1, a narrow peak it may have missed (a variance of 1e-12): SymPy's exact
    integral of one continuous variable, else quadrature in coordinates scaled to the peak. None: no opinion."""
    import scipy.integrate

    exact = _exact_total(density, modelled, supports, name)
    if exact is not None:
        return exact
    try:
        return _scaled_total(fn, density, modelled, supports)
    except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError, scipy.integrate.IntegrationWarning):
        return None  # the scaled quadrature failed too: the first one's total stands


def _quadratic_total(density: sp.Expr, modelled, supports) -> float | None:
    """The integral over R^d of exp(c + b.x - x^T A x / 2), a Gaussian however narrow or correlated: exactly
    exp(c + b^T A^-1 b / 2) sqrt((2 pi)^d / det A) when A is positive definite. None for any other density,
    or a value that is not a positive real (a negative density is quadrature's to name)."""
    if not modelled or any(s != sp.Reals for s in supports):
        return None
    log = sp.expand(sp.expand_log(sp.log(density), force=True))
    if not log.is_polynomial(*modelled) or sp.Poly(log, *modelled).total_degree() != 2:
        return None
    curvature = -sp.hessian(log, modelled)
    if curvature.free_symbols or not all(curvature[:k, :k].det().is_positive for k in range(1, len(modelled) + 1)):
        return None
    origin = dict.fromkeys(modelled, 0)
    slope = sp.Matrix([sp.diff(log, v).subs(origin) for v in modelled])
    total = sp.exp(log.subs(origin) + (slope.T * curvature.inv() * slope)[0, 0] / 2) * sp.sqrt(
        (2 * sp.pi) ** len(modelled) / curvature.det()
    )
    if not total.is_number:
        return None
    value = complex(sp.N(total, 20))
    return value.real if value.imag == 0 and value.real > 0 else None


def _exact_total(density: sp.Expr, modelled, supports, name: str) -> float | None:
    """SymPy's integral of one continuous variable's density over its interval, within a time limit; None where
    it gives no number."""
    from mlemap.derivations.solve import time_limit

    if len(modelled) != 1 or not (isinstance(supports[0], sp.Interval) or supports[0] == sp.Reals):
        return None
    (x,), (support,) = modelled, supports
    lo, hi = (-sp.oo, sp.oo) if support == sp.Reals else (support.start, support.end)
    try:
        with time_limit(EXACT_SECONDS, f"the integral of {name}'s density"):
            value = sp.integrate(density, (x, lo, hi), conds="none")
        number = complex(sp.N(value)) if value.is_number else None
    except Exception:  # noqa: BLE001 - no exact answer (a time-out or SymPy's own failure): quadrature stands
        return None
    return number.real if number is not None and number.imag == 0 else None


def _scaled_total(fn, density: sp.Expr, modelled, supports) -> float | None:
    """Quadrature after the change of variables x = m + R^-1 z, m the density's mode and R^T R minus its
    log's Hessian there: a peak 1e-6 wide, or a ridge along a strong correlation, is about 1 wide in z, where
    quadrature cannot miss it. Over R^d only, d <= SCALED_DIMENSIONS; None where there is no such mode."""
    if not 1 <= len(modelled) <= SCALED_DIMENSIONS or any(s != sp.Reals for s in supports):
        return None
    peak = _peak(density, modelled)
    if peak is None:
        return None
    mode, root = peak
    inverse = np.linalg.inv(root)
    jacobian = abs(float(np.linalg.det(inverse)))
    return _integrate(lambda *z: jacobian * fn(*(mode + inverse @ np.array(z))), [sp.Reals] * len(modelled))


def _peak(density: sp.Expr, modelled) -> tuple[np.ndarray, np.ndarray] | None:
    """The density's mode, by trust-region Newton on minus its log from the origin, and the upper-triangular R
    with R^T R = minus the log's Hessian there; None where the search fails or the Hessian is not negative
    definite (no peak to scale to)."""
    import scipy.optimize

    log = sp.expand_log(sp.log(density), force=True)
    modules = ["scipy", "numpy"]
    value = sp.lambdify(modelled, -log, modules)
    slope = sp.lambdify(modelled, [-sp.diff(log, v) for v in modelled], modules)
    curvature = sp.lambdify(modelled, -sp.hessian(log, modelled), modules)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # steps into a far tail overflow: the search backs off, nothing to say
        found = scipy.optimize.minimize(
            lambda v: float(value(*v)),
            np.zeros(len(modelled)),
            jac=lambda v: np.asarray(slope(*v), float),
            hess=lambda v: np.asarray(curvature(*v), float),
            method="trust-exact",
        )
    try:
        root = np.linalg.cholesky(np.asarray(curvature(*found.x), float)).T
    except (np.linalg.LinAlgError, ValueError):
        return None
    # the search may stop short in rounding (log-densities of 1e11 near a 1e-6 wide peak): close enough when
    # the Newton step that is left is under one width of the peak, as quadrature in z then still finds it
    left = np.linalg.solve(root.T, np.asarray(slope(*found.x), float))
    return (found.x, root) if np.all(np.isfinite(left)) and np.linalg.norm(left) <= 1 else None


def _integrate(fn, supports: list[sp.Set]):
    """The integral (sum) of fn over the product of supports; None for a support it cannot walk."""
    import mpmath
    import scipy.integrate

    ranges = []
    for support in supports:
        if isinstance(support, sp.FiniteSet):
            ranges.append(("sum", [float(v) for v in support]))
        elif support in (sp.Naturals0, sp.Naturals) or (isinstance(support, sp.Range) and support.step == 1):
            ranges.append(("nsum", [float(support.inf), mpmath.inf if support.sup == sp.oo else float(support.sup)]))
        elif support == sp.Reals or isinstance(support, sp.Interval):
            lo, hi = (-math.inf, math.inf) if support == sp.Reals else (float(support.start), float(support.end))
            ranges.append(("quad", [lo, hi]))
        else:
            return None
    with warnings.catch_warnings():
        # Far out in a tail exp() overflows to inf and the density to 0: a float's limit, not the user's error.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("error", scipy.integrate.IntegrationWarning)  # an unreliable integral claims nothing
        return _nested(fn, ranges, ())


def _nested(fn, ranges, fixed: tuple) -> float:
    import mpmath
    import scipy.integrate

    if not ranges:
        value = complex(fn(*fixed))
        if value.imag or value.real < 0:
            raise NegativeDensity(value if value.imag else value.real)
        return value.real
    (kind, bounds), rest = ranges[0], ranges[1:]
    inner = lambda v: _nested(fn, rest, (*fixed, float(v)))  # noqa: E731
    if kind == "sum":
        return math.fsum(inner(v) for v in bounds)
    if kind == "nsum":
        return float(mpmath.nsum(inner, bounds))
    return scipy.integrate.quad(inner, *bounds, epsabs=1e-10, epsrel=1e-10, limit=200)[0]


class NegativeDensity(Exception):
    """The density took a negative (or complex) value where it was integrated."""


def check_prior(model: Model, point: dict[sp.Symbol, sp.Expr]) -> None:
    if model.prior is None:
        return
    value = model.prior.subs({**model.constants, **point})
    if not value.is_number:
        return
    if value.is_extended_negative or (value.is_real is False):
        shown = ", ".join(f"{k} = {v}" for k, v in point.items())
        raise InputError(f"{model.name}: the prior must be non-negative; at {shown} it is {value}")
