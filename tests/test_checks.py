"""Every check passes on every registered model, and each kind of check fails on a wrong derivation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

from mlemap.catalogue import COIN_MAP_SD, derivation
from mlemap.derivations.engine import derive
from mlemap.derivations.model import InputError, Model, Parameter
from mlemap.numerics import checks, verify
from mlemap.numerics.checks import check_data, run_checks
from tests.conftest import mutate


def _by_name(results):
    return {r.check: r for r in results}


def test_all_checks_pass(model_derivation):
    results = run_checks(model_derivation, peer=model_derivation.model.peer)
    failed = [(r.check, r.error, r.tolerance) for r in results if not r.passed]
    assert not failed
    assert {"autograd", "taylor_slope", "finite_difference", "scipy_optimize", "torch_optim"} <= {
        r.check for r in results
    }


def test_variance_over_n_minus_1_fails_the_optimizers_and_peer():
    d = derivation("gaussian")
    mu, s2 = d.params
    n = next(s.symbol for s in d.statistics if s.expr == 1)
    wrong = mutate(d, estimate={mu: d.estimate[mu], s2: d.estimate[s2] * n / (n - 1)})
    res = _by_name(run_checks(wrong, peer=wrong.model.peer))
    for name in ("scipy_optimize", "torch_optim", "peer", "stationary"):
        assert not res[name].passed, name
    assert res["autograd"].passed  # the score itself is still right


@pytest.mark.parametrize("name", ["gaussian", "linear_regression", "coin_map", "poisson"])
def test_score_one_percent_off_fails_gradient_checks(name):
    d = derivation(name)
    res = _by_name(run_checks(mutate(d, score=d.score * sp.Rational(101, 100))))
    for check in ("autograd", "taylor_slope", "finite_difference"):
        assert not res[check].passed, check


def test_taylor_slope_is_one_for_a_wrong_gradient():
    # exp has curvature everywhere, so the second-order term dominates the remainder.
    f = lambda v: float(np.sum(np.exp(v)))  # noqa: E731
    x0, direction = np.array([0.3, -0.2]), np.array([0.6, 0.8])
    assert checks.taylor_slope(f, np.exp(x0), x0, direction) == pytest.approx(2, abs=0.05)
    assert checks.taylor_slope(f, 1.01 * np.exp(x0), x0, direction) < 1.5  # far outside 2 +- 0.1


def test_wrong_hessian_fails():
    d = derivation("linear_regression")
    res = _by_name(run_checks(mutate(d, hessian=d.hessian * sp.Rational(99, 100))))
    assert not res["hessian_autograd"].passed
    assert res["autograd"].passed


def test_dropped_term_in_statistics_fails_rewrite():
    d = derivation("gaussian")
    n = next(s.symbol for s in d.statistics if s.expr == 1)
    res = _by_name(run_checks(mutate(d, loglik=d.loglik + n * sp.log(2))))
    assert not res["stats_rewrite"].passed


@pytest.mark.parametrize("index", [0, 2])
def test_wrong_root_of_the_map_cubic_fails(index):
    d = derivation(COIN_MAP_SD.name)
    (p,) = d.params
    (right,) = d.estimate.values()
    wrong_root = sp.CRootOf(right.poly, index)
    res = _by_name(run_checks(mutate(d, estimate={p: wrong_root})))
    assert not res["scipy_optimize"].passed and not res["torch_optim"].passed


def test_verify_cli_goes_red_on_a_wrong_derivation(tmp_path, monkeypatch, capsys):
    good = derivation("gaussian")
    p = good.params[0]
    wrong = mutate(good, estimate={**good.estimate, p: 2 * good.estimate[p]})
    real = verify.derive
    monkeypatch.setattr(verify, "derive", lambda m: wrong if m.name == "gaussian" else real(m))
    out = tmp_path / "verify.json"
    assert verify.main(["--model", "gaussian", "--json", str(out)]) == 1
    payload = json.loads(out.read_text())
    assert payload["passed"] is False
    assert "FAIL" in capsys.readouterr().out


def test_verify_cli_passes_and_writes_json(tmp_path, capsys):
    out = tmp_path / "verify.json"
    assert verify.main(["--model", "coin_map", "--model", "coin_uniform", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    keys = {a["key"]: a for a in payload["answers"]}
    assert keys["task3a.theta_map"]["exact"] == "sqrt(5)/5"
    assert all(c["passed"] for c in payload["checks"])
    text = capsys.readouterr().out
    assert "0.447213595499958" in text and "4/9" in text


def test_a_model_declared_only_here_runs_the_whole_pipeline():
    """A geometric model (number of failures before a success), declared in this test only."""
    k = sp.Symbol("k", integer=True, nonnegative=True)
    p = sp.Symbol("p", positive=True)
    geometric = Model(
        "geometric_test",
        "Geometric",
        (k,),
        (Parameter(p, sp.Interval.open(0, 1)),),
        p * (1 - p) ** k,
        support={k: sp.Naturals0},
        simulate=lambda rng, n, t: {"k": rng.geometric(t["p"], n) - 1.0},
        truth={"p": 0.3},
    )
    d = derive(geometric)
    assert d.estimate is not None
    results = run_checks(d)
    assert results and all(r.passed for r in results), [(r.check, r.error) for r in results if not r.passed]


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        ("coin_map", {"x": [0, 1, 2]}, "must lie in"),
        ("gaussian", {"x": [1.0]}, "at least 2 observations"),
        ("gaussian", {"x": [1.0, float("nan")]}, "must be finite"),
        ("gaussian", {"x": [1.0, float("inf")]}, "must be finite"),
        ("linear_regression", {"x": [1.0, 1.0, 1.0], "y": [1.0, 2.0, 3.0]}, "must not be constant"),
        ("linear_regression", {"x": [1.0, 2.0, 3.0]}, "data 'y' is missing"),
        ("gaussian", {"x": [[1.0, 2.0]]}, "one-dimensional"),
        ("poisson", {"x": [1.0, 2.5]}, "must lie in"),
    ],
)
def test_bad_data_is_refused_with_a_named_rule(model, data, message):
    with pytest.raises(InputError, match=message):
        derivation(model).model.validate(data)


def test_check_data_uses_the_observed_coin_tosses():
    data = check_data(derivation("coin_map").model, seed=0)
    assert data["x"].tolist() == list(map(float, derivation("coin_map").model.observed[sp.Symbol("x", real=True)]))
