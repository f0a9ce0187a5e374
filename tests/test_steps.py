"""The derivation steps a report prints: the right steps in order, each showing the object it names."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from mlemap.catalogue import derivation
from mlemap.derivations.engine import n_obs
from mlemap.derivations.proof import UP_TO_CONSTANT
from mlemap.reports.steps import worked_steps
from tests.reprove import reproved

TITLES = {
    "gaussian": [
        "Joint log-likelihood",
        "Score",
        "Setting the score to zero",
        "MLE (score = 0)",
        "Second-order check",
    ],
    "coin_map": [
        "Joint log-likelihood",
        "Log-prior",
        "Log-posterior",
        "Score",
        "Statistics of the observed data",
        "Stationary condition",
        "MAP (score = 0)",
        "Second-order check",
    ],
    "cauchy": ["Log-density", "Joint log-likelihood", "Newton step"],
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


def test_every_displayed_step_is_proved_and_holds_at_random_data(model_derivation):
    """Each step's claims: proved by SymPy (derivations/proof.py) and, independently, exact at random data."""
    for step in worked_steps(model_derivation):
        if step.proof is None:
            assert step.title in ("Stationary point", f"{model_derivation.kind} (on the boundary)"), step.title
            continue
        assert step.proof.proved(), step.title
        assert reproved(step.proof.as_record()), step.title


def _altered(step, change):
    """The step with its first claim's right side changed."""
    (lhs, rhs, how), *rest = step.proof.claims
    rhs = rhs.applyfunc(change) if isinstance(rhs, sp.MatrixBase) else change(rhs)
    return dataclasses.replace(step.proof, claims=((lhs, rhs, how), *rest))


@pytest.mark.parametrize("name", ["gaussian", "linear_regression", "coin_map_sd", "poisson"])
@pytest.mark.parametrize("change", ["plus one", "plus a seventh of a parameter"])
def test_an_altered_step_is_neither_proved_nor_reproved(name, change):
    d = derivation(name)
    changes = {"plus one": lambda e: e + 1, "plus a seventh of a parameter": lambda e: e + d.params[0] / 7}
    for step in worked_steps(d):
        if step.proof is None or (change == "plus one" and step.proof.claims[0][2] == UP_TO_CONSTANT):
            continue  # a log-posterior is claimed up to a constant: one more is still right
        wrong = _altered(step, changes[change])
        assert not wrong.proved() and not reproved(wrong.as_record()), step.title


def test_a_familiar_form_is_proved_equal_to_the_derived_estimate():
    from mlemap.catalogue import sigma2, x
    from mlemap.sheets.exercise3 import GAUSSIAN_FORMS, MEANS, total, xbar

    d = derivation("gaussian")
    right = worked_steps(d, {sigma2: GAUSSIAN_FORMS["sigma^2"]}, MEANS)[-2]
    wrong = worked_steps(d, {sigma2: total((x - xbar) ** 2) / (n_obs - 1)}, MEANS)[-2]
    assert right.title == wrong.title == "MLE (score = 0)"  # the estimate shown in its familiar form
    assert r"\hat{\sigma}^{2} = \frac{\sum_{i=1}^{n} \left({x}_{i} - \bar{x}\right)^{2}}{n}" in right.latex
    assert right.proof.proved() and reproved(right.proof.as_record())
    assert not wrong.proof.proved() and not reproved(wrong.proof.as_record())
    assert right.text.startswith(r"Here $\bar{x} = \frac{\sum_{i=1}^{n} {x}_{i}}{n}$.")


def test_a_separable_model_without_closed_form_says_so_in_its_last_step():
    from mlemap.derivations.engine import derive
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
    from mlemap.catalogue import x
    from mlemap.derivations.engine import _derive
    from mlemap.derivations.model import Model, Parameter

    return _derive(Model(name, name.replace("_", " "), (x,), (Parameter(t, domain),), density))


def test_a_data_free_likelihood_says_the_data_enter_only_through_n():
    """t e^-t for every x: the log-likelihood n (log t - t) holds no sum, and the step says so."""
    t = sp.Symbol("t", positive=True)
    d = _data_free("data_free", t, sp.Interval.open(0, sp.oo), t * sp.exp(-t))
    assert [s.symbol for s in d.statistics] == [n_obs]
    assert _by_title(d)["Joint log-likelihood"].text == "The data enter only through $n$."
    assert _by_title(derivation("gaussian"))["Joint log-likelihood"].text == (
        r"In the second line the sums are named, $S_{x} = \sum_{i=1}^{n} x_{i}$, $S_{x^{2}} = \sum_{i=1}^{n} x_{i}^{2}$: "
        "the data enter only through $n$ and these sums."
    )


def test_several_stationary_points_are_listed_before_the_one_picked():
    """A double well -(t^2 - 1)^2 on t > -1/2: stationary at 0 and 1, the maximum at 1, no data."""
    t = sp.Symbol("t", real=True)
    d = _data_free("double_well", t, sp.Interval.open(-sp.Rational(1, 2), sp.oo), sp.exp(-((t**2 - 1) ** 2)))
    assert d.candidates == ({t: 0}, {t: 1}) and d.estimate == {t: 1} and not d.observed_statistics
    steps = _by_title(d)
    assert steps["Stationary points inside the domain"].latex == "t = 0\nt = 1"
    assert steps["MLE (score = 0)"].latex == r"\hat{t} = 1"
    assert d.second_order.status == "proved"


def test_several_estimates_are_shown_side_by_side():
    est = _by_title(derivation("gaussian"))["MLE (score = 0)"].latex
    mu_hat, s2_hat = est.split("\n")
    assert mu_hat == r"\hat{\mu} = \frac{S_{x}}{n}"
    assert s2_hat.startswith(r"\hat{\sigma}^{2} = ") and r"\quad" not in s2_hat


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


def test_a_derivations_stage_by_stage_display_is_the_reviewed_one():
    """`mlemap derive`'s terminal text and a notebook's Markdown against tests/golden/stages.txt (sums, an
    order statistic, counts, a prior, no closed form, two covariates, two responses); after a deliberate change, `python -m tests.golden_stages`."""
    from tests.golden_stages import GOLDEN, current

    assert current() == GOLDEN.read_text()


def test_a_models_known_constants_are_recorded_so_its_steps_reprove():
    """A Gaussian mean with its variance known, s = 2: the record carries s = 2 for the independent check."""
    from mlemap.derivations.engine import derive
    from mlemap.derivations.model import Model, Parameter

    s, mu_, x_ = sp.Symbol("s", positive=True), sp.Symbol("mu", real=True), sp.Symbol("x", real=True)
    model = Model(
        "known_variance",
        "Gaussian mean, variance known",
        (x_,),
        (Parameter(mu_),),
        sp.exp(-((x_ - mu_) ** 2) / (2 * s)) / sp.sqrt(2 * sp.pi * s),
        constants={s: 2},
    )
    steps = [step for step in worked_steps(derive(model)) if step.proof is not None]
    assert len(steps) == 5  # log-likelihood to the second-order check (the Hessian at the estimate), solved by hand
    for step in steps:
        recorded = step.proof.as_record()["constants"]
        assert [(sp.sympify(c["symbol"]), sp.sympify(c["value"])) for c in recorded] == [(s, 2)], step.title
    assert all(step.proof.proved() and reproved(step.proof.as_record()) for step in steps)


def test_the_terminal_display_is_unicode_whatever_sympys_own_default(monkeypatch):
    """SymPy prints ASCII by default where it judges the output cannot take Unicode; `mlemap derive` always
    prints the same Unicode text, so a terminal or a log shows what the golden file shows."""
    import importlib

    from mlemap.catalogue import MODELS
    from mlemap.derivations.engine import derive
    from mlemap.derivations.show import as_text

    d = derive(MODELS["gaussian"])
    shown = as_text(d)
    monkeypatch.setattr(importlib.import_module("sympy.printing.pretty.pretty_symbology"), "_use_unicode", False)
    assert as_text(d) == shown and "─" in shown  # a fraction bar drawn with the box character


def test_two_statistics_a_handout_would_name_alike_are_told_apart():
    from mlemap.derivations.engine import derive
    from mlemap.reports.document import statistic_names, statistics_defined
    from tests.textbook_catalogue import bit_named_xy

    d = derive(bit_named_xy())
    assert sorted(statistic_names(d).values()) == ["S_{x \\cdot y}", "S_{xy}"]
    assert statistics_defined(d).count("S_{") == 2
