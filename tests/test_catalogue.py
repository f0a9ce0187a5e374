"""Every textbook model of the catalogue (tests/textbook_catalogue.py), generic tests parametrised over it:
its estimate agrees with an independent reference and its verification has no FAIL and no crash. Then the
engine's particular cases: a real root kept among complex ones, time limits, solves SymPy gives up on."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from mlemap.derivations import derive
from mlemap.derivations.model import InputError, Model, Parameter
from mlemap.numerics.checks import check_data, maximiser_interval
from mlemap.numerics.estimate import estimate
from mlemap.numerics.verify import verify
from tests.test_textbook import POSITIVE, lam, weibull, x
from tests.textbook_catalogue import CAPABILITIES, CASES

IDS = [f"{case.capability}-{case.model.name}" for case in CASES]
CLOSED = {
    "root",
    "support",
    "constraint",
    "rewrite",
    "routes",
    "covariates",
    "supports",
    "matrix",
    "kink",
    "range",
    "biased",
    "affine",
    "design",
    "median",
}


def test_every_capability_has_two_models_or_more():
    counts = {cap: sum(case.capability == cap for case in CASES) for cap in CAPABILITIES}
    assert min(counts.values()) >= 2, counts
    assert len({case.model.name for case in CASES}) >= 19  # models, each counted once


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_estimate_agrees_with_an_independent_reference(case):
    d = derive(case.model)
    if case.capability in CLOSED:
        assert d.estimate is not None, d.no_closed_form
    data = check_data(case.model, seed=11)
    found = estimate(d, data)
    if case.capability == "set":  # no point to agree on: the peer's point lies in the derived set
        lo, hi = maximiser_interval(d, data)
        assert found.method == "set" and not found.converged and f"[{lo:.6g}, {hi:.6g}]" in found.reason
        assert all(lo <= v <= hi for v in case.model.peer(data).values())
        return
    assert found.converged and found.values is not None, found.reason
    assert found.method == ("closed form" if case.capability in CLOSED else "numerical")
    reference = case.model.peer(data)
    tol = case.model.tolerances.get("peer", 1e-6)
    for name, value in reference.items():
        assert found.values[name] == pytest.approx(value, rel=tol, abs=tol), name


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_verification_has_no_fail_and_no_crash(case):
    with np.errstate(all="ignore"):
        result = verify(case.model)
    assert result.passed, result.table()
    assert not [c for c in result.checks if "crashed" in c.detail]
    assert {c.check: c.status for c in result.checks}["peer"] == "PASS"


def test_a_wrong_estimate_at_a_support_bound_fails_the_optimizers_and_the_peer():
    from dataclasses import replace

    from tests.textbook_catalogue import uniform_0_theta

    d = derive(uniform_0_theta())
    (theta,) = d.params
    wrong = replace(d, estimate={theta: d.estimate[theta] * 1.01})  # barely above the sample maximum
    failed = {c.check for c in verify(wrong).checks if c.status == "FAIL"}
    assert {"scipy_optimize", "torch_optim", "peer"} <= failed


SUPPORT_SHEET = """
from mlemap.derivations.sheet import Estimate, Sheet
from tests.textbook_catalogue import categorical_dirichlet, pareto, uniform_0_theta

SHEET = Sheet(
    title="Order statistics",
    questions=(
        Estimate("q1", "The MLE of theta for Uniform(0, theta)?", uniform_0_theta()),
        Estimate("q2", "The MLE of the Pareto scale and shape?", pareto()),
        Estimate("q3", "The MAP of three category probabilities?", categorical_dirichlet()),
    ),
)
"""


@pytest.mark.build
def test_support_bounds_and_constraints_are_shown_as_steps_and_proved(tmp_path):
    import json

    from mlemap.reports.cli import main
    from tests.reprove import reproved

    sheet = tmp_path / "order_sheet.py"
    sheet.write_text(SUPPORT_SHEET)
    out = tmp_path / "report"
    assert main(["--sheet", str(sheet), "--out", str(out), "--format", "md"]) == 0
    records = json.loads((out / "steps.json").read_text())
    assert all(r["status"] == "proved" for r in records if r.get("claims"))
    assert all(reproved(r, seed) for r in records if r["status"] == "proved" for seed in (0, 1))
    bound_steps = [r for r in records if r["step"].startswith("Support bound")]
    assert [r["question"] for r in bound_steps] == ["q1", "q2"]
    shown = (out / "report.md").read_text()
    assert r"\hat{\theta} = {x}_{(n)}" in shown and r"\hat{x}_{m} = {x}_{(1)}" in shown
    lagrange = [
        r for r in records if r["question"] == "q3" and r["step"] in ("Lagrange condition", "MAP (on the constraints)")
    ]
    assert [r["status"] for r in lagrange] == ["proved", "proved"]
    assert r"\hat{p}_{1} = \frac{N_{1} + 1}{n + 6}" in shown


def test_a_covariance_divided_by_n_minus_1_fails_its_checks():
    from dataclasses import replace

    from mlemap.derivations.engine import n_obs
    from tests.textbook_catalogue import gaussian_mean_covariance

    d = derive(gaussian_mean_covariance(2))
    unbiased = {p: (v * n_obs / (n_obs - 1) if p.name.startswith("sigma") else v) for p, v in d.estimate.items()}
    assert all(isinstance(v, sp.Expr) for v in unbiased.values())
    failed = {c.check for c in verify(replace(d, estimate=unbiased)).checks if c.status == "FAIL"}
    assert {"scipy_optimize", "torch_optim", "stationary", "peer"} <= failed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m, s: {"matrices": (s[:1, :],)},
            r"must be a symmetric square sympy.Matrix, got Matrix\(\[\[\w+, \w+\]\]\)$",
        ),
        (lambda m, s: {"matrices": (s.subs(s[0, 1], 2 * s[0, 1]),)}, "is not a declared parameter"),
        (lambda m, s: {"matrices": (s, s)}, "one matrix parameter at most"),
        (
            lambda m, s: {"matrices": (sp.Matrix([[s[0, 0], s[0, 1]], [m.param_symbols[0], s[1, 1]]]),)},
            "must be a symmetric square sympy.Matrix",
        ),
        (lambda m, s: {"matrices": (tuple(s),)}, "must be a symmetric square sympy.Matrix"),
        (
            lambda m, s: {"params": tuple(replace(p, domain=sp.Reals) for p in m.params)},
            r"the diagonal of a positive-definite matrix must have domain \(0, oo\)$",
        ),
    ],
    ids=["not-square", "entry-not-a-parameter", "two-matrices", "asymmetric", "not-a-matrix", "diagonal-any-sign"],
)
def test_a_bad_matrix_declaration_is_refused_in_one_line(change, message):
    from dataclasses import replace

    from mlemap.derivations.model import InputError
    from tests.textbook_catalogue import gaussian_mean_covariance

    model = gaussian_mean_covariance(2)
    (sigma,) = model.matrices
    with pytest.raises(InputError, match=message) as err:
        derive(replace(model, **change(model, sigma)))
    assert "\n" not in str(err.value) and str(err.value).startswith("gaussian2d: ")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: {"constraints": (m.param_symbols[0] + m.param_symbols[1] > 1,)}, "must be an equation"),
        (lambda m: {"constraints": (sp.Eq(m.param_symbols[0] + m.data[0], 1),)}, "which is not a parameter"),
        (
            lambda m: {"constraints": tuple(sp.Eq(p, sp.Rational(1, 3)) for p in m.param_symbols)},
            "leave no parameter free",
        ),
    ],
    ids=["inequality", "uses-data", "none-free"],
)
def test_a_bad_constraint_is_refused_in_one_line(change, message):
    from dataclasses import replace

    from mlemap.derivations.model import InputError
    from tests.textbook_catalogue import categorical

    model = categorical()
    with pytest.raises(InputError, match=message) as err:
        derive(replace(model, **change(model)))
    assert "\n" not in str(err.value) and str(err.value).startswith("categorical: ")


@pytest.mark.parametrize(
    ("support", "message"),
    [
        (lambda x, t: sp.Interval(0, t**2), r"must be a \* theta \+ c for one parameter theta"),
        (lambda x, t: sp.Interval(0, t + x), r"must be a \* theta \+ c"),
        (lambda x, t: sp.FiniteSet(0, t), "must be an interval"),
    ],
    ids=["end-not-affine", "end-with-data", "finite-set"],
)
def test_a_support_bound_the_engine_cannot_use_is_refused_in_one_line(support, message):
    from dataclasses import replace

    from mlemap.derivations.model import InputError
    from tests.textbook_catalogue import uniform_0_theta

    model = uniform_0_theta()
    (x,), (theta,) = model.data, model.param_symbols
    with pytest.raises(InputError, match=message):
        derive(replace(model, support={x: support(x, theta)}))


def test_a_density_on_a_parameter_dependent_support_is_checked_for_normalisation():
    from dataclasses import replace

    from mlemap.derivations.model import InputError
    from tests.textbook_catalogue import uniform_0_theta

    model = uniform_0_theta()
    (theta,) = model.param_symbols
    with pytest.raises(InputError, match="must integrate"):
        derive(replace(model, density=2 / theta))


def test_mlemap_derive_names_order_statistics_and_counts_for_what_they_are():
    from mlemap.derivations.show import as_text
    from tests.textbook_catalogue import categorical, uniform_0_theta

    uniform = as_text(derive(uniform_0_theta()))
    assert (
        "max(x) = the largest x of the n observations" in uniform and "θ̂ = max(x)" in uniform
    )  # the estimate wears a hat
    assert "Σx" not in uniform
    counts = as_text(derive(categorical()))
    assert "#(k=2) = how many of the n observations have k = 2" in counts


@pytest.mark.parametrize(
    ("factory", "textbook"),
    [
        ("uniform_0_theta", lambda n, t: n * t["theta"] / (n + 1)),
        ("shifted_exponential", lambda n, t: t["a"] + sp.Integer(1) / n),
        ("uniform_a_b", lambda n, t: (t["a"] * n + t["b"]) / (n + 1)),
        ("pareto", lambda n, t: t["alpha"] * n * t["x_m"] / (t["alpha"] * n - 1)),
    ],
)
def test_an_order_statistic_has_its_textbook_expectation(factory, textbook):
    import tests.textbook_catalogue as catalogue
    from mlemap.derivations.engine import n_obs
    from mlemap.derivations.fisher import expected_value

    d = derive(getattr(catalogue, factory)())
    bounded = d.bounds[-1].param  # the uniform on [a, b]: its lower end, the sample minimum
    symbols = {p.name: p for p in d.params}
    assert sp.simplify(expected_value(d, d.estimate[bounded]) - textbook(n_obs, symbols)) == 0


def test_the_bias_check_of_an_order_statistic_runs_and_fails_a_wrong_expectation():
    from mlemap.numerics.montecarlo import check_bias, estimates
    from tests.textbook_catalogue import uniform_0_theta

    d = derive(uniform_0_theta())
    draws = estimates(d, replications=2000, n=20, seed=3)
    assert check_bias(d, draws, n=20).status == "PASS"  # the derived E[max] = n theta / (n + 1)
    wrong = {"theta": 20 * 3.0 / 22}  # n theta / (n + 2)
    assert check_bias(d, draws, means=wrong, n=20).status == "FAIL"


def test_the_textbook_unbiased_correction_of_an_order_statistic_has_expectation_theta():
    from mlemap.derivations.engine import n_obs
    from mlemap.derivations.fisher import expected_value
    from tests.textbook_catalogue import uniform_0_theta

    d = derive(uniform_0_theta())
    (theta,) = d.params
    corrected = (n_obs + 1) / n_obs * d.estimate[theta]  # a coefficient in n, which is not data
    assert sp.simplify(expected_value(d, corrected) - theta) == 0


@pytest.mark.parametrize(
    ("support", "domain", "expected"),
    [
        (lambda t: sp.Interval(0, t), sp.Interval.open(0, sp.oo), lambda mx, mn: (mx, sp.oo)),
        (lambda t: sp.Interval(-t, t), sp.Interval.open(0, sp.oo), lambda mx, mn: (sp.Max(mx, -mn), sp.oo)),
        (lambda t: sp.Interval(t, 2 * t), sp.Interval.open(0, sp.oo), lambda mx, mn: (mx / 2, mn)),
        (lambda t: sp.Interval(t - 1, t + 3), sp.Reals, lambda mx, mn: (mx - 3, mn + 1)),
        (lambda t: sp.Interval(3 - t, 5), sp.Interval(-10, 10), lambda mx, mn: (sp.Max(3 - mn, -10), 10)),
        (lambda t: sp.Interval(0, t), sp.Interval(2, 9), lambda mx, mn: (sp.Max(mx, 2), 9)),
    ],
    ids=["0-theta", "symmetric", "theta-2theta", "window", "reflected", "closed-domain"],
)
def test_a_bounded_parameter_is_confined_to_the_feasible_set_its_support_ends_allow(support, domain, expected):
    from mlemap.derivations.engine import order_statistics
    from mlemap.derivations.support import feasible_ends

    x, theta = sp.Symbol("x", real=True), sp.Symbol("theta", real=True)
    interval = support(theta)
    model = Model(
        "m", "m", (x,), (Parameter(theta, domain),), 1 / (interval.end - interval.start), support={x: interval}
    )
    d = derive(model)
    orders = order_statistics(d)
    by_side = {b.side: o for b, o in orders.items()}
    mx, mn = by_side.get("max"), by_side.get("min")
    lo, hi, _ = feasible_ends(model, orders, theta)
    want = expected(mx, mn)
    assert sp.simplify(lo - want[0]) == 0 and (hi == want[1] or sp.simplify(hi - want[1]) == 0), (lo, hi)


def test_an_order_statistic_carries_the_sign_every_observation_has():
    from mlemap.derivations.engine import order_statistics
    from tests.textbook_catalogue import pareto, shifted_exponential, uniform_0_theta

    def symbol(model):
        (order,) = order_statistics(derive(model)).values()
        return order

    assert symbol(uniform_0_theta()).is_nonnegative and symbol(uniform_0_theta()).is_positive is None  # x >= 0
    assert symbol(pareto()).is_positive  # x >= x_m > 0
    assert symbol(shifted_exponential()).is_nonnegative is None and symbol(shifted_exponential()).is_real  # x >= a
    assert {symbol(uniform_0_theta()).name, symbol(pareto()).name} == {"max_x", "min_x"}


def test_counts_over_a_finite_support_are_written_in_n_the_textbook_form():
    from mlemap.derivations.engine import n_obs
    from tests.textbook_catalogue import categorical, categorical_dirichlet

    d = derive(categorical())
    counts = {s.expr: s.symbol for s in d.statistics if isinstance(s.expr, sp.KroneckerDelta)}
    p = {q.name: q for q in d.params}
    k = d.model.data[0]
    assert all(d.estimate[p[f"p{v}"]] == counts[sp.KroneckerDelta(k, v)] / n_obs for v in (1, 2, 3))
    map_ = derive(categorical_dirichlet())
    counts = {s.expr: s.symbol for s in map_.statistics if isinstance(s.expr, sp.KroneckerDelta)}
    assert sp.simplify(map_.estimate[p["p3"]] - (counts[sp.KroneckerDelta(k, 3)] + 3) / (n_obs + 6)) == 0


def test_counts_of_opposite_values_are_two_statistics_and_each_estimate_is_its_own_frequency():
    """Counts of -1 and 1 (like sums of x**2 and x**-2) once shared a name, hence a symbol, merging in the log-likelihood."""
    from mlemap.derivations.engine import estimate_at
    from tests.textbook_catalogue import k, p1, p2, p3, signed_categorical

    values = (-1, 0, 1)
    d = derive(signed_categorical())
    data = [-1, -1, 1, 0, -1, 1, -1]
    counted = {s.symbol: sum(s.expr.subs(k, v) for v in data) for s in d.statistics if s.expr != 1}
    assert len(counted) == 3
    found = estimate_at(d, {**counted, **{s.symbol: len(data) for s in d.statistics if s.expr == 1}})
    assert [found[p] for p in (p1, p2, p3)] == [sp.Rational(data.count(v), len(data)) for v in values]


def test_statistics_whose_names_coincide_get_two_symbols_and_their_own_estimates():
    from mlemap.derivations.engine import estimate_at
    from tests.textbook_catalogue import bit_named_xy

    d = derive(bit_named_xy())
    rows = [(1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1), (0, 0, 1)]  # x*y is 1 in 2 of 5 rows, xy in 4 of 5
    values = {s.symbol: sum(s.expr.subs(dict(zip(d.model.data, row))) for row in rows) for s in d.statistics}
    assert len(values) == 3
    both, third = sp.Rational(2, 5), sp.Rational(4, 5)  # P(x*y = 1) = e^a / (3 + e^a), P(xy = 1) = e^b / (1 + e^b)
    a, b = d.params
    assert estimate_at(d, values) == {a: sp.log(3 * both / (1 - both)), b: sp.log(third / (1 - third))}


def test_a_sine_of_a_difference_is_expanded_so_the_density_separates():
    from tests.test_textbook import von_mises

    cosine = von_mises()
    angle, mu = cosine.data[0], cosine.param_symbols[0]
    sine = replace(cosine, density=sp.exp(2 * sp.sin(angle - mu)) / (2 * sp.pi * sp.besseli(0, 2)))
    assert {sp.sin(angle), sp.cos(angle)} <= {s.expr for s in derive(sine).statistics}


@pytest.mark.parametrize("name, order", [("uniform_0_theta", max), ("shifted_exponential", min)])
def test_observed_data_give_the_order_statistic_its_value(name, order):
    """theta = max_i x_i, a = min_i x_i, at data declared with the model."""
    from mlemap.derivations.engine import estimate_at
    from tests import textbook_catalogue

    model = getattr(textbook_catalogue, name)()
    data = (sp.Rational(5, 2), 4, 3)
    d = derive(replace(model, observed={model.data[0]: data}))
    assert list(estimate_at(d, d.observed_statistics).values()) == [order(data)]


def test_a_support_bound_on_the_second_data_symbol_is_found():
    """y ~ Exp(1) on (0, oo), x ~ U(0, theta): the MLE of theta is max_i x_i, whatever y's support."""
    from mlemap.derivations.engine import estimate_at
    from tests.textbook_catalogue import uniform_0_theta

    y = sp.Symbol("y", positive=True)
    uniform = uniform_0_theta()
    (x_, theta) = (uniform.data[0], uniform.param_symbols[0])
    model = replace(uniform, data=(y, x_), density=sp.exp(-y) / theta, support={y: POSITIVE, **uniform.support})
    d = derive(model)
    data = {y: [5, 1, 2], x_: [sp.Rational(1, 2), 3, 2]}
    reduce = {"sum": sum, "max": max, "min": min}
    values = {
        s.symbol: reduce[s.reduce](s.expr.subs({k: v[i] for k, v in data.items()}) for i in range(3))
        for s in d.statistics
    }
    assert estimate_at(d, values) == {theta: 3}


def test_a_likelihood_not_proved_monotone_on_the_feasible_set_is_no_closed_form_with_the_reason():
    from dataclasses import replace

    from tests.textbook_catalogue import uniform_0_theta

    model = uniform_0_theta()
    (theta,) = model.param_symbols
    pulled = replace(model, prior=sp.exp(-((theta - 5) ** 2)))  # the prior pulls theta towards 5
    d = derive(pulled)
    assert d.estimate is None
    assert d.no_closed_form.startswith("the log-likelihood is not proved monotone in theta on its feasible set")
    # numerically the maximum is at the bound all the same: three starts agree there, the score points outward
    with np.errstate(all="ignore"):
        checks = {c.check: c for c in verify(replace(pulled, peer=None)).checks}
    assert checks["torch_optim"].status == "PASS" and checks["stationary"].status == "PASS"
    assert (
        checks["torch_optim"].detail == "vs the other optimizer"
        and "closed form vs" not in checks["torch_optim"].compares
    )


def test_a_matrix_density_not_of_the_log_det_form_is_no_closed_form_with_the_reason():
    from dataclasses import replace

    from tests.textbook_catalogue import gaussian_mean_covariance

    model = gaussian_mean_covariance(2)
    (sigma,) = model.matrices
    d = derive(replace(model, density=model.density * sp.exp(sigma[0, 0]) / sigma[0, 0]))  # a log sigma11 term
    assert d.estimate is None and d.no_closed_form == "the objective is not c log det Sigma + Q / det Sigma"


def test_a_constant_log_in_a_term_of_sigma_is_part_of_q_not_of_log_det():
    from mlemap.derivations.matrix import log_det_form

    s11, s12, s22, n = sp.symbols("sigma11 sigma12 sigma22 n", positive=True)
    det = s11 * s22 - s12**2
    objective = -n / 2 * sp.log(det) - sp.log(2) * s22 / det + sp.log(sp.pi) * n  # log 2 scales a term of Q
    assert log_det_form(objective, det, [s11, s12, s22]) == (-n / 2, -sp.log(2) * s22)


def test_a_constraint_that_does_not_fix_the_last_parameter_uniquely_is_refused_naming_it():
    from dataclasses import replace

    from mlemap.derivations.model import InputError
    from tests.textbook_catalogue import categorical

    model = categorical()
    p1, p2, _ = model.param_symbols
    with pytest.raises(InputError, match=r"^categorical: the constraints must determine p3 uniquely from the other"):
        derive(replace(model, constraints=(sp.Eq(p1 + p2, 1),)))  # silent on p3


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


@pytest.mark.parametrize("error", [NotImplementedError("no algorithm"), sp.PolynomialError("tan(mu) is a generator")])
def test_a_solve_sympy_gives_up_on_is_no_closed_form_and_a_numerical_estimate(monkeypatch, error):
    import mlemap.derivations.solve

    def gives_up(*args, **kwargs):
        raise error

    monkeypatch.setattr(mlemap.derivations.solve.sp, "solve", gives_up)
    d = derive(weibull(3))
    assert d.estimate is None and d.no_closed_form.startswith("sympy.solve cannot solve the score equation")


def test_a_model_sets_its_own_solve_time_limit():
    from tests.conftest import gamma_shape_model

    slow = derive(replace(gamma_shape_model(), solve_seconds=0.001))
    assert slow.estimate is None
    assert slow.no_closed_form.startswith("sympy.solve of the score equations did not finish within 0.001 s")


def test_lagrange_equations_sympy_cannot_solve_or_finish_are_no_closed_form_with_the_reason(monkeypatch):
    from dataclasses import replace

    import mlemap.derivations.constraints as constraints
    from tests.textbook_catalogue import tied_poisson

    slow = derive(replace(tied_poisson(), solve_seconds=1e-6))
    assert slow.no_closed_form.startswith("sympy.solve of the Lagrange equations did not finish within 1e-06 s")

    def refuse(equations, unknowns, **kwargs):  # the Lagrange system only: its unknowns include the multipliers
        if any(str(u).startswith("nu_") for u in unknowns):
            raise NotImplementedError("no algorithm\nfor this system")
        return sp.solve(equations, unknowns, **kwargs)

    import types

    monkeypatch.setattr(constraints, "sp", types.SimpleNamespace(**{**vars(sp), "solve": refuse}))
    refused = derive(replace(tied_poisson(), title="refused"))
    assert refused.no_closed_form == "sympy.solve cannot solve the Lagrange equations: no algorithm for this system"


def test_constraints_with_a_parameter_dependent_support_or_two_unsolved_parameters_are_refused_naming_them():
    from dataclasses import replace

    from mlemap.derivations.model import InputError
    from tests.textbook_catalogue import categorical, uniform_a_b

    uniform = uniform_a_b()
    a, b = uniform.param_symbols
    with pytest.raises(InputError, match=r"^uniform_a_b: constraints cannot be combined with a support that depends"):
        derive(replace(uniform, constraints=(sp.Eq(a + b, 1),)))
    model = categorical()
    with pytest.raises(InputError, match=r"^categorical: the constraints must determine p2, p3 uniquely from the"):
        derive(replace(model, constraints=model.constraints * 2))  # one equation twice fixes one parameter


def test_counts_are_written_in_n_when_another_data_symbol_comes_first():
    from dataclasses import replace

    from mlemap.derivations.engine import n_obs
    from tests.textbook_catalogue import categorical

    model = categorical()
    z = sp.Symbol("z", real=True)  # a standard normal reading beside each category, listed before it
    d = derive(replace(model, data=(z, *model.data), density=model.density * sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)))
    assert all(d.estimate[p].free_symbols >= {n_obs} for p in d.params), d.estimate


@pytest.mark.parametrize(
    ("lower", "domain", "sign"),
    [
        ("param", sp.Interval(0, sp.oo), "nonnegative"),
        ("param", sp.Interval.open(0, sp.oo), "positive"),
        ("param", sp.Interval.open(-1, sp.oo), None),
        (sp.Integer(2), None, "positive"),
        (sp.Rational(1, 2), None, "positive"),
        (sp.Integer(0), None, "nonnegative"),
        (sp.Integer(-1), None, None),
    ],
)
def test_an_order_statistic_is_positive_or_nonnegative_as_the_supports_lower_end_is(lower, domain, sign):
    from mlemap.derivations.support import MAX, order_symbol

    x, theta, c = sp.Symbol("x", real=True), sp.Symbol("theta", positive=True), sp.Symbol("c", real=True)
    params = (Parameter(theta), Parameter(c, domain)) if domain is not None else (Parameter(theta),)
    model = Model("m", "m", (x,), params, 1 / theta, support={x: sp.Interval(c if lower == "param" else lower, theta)})
    order = order_symbol(model, x, MAX)
    assert order.name == "max_x" and order.is_real
    assert (order.is_positive, order.is_nonnegative) == {"positive": (True, True), "nonnegative": (None, True)}.get(
        sign, (None, None)
    )


def test_an_estimator_mixing_a_sum_and_an_order_statistic_has_its_textbook_expectation():
    """The shifted exponential with scale b: b = mean(x) - min(x), whose expectation is b (n - 1) / n."""
    from mlemap.derivations.engine import n_obs
    from mlemap.derivations.fisher import expected_value
    from mlemap.derivations.solve import NoClosedForm

    x, a, b = sp.Symbol("x", real=True), sp.Symbol("a", real=True), sp.Symbol("b", positive=True)
    scale = Parameter(b, sp.Interval.open(0, sp.oo))
    model = Model(
        "shifted_scale", "t", (x,), (Parameter(a), scale), sp.exp(-(x - a) / b) / b, support={x: sp.Interval(a, sp.oo)}
    )
    d = derive(model)
    assert sp.simplify(expected_value(d, d.estimate[b]) - b * (n_obs - 1) / n_obs) == 0
    assert sp.simplify(expected_value(d, d.estimate[a]) - (a + b / n_obs)) == 0
    (total,) = [s.symbol for s in d.statistics if s.reduce == "sum" and s.symbol != n_obs]
    for estimator in (total * d.estimate[a] / n_obs, d.estimate[a] ** 2):  # not linear in the minimum
        with pytest.raises(
            NoClosedForm,
            match=r"^the estimator is not linear in the order statistics with coefficients free of the data$",
        ):
            expected_value(d, estimator)


def test_an_order_statistics_expectation_that_does_not_finish_says_which(monkeypatch):
    import mlemap.derivations.fisher as fisher
    from mlemap.derivations.solve import NoClosedForm
    from tests.textbook_catalogue import uniform_0_theta

    d = derive(uniform_0_theta())
    monkeypatch.setattr(fisher, "EXPECTATION_SECONDS", 1e-6)
    with pytest.raises(NoClosedForm, match=r"^E\[max x\] did not finish within 1e-06 s"):
        fisher.expected_value(d, d.estimate[d.params[0]])


def test_the_counts_of_two_categorical_data_symbols_are_each_written_in_n():
    """A category k on a simplex beside a Bernoulli j: each symbol's counts add up to n on their own."""
    from dataclasses import replace

    from mlemap.derivations.engine import n_obs
    from tests.textbook_catalogue import categorical

    model = categorical()
    j, q = sp.Symbol("j", integer=True), sp.Symbol("q", positive=True)
    d = derive(
        replace(
            model,
            data=(*model.data, j),
            params=(Parameter(q, sp.Interval.open(0, 1)), *model.params),  # the constraint still fixes p3, the last
            density=model.density * q ** sp.KroneckerDelta(j, 1) * (1 - q) ** sp.KroneckerDelta(j, 0),
            support={**model.support, j: sp.FiniteSet(0, 1)},
        )
    )
    counts = {s.expr: s.symbol for s in d.statistics if isinstance(s.expr, sp.KroneckerDelta)}
    assert d.estimate[q] == counts[sp.KroneckerDelta(j, 1)] / n_obs
    assert all(
        d.estimate[p] == counts[sp.KroneckerDelta(model.data[0], v)] / n_obs for v, p in zip((1, 2, 3), d.params[1:])
    )


@pytest.mark.parametrize(
    "left",
    [
        sp.Integral,  # SymPy gives the integral back unevaluated
        lambda f, limits: sp.Piecewise((sp.integrate(f, limits), sp.Symbol("c") > 0), (0, True)),  # or conditions
    ],
    ids=["unevaluated", "piecewise"],
)
def test_an_order_statistics_expectation_sympy_cannot_take_is_no_closed_form_naming_it(monkeypatch, left):
    import types

    import mlemap.derivations.fisher as fisher
    from mlemap.derivations.solve import NoClosedForm
    from tests.textbook_catalogue import uniform_0_theta

    d = derive(uniform_0_theta())
    fake = {"integrate": lambda f, limits, conds=None: left(f, limits), "simplify": lambda e: e}  # simplify would doit
    monkeypatch.setattr(fisher, "sp", types.SimpleNamespace(**{**vars(sp), **fake}))
    with pytest.raises(NoClosedForm, match=r"^SymPy could not take E\[max x\]$"):
        fisher.expected_value(d, d.estimate[d.params[0]])


def test_a_bounded_model_with_observed_data_is_estimated_at_other_data_as_a_number():
    """Its estimate is the order statistic itself; at other statistics (a Monte Carlo sample) it is that number."""
    from dataclasses import replace

    from mlemap.derivations.engine import estimate_at
    from tests.textbook_catalogue import uniform_0_theta

    model = uniform_0_theta()
    (x,), (theta,) = model.data, model.param_symbols
    d = derive(replace(model, observed={x: (1, 2, 3)}))
    n, largest = (s.symbol for s in d.statistics)
    assert estimate_at(d, {n: 4, largest: 5}) == {theta: 5} and estimate_at(d, {n: 3, largest: 3}) == {theta: 3}
    found = estimate(d, {"x": np.array([0.5, 4.5, 2.0])})
    assert found.values == {"theta": 4.5} and found.method == "closed form"


def test_constrained_declarations_are_checked_at_points_on_the_constraints():
    from dataclasses import replace

    from mlemap.derivations.model import InputError
    from tests.textbook_catalogue import categorical

    model = categorical()
    with pytest.raises(
        InputError, match=r"^categorical: the density must integrate \(or sum\) to 1 over the support; at p1"
    ):
        derive(replace(model, density=2 * model.density))
    assert len(derive(model).candidates) == 1  # the one stationary point of the Lagrangian


def test_lagrange_points_outside_the_domains_are_no_closed_form_saying_how_many(monkeypatch):
    import mlemap.derivations.engine as engine
    from tests.textbook_catalogue import tied_poisson

    monkeypatch.setattr(engine, "admissible", lambda model, points: [])
    d = derive(tied_poisson())
    assert d.estimate is None
    assert d.no_closed_form == "no stationary point of the Lagrangian inside the domains (1 outside)"


def test_a_covariance_map_under_the_prior_one_over_det_sigma_is_the_scatter_over_n_plus_2():
    """Two log det terms (the likelihood's -n/2 and the prior's -1) add up: Sigma = S / (n + 2) = n/(n + 2) MLE."""
    from dataclasses import replace

    from mlemap.derivations.engine import n_obs
    from tests.textbook_catalogue import gaussian_mean_covariance

    model = gaussian_mean_covariance(2)
    (sigma,) = model.matrices
    mle, map_ = derive(model), derive(replace(model, prior=1 / sigma.det(), title="map"))
    for p in mle.params:
        shrink = n_obs / (n_obs + 2) if p in sigma.free_symbols else 1
        assert sp.simplify(map_.estimate[p] - shrink * mle.estimate[p]) == 0, p


def test_the_matrix_routes_refusals_say_which(monkeypatch):
    from dataclasses import replace

    import mlemap.derivations.engine as engine
    from tests.textbook_catalogue import gaussian_mean_covariance

    model = gaussian_mean_covariance(2)
    (sigma,) = model.matrices
    inverse_entry = derive(replace(model, density=model.density * sp.exp(1 / sigma[0, 0])))  # a 1/sigma11 term
    assert inverse_entry.no_closed_form == "the objective is not c log det Sigma + Q / det Sigma"
    slow = derive(replace(model, solve_seconds=1e-6))
    assert slow.no_closed_form.startswith("the matrix route did not finish within 1e-06 s")
    monkeypatch.setattr(engine, "admissible", lambda model, points: [])
    outside = derive(model)
    assert outside.no_closed_form == "0 stationary points of the matrix route inside the domains"


def test_a_score_that_does_not_clear_by_det_sigma_is_no_closed_form_saying_so():
    from mlemap.derivations.matrix import _exact
    from mlemap.derivations.solve import NoClosedForm

    s = sp.Symbol("s")
    assert _exact(sp.Poly(s**3 + s, s), sp.Poly(s, s)) == s**2 + 1
    with pytest.raises(NoClosedForm, match=r"^the score does not clear to a linear equation in the matrix entries$"):
        _exact(sp.Poly(s**2 + 1, s), sp.Poly(s, s))


def test_a_bounded_models_information_is_observed_only_with_the_reason():
    """The support moves with theta, so the regularity behind E[-H] and the Cramer-Rao bound fails."""
    from mlemap.derivations.engine import n_obs
    from mlemap.derivations.fisher import NOT_REGULAR, fisher
    from tests.textbook_catalogue import uniform_0_theta

    d = derive(uniform_0_theta())
    (theta,) = d.params
    info = fisher(d)
    assert info.observed == sp.Matrix([[-n_obs / theta**2]]) and info.expected is None and info.cramer_rao is None
    assert info.reason == NOT_REGULAR


def test_data_in_an_integer_range_are_checked_against_its_ends_and_its_step():
    from mlemap.derivations.model import in_support

    values = np.array([0.0, 1.0, 2.0, 10.0, 12.0, 2.5])
    assert in_support(values, sp.Range(0, 11)).tolist() == [True, True, True, True, False, False]
    assert in_support(values, sp.Range(0, 11, 2)).tolist() == [True, False, True, True, False, False]
