"""Solving the score equations: stationary points within a time limit, the ones inside the parameter domain,
the highest of them, a boundary maximum when the score has one sign, and the second-order minors."""

from __future__ import annotations

import ctypes
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import sympy as sp

from mlemap.derivations.model import Model

SOLVE_SECONDS = 20  # a model that needs longer says "no closed form", and is verified numerically
BUDGET_FACTOR = 2  # the whole derivation (solving, ranking, checking, simplifying) may take this many solve_seconds,
BUDGET_SECONDS = 5  # and this long on top for the parts that are not solving (the log-density, its statistics)


class NoClosedForm(Exception):
    """SymPy found no closed-form stationary point; the reason says why."""


TIMED_OUT = "did not finish"


class OutOfTime(Exception):
    """The whole derivation's budget ran out. Not a NoClosedForm: it passes every step's own fallback (a solve
    that times out is caught and something else is tried) up to where the derivation gives up on the rest.
    The message names the innermost step that was running (a time_limit's, else the budgeted block's)."""

    def __init__(self, step: str, seconds: float, named: bool = False):
        super().__init__(
            f"{step} {TIMED_OUT} within the {seconds:g} s the whole derivation may take "
            f"({BUDGET_FACTOR} x solve_seconds + {BUDGET_SECONDS} s)"
        )
        self.seconds, self.named = seconds, named


def budget_seconds(solve_seconds: float | None) -> float:
    """How long a model's whole derivation may take, given its solve_seconds (None: SOLVE_SECONDS)."""
    return BUDGET_FACTOR * (SOLVE_SECONDS if solve_seconds is None else solve_seconds) + BUDGET_SECONDS


def timed_out(reason: str | None) -> bool:
    """Whether a no-closed-form reason is a time limit that ran out: a fact about the machine, not the model."""
    return reason is not None and TIMED_OUT in reason


def _signal_limit_available() -> bool:
    """SIGALRM exists on POSIX only, and Python runs its handler in the main thread only."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


_local = threading.local()  # per thread: the deadlines of the enclosing limits, and the derivation's budget


def _deadlines() -> list[tuple[float, Exception]]:
    """The time.monotonic() deadlines of the limits the calling thread is inside, each earlier than the last,
    with the exception each raises."""
    if not hasattr(_local, "deadlines"):
        _local.deadlines = []
    return _local.deadlines


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Bound a SymPy call: by SIGALRM in the main thread of a POSIX process, by an asynchronous exception
    raised in the calling thread everywhere else. Inside a derivation's budget that ends sooner, the budget's
    OutOfTime ends it instead."""
    try:
        with _bounded(seconds, NoClosedForm(f"{what} {TIMED_OUT} within {seconds} s")):
            yield
    except (OutOfTime, _TimeLimitExpired) as exc:
        # the budget ran out in this step (in a thread, still as the asynchronous class that stands for it)
        budget = exc if isinstance(exc, OutOfTime) else type(exc).expired
        if not isinstance(budget, OutOfTime) or budget.named:
            raise
        raise OutOfTime(what, budget.seconds, named=True) from None


@contextmanager
def derivation_budget(seconds: float) -> Iterator[None]:
    """The time the whole derivation may take, from now: the steps inside budgeted() share it."""
    previous = getattr(_local, "budget", None)
    _local.budget = (time.monotonic() + seconds, seconds)
    try:
        yield
    finally:
        _local.budget = previous


@contextmanager
def budgeted(what: str) -> Iterator[None]:
    """A step of the derivation, bounded by what is left of its budget: OutOfTime names the step. Outside a
    derivation_budget (an estimate solved again at new statistics) only the step's own time limits apply."""
    budget = getattr(_local, "budget", None)
    if budget is None:
        yield
        return
    deadline, seconds = budget
    expired = OutOfTime(what, seconds)
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired
    with _bounded(left, expired):
        yield


@contextmanager
def _bounded(seconds: float, expired: Exception) -> Iterator[None]:
    """Raise expired after seconds, unless an enclosing limit ends first: then its timer stays armed and its
    exception ends the block (a solve's 20 s inside a budget with 3 s left gets 3 s)."""
    deadlines = _deadlines()
    now = time.monotonic()
    if deadlines and deadlines[-1][0] <= now + seconds:
        if deadlines[-1][0] <= now:  # it has passed, and its exception was caught and ignored: raise it again
            raise deadlines[-1][1]
        yield
        return
    limit = _signal_limit if _signal_limit_available() else _thread_limit
    deadlines.append((now + seconds, expired))
    try:
        with limit(seconds, expired):
            yield
    finally:
        deadlines.pop()


@contextmanager
def _signal_limit(seconds: float, expired: Exception) -> Iterator[None]:
    """SIGALRM after seconds; an enclosing limit's handler and the rest of its time are restored afterwards."""
    armed = [True]

    def _expired(signum, frame):
        if armed[0]:
            raise expired

    previous = signal.signal(signal.SIGALRM, _expired)
    outer_left, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left > 0:  # the enclosing limit's timer, with the time it had left (never 0: that disarms)
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 1e-6))


class _TimeLimitExpired(Exception):
    """Raised asynchronously in a thread whose time ran out; turned into the exception it stands for."""

    expired: Exception  # each limit's own subclass names the exception it stands for


@contextmanager
def _thread_limit(seconds: float, expired: Exception) -> Iterator[None]:
    """A timer thread sets a pending exception in the calling thread (CPython checks for it between bytecodes,
    and SymPy is Python code); a lock keeps it from landing after the block has ended. Each limit raises its
    own class, so a nested limit never takes an enclosing one's expiry for its own."""
    thread_id = ctypes.c_ulong(threading.get_ident())
    lock, state = threading.Lock(), {"inside": True, "fired": False}
    mine: type[_TimeLimitExpired] = type("_Expired", (_TimeLimitExpired,), {"expired": expired})

    def _expire() -> None:
        with lock:
            if state["inside"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(thread_id, ctypes.py_object(mine))

    timer = threading.Timer(seconds, _expire)
    timer.daemon = True
    timer.start()
    try:
        try:
            yield
        finally:
            timer.cancel()
            with lock:
                state["inside"] = False
                if state["fired"]:  # set but perhaps not raised yet: clear it, so it cannot surface later
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(thread_id, None)
    except mine:
        raise expired from None


def one_line(exc: BaseException) -> str:
    """SymPy's messages span lines; a reported reason is one line."""
    return " ".join(str(exc).split())


def _solve_stationary(
    objective: sp.Expr, params: tuple[sp.Symbol, ...], seconds: float | None = None
) -> list[dict[sp.Symbol, sp.Expr]]:
    score = [sp.diff(objective, p) for p in params]
    with time_limit(SOLVE_SECONDS if seconds is None else seconds, "sympy.solve of the score equations"):
        if len(params) == 1:
            (p,) = params
            numerator = sp.numer(sp.together(score[0]))
            poly = sp.Poly(numerator, p) if numerator.is_polynomial(p) else None
            if poly is not None and not (poly.free_symbols - {p}):
                # Numeric coefficients: real_roots factors first, so roots come as radicals or CRootOf.
                roots = sp.real_roots(poly)
                return [{p: r} for r in dict.fromkeys(roots)]
            try:
                return [{p: r} for r in sp.solve(score[0], p)]
            except (NotImplementedError, sp.PolynomialError) as exc:  # both: SymPy has no method for this equation
                raise NoClosedForm(f"sympy.solve cannot solve the score equation: {one_line(exc)}") from None
        try:
            return sp.solve(score, params, dict=True)
        except (NotImplementedError, sp.PolynomialError) as exc:
            raise NoClosedForm(f"sympy.solve cannot solve the score equations: {one_line(exc)}") from None


def _in_domain(model: Model, solution: Mapping[sp.Symbol, sp.Expr]) -> bool:
    """False when SymPy proves a value outside its parameter's domain."""
    for par in model.params:
        value = solution.get(par.symbol)
        if value is None:
            return False
        contained = par.domain.contains(value)
        if contained is sp.false:
            return False
    return True


def admissible(model: Model, solutions: list[dict[sp.Symbol, sp.Expr]]) -> list[dict[sp.Symbol, sp.Expr]]:
    """The solutions not proved outside the domains; where several remain, those not outside at every sampled
    value of the statistics (the negative root of a quadratic), unless that would leave none."""
    inside = [s for s in solutions if _in_domain(model, s)]
    if len(inside) < 2:
        return inside
    by_par = {p.symbol: p.domain for p in model.params}
    sampled = [s for s in inside if not any(_outside_when_sampled(by_par[p], v) for p, v in s.items())]
    return sampled or inside


def _outside_when_sampled(domain: sp.Set, value: sp.Expr) -> bool:
    """The value, at five seeded draws of its symbols (each within its sign: a sum of |x| is >= 0), outside the
    domain every time. Draws where it is not a real number count as outside."""
    symbols = sorted(value.free_symbols, key=str)
    if not symbols:
        return False
    draws = []
    for k in range(5):
        point = {
            s: sp.Rational(3 + 7 * k + 5 * j, 4) * (1 if s.is_nonnegative else (-1) ** (j + k))
            for j, s in enumerate(symbols)
        }
        number = sp.N(value.subs(point))
        draws.append(not (number.is_real and domain.contains(number) is sp.true))
    return all(draws)


def _minors_status(
    minus_h: sp.Matrix, domains: dict | None = None
) -> tuple[tuple[sp.Expr, ...], str, tuple[sp.Expr, ...]]:
    """The leading principal minors of -H and whether they are proved positive, on the parameters' domains
    (a probability's minor n / (p^2 (1 - p)) is positive because p < 1, which no symbol assumption says)."""
    minors = tuple(sp.factor(sp.simplify(minus_h[:k, :k].det())) for k in range(1, minus_h.rows + 1))
    signs = [positive_on(m, domains or {}) for m in minors]
    if any(s is False for s in signs):
        return minors, "fails", ()
    undecided = tuple(m for m, s in zip(minors, signs) if s is None)
    return minors, ("conditional" if undecided else "proved"), undecided


def positive_on(expr: sp.Expr, domains: dict) -> bool | None:
    """Whether expr > 0 for every parameter value in its interval: SymPy's assumptions first, then each bounded
    parameter written through a positive t (p = a + (b - a) / (1 + t) on (a, b), a + t on (a, oo)), which turns
    the domain into signs SymPy can read. None when neither decides."""
    found = expr.is_positive
    if found is not None:
        return found
    t_of = {}
    for symbol, domain in domains.items():
        if not expr.has(symbol) or not isinstance(domain, sp.Interval):
            continue
        t = sp.Dummy(f"t_{symbol}", positive=True)
        lo, hi = domain.inf, domain.sup
        if lo.is_finite and hi.is_finite:
            t_of[symbol] = lo + (hi - lo) / (1 + t)
        elif lo.is_finite:
            t_of[symbol] = lo + t
        elif hi.is_finite:
            t_of[symbol] = hi - t
    if not t_of:
        return None
    return sp.factor(sp.together(expr.subs(t_of))).is_positive


def _pick_maximum(objective, candidates):
    """The candidate with the highest objective: compared as numbers where the values are numbers, else
    the one SymPy proves at least as high as every other (values in n often differ by a signed multiple of n)."""
    if len(candidates) == 1:
        return candidates[0]
    values = [objective.subs(c) for c in candidates]
    if all(v.is_number for v in values):
        return candidates[max(range(len(values)), key=lambda k: float(values[k]))]
    for k, value in enumerate(values):
        if all(sp.simplify(value - other).is_nonnegative for other in values):
            return candidates[k]
    raise NoClosedForm(f"{len(candidates)} symbolic stationary points and no way to rank them")


def boundary_maximum(objective: sp.Expr, model: Model) -> dict[sp.Symbol, sp.Expr] | None:
    """One parameter on an interval whose score has one sign throughout (SymPy proves it): the supremum is
    at the end the objective rises towards (all heads: theta -> 1). None unless proved and that end is finite."""
    if len(model.params) != 1 or not isinstance(model.params[0].domain, sp.Interval):
        return None
    par = model.params[0]
    lo, hi = par.domain.start, par.domain.end
    u = sp.Dummy("u", positive=True)
    # u > 0 runs over the open interval: the score's sign there is a question about a positive symbol.
    inner = lo + (hi - lo) / (1 + u) if lo.is_finite and hi.is_finite else (lo + u if lo.is_finite else hi - u)
    slope = sp.simplify(sp.together(sp.diff(objective, par.symbol).subs(par.symbol, inner)))
    if slope.is_positive and hi.is_finite:
        return {par.symbol: hi}
    if slope.is_negative and lo.is_finite:
        return {par.symbol: lo}
    return None
