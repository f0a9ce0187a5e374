"""Closed forms that hold for every data set in the declared domain: kinks and declared ranges give a Piecewise
(or Max/Min) over conditions in the statistics, checked in every regime against a peer written in NumPy; and,
for every catalogue model, the closed form is a maximum of the objective over the feasible set."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from mlemap.derivations import derive
from mlemap.derivations.engine import n_obs
from mlemap.derivations.model import Model, Parameter
from mlemap.numerics.checks import optimum
from mlemap.numerics.compile import compiled
from mlemap.numerics.domains import feasible_limits, on_constraints, random_point
from mlemap.numerics.estimate import estimate
from mlemap.numerics.regimes import check_regimes, regime_points
from mlemap.numerics.verify import verify
from tests.textbook_catalogue import (
    CASES,
    NORMAL_UNIT,
    capped_rate,
    laplace_prior_mean,
    laplace_prior_shifted,
    mu,
    nonnegative_mean,
    nonnegative_mean_and_variance,
    uniform_pareto_prior,
    x,
)


def _with_mean(n: int, mean: float, seed: int = 0) -> dict[str, np.ndarray]:
    """n normal draws shifted to have exactly the given mean (to float precision)."""
    z = np.random.default_rng(seed).normal(size=n)
    return {"x": z - z.mean() + mean}


def _closed_form_value(d, data) -> dict[str, float]:
    """The derived closed form evaluated by SymPy at the data's statistics (not through estimate())."""
    stats = compiled(d).statistics(data)
    at = {s.symbol: sp.Float(stats[s.symbol.name], 30) for s in d.statistics}
    return {p.name: float(v.subs(at)) for p, v in d.estimate.items()}


REGIMES = [
    # the soft threshold: S_x < -2, |S_x| <= 2 (both signs, and the kinks themselves), S_x > 2; n = 15
    (laplace_prior_mean, _with_mean(15, -14.81 / 15)),
    (laplace_prior_mean, _with_mean(15, 0.057 / 15)),
    (laplace_prior_mean, _with_mean(15, -1.9 / 15)),
    (laplace_prior_mean, _with_mean(15, 2.0 / 15)),
    (laplace_prior_mean, _with_mean(15, 5.3 / 15)),
    (laplace_prior_shifted, _with_mean(6, 1 - 3.0 / 6)),
    (laplace_prior_shifted, _with_mean(6, 1 + 0.4 / 6)),
    (laplace_prior_shifted, _with_mean(6, 1 + 2.5 / 6)),
    (nonnegative_mean, _with_mean(7, -0.4)),
    (nonnegative_mean, _with_mean(7, 0.3)),
    (capped_rate, {"x": np.array([0.1, 0.2, 0.3, 0.15, 0.05])}),  # 1 / mean = 6.7 > 2
    (capped_rate, {"x": np.array([1.1, 0.2, 3.3, 0.15, 0.05])}),
    (uniform_pareto_prior, {"x": np.array([0.3, 1.2, 0.9])}),  # all below the prior's bound 3/2
    (uniform_pareto_prior, {"x": np.array([0.3, 2.9, 0.9])}),
]


@pytest.mark.parametrize(("factory", "data"), REGIMES, ids=[f"{f.__name__}-{k}" for k, (f, _) in enumerate(REGIMES)])
def test_every_regime_of_a_piecewise_answer_agrees_with_the_peer(factory, data):
    model = factory()
    d = derive(model)
    reference = model.peer(data)
    found = estimate(d, data)
    assert found.method == "closed form" and found.converged
    for name, value in reference.items():
        assert found.values[name] == pytest.approx(value, abs=1e-12)
        assert _closed_form_value(d, data)[name] == pytest.approx(value, abs=1e-12)


def test_the_soft_threshold_is_the_textbook_piecewise():
    d = derive(laplace_prior_mean())
    s = next(st.symbol for st in d.statistics if st.symbol.name == "S_x")
    (value,) = d.estimate.values()
    for total in (-9, -2, -sp.Rational(1, 3), 0, 1, 2, sp.Rational(7, 2)):
        expected = sp.sign(total) * sp.Max(abs(total) - 2, 0) / n_obs
        assert sp.simplify(value.subs(s, total) - expected) == 0, total
    assert d.piecewise and d.no_closed_form is None


def test_a_mean_declared_nonnegative_with_a_free_variance_carries_its_condition():
    model = nonnegative_mean_and_variance()
    d = derive(model)
    s = next(st.symbol for st in d.statistics if st.symbol.name == "S_x")
    assert d.conditions == (s >= 0,)
    below = _with_mean(9, -0.5, seed=3)
    found = estimate(d, below)
    assert found.method == "numerical" and found.converged, found.reason
    for name, value in model.peer(below).items():
        assert found.values[name] == pytest.approx(value, rel=1e-6, abs=1e-7), name


def _wrong(d, value):
    (p,) = d.params
    return replace(d, estimate={p: value}, piecewise=True)


def test_the_regimes_check_fails_a_threshold_that_holds_for_only_some_data():
    d = derive(laplace_prior_mean())
    s = next(st.symbol for st in d.statistics if st.symbol.name == "S_x")
    # right where S_x > 2, wrong elsewhere: the engine's old answer (S_x - 2)/n, given one piece to count
    wrong = _wrong(d, sp.Piecewise(((s - 2) / n_obs, s > -2), ((s + 2) / n_obs, True)))
    assert check_regimes(wrong).status == "FAIL"
    assert check_regimes(d).status == "PASS"
    failed = {c.check for c in verify(wrong).checks if c.status == "FAIL"}
    assert "regimes" in failed


def test_the_regimes_check_fails_a_projection_onto_the_wrong_end():
    d = derive(capped_rate())
    s = next(st.symbol for st in d.statistics if st.symbol.name == "S_x")
    assert check_regimes(_wrong(d, sp.Piecewise((n_obs / s, s > n_obs / 2), (1, True)))).status == "FAIL"


def test_the_regimes_check_skips_a_closed_form_without_pieces():
    from tests.textbook_catalogue import geometric

    d = derive(geometric())
    assert check_regimes(d).status == "SKIP"
    assert "regimes" not in {c.check for c in verify(d).checks}  # not listed where it cannot apply


def test_the_regimes_are_drawn_at_the_kink_and_at_the_closed_ends():
    assert [p["mu"] for p in regime_points(derive(laplace_prior_mean()))] == [0.8, 0.0]
    assert [p["lambda"] for p in regime_points(derive(capped_rate()))] == [1.5, 2.0]


def test_kinks_in_two_parameters_are_solved_numerically_and_agree_with_the_peer():
    s = sp.Symbol("s", positive=True)

    def peer(d):  # for fixed s the soft threshold; s profiled by scipy
        import scipy.optimize

        def nll(v):
            m = soft(np.sum(d["x"]), 2 * v) / len(d["x"])
            return -(-0.5 * np.sum((d["x"] - m) ** 2) / v - len(d["x"]) / 2 * np.log(v) - 2 * abs(m))

        v = float(scipy.optimize.minimize_scalar(nll, bounds=(1e-3, 50), method="bounded", options={"xatol": 1e-12}).x)
        return {"mu": soft(np.sum(d["x"]), 2 * v) / len(d["x"]), "s": v}

    def soft(total, threshold):
        return float(np.sign(total) * max(abs(total) - threshold, 0.0))

    model = Model(
        "laplace_prior_two",
        "Normal mean and variance, Laplace prior on the mean",
        (x,),
        (Parameter(mu), Parameter(s, sp.Interval.open(0, sp.oo))),
        sp.exp(-((x - mu) ** 2) / (2 * s)) / sp.sqrt(2 * sp.pi * s),
        prior=sp.exp(-2 * sp.Abs(mu)),
    )
    d = derive(model)
    assert d.estimate is None and "kinks" in d.no_closed_form
    data = _with_mean(12, 0.9, seed=5)
    found = estimate(d, data)
    assert found.method == "numerical" and found.converged, found.reason
    for name, value in peer(data).items():
        assert found.values[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name


def test_a_convex_kink_is_not_given_a_closed_form():
    """exp(+|mu|) as a prior: two local maxima are possible, so no Piecewise is claimed."""
    model = Model("bimodal", "convex kink", (x,), (Parameter(mu),), NORMAL_UNIT, prior=sp.exp(sp.Abs(mu)))
    d = derive(model)
    assert d.estimate is None and "convex kink" in d.no_closed_form


# --- the general property: a closed form is a maximum over the feasible set, in three data regimes -----------
CLOSED_CASES = [c for c in CASES if c.capability not in ("numerical",)]


def _feasible_points(d, data, count: int, seed: int) -> list[dict[str, float]]:
    """Seeded points of the feasible set: the domains, the constraints, and the limits the data's support sets."""
    rng, c, limits = np.random.default_rng(seed), compiled(d), feasible_limits(d, data)
    points = []
    for _ in range(200 * count):
        t = random_point(d.model, rng)
        for b in d.bounds:  # a bounded parameter drawn inside the limits the data set on it
            lo, hi = limits[b.param.name]
            if np.isfinite(lo) and np.isfinite(hi):
                t[b.param.name] = lo + (hi - lo) * rng.uniform()
            else:
                t[b.param.name] = lo + rng.exponential(1.0) if np.isfinite(lo) else hi - rng.exponential(1.0)
        t = on_constraints(c, t) if d.model.constraints else t
        if t is None or not all(limits[k][0] <= v <= limits[k][1] for k, v in t.items()):
            continue
        points.append(t)
        if len(points) == count:
            break
    assert len(points) == count, "too few feasible points"
    return points


@pytest.mark.parametrize("case", CLOSED_CASES, ids=[f"{c.capability}-{c.model.name}" for c in CLOSED_CASES])
def test_the_closed_form_lies_in_the_domain_and_beats_random_feasible_points(case):
    d = derive(case.model)
    model, c = case.model, compiled(d)
    points = regime_points(d)
    regimes = [(points[0], 60, 1), (points[min(1, len(points) - 1)], 5, 2), (points[-1], 15, 3)]
    for truth, n, seed in regimes:
        data = model.validate(model.simulate(np.random.default_rng(seed), max(n, model.min_n), truth))
        found = estimate(d, data)
        values = optimum(d, data) if d.maximiser_set else found.values  # a flat maximum: a point of its set
        assert values is not None and (found.converged or d.maximiser_set), found.reason
        for par in model.params:
            assert bool(par.domain.closure.contains(values[par.name])), (par.name, values)
        best = c.objective_raw(values, data)
        with np.errstate(all="ignore"):
            others = [c.objective_raw(p, data) for p in _feasible_points(d, data, 20, seed)]
        assert best >= max(o for o in others if np.isfinite(o)) - 1e-9 * max(1.0, abs(best))


def test_at_the_kink_the_stationary_check_holds_the_subgradient_condition():
    """Data whose sum lies within the threshold put the MAP at the kink mu = 0, where the score is not zero: the
    one-sided slopes must bracket 0 there, and an estimate moved off the kink fails."""
    from mlemap.numerics.checks import first_order_violation

    d = derive(laplace_prior_mean())
    inside = _with_mean(15, 0.5 / 15)
    assert first_order_violation(d, {"mu": 0.0}, inside) <= 1e-6
    outside = _with_mean(15, 9.0 / 15)  # S_x = 9: the MAP is (9 - 2) / 15, and 0 is no maximum
    assert first_order_violation(d, {"mu": 0.0}, outside) > 1e-2
    observed = replace(
        laplace_prior_mean(), observed={x: tuple(sp.Rational(v).limit_denominator(10**6) for v in inside["x"])}
    )
    result = verify(observed)
    assert result.passed, result.table()
