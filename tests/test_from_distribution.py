"""Models from named distributions (Model.from_distribution) and priors by name (Beta, Gamma, Normal).

The cases are a list and every generic test is parametrised over it: each case names its scipy.stats distribution
at the truth and its scipy fit with the known parameters fixed, written here by hand (the parametrisation stated a
second time, independently of derivations/distributions.py), and the textbook closed form of its MLE or MAP. The
derived estimate is held against all three on sampled data, and a peer one percent off fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp
import sympy.stats as st
from scipy import optimize, stats

from mlemap.derivations.distributions import Beta, Gamma, Normal, Prior
from mlemap.derivations.engine import derive
from mlemap.derivations.model import InputError, Model, Parameter
from mlemap.numerics.checks import check_peer, run_checks
from mlemap.numerics.estimate import estimate

theta = sp.Symbol("theta", positive=True)
sigma2 = sp.Symbol("sigma^2", positive=True)
N = 2001  # odd: the Laplace location's MLE, the median, is then one point


def seeded(fun, bounds, *, integrality):
    """scipy.stats.fit's differential evolution, seeded (its default draws a new start each run) and polished."""
    return optimize.differential_evolution(fun, bounds, integrality=integrality, seed=0, tol=1e-10, polish=True)


def discrete_fit(dist, bounds: dict, name: str, ours: str) -> Callable:
    """scipy.stats.fit (scipy's own search: rv_discrete has no .fit) with the bounds given, a parameter fixed by
    equal bounds: its parameter `name`, which the model calls `ours`."""

    def fit(x):
        found = stats.fit(dist, x, bounds=bounds, optimizer=seeded)
        assert found.success, found.message
        return {ours: found.params._asdict()[name]}

    return fit


def tight_fmin(func, x0, args=(), disp=0):
    """scipy's weibull_min.fit stops 1e-5 short of the answer with its default fmin."""
    return optimize.fmin(func, x0, args=args, xtol=1e-12, ftol=1e-14, disp=disp)


@dataclass(frozen=True)
class Case:
    model: Model
    frozen: Callable  # truth -> the scipy.stats distribution there
    fit: Callable | None  # data -> {parameter name: value}: scipy's fit, the known parameters fixed (None: a MAP)
    closed: Callable | None  # data -> {parameter name: value}: the textbook closed form (None: there is none)


def m(*args, **kwargs) -> Model:
    return Model.from_distribution(*args, **kwargs)


CASES = [
    Case(
        m("normal", name="normal_mean_sd"),
        lambda t: stats.norm(t["mu"], t["sigma"]),
        lambda x: dict(zip(("mu", "sigma"), stats.norm.fit(x))),
        lambda x: {"mu": x.mean(), "sigma": x.std()},
    ),
    Case(
        m("normal", variance=sigma2, name="normal_mean_variance"),
        lambda t: stats.norm(t["mu"], np.sqrt(t["sigma^2"])),
        lambda x: (lambda f: {"mu": f[0], "sigma^2": f[1] ** 2})(stats.norm.fit(x)),
        lambda x: {"mu": x.mean(), "sigma^2": x.var()},
    ),
    Case(
        m("normal", sd=2, name="normal_known_sd"),
        lambda t: stats.norm(t["mu"], 2),
        lambda x: {"mu": stats.norm.fit(x, fscale=2)[0]},
        lambda x: {"mu": x.mean()},
    ),
    Case(
        m("exponential"),
        lambda t: stats.expon(scale=1 / t["lambda"]),
        lambda x: {"lambda": 1 / stats.expon.fit(x, floc=0)[1]},
        lambda x: {"lambda": 1 / x.mean()},
    ),
    Case(
        m("gamma", shape=2, scale=theta, name="gamma_shape_2"),
        lambda t: stats.gamma(2, scale=t["theta"]),
        lambda x: {"theta": stats.gamma.fit(x, fa=2, floc=0)[2]},
        lambda x: {"theta": x.mean() / 2},
    ),
    Case(
        m("poisson"),
        lambda t: stats.poisson(t["lambda"]),
        lambda x: discrete_fit(stats.poisson, {"mu": (0, x.max() + 1)}, "mu", "lambda")(x),
        lambda x: {"lambda": x.mean()},
    ),
    Case(
        m("bernoulli"),
        lambda t: stats.bernoulli(t["theta"]),
        discrete_fit(stats.bernoulli, {"p": (0, 1)}, "p", "theta"),
        lambda x: {"theta": x.mean()},
    ),
    Case(
        m("geometric"),
        lambda t: stats.geom(t["theta"]),
        discrete_fit(stats.geom, {"p": (0, 1)}, "p", "theta"),
        lambda x: {"theta": 1 / x.mean()},
    ),
    Case(
        m("binomial", n=10, name="binomial_10"),
        lambda t: stats.binom(10, t["theta"]),
        discrete_fit(stats.binom, {"n": (10, 10), "p": (0, 1)}, "p", "theta"),
        lambda x: {"theta": x.mean() / 10},
    ),
    Case(
        m("beta"),
        lambda t: stats.beta(t["alpha"], t["beta"]),
        lambda x: dict(zip(("alpha", "beta"), stats.beta.fit(x, floc=0, fscale=1)[:2])),
        None,
    ),
    Case(
        m("lognormal"),
        lambda t: stats.lognorm(t["sigma"], scale=np.exp(t["mu"])),
        lambda x: (lambda f: {"mu": np.log(f[2]), "sigma": f[0]})(stats.lognorm.fit(x, floc=0)),
        lambda x: {"mu": np.log(x).mean(), "sigma": np.log(x).std()},
    ),
    Case(
        m("rayleigh"),
        lambda t: stats.rayleigh(scale=t["sigma"]),
        lambda x: {"sigma": stats.rayleigh.fit(x, floc=0)[1]},
        lambda x: {"sigma": np.sqrt(np.mean(x**2) / 2)},
    ),
    Case(
        m("laplace", known={"location": 0.5}, name="laplace_known_location"),
        lambda t: stats.laplace(0.5, t["b"]),
        lambda x: {"b": stats.laplace.fit(x, floc=0.5)[1]},
        lambda x: {"b": np.mean(np.abs(x - 0.5))},
    ),
    Case(
        m("laplace", scale=1, name="laplace_known_scale"),
        lambda t: stats.laplace(t["mu"], 1),
        lambda x: {"mu": stats.laplace.fit(x, fscale=1)[0]},
        lambda x: {"mu": np.median(x)},
    ),
    Case(
        m("weibull", shape=2, name="weibull_shape_2"),
        lambda t: stats.weibull_min(2, scale=t["lambda"]),
        lambda x: {"lambda": stats.weibull_min.fit(x, fc=2, floc=0, optimizer=tight_fmin)[2]},
        lambda x: {"lambda": np.sqrt(np.mean(x**2))},
    ),
    Case(
        m("pareto", scale=1, name="pareto_scale_1"),
        lambda t: stats.pareto(t["alpha"], scale=1),
        lambda x: {"alpha": stats.pareto.fit(x, floc=0, fscale=1)[0]},
        lambda x: {"alpha": len(x) / np.sum(np.log(x))},
    ),
    Case(
        m("bernoulli", p=theta, prior=Beta(2, 2), name="bernoulli_beta_2_2"),
        lambda t: stats.bernoulli(t["theta"]),
        None,
        lambda x: {"theta": (x.sum() + 1) / (len(x) + 2)},  # the Beta(2 + S, 2 + n - S) posterior's mode
    ),
    Case(
        m("poisson", prior=Gamma(2, 1), name="poisson_gamma_2_1"),
        lambda t: stats.poisson(t["lambda"]),
        None,
        lambda x: {"lambda": (x.sum() + 1) / (len(x) + 1)},  # the Gamma(2 + S, 1 + n) posterior's mode
    ),
    Case(
        m("normal", variance=4, prior=Normal(0.5, 0.1), name="normal_normal_sd"),
        lambda t: stats.norm(t["mu"], 2),
        None,
        lambda x: {"mu": (x.sum() / 4 + 0.5 / 0.01) / (len(x) / 4 + 1 / 0.01)},  # precision-weighted mean
    ),
]
IDS = [case.model.name for case in CASES]


@pytest.fixture(scope="module")
def derived():
    return {}


def derivation_of(case: Case, derived: dict):
    if case.model.name not in derived:
        derived[case.model.name] = derive(case.model)
    return derived[case.model.name]


def sample(case: Case, n: int = N, seed: int = 3) -> dict[str, np.ndarray]:
    return case.model.draw(np.random.default_rng(seed), n)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_density_is_scipys_at_the_truth(case):
    model, (x,) = case.model, case.model.data
    at = model.density.subs({p.symbol: sp.Rational(repr(model.truth[p.name])) for p in model.params})
    dist = case.frozen(model.truth)
    discrete = hasattr(dist.dist, "pmf")
    points = np.arange(0, 11) if discrete else dist.ppf(np.linspace(0.05, 0.95, 7))
    points = [v for v in points if model.support[x].contains(sp.Rational(repr(float(v)))) == sp.true]
    assert len(points) >= 2
    ours = [float(at.subs(x, sp.Rational(repr(float(v))))) for v in points]
    theirs = dist.pmf(points) if discrete else dist.pdf(points)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_sampler_draws_the_distribution_at_the_truth(case):
    dist = case.frozen(case.model.truth)
    values = sample(case, 100_000)["x"]
    assert values.dtype == np.float64
    assert abs(values.mean() - dist.mean()) <= 5 * dist.std() / np.sqrt(len(values))
    assert stats.kstest(values, dist.cdf).pvalue > 1e-4 or hasattr(dist.dist, "pmf")  # KS assumes a continuous cdf


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_derived_estimate_is_scipys_fit_the_peer_and_the_textbook_form(case, derived):
    d = derivation_of(case, derived)
    data = sample(case)
    found = estimate(d, data)
    assert found.converged and found.values is not None, found.reason
    assert found.method == ("numerical" if case.closed is None else "closed form")
    references = [(case.model.peer(data), 1e-6)]
    if case.fit is not None:
        references.append((case.fit(data["x"]), 1e-6))
    if case.closed is not None:
        references.append((case.closed(data["x"]), 1e-9))
    for reference, tol in references:
        assert set(reference) == set(found.values)
        for name, value in reference.items():
            assert found.values[name] == pytest.approx(float(value), rel=tol, abs=tol), (name, tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_peer_check_passes_and_a_peer_one_percent_off_fails(case, derived):
    d = derivation_of(case, derived)
    data = sample(case)
    assert check_peer(d, data, case.model.peer).passed
    off = lambda found: {k: 1.01 * v for k, v in case.model.peer(found).items()}  # noqa: E731
    assert not check_peer(d, data, off).passed


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_check_passes(case, derived):
    d = derivation_of(case, derived)
    failed = [(r.check, r.error) for r in run_checks(d, peer=case.model.peer) if not r.passed]
    assert not failed


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_truth_and_parameters_lie_in_the_domains_and_the_reading_is_noted(case):
    model = case.model
    assert set(model.truth) == {p.name for p in model.params}
    assert all(p.domain.contains(sp.Rational(repr(model.truth[p.name]))) == sp.true for p in model.params)
    assert any("as sympy.stats writes it; sampled and fitted by scipy.stats." in note for note in model.notes)
    assert any(note.startswith("The prior of ") for note in model.notes) == (model.prior is not None)
    assert model.peer.__doc__.startswith(("scipy.stats.", "scipy.optimize on scipy.stats."))


# ---------------------------------------------------------------------------------------------- how it is called


def same(a: Model, b: Model) -> bool:
    return (a.density, a.params, a.support, a.truth) == (b.density, b.params, b.support, b.truth)


def test_a_sympy_stats_variable_a_constructor_positions_and_known_give_one_model():
    by_name = m("gamma", shape=2, scale=theta)
    assert same(by_name, m(st.Gamma("X", 2, theta)))
    assert same(by_name, m(st.Gamma, 2, theta))
    assert same(by_name, m(st.Gamma("X", 2, theta).pspace.distribution))
    assert same(by_name, m("gamma", 2, theta))
    assert same(by_name, m("Gamma", known={"shape": 2}))  # scale left out: its usual symbol, theta
    assert by_name.density == st.density(st.Gamma("X", 2, theta))(by_name.data[0])
    wrong = m("gamma", shape=3, scale=theta)
    assert not same(by_name, wrong)


def test_a_normal_with_a_square_root_standard_deviation_is_one_of_its_variance():
    by_variance = m("normal", variance=sigma2)
    assert same(by_variance, m(st.Normal("X", sp.Symbol("mu", real=True), sp.sqrt(sigma2))))
    assert [p.name for p in by_variance.params] == ["mu", "sigma^2"]
    assert not same(by_variance, m("normal", sd=sigma2))


def test_a_float_is_the_decimal_it_prints_as_and_its_fit_fixes_it():
    model = m("weibull", shape=1.5, name="weibull_1_5")
    assert model.density.has(sp.Rational(3, 2)) and not model.density.has(sp.Float)
    assert "fc=1.5" in model.peer.__doc__ and "floc=0" in model.peer.__doc__


def test_the_data_symbol_and_the_model_fields_pass_through():
    y = sp.Symbol("y", real=True)
    model = m("poisson", data="y", name="counts", title="Counts", truth={"lambda": 7.0}, notes=("mine",))
    assert model.data == (y,) and model.name == "counts" and model.title == "Counts"
    assert model.truth == {"lambda": 7.0} and model.notes[0] == "mine"
    assert model.draw(np.random.default_rng(0), 50_000)["y"].mean() == pytest.approx(7.0, rel=0.02)


def test_observed_data_by_name_make_the_estimate_exact():
    model = m("bernoulli", p=theta, prior=Beta(2, 2), observed={"x": [1, 1, 0, 1]}, name="four_tosses")
    assert derive(model).estimate == {theta: sp.Rational(2, 3)}  # (3 + 1) / (4 + 2)


def test_a_prior_written_out_gets_no_scipy_peer_and_a_peer_given_is_kept():
    written = m("poisson", prior=sp.exp(-sp.Symbol("lambda", positive=True)), name="written_prior")
    assert written.peer is None

    def mine(data):
        """my own"""
        return {"lambda": 1.0}

    assert m("poisson", peer=mine).peer.__doc__ == "my own"


# ---------------------------------------------------------------------------------------------- priors by name

t = sp.Symbol("t", real=True)


@pytest.mark.parametrize(
    ("prior", "lo", "hi", "mean", "variance"),
    [
        (Beta(2, 2), 0, 1, sp.Rational(1, 2), sp.Rational(1, 20)),
        (Beta(3, 5), 0, 1, sp.Rational(3, 8), sp.Rational(5, 192)),
        (Gamma(2, 1), 0, sp.oo, 2, 2),  # shape 2, RATE 1: mean shape / rate, variance shape / rate^2
        (Gamma(3, 4), 0, sp.oo, sp.Rational(3, 4), sp.Rational(3, 16)),
        (Normal(0.5, 0.1), -sp.oo, sp.oo, sp.Rational(1, 2), sp.Rational(1, 100)),  # 0.1 the standard deviation
    ],
    ids=str,
)
def test_a_prior_by_name_is_a_density_with_its_stated_moments(prior, lo, hi, mean, variance):
    density = prior.density(t)
    moments = [sp.simplify(sp.integrate(t**k * density, (t, lo, hi))) for k in range(3)]
    assert moments[0] == 1 and moments[1] == mean and sp.simplify(moments[2] - mean**2) == variance
    at = 0.3 if hi == 1 else 0.7
    assert float(sp.log(density.subs(t, sp.Rational(repr(at))))) == pytest.approx(prior.logpdf(at), rel=1e-12)


def test_a_prior_by_name_states_its_reading_in_the_models_notes():
    coin = Model(
        "coin", "Coin", (sp.Symbol("x"),), (Parameter(theta, sp.Interval.open(0, 1)),), theta ** sp.Symbol("x")
    )
    assert isinstance(Normal(0.5, 0.1), Prior)
    model = Model(
        "coin",
        "Coin",
        coin.data,
        coin.params,
        theta ** coin.data[0] * (1 - theta) ** (1 - coin.data[0]),
        prior=Normal(0.5, 0.1),
        support={coin.data[0]: sp.FiniteSet(0, 1)},
    )
    assert sp.simplify(model.prior - sp.exp(-50 * (theta - sp.Rational(1, 2)) ** 2) * 10 / sp.sqrt(2 * sp.pi)) == 0
    assert model.notes == (
        "The prior of theta is Normal(1/2, 1/10): mean 1/2, its second number the standard deviation (variance 1/100).",
    )
    assert "the rate" in Gamma(2, 1).reading and "shapes" in Beta(2, 2).reading


def test_priors_by_parameter_name_or_symbol_multiply():
    model = m("normal", variance=sigma2, prior={"mu": Normal(0, 1), sigma2: Gamma(2, 1)}, name="two_priors")
    mu = model.params[0].symbol
    expected = Normal(0, 1).density(mu) * Gamma(2, 1).density(sigma2)
    assert sp.simplify(model.prior - expected) == 0
    assert "plus the priors Normal(0, 1), Gamma(2, 1)" in model.peer.__doc__


# ---------------------------------------------------------------------------------------------- keys by name


def coin_with(**fields) -> Model:
    x = sp.Symbol("x", real=True)
    density = theta**x * (1 - theta) ** (1 - x)
    unit = sp.Interval.open(0, 1)
    return Model("coin", "Coin", (x,), (Parameter(theta, unit),), density, support={x: sp.FiniteSet(0, 1)}, **fields)


def test_observed_truth_and_peer_take_names_and_symbols_alike():
    x = sp.Symbol("x", real=True)
    by_symbol = coin_with(observed={x: [1, 0, 1]}, truth={theta: 0.4}, peer=lambda d: {theta: float(d["x"].mean())})
    by_name = coin_with(observed={"x": [1, 0, 1]}, truth={"theta": 0.4}, peer=lambda d: {"theta": float(d["x"].mean())})
    plain = coin_with(observed={sp.Symbol("x"): [1, 0, 1]})  # a symbol of the data's name, assumptions aside
    assert by_symbol.observed == by_name.observed == plain.observed == {x: (1, 0, 1)}
    assert by_symbol.truth == by_name.truth == {"theta": 0.4}
    data = {"x": np.array([1.0, 0.0, 0.0, 1.0])}
    assert by_symbol.peer(data) == by_name.peer(data) == {"theta": 0.5}
    assert derive(by_name).estimate == derive(by_symbol).estimate == {theta: sp.Rational(2, 3)}


def test_a_peer_with_keys_of_another_kind_is_one_line():
    model = coin_with(peer=lambda d: {0: 0.5})
    with pytest.raises(InputError, match=r"^coin: its peer's keys must be parameter names or symbols, got 0$"):
        model.peer({"x": np.array([1.0])})
