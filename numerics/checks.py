"""Independent numerical checks of a Derivation. Each returns its measured error and its tolerance."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp

from mlemap.derivations.engine import Derivation
from mlemap.derivations.model import InputError, Model
from mlemap.derivations.pieces import pieces
from mlemap.numerics.compile import Data, Params, compiled
from mlemap.numerics.domains import feasible_limits, on_constraints, random_point, step_scales, tangent_basis
from mlemap.numerics.optimizers import optimum_scipy, optimum_torch, torch_data
from mlemap.numerics.regimes import check_regimes, has_pieces
from mlemap.numerics.results import CheckResult, rel_error, result, tolerance
from mlemap.numerics.torch_optional import TORCH_MISSING, has_torch, is_torch_missing, torch_module

N_POINTS = 4
CHECK_N = 500


def check_data(model: Model, seed: int, n: int = CHECK_N) -> dict[str, np.ndarray]:
    """The exercise's observed data where it gives some, else a seeded simulated sample."""
    if model.observed:
        return model.validate({s.name: model.observed[s] for s in model.data})
    if model.simulate is None:
        raise InputError(f"{model.name}: declares neither observed data nor a simulate hook")
    return model.draw(np.random.default_rng(seed), n)


def _as_vector(names, theta: Params) -> np.ndarray:
    return np.array([theta[k] for k in names], float)


def _points(d: Derivation, data: Data, seed: int) -> list[dict[str, float]]:
    """N_POINTS seeded points of the domains where the log-likelihood is finite (a uniform's a < b)."""
    rng, c = np.random.default_rng(seed), compiled(d)
    points = []
    for _ in range(50 * N_POINTS):
        t = random_point(d.model, rng) if not d.model.constraints else on_constraints(c, random_point(d.model, rng))
        if t is None:
            continue
        with np.errstate(all="ignore"):
            if np.isfinite(c.objective_raw(t, data)):
                points.append(t)
        if len(points) == N_POINTS:
            return points
    raise InputError(f"{d.model.name}: the log-likelihood is not finite at random points of the parameter domains")


# --- the checks -------------------------------------------------------------------------------------
def check_stats_rewrite(d: Derivation, data: Data, seed: int) -> CheckResult:
    """The joint log-likelihood in sample statistics equals the sum of the declared log-densities."""
    c = compiled(d)
    stats = c.statistics(data)
    errors = [
        abs(c.objective(t, stats) - c.objective_raw(t, data)) / max(abs(c.objective_raw(t, data)), 1.0)
        for t in _points(d, data, seed)
    ]
    return result(d.model, "stats_rewrite", max(errors), f"{N_POINTS} random points, relative to |l|")


def check_autograd(d: Derivation, data: Data, seed: int) -> CheckResult:
    """SymPy's score against torch.autograd of the raw-data objective, float64."""
    c = compiled(d)
    ev = c.evaluator
    tdata, torch = torch_data(data), torch_module()
    errors = []
    for t in _points(d, data, seed):
        leaves = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in t.items()}
        c.objective_torch(leaves, tdata).backward()
        auto = np.array([leaves[k].grad.item() for k in c.names])  # backward() filled them
        errors.append(rel_error(ev.score(t, data), auto))
    return result(d.model, "autograd", max(errors), f"{N_POINTS} random points")


def check_hessian_autograd(d: Derivation, data: Data, seed: int) -> CheckResult:
    """SymPy's Hessian against torch.autograd.functional.hessian of the raw-data objective."""
    c = compiled(d)
    ev = c.evaluator
    tdata, torch = torch_data(data), torch_module()

    def f(vec):
        return c.objective_torch(dict(zip(c.names, vec)), tdata)

    errors = []
    for t in _points(d, data, seed):
        auto = torch.autograd.functional.hessian(f, torch.tensor(_as_vector(c.names, t), dtype=torch.float64)).numpy()
        errors.append(rel_error(ev.hessian(t, data), auto))
    return result(d.model, "hessian_autograd", max(errors), f"{N_POINTS} random points")


def taylor_slope(f: Callable[[np.ndarray], float], grad: np.ndarray, x0: np.ndarray, direction: np.ndarray) -> float:
    """Log-log slope of |f(x + h v) - f(x) - h g.v| over h = 2^-4 .. 2^-12: 2 for a right gradient, 1 for a wrong one."""
    hs = 2.0 ** -np.arange(4, 13)
    f0, slope0 = f(x0), float(grad @ direction)
    remainders = np.array([abs(f(x0 + h * direction) - f0 - h * slope0) for h in hs])
    if np.any(remainders <= 0) or not np.all(np.isfinite(remainders)):
        return float("nan")
    return float(np.polyfit(np.log(hs), np.log(remainders), 1)[0])


def check_taylor(d: Derivation, data: Data, seed: int) -> CheckResult:
    c = compiled(d)
    ev = c.evaluator
    rng = np.random.default_rng(seed + 1)

    def f(vec):
        return c.objective_raw(dict(zip(c.names, vec)), data)

    why = (
        "the log-likelihood is linear in the parameters, so the remainder is zero (finite_difference checks the score)"
        if d.hessian.is_zero_matrix
        else "the objective has a kink at every observation (|x_i - mu|), so its Taylor remainder is not quadratic "
        "across them; finite_difference and autograd check the score between them"
        if d.order_form
        else None
    )
    if why is not None:
        return CheckResult(
            d.model.name,
            "taylor_slope",
            float("nan"),
            tolerance(d.model, "taylor_slope"),
            True,
            f"skipped: {why}",
            skipped=True,
        )
    slopes = []
    for t in _points(d, data, seed):
        direction = rng.normal(size=len(c.names))
        direction *= step_scales(d.model, t) / np.linalg.norm(direction)
        slopes.append(taylor_slope(f, ev.score(t, data), _as_vector(c.names, t), direction))
    error = max(abs(s - 2.0) for s in slopes) if all(np.isfinite(slopes)) else float("inf")
    return result(d.model, "taylor_slope", error, "|slope - 2|, slopes " + ", ".join(f"{s:.3f}" for s in slopes))


def check_finite_difference(d: Derivation, data: Data, seed: int) -> CheckResult:
    c = compiled(d)
    ev = c.evaluator
    errors = []
    for t in _points(d, data, seed):
        x0, scales = _as_vector(c.names, t), step_scales(d.model, t)
        fd = []
        for j in range(len(x0)):
            h = np.zeros_like(x0)
            h[j] = 1e-5 * scales[j]
            up, down = (c.objective_raw(dict(zip(c.names, x0 + s * h)), data) for s in (1, -1))
            fd.append((up - down) / (2 * h[j]))
        errors.append(rel_error(ev.score(t, data), fd))
    return result(d.model, "finite_difference", max(errors), "central differences, h = 1e-5 * scale")


@dataclass(frozen=True)
class NumericalOptimum:
    """A maximiser found by optimizers alone, with the evidence that it is one."""

    values: dict[str, float] | None
    converged: bool
    reason: str


GRADIENT_TOLERANCE = 1e-6  # |score| / n at the optimum
AGREEMENT_TOLERANCE = 1e-5  # between the starts


def numerical_optimum(d: Derivation, data: Data) -> NumericalOptimum:
    """LBFGS from three starts; converged only when every start ends at a finite objective with a vanishing
    score and the starts agree. Otherwise the reason says which test failed (never the starting point).
    Kept with the derivation's compiled functions (so a copy of it gets its own), per data set by the data's
    bytes: four checks ask for the same optimum."""
    key = hashlib.sha256(
        b"".join(name.encode() + np.ascontiguousarray(col).tobytes() for name, col in sorted(data.items()))
    ).hexdigest()
    found = compiled(d).__dict__.setdefault("numerical_optima", {})
    if key not in found:
        found[key] = _numerical_optimum(d, data)
    return found[key]


def _numerical_optimum(d: Derivation, data: Data) -> NumericalOptimum:
    c = compiled(d)
    k = len(c.names)
    # without torch (the extra mlemap[torch]), scipy's derivative-free search from the same starts
    search = optimum_torch if has_torch() else optimum_scipy
    ends = [search(d, data, start) for start in (np.zeros(k), np.full(k, 0.5), np.full(k, -0.5))]
    ends = [snap_to_closed_ends(d.model, end) for end in ends]
    for end in ends:
        value = c.objective_raw(end, data)
        if not np.isfinite(value):
            return NumericalOptimum(None, False, f"did not converge: the objective is {value} where LBFGS stopped")
        score = first_order_violation(d, end, data)  # |score| / n, or its sign at a support bound
        if not np.isfinite(score) or score > GRADIENT_TOLERANCE:
            return NumericalOptimum(
                None, False, f"did not converge: |score| / n = {score:.3g} > {GRADIENT_TOLERANCE:g} where LBFGS stopped"
            )
    spread = max(rel_error(_as_vector(c.names, e), _as_vector(c.names, ends[0])) for e in ends)
    if spread > AGREEMENT_TOLERANCE:
        return NumericalOptimum(None, False, f"did not converge: three starts end {spread:.3g} apart")
    return NumericalOptimum(ends[0], True, "converged: three starts agree and the score vanishes")


def reference_estimate(d: Derivation, data: Data) -> dict[str, float] | None:
    c = compiled(d)
    return c.estimate(c.statistics(data)) if d.separable or d.order_form else None


def check_optimizer(d: Derivation, data: Data, which: str) -> CheckResult:
    c = compiled(d)
    found = optimum_scipy(d, data) if which == "scipy_optimize" else optimum_torch(d, data)
    if d.maximiser_set:  # a flat maximum: the optimizer must end inside the derived set
        lo, hi = maximiser_interval(d, data)
        value = found[d.maximiser_set[0].name]
        outside = max(lo - value, value - hi, 0.0) / max(1.0, abs(hi - lo))
        return result(d.model, which, outside, f"distance outside the derived set [{lo:.4g}, {hi:.4g}]")
    closed = reference_estimate(d, data)
    if closed is not None and d.order_form:  # a kink, or a flat stretch between two middle observations
        ours, theirs = c.objective_raw(closed, data), c.objective_raw(found, data)
        return result(d.model, which, max(0.0, theirs - ours) / max(1.0, abs(ours)), "objective vs the closed form's")
    if closed is None:
        # No closed form: the optimizers must converge, and agree with each other.
        if not numerical_optimum(d, data).converged:
            return not_converged(d, data, which)
        other = optimum_torch(d, data) if which == "scipy_optimize" else optimum_scipy(d, data)
        return result(
            d.model,
            which,
            rel_error(_as_vector(c.names, found), _as_vector(c.names, other)),
            "vs the other optimizer",
            closed_form=False,
        )
    return result(
        d.model, which, rel_error(_as_vector(c.names, found), _as_vector(c.names, closed)), "vs the closed form"
    )


def optimum(d: Derivation, data: Data) -> dict[str, float] | None:
    """The closed form at the data, else a converged numerical optimum; None when neither exists. Where every
    point of an interval maximises (a flat likelihood), its midpoint."""
    if d.maximiser_set:
        lo, hi = maximiser_interval(d, data)
        return {d.maximiser_set[0].name: (lo + hi) / 2}
    closed = reference_estimate(d, data)
    return closed if closed is not None else numerical_optimum(d, data).values


def maximiser_interval(d: Derivation, data: Data) -> tuple[float, float]:
    """The derived set of maximisers [lo, hi] at the data's statistics."""
    stats = compiled(d).statistics(data)
    at = {s.symbol: sp.Float(stats[s.symbol.name], 30) for s in d.statistics}
    _, lo, hi = d.maximiser_set
    return float(lo.subs(at)), float(hi.subs(at))


def not_converged(d: Derivation, data: Data, check: str) -> CheckResult:
    reason = numerical_optimum(d, data).reason
    return CheckResult(d.model.name, check, float("inf"), tolerance(d.model, check), False, reason)


def first_order_violation(d: Derivation, at: Params, data: Data) -> float:
    """How far the estimate is from a first-order maximum, per observation: |score|; along the constraints
    only, where there are some (Lagrange); for a parameter at its support bound, the score pointing back into
    the feasible set (Karush-Kuhn-Tucker), and |score| when it is not at the bound."""
    n = len(next(iter(data.values())))
    at_kink = kink_violation(d, at, data)
    if at_kink is not None:
        return at_kink
    score = compiled(d).evaluator.score(at, data) / n
    if d.model.constraints:
        return float(np.max(np.abs(tangent_basis(compiled(d), at).T @ score)))
    limits = feasible_limits(d, data)
    violation = []
    for par, g in zip(d.model.params, score):
        p = par.symbol
        bounds = [b for b in d.bounds if b.param == p]
        if not bounds:
            violation.append(_closed_end_violation(par, at[par.name], g))
            continue
        violation.append(_bound_violation(bounds, limits[p.name], at[p.name], g))
    return float(np.max(violation))


def kink_violation(d: Derivation, at: Params, data: Data) -> float | None:
    """At a kink of a one-parameter objective (or a closed end of its domain), the subgradient condition instead
    of a zero score: the left slope >= 0 >= the right slope, each by a one-sided difference of the objective,
    per observation; how far either has the wrong sign. None where the estimate is not at a kink."""
    if not d.piecewise or len(d.model.params) != 1:
        return None
    (par,) = d.model.params
    value = at[par.name]
    corners = {float(e) for q in pieces(d.objective.subs(d.model.constants), par) for e in (q.lo, q.hi) if e.is_finite}
    if not any(abs(value - k) <= 1e-12 * max(1.0, abs(k)) for k in corners):
        return None
    c, n, h = compiled(d), len(next(iter(data.values()))), 1e-7 * max(1.0, abs(value))
    f0 = c.objective_raw({par.name: value}, data)
    slopes = []
    for step, sign in ((-h, 1.0), (h, -1.0)):  # the left slope must be >= 0, the right one <= 0
        if bool(par.domain.contains(sp.Float(value + step)) == sp.true):
            slope = (c.objective_raw({par.name: value + step}, data) - f0) / step / n
            slopes.append(max(0.0, -sign * slope))
    return max(slopes, default=0.0)


def _bound_violation(bounds, limits: tuple[float, float], value: float, g: float) -> float:
    """At an end of the feasible set that a support bound makes, only a score pointing back inside violates
    optimality (Karush-Kuhn-Tucker); elsewhere |score|."""
    for edge, outward, made in (
        (limits[0], -1.0, any(b.below for b in bounds)),
        (limits[1], 1.0, not all(b.below for b in bounds)),
    ):
        if made and abs(value - edge) <= 1e-9 * max(1.0, abs(edge)):
            return max(0.0, -outward * g)
    return abs(g)


SNAP = 1e-6  # LBFGS in exp/logistic coordinates approaches a closed end without reaching it


def _closed_ends(par) -> list[tuple[float, float]]:
    """A parameter's closed finite domain ends, each with the direction that leaves the domain there."""
    domain = par.domain
    if not isinstance(domain, sp.Interval):
        return []
    ends = [(domain.start, -1.0), (domain.end, 1.0)]
    return [(float(e), out) for e, out in ends if e.is_finite and domain.contains(e) == sp.true]


def snap_to_closed_ends(model: Model, at: Params) -> dict[str, float]:
    """A value within SNAP of a closed end of its domain, put on that end."""
    snapped = dict(at)
    for par in model.params:
        for end, _ in _closed_ends(par):
            if abs(snapped[par.name] - end) <= SNAP * max(1.0, abs(end)):
                snapped[par.name] = end
    return snapped


def _closed_end_violation(par, value: float, g: float) -> float:
    """|score| inside the domain; at a closed end only a score pointing back inside violates optimality
    (Karush-Kuhn-Tucker: at the end mu = 0 of mu >= 0 the score may be negative)."""
    for end, outward in _closed_ends(par):
        if value == end:
            return max(0.0, -outward * g)
    return abs(g)


def check_stationary(d: Derivation, data: Data) -> CheckResult:
    """The score vanishes at the estimate (per observation, so the tolerance does not grow with n); for a
    parameter at a support bound it must point out of the feasible set instead (the Karush-Kuhn-Tucker sign)."""
    at = optimum(d, data)
    if at is None:
        return not_converged(d, data, "stationary")
    detail = "max |score" + (" along the constraints| / n" if d.model.constraints else "| / n at the estimate")
    closed_form = reference_estimate(d, data) is not None
    return result(d.model, "stationary", first_order_violation(d, at, data), detail, closed_form)


def check_negative_definite(d: Derivation, data: Data) -> CheckResult:
    """Largest eigenvalue of the Hessian at the estimate, per observation, over the parameters not at a support
    bound: must be < 0."""
    ev = compiled(d).evaluator
    n = len(next(iter(data.values())))
    at = optimum(d, data)
    if at is None:
        return not_converged(d, data, "negative_definite")
    free = [k for k, p in enumerate(d.params) if p not in {b.param for b in d.bounds}]
    tol = tolerance(d.model, "negative_definite")
    if d.maximiser_set or d.order_form:
        reason = "the likelihood is flat on the set of maximisers" if d.maximiser_set else "the maximum is at a kink"
        return CheckResult(
            d.model.name, "negative_definite", float("nan"), tol, True, f"skipped: {reason}", skipped=True
        )
    if not free:
        return CheckResult(
            d.model.name,
            "negative_definite",
            float("nan"),
            tol,
            True,
            "skipped: every parameter is at a support bound",
            skipped=True,
        )
    hessian = (ev.hessian(at, data) / n)[np.ix_(free, free)]
    # along the constraints, where the model has some (a model with both is refused by its declaration)
    basis = tangent_basis(compiled(d), at) if d.model.constraints else np.eye(len(free))
    top = float(np.max(np.linalg.eigvalsh(basis.T @ hessian @ basis)))
    return CheckResult(
        d.model.name, "negative_definite", top, tol, bool(top < tol), "max eigenvalue of H / n at the estimate"
    )


def check_peer(d: Derivation, data: Data, peer: Callable[[Data], Mapping[str, float]]) -> CheckResult:
    c = compiled(d)
    found, ours = peer(data), optimum(d, data)
    if ours is None:
        return result(d.model, "peer", float("inf"), "no optimum of our own to hold against the peer")
    return result(
        d.model,
        "peer",
        rel_error(_as_vector(c.names, ours), _as_vector(c.names, found)),
        getattr(peer, "__doc__", "") or "",
        closed_form=reference_estimate(d, data) is not None,
    )


def run_checks(d: Derivation, seed: int = 0, peer=None) -> list[CheckResult]:
    data = check_data(d.model, seed)
    checks: list[tuple[str, Callable[[], CheckResult]]] = []
    if d.separable:
        checks.append(("stats_rewrite", lambda: check_stats_rewrite(d, data, seed)))
    checks += [
        ("autograd", lambda: check_autograd(d, data, seed)),
        ("hessian_autograd", lambda: check_hessian_autograd(d, data, seed)),
        ("taylor_slope", lambda: check_taylor(d, data, seed)),
        ("finite_difference", lambda: check_finite_difference(d, data, seed)),
        ("scipy_optimize", lambda: check_optimizer(d, data, "scipy_optimize")),
        ("torch_optim", lambda: check_optimizer(d, data, "torch_optim")),
        ("stationary", lambda: check_stationary(d, data)),
        ("negative_definite", lambda: check_negative_definite(d, data)),
    ]
    if peer is not None:
        checks.append(("peer", lambda: check_peer(d, data, peer)))
    if has_pieces(d):  # a closed form whose formula changes with the data: held to each of its regimes
        checks.append(("regimes", lambda: check_regimes(d, seed)))
    return [guarded(d.model, name, check) for name, check in checks]


def guarded(model: Model, name: str, check: Callable[[], CheckResult], tol: float | None = None) -> CheckResult:
    """A check that raises is a FAIL with the reason in one line, never a crash of the whole verification; a
    check that needs torch where it is not installed is a SKIP saying so. tol is the check's tolerance where it
    is not one of this module's (the Monte Carlo checks')."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - any failure inside a check is that check's failure
        limit = tolerance(model, name) if tol is None else tol
        if isinstance(exc, ModuleNotFoundError) and is_torch_missing(exc):
            return CheckResult(model.name, name, float("nan"), limit, True, f"skipped: {TORCH_MISSING}", skipped=True)
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        return CheckResult(model.name, name, float("inf"), limit, False, f"crashed: {reason[:300]}")
