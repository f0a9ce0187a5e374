"""The model catalogue's declarations: densities normalised with the stated moments, truths inside the
parameter domains, samplers that draw from the declared model (checked by moments and a refit)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from mlemap import catalogue
from mlemap.catalogue import MODELS

t = sp.Symbol("t", real=True)
m = sp.Symbol("m", real=True)
v = sp.Symbol("v", positive=True)


def test_normal_pdf_is_a_density_with_the_stated_mean_and_variance():
    pdf = catalogue.normal_pdf(t, m, v)
    moments = [sp.simplify(sp.integrate(t**k * pdf, (t, -sp.oo, sp.oo))) for k in range(3)]
    assert moments[0] == 1
    assert sp.simplify(moments[1] - m) == 0
    assert sp.simplify(moments[2] - moments[1] ** 2 - v) == 0


def test_normal_prior_reads_its_second_number_as_the_variance():
    prior = catalogue.normal_prior(t, sp.Rational(1, 2), sp.Rational(1, 10))
    assert sp.simplify(prior - catalogue.normal_pdf(t, sp.Rational(1, 2), sp.Rational(1, 10))) == 0


@pytest.mark.parametrize("name", [m.name for m in (catalogue.COIN_MAP, catalogue.COIN_MAP_SD, catalogue.COIN_UNIFORM)])
def test_coin_models_are_bernoulli_on_zero_one_with_theta_in_the_unit_interval(name):
    registered = MODELS[name]
    model = catalogue.coin_model(name, registered.title, registered.prior)  # built now, not at import
    assert model.simulate is not None
    (x,) = model.data
    (par,) = model.params
    assert model.support[x] == sp.FiniteSet(0, 1)
    assert par.domain == sp.Interval.open(0, 1)
    assert sp.simplify(sum(model.density.subs(x, k) for k in (0, 1))) == 1
    assert model.density.subs(x, 1) == par.symbol
    assert model.observed == {x: catalogue.COIN_DATA}
    assert set(model.truth) == {par.name} and par.domain.contains(sp.nsimplify(model.truth[par.name])) == sp.true
    assert model.title and par.description


def test_every_model_has_a_title_and_documents_its_parameters():
    for name, model in MODELS.items():
        assert model.title and all(p.description for p in model.params), name


@pytest.mark.parametrize("name", sorted(MODELS))
def test_truth_names_every_parameter_and_lies_in_its_domain(name):
    model = MODELS[name]
    assert set(model.truth) == {p.name for p in model.params}
    for p in model.params:
        assert p.domain.contains(sp.nsimplify(model.truth[p.name])) == sp.true, (p.name, model.truth[p.name])


def _draw(name, n=200_000, seed=11):
    model = MODELS[name]
    return model, model.validate(model.simulate(np.random.default_rng(seed), n, model.truth))


@pytest.mark.parametrize("name", sorted(n for n, mdl in MODELS.items() if mdl.simulate and n != "cauchy"))
def test_simulated_mean_matches_the_declared_density_at_the_truth(name):
    model, data = _draw(name)
    response = next(s for s in model.data if s not in model.covariates)
    values = data[response.name]
    assert values.dtype == np.float64
    if model.covariates:
        return  # the regression is checked by its refit below
    (x,) = model.data
    support = model.support.get(x, sp.Reals)
    density = model.density.subs({p.symbol: sp.nsimplify(model.truth[p.name]) for p in model.params})
    if isinstance(support, sp.FiniteSet):
        mean = sum(k * density.subs(x, k) for k in support)
    elif support in (sp.Naturals0, sp.Naturals):
        mean = sp.summation(x * density, (x, support.inf, sp.oo))
    else:
        # quadrature, not SymPy's integral: the log-normal's takes minutes
        lo, hi = (-np.inf, np.inf) if support == sp.Reals else (float(support.start), float(support.end))
        mean = quad(sp.lambdify(x, x * density, "scipy"), lo, hi, epsabs=1e-12, epsrel=1e-10)[0]
    se = values.std() / np.sqrt(len(values))
    assert abs(values.mean() - float(mean)) <= 5 * se, (values.mean(), float(mean))


def test_regression_sampler_draws_the_declared_design_and_line():
    model, data = _draw("linear_regression")
    xs, ys = data["x"], data["y"]
    assert -2.0 <= xs.min() < -1.99 and 2.99 < xs.max() <= 3.0
    slope, intercept = np.polyfit(xs, ys, 1)
    residual_var = np.mean((ys - slope * xs - intercept) ** 2)
    se_intercept = np.sqrt(model.truth["sigma^2"] / len(xs) * (1 + xs.mean() ** 2 / xs.var()))
    assert abs(slope - model.truth["a"]) <= 0.01
    assert abs(intercept - model.truth["b"]) <= 5 * se_intercept
    assert residual_var == pytest.approx(model.truth["sigma^2"], rel=0.02)


def test_coin_model_keeps_the_name_and_notes_it_is_given():
    model = catalogue.coin_model("another_coin", "Another coin", None, notes=("a note",))
    assert (model.name, model.notes, model.prior) == ("another_coin", ("a note",), None)


def test_a_point_where_the_density_is_undefined_claims_nothing_either_way():
    """At sigma^2 = 0 the Gaussian is 1/0 (zoo); a density with a removable 0/0 at t = 1 is nan there. Neither
    point can say whether the density integrates to 1, so neither is refused; an integrable point still is."""
    from dataclasses import replace

    from mlemap.catalogue import GAUSSIAN, mu, sigma2, x
    from mlemap.derivations.declaration import check_normalised
    from mlemap.derivations.model import InputError, Parameter

    assert check_normalised(GAUSSIAN, {mu: 0, sigma2: 0}) is None
    t = sp.Symbol("t", positive=True)
    removable = replace(  # on {0, 1} the density is summed, and a sum of nan would be nan, not a warning
        GAUSSIAN,
        params=(Parameter(t, sp.Interval.open(0, sp.oo)),),
        density=(x + sp.Rational(1, 2)) * (t**2 - 1) / ((t - 1) * (t + 1)),
        support={x: sp.FiniteSet(0, 1)},
    )
    assert check_normalised(removable, {t: 1}) is None
    with pytest.raises(InputError, match=r"it gives 2$"):
        check_normalised(removable, {t: 2})


def test_the_catalogue_declares_eight_models_or_more_by_their_distribution():
    """Each from Model.from_distribution (its sampler is scipy's, from derivations.distributions), and each in
    MODELS, so that every check of tests/test_checks.py runs on it; the hand-written ones stay hand-written."""
    by_distribution = [m for m in MODELS.values() if m.simulate.__module__ == "mlemap.derivations.distributions"]
    assert len(by_distribution) >= 8
    assert {m.name for m in by_distribution} == {m.name for m in catalogue.DISTRIBUTION_MODELS}
    assert MODELS["gaussian"].simulate.__module__ == "mlemap.catalogue"
    for model in by_distribution:
        assert model.peer.__doc__.startswith(("scipy.", "the conjugate")), model.name
