"""Checks of a model's declaration before anything is derived from it: the density is a SymPy expression in
the declared symbols, a probability density (non-negative, integrating or summing to 1 over the support at a
few parameter values), the prior is non-negative, and the observed data lie in the support."""

from __future__ import annotations

import math
import warnings

import sympy as sp

from derivations.constraints import check_constraints, eliminated
from derivations.matrix import check_matrices
from derivations.model import InputError, Model
from derivations.support import support_bounds
from derivations.text import check_text

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
    fn = sp.lambdify(modelled, density, ["scipy", "numpy"])
    shown = ", ".join(f"{k} = {v}" for k, v in point.items())
    try:
        total = _integrate(fn, [model.support.get(s, sp.Reals).subs(fixed) for s in modelled])
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
    if total is None:
        return
    if (not math.isfinite(total) or abs(total - 1) > TOLERANCE) and _exactly_one(density, modelled, model, fixed):
        return  # a narrow peak that quadrature missed, integrated exactly (a variance of 1e-12)
    if not math.isfinite(total) or abs(total - 1) > TOLERANCE:
        raise InputError(
            f"{model.name}: the density must integrate (or sum) to 1 over the support; at {shown} it gives {total:.8g}"
        )


EXACT_SECONDS = 5


def _exactly_one(density: sp.Expr, modelled, model: Model, fixed) -> bool:
    """The second opinion where quadrature disagrees: SymPy's integral of one continuous variable's density over
    its interval, within a time limit, is exactly 1."""
    from derivations.solve import time_limit

    if len(modelled) != 1:
        return False
    (x,) = modelled
    support = model.support.get(x, sp.Reals).subs(fixed)
    if not isinstance(support, sp.Interval) and support != sp.Reals:
        return False
    lo, hi = (-sp.oo, sp.oo) if support == sp.Reals else (support.start, support.end)
    try:
        with time_limit(EXACT_SECONDS, f"the integral of {model.name}'s density"):
            value = sp.integrate(density, (x, lo, hi), conds="none")
    except Exception:  # noqa: BLE001 - no exact answer (a time-out or SymPy's own failure): quadrature stands
        return False
    return bool(value.is_number and abs(complex(sp.N(value)) - 1) <= TOLERANCE)


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
