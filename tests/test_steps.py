"""The derivation steps a report prints: the right steps in order, each showing the object it names."""

from __future__ import annotations

import pytest
import sympy as sp

from derivations.engine import n_obs
from sheets.catalogue import derivation
from reports.steps import worked_steps

TITLES = {
    "gaussian": [
        "Density of one observation", "Log-density", "Joint log-likelihood in sample statistics", "Score", "Hessian",
        "MLE (score = 0)", "Second-order check",
    ],
    "coin_map": [
        "Density of one observation", "Log-density", "Joint log-likelihood in sample statistics", "Log-prior",
        "Log-posterior (up to a constant)", "Score", "Hessian", "Statistics of the observed data",
        "Stationary points inside the domain", "MAP (score = 0)", "Second-order check",
    ],
    "cauchy": ["Density of one observation", "Log-density", "Joint log-likelihood"],
}


@pytest.mark.parametrize("name", sorted(TITLES))
def test_step_titles_in_order(name):
    assert [s.title for s in worked_steps(derivation(name))] == TITLES[name]


SECOND_ORDER_TEXT = {
    "proved": "All leading principal minors of the negative Hessian are positive: a strict maximum.",
    "conditional": "Negative definite provided the undecided minors are positive; numerics check them on data.",
    "fails": "A leading principal minor of the negative Hessian is not positive: not a maximum.",
}


def _by_title(d):
    return {s.title: s for s in worked_steps(d)}


def test_each_step_shows_its_object(model_derivation):
    d = model_derivation
    steps = _by_title(d)
    theta = ", ".join(sp.latex(p) for p in d.params)
    assert steps["Density of one observation"].latex.endswith(" = " + sp.latex(d.model.density))
    assert steps["Log-density"].latex.endswith(" = " + sp.latex(d.log_density))
    data = ", ".join(sp.latex(v) for v in d.model.data)
    assert steps["Density of one observation"].latex == rf"p({data} \mid {theta}) = {sp.latex(d.model.density)}"
    assert steps["Log-density"].latex == rf"\log p({data} \mid {theta}) = {sp.latex(d.log_density)}"
    assert steps["Log-density"].text == "The log turns the product over observations into a sum and powers into factors."
    if not d.separable:
        assert steps["Joint log-likelihood"].latex == rf"\ell({theta}) = {sp.latex(d.loglik)}"
        assert steps["Joint log-likelihood"].text == "Not separable."
        return
    joint = steps["Joint log-likelihood in sample statistics"]
    assert joint.latex.endswith(" = " + d.latex(d.loglik)) and joint.latex.startswith(rf"\ell({theta}) = ")
    sums = ", ".join(f"${stat.latex}$" for stat in d.statistics if stat.symbol != n_obs)
    assert joint.text == (f"The data enter only through $n$ and {sums}." if sums else "The data enter only through $n$.")
    if d.model.prior is not None:
        assert steps["Log-prior"].latex.endswith(" = " + sp.latex(d.log_prior))
        assert steps["Log-posterior (up to a constant)"].latex.endswith(d.latex(d.objective) + " + C")
    score = steps["Score"].latex
    if len(d.params) > 1:
        assert score == r"\nabla \ell = " + d.latex(d.score)
    else:
        assert score == rf"\frac{{d\ell}}{{d{theta}}} = {d.latex(d.score[0])}"
    assert steps["Hessian"].latex == r"\nabla^2 \ell = " + d.latex(d.hessian)
    if d.observed_statistics:
        shown = r", \quad ".join(f"{d.latex(sym)} = {sp.latex(value)}" for sym, value in d.observed_statistics.items())
        assert steps["Statistics of the observed data"].latex == shown
    final = steps[f"{d.kind} (score = 0)"]
    for p, v in d.estimate.items():
        assert rf"\hat{{{sp.latex(p)}}} = {d.latex(v)}" in final.latex
    second = steps["Second-order check"]
    parts = second.latex.split(r", \quad ")
    assert parts[0] == r"\nabla^2 \ell \big|_{\hat\theta} = " + d.latex(d.second_order.hessian)
    assert parts[1:] == [f"D_{k} = {d.latex(minor)}" for k, minor in enumerate(d.second_order.minors, start=1)]
    assert second.text == SECOND_ORDER_TEXT[d.second_order.status]


def test_a_separable_model_without_closed_form_says_so_in_its_last_step():
    from derivations.engine import derive
    from tests.conftest import gamma_shape_model

    d = derive(gamma_shape_model())
    assert d.separable and d.estimate is None
    last = worked_steps(d)[-1]
    assert (last.title, last.latex) == ("Stationary point", r"\text{no closed form}")
    assert last.text == d.no_closed_form and last.text.startswith("sympy.solve cannot solve the score equation: ")
    assert "\n" not in last.text


def _data_free(name, t, domain, density):
    """A one-parameter "likelihood" whose density holds no data symbol: every number in its derivation is exact.
    It is no probability density, so derive() would refuse the declaration: the engine's _derive is called
    directly (its mathematics is what these tests are about)."""
    from derivations.engine import _derive
    from derivations.model import Model, Parameter
    from sheets.catalogue import x

    return _derive(Model(name, name.replace("_", " "), (x,), (Parameter(t, domain),), density))


def test_a_data_free_likelihood_says_the_data_enter_only_through_n():
    """t e^-t for every x: the log-likelihood n (log t - t) holds no sum, and the step says so."""
    t = sp.Symbol("t", positive=True)
    d = _data_free("data_free", t, sp.Interval.open(0, sp.oo), t * sp.exp(-t))
    assert [s.symbol for s in d.statistics] == [n_obs]
    assert _by_title(d)["Joint log-likelihood in sample statistics"].text == "The data enter only through $n$."
    assert _by_title(derivation("gaussian"))["Joint log-likelihood in sample statistics"].text == (
        r"The data enter only through $n$ and $\sum_{i=1}^{n} x_{i}$, $\sum_{i=1}^{n} x_{i}^{2}$."
    )


def test_several_stationary_points_are_listed_before_the_one_picked():
    """A double well -(t^2 - 1)^2 on t > -1/2: stationary at 0 and 1, the maximum at 1, no data."""
    t = sp.Symbol("t", real=True)
    d = _data_free("double_well", t, sp.Interval.open(-sp.Rational(1, 2), sp.oo), sp.exp(-((t**2 - 1) ** 2)))
    assert d.candidates == ({t: 0}, {t: 1}) and d.estimate == {t: 1} and not d.observed_statistics
    steps = _by_title(d)
    assert steps["Stationary points inside the domain"].latex == r"0, \quad 1"
    assert steps["MLE (score = 0)"].latex == r"\hat{t} = 1"
    assert d.second_order.status == "proved"


def test_several_estimates_are_shown_side_by_side():
    est = _by_title(derivation("gaussian"))["MLE (score = 0)"].latex
    mu_hat, s2_hat = est.split(r", \quad ")
    assert mu_hat == r"\hat{\mu} = \frac{\sum_{i=1}^{n} x_{i}}{n}"
    assert s2_hat.startswith(r"\hat{\sigma^{2}} = ") and r"\quad" not in s2_hat


def test_a_stationary_minimum_is_reported_as_not_a_maximum():
    """exp(t^2) on [-1, 1]: its one stationary point, t = 0, is a minimum (the registry has no such model)."""
    t = sp.Symbol("t", real=True)
    d = _data_free("bowl", t, sp.Interval(-1, 1), sp.exp(t**2))
    assert d.second_order.status == "fails"
    assert _by_title(d)["Second-order check"].text == SECOND_ORDER_TEXT["fails"]


def test_every_models_worked_steps_are_the_reviewed_ones():
    """Prose and LaTeX against tests/golden/steps.json; after a deliberate change, `python -m tests.golden_steps`
    rewrites it and the diff is reviewed."""
    from tests.golden_steps import GOLDEN, current, text

    assert text(current()) == GOLDEN.read_text()
