"""Textbook models the engine meets: an admissible real root kept among complex ones, a per-model solve time
limit, and a verification that skips (never crashes) where the bias has no polynomial form."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from derivations import derive
from derivations.model import InputError, Model, Parameter
from numerics.verify import verify

x = sp.Symbol("x", positive=True)
lam = sp.Symbol("lambda", positive=True)
POSITIVE = sp.Interval.open(0, sp.oo)


def weibull(shape: int) -> Model:
    """Weibull with known shape: the score's numerator is a polynomial of degree `shape` in the scale."""
    k = sp.Integer(shape)
    return Model(
        f"weibull{shape}",
        f"Weibull scale, shape {shape}",
        (x,),
        (Parameter(lam, POSITIVE, "scale"),),
        k / lam * (x / lam) ** (k - 1) * sp.exp(-((x / lam) ** k)),
        support={x: POSITIVE},
        simulate=lambda rng, n, t: {"x": t["lambda"] * rng.weibull(shape, n)},
        truth={"lambda": 2.0},
        peer=lambda data: {"lambda": stats.weibull_min.fit(data["x"], f0=shape, floc=0)[2]},
        tolerances={"peer": 1e-4},  # scipy's fit is a Nelder-Mead search, stopped at a relative 1e-4
    )


@pytest.mark.parametrize("shape", [3, 4])
def test_the_one_real_root_in_the_domain_is_the_estimate(shape):
    d = derive(weibull(shape))
    assert d.estimate is not None, d.no_closed_form
    (s,) = [st.symbol for st in d.statistics if st.expr == x**shape]
    n = sp.Symbol("n", positive=True, integer=True)
    assert d.estimate[lam].free_symbols == {s, n}
    # the textbook form, computed independently: lambda^k = (1/n) sum x_i^k
    assert sp.simplify(d.estimate[lam] ** shape - s / n) == 0
    rng = np.random.default_rng(3)
    data = rng.weibull(shape, 500) * 2.0
    closed = float(d.estimate[lam].subs({s: float(np.sum(data**shape)), n: 500}))
    assert closed == pytest.approx(stats.weibull_min.fit(data, f0=shape, floc=0)[2], rel=1e-4)


def test_a_weibull_scale_verifies_without_a_fail_and_without_a_crash():
    result = verify(weibull(3))
    assert result.passed, result.table()
    skipped = {c.check: c.detail for c in result.checks if c.status == "SKIP"}
    assert set(skipped) <= {"bias_mc"}  # its expectation is not polynomial in the statistics: skipped, with why


def test_a_model_sets_its_own_solve_time_limit():
    slow = Model(
        "slow",
        "Gamma shape",
        (x,),
        (Parameter(lam, POSITIVE, "shape"),),
        x ** (lam - 1) * sp.exp(-x) / sp.gamma(lam),
        support={x: POSITIVE},
        solve_seconds=0.001,
    )
    d = derive(slow)
    assert d.estimate is None and "did not finish within 0.001 s" in d.no_closed_form


@pytest.mark.parametrize("seconds", [0, -1, float("inf"), "20", True])
def test_a_bad_solve_time_limit_is_refused_naming_the_model(seconds):
    bad = Model(
        "bad",
        "Exponential",
        (x,),
        (Parameter(lam, POSITIVE, "rate"),),
        lam * sp.exp(-lam * x),
        support={x: POSITIVE},
        solve_seconds=seconds,
    )
    with pytest.raises(InputError, match=r"^bad: solve_seconds must be a positive number of seconds"):
        derive(bad)


k = sp.Symbol("k", integer=True, nonnegative=True)
p = sp.Symbol("p", positive=True)


def binomial_model(support: sp.Set) -> Model:
    return Model(
        "binomial10",
        "Binomial, 10 trials",
        (k,),
        (Parameter(p, sp.Interval.open(0, 1), "success probability"),),
        sp.binomial(10, k) * p**k * (1 - p) ** (10 - k),
        support={k: support},
        simulate=lambda rng, n, t: {"k": rng.binomial(10, t["p"], n).astype(float)},
        truth={"p": 0.3},
        peer=lambda data: {"p": float(np.mean(data["k"])) / 10},  # the textbook k-bar / N, computed by NumPy
    )


def poisson_integer_model() -> Model:
    """Integer-declared counts: SymPy writes log(k!) as log(gamma(k + 1)), which torch has no function for."""
    return Model(
        "poisson_integer",
        "Poisson rate, integer counts",
        (k,),
        (Parameter(lam, POSITIVE, "rate"),),
        lam**k * sp.exp(-lam) / sp.factorial(k),
        support={k: sp.Naturals0},
        simulate=lambda rng, n, t: {"k": rng.poisson(t["lambda"], n).astype(float)},
        truth={"lambda": 3.0},
        peer=lambda data: {"lambda": float(stats.poisson.mean(np.mean(data["k"])))},
    )


@pytest.mark.parametrize(
    "model",
    [binomial_model(sp.Range(0, 11)), binomial_model(sp.FiniteSet(*range(11))), poisson_integer_model()],
    ids=["binomial-range", "binomial-finite-set", "poisson-integer-counts"],
)
def test_integer_data_and_binomial_coefficients_reach_numpy_and_torch(model):
    d = derive(model)
    assert d.estimate is not None, d.no_closed_form
    result = verify(d)
    assert result.passed, result.table()
    ran = {c.check for c in result.checks if c.status == "PASS"}
    assert {"autograd", "hessian_autograd", "torch_optim", "finite_difference"} <= ran
