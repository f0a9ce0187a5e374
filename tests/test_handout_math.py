"""What the handout now says besides the derivation, each against an independent computation: the posterior's
family (scipy.stats densities), the MAP's weights (the conjugate update by hand), the roots a solve step
discards (numpy.roots), the solve step itself (proved, and wrong when fed a wrong estimate), and numbers
written as a reader writes them (parsed back)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import scipy.stats
import sympy as sp

from mlemap.catalogue import COIN_MAP, GAUSSIAN, LINEAR_REGRESSION
from mlemap.derivations.engine import derive, n_obs
from mlemap.derivations.why import family, prior_pull
from mlemap.reports.document import math
from mlemap.reports.steps import worked_steps
from mlemap.sheets.exercise4 import CALLS_MODEL, GAMMA_RATE, GAMMA_SHAPE

t = sp.Symbol("t", positive=True)
z = sp.Symbol("z", real=True)
UNIT, POSITIVE, REALS = sp.Interval.open(0, 1), sp.Interval.open(0, sp.oo), sp.Interval(-sp.oo, sp.oo)

FAMILIES = [  # (density, parameter, domain, scipy peer)
    (280 * t**3 * (t - 1) ** 4, t, UNIT, scipy.stats.beta(4, 5)),
    (30 * t * (1 - t) ** 4, t, UNIT, scipy.stats.beta(2, 5)),
    (8**15 * t**14 * sp.exp(-8 * t) / sp.factorial(14), t, POSITIVE, scipy.stats.gamma(15, scale=1 / 8)),
    (sp.exp(-((z - 3) ** 2) / 8) / sp.sqrt(8 * sp.pi), z, REALS, scipy.stats.norm(3, 2)),
]


@pytest.mark.parametrize("density, p, domain, peer", FAMILIES)
def test_a_posterior_is_named_as_the_family_scipy_evaluates_alike(density, p, domain, peer):
    named = family(density, p, domain)
    assert named is not None
    points = peer.ppf([0.1, 0.5, 0.9])
    exact = sp.lambdify(p, named.normaliser * named.kernel)(points)
    np.testing.assert_allclose(exact, peer.pdf(points), rtol=1e-12)
    assert float(named.mean) == pytest.approx(peer.mean(), rel=1e-12)


@pytest.mark.parametrize(
    "density, p, domain",
    [
        (t**3 * (1 - t) ** 4 + 1, t, UNIT),  # not a Beta kernel
        (2 * 280 * t**3 * (t - 1) ** 4, t, UNIT),  # the kernel of one, but not normalised: not a density
        (sp.exp(-(t**2)), t, POSITIVE),  # a half-normal is no Gamma
    ],
)
def test_a_density_of_no_family_is_not_named(density, p, domain):
    assert family(density, p, domain) is None


def test_the_conjugate_maps_weight_is_the_update_by_hand():
    """Poisson counts with a Gamma(a, b) prior: MAP = (S + a - 1)/(n + b) = w S/n + (1 - w)(a - 1)/b with
    w = n/(n + b)."""
    pull = prior_pull(derive(CALLS_MODEL))
    counts = np.array(CALLS_MODEL.observed[CALLS_MODEL.data[0]])
    n, total = len(counts), int(counts.sum())
    assert pull is not None and pull.weight == sp.Rational(n, n + GAMMA_RATE)
    assert pull.mle == sp.Rational(total, n) and pull.mode == sp.Rational(GAMMA_SHAPE - 1, GAMMA_RATE)
    assert pull.weight_in_n.subs(n_obs, n) == pull.weight
    by_hand = sp.Rational(total + GAMMA_SHAPE - 1, n + GAMMA_RATE)
    assert pull.weight * pull.mle + (1 - pull.weight) * pull.mode == by_hand


def test_a_non_conjugate_prior_gets_no_weights_and_the_map_lies_between():
    pull = prior_pull(derive(COIN_MAP))
    assert pull is not None and pull.weight is None
    assert (pull.mle, pull.mode) == (sp.Rational(3, 7), sp.Rational(1, 2))
    assert prior_pull(derive(GAUSSIAN)) is None  # no prior, nothing to pull


def _step(d, title):
    return next(s for s in worked_steps(d) if s.title.startswith(title))


def test_the_discarded_roots_are_the_real_roots_outside_the_domain():
    """numpy.roots of the cleared score: the step names every real root outside (0, 1), and no other."""
    step = _step(derive(COIN_MAP), "Stationary condition")
    theta = COIN_MAP.params[0].symbol
    coefficients = sp.Poly(sp.expand(-(2 * theta - 3) * (5 * theta**2 - 1)), theta).all_coeffs()
    roots = np.roots([float(c) for c in coefficients])
    outside = [r.real for r in roots if abs(r.imag) < 1e-12 and not 0 < r.real < 1]
    assert len(outside) == 2
    for r in outside:  # each identified from its float alone, by nsimplify over the surd the roots hold
        assert f"${sp.latex(sp.nsimplify(r, [sp.sqrt(5)]))}$" in step.text
    assert f"${sp.latex(sp.sqrt(5) / 5)}$" not in step.text  # the root inside the domain is the MAP, not discarded


@pytest.mark.parametrize("model", [GAUSSIAN, LINEAR_REGRESSION])
def test_the_score_is_solved_by_hand_and_proved(model):
    step = _step(derive(model), "Setting the score to zero")
    assert step.proof is not None and step.proof.proved()
    assert r"\iff \hat{\sigma}^{2} =" in step.latex


def test_a_solve_step_for_a_wrong_estimate_fails_its_proof():
    """The claims are about the shown roots: claimed for another estimate, they do not prove."""
    d = derive(GAUSSIAN)
    step = _step(d, "Setting the score to zero")
    mu = GAUSSIAN.params[0].symbol
    wrong = [(a.subs(mu, mu + 1) if isinstance(a, sp.Basic) else a, b, how) for a, b, how in step.proof.claims]
    assert not dataclasses.replace(step.proof, claims=tuple(wrong)).proved()


def test_the_second_order_matrix_is_shown_at_the_estimate():
    step = _step(derive(GAUSSIAN), "Second-order check")
    assert r"\hat{\sigma}^{2}" in step.latex and r"{\sigma^{2}}" not in step.latex
    assert step.proof.proved()


@pytest.mark.parametrize("value", [sp.Rational(8, 9) ** 15, sp.Rational(-2, 3) ** 21, sp.Rational(5, 7) ** 9])
def test_a_fraction_of_long_powers_is_written_as_the_power(value):
    shown = math(None, value)
    sign, top, bottom, power = re.fullmatch(
        r"(- )?\\left\(\\frac\{(\d+)\}\{(\d+)\}\\right\)\^\{(\d+)\}", shown
    ).groups()
    assert (-1 if sign else 1) * sp.Rational(int(top), int(bottom)) ** int(power) == value


def test_a_short_fraction_stays_a_fraction_and_a_sum_starts_positive():
    x_i, x_bar = sp.symbols("x_i xbar")
    assert math(None, sp.Rational(1, 4)) == r"\frac{1}{4}"
    assert math(None, -x_bar + x_i).startswith("x_{i}")
    assert math(None, n_obs * sp.Symbol("mu")) == r"n \mu"
