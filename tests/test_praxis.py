"""Praxis numbers checked against their derivations, seeded."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats
import sympy as sp
import torch

from derivations.engine import derive, n_obs
from derivations.model import InputError
from numerics.study import Study, run_study
from sheets.exercise3 import SHEET
from sheets.exercise3_demos import praxis as px
from sheets.exercise3_demos import praxis_theory as dp
from tests.conftest import under_mutmut


def _module_unless_mutmut(fixture_name, config):
    """Module scope saves time; while mutmut maps functions to tests each test builds its own, so every test
    that uses the praxis derivations is on the map."""
    return "function" if under_mutmut("stats") else "module"


@pytest.fixture(scope=_module_unless_mutmut)
def sheet():
    return px.Praxis(px.PraxisConfig(n=10_000, seed=0))


@pytest.fixture(scope=_module_unless_mutmut)
def small():
    return px.Praxis(px.PraxisConfig(n=2_000, seed=5))


@pytest.mark.parametrize("mu", [(0.0, 0.0), (1.0, -2.0), (4.5, 3.0)])
def test_loglik_through_statistics_matches_the_sheets_L(sheet, mu):
    assert px.sheet_relative_error(sheet, mu) <= 1e-9


def test_a_wrong_constant_fails_the_sheet_comparison(sheet, monkeypatch):
    monkeypatch.setattr(px.Praxis, "constant", lambda self: 0.0)  # the sheet's L drops it; we must subtract it
    assert px.sheet_relative_error(sheet) > 1e-3


@pytest.mark.parametrize("sigma", [None, px.ANISOTROPIC_SIGMA], ids=["sheet", "anisotropic"])  # the cross term
def test_heatmap_matches_the_sheets_helper(small, sigma):
    p = small if sigma is None else px.Praxis(px.PraxisConfig(n=2_000, seed=5, sigma=sigma))
    _, _, fast = px.heatmap(p, resolution=7)
    slow = px.sheet_heatmap(torch.tensor(p.data), torch.tensor(p.sigma), resolution=7)
    np.testing.assert_allclose(fast - p.constant(), slow, rtol=1e-9)


def test_mle_is_the_sample_mean(sheet):
    np.testing.assert_allclose(sheet.mle, sheet.data.mean(axis=0), rtol=1e-13)


def test_stability_bound_is_twice_the_smallest_variance_over_n():
    for sigma in [((5, 0), (0, 5)), px.ANISOTROPIC_SIGMA]:
        p = px.Praxis(px.PraxisConfig(n=100, sigma=sigma))
        study_bound = float(p.theory.bound.subs(px.n_sym, 100))
        assert study_bound == pytest.approx(2 * np.linalg.eigvalsh(p.sigma)[0] / 100, rel=1e-14)


def _study(p: px.Praxis, fractions) -> Study:
    return run_study(p.derivation, p.config.seed, fractions, data=px.columns(p.data))


def test_measured_steps_equal_the_closed_form_prediction_and_past_the_bound_diverges(sheet):
    """The generic study (autograd ascent, linearised prediction) against the praxis's own closed form for
    the step count, sum over Sigma's eigen-directions of |1 - lr n / sigma_i|^t."""
    study = _study(sheet, SHEET.questions[-1].fractions)
    assert study.bound == pytest.approx(float(sheet.theory.bound.subs(px.n_sym, sheet.config.n)), rel=1e-12)
    for run in study.ascent:
        if run.lr < study.bound:
            assert run.status == "converged" and run.steps == run.predicted == px.predicted_steps(sheet, run.lr), run
        else:
            assert run.status == "diverged" and run.predicted is None and px.predicted_steps(sheet, run.lr) is None, run
            assert np.all(np.isfinite(run.path))


def test_isotropic_optimal_rate_lands_in_one_step(sheet):
    optimal = float(sheet.theory.optimal.subs(px.n_sym, sheet.config.n))
    study = _study(sheet, (0.5,))
    assert study.optimal == pytest.approx(optimal, rel=1e-12)
    (run,) = _study(sheet, (optimal / study.bound,)).ascent
    assert run.steps == 1 and run.errors[-1] < 1e-9


def test_optimizers_reach_the_mle_and_lbfgs_beats_plain_sgd_when_anisotropic():
    p = px.Praxis(px.PraxisConfig(n=2_000, seed=1, sigma=px.ANISOTROPIC_SIGMA))
    runs = {r.name: r for r in px.compare_optimizers(p)}
    assert all(r.steps is not None for r in runs.values()), {k: r.steps for k, r in runs.items()}
    assert runs["LBFGS"].steps < runs["SGD + momentum"].steps < runs["SGD"].steps


def test_sgd_with_k_equal_n_is_full_batch_ascent(small):
    (full,) = _study(small, (0.1,)).ascent
    batch = px.sgd(small, small.config.n, full.lr, full.steps)
    np.testing.assert_allclose(batch.path, full.path, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 7, 2000])
def test_derived_sgd_gradient_equals_autograd(small, k):
    runs = [px.sgd(small, k, 0.5 / k, 30, seed=4, gradient=g) for g in ("autograd", "derived")]
    np.testing.assert_allclose(runs[0].path, runs[1].path, rtol=0, atol=1e-12)


@pytest.mark.parametrize("gradient", ["autograd", "derived"])
def test_sgd_k1_with_inverse_t_is_the_running_mean(small, gradient):
    variance = float(small.sigma[0, 0])
    run = px.sgd(small, 1, variance, small.config.n, schedule="inverse_t", gradient=gradient)
    np.testing.assert_allclose(run.path[-1], small.mle, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 100])
def test_minibatch_gradient_variance_matches_derivation(sheet, k):
    v = px.minibatch_gradient_variance(sheet, k, replications=2000)
    # Monte Carlo relative standard error of a 2-D covariance trace with 2000 draws is about 3%.
    assert v.measured_trace == pytest.approx(v.predicted_trace, rel=0.12)


def test_constant_rate_noise_floor_matches_derivation(small):
    k, lr = 10, 0.2 * 5 / 10
    run = px.sgd(small, k, lr, 4000, sampling="independent")
    measured = float(np.sqrt(np.mean(run.errors[1000:] ** 2)))
    assert measured == pytest.approx(px.sgd_noise_floor(small, k, lr), rel=0.15)


def test_subset_landscapes_curvature_scales_with_k_and_centre_is_subset_mean(sheet):
    m1, _, landscapes = px.subset_landscapes(sheet, [1, 10, 1000], resolution=101)
    step = m1[0, 1] - m1[0, 0]
    precision = np.linalg.inv(sheet.sigma)
    for land in landscapes:
        np.testing.assert_allclose(land.hessian, -land.k * precision, rtol=1e-12)
        if np.all(np.abs(land.subset_mean) < 5):
            assert np.all(np.abs(land.grid_argmax - land.subset_mean) <= step / 2 + 1e-12)


def test_streamed_statistics_equal_in_memory_ones(small):
    streamed = px.streamed_statistics(small, small.config.n, chunk=300, seed=small.config.seed)
    for key, value in small.stats.items():
        assert streamed[key] == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: px.sgd(p, 5, 0.0, 3), "learning rate must be"),
        (lambda p: _study(p, (0.5, -1e-3)), "fraction of the bound must be"),
        (lambda p: px.sgd(p, 0, 1e-3, 5), "batch size k"),
        (lambda p: px.sgd(p, p.config.n + 1, 1e-3, 5), "batch size k"),
        (lambda p: px.PraxisConfig(sigma=((1, 2), (2, 1))), "positive definite"),
        (lambda p: px.PraxisConfig(sigma=((1, 0), (0, 0))), "positive definite"),
        (lambda p: px.PraxisConfig(sigma=((1, 0.5), (0, 1))), "symmetric"),
        (lambda p: px.columns(np.zeros((5, 3))), r"shape \(n, 2\)"),
        (lambda p: px.PraxisConfig(n=0), r"n must be >= 1, got 0"),
        (lambda p: px.heatmap(p, resolution=1), "resolution"),
    ],
)
def test_praxis_bad_input(small, call, message):
    with pytest.raises(InputError, match=message):
        call(small)


def test_quadratic_form_equals_the_objective_and_its_gradient(small):
    A, b, c = small.compiled.quadratic_form(small.stats)
    mu = torch.tensor([0.7, -1.3], dtype=torch.float64, requires_grad=True)
    quad = mu @ A @ mu + b @ mu + c
    full = small.compiled.objective_torch({"mu1": mu[0], "mu2": mu[1]}, small.data_torch)
    assert float(quad.detach()) == pytest.approx(float(full.detach()), rel=1e-12)
    g_quad, g_full = (torch.autograd.grad(v, mu)[0] for v in (quad, full))
    torch.testing.assert_close(g_quad, g_full, rtol=1e-12, atol=0)


def test_quadratic_form_is_none_when_the_objective_is_not_quadratic():
    from numerics.compile import compiled
    from sheets.catalogue import derivation

    gaussian = compiled(derivation("gaussian"))  # log(sigma^2) and 1/sigma^2 terms
    assert gaussian.quadratic_form(gaussian.statistics({"x": np.array([1.0, 2.0, 4.0])})) is None


@pytest.mark.parametrize("sigma", [((5, 0), (0, 5)), px.ANISOTROPIC_SIGMA], ids=["sheet", "anisotropic"])
def test_step_size_theory_is_the_iteration_of_gradient_ascent_on_the_derived_loglik(sigma):
    theory = dp.step_size_theory(sigma)
    d = derive(dp.mean_model(sigma))
    # One ascent step mu + lambda * score is affine with slope I + lambda * Hessian; the Hessian is constant.
    hessian = d.hessian.subs(d.model.constants).subs(n_obs, dp.n_sym)
    assert sp.simplify(theory.iteration_matrix - (sp.eye(2) + dp.lr * hessian)) == sp.zeros(2, 2)
    smin, smax = sorted(np.linalg.eigvalsh(np.array(sigma, dtype=float)))
    n, k = dp.n_sym, dp.k_sym
    assert theory.stability == sp.Interval.open(0, theory.bound)
    assert float(theory.bound.subs(n, 1)) == pytest.approx(2 * smin, rel=1e-14)
    assert float(theory.subset_bound.subs(k, 1)) == pytest.approx(2 * smin, rel=1e-14)
    assert theory.subset_bound == theory.bound.subs(n, k)
    kappa = smax / smin
    assert float(theory.optimal_factor) == pytest.approx((kappa - 1) / (kappa + 1), abs=1e-14)
    # At the optimal rate the iteration matrix contracts by exactly that factor (its spectral radius).
    at_optimal = np.array(theory.iteration_matrix.subs(dp.lr, theory.optimal).subs(n, 100), dtype=float)
    assert max(abs(np.linalg.eigvals(at_optimal))) == pytest.approx((kappa - 1) / (kappa + 1), abs=1e-12)
    assert float(theory.optimal.subs(n, 1)) == pytest.approx(2 / (1 / smin + 1 / smax), rel=1e-14)


@pytest.mark.parametrize("sigma", [((5, 0), (0, 5)), px.ANISOTROPIC_SIGMA, ((1, 0.3), (0.3, 0.5))])
def test_mean_model_density_is_the_bivariate_normal(sigma):
    model = dp.mean_model(sigma)
    assert model.name == "praxis_mean_2d" and model.title
    assert model.params[0].description and model.params[1].description
    points = [(0.0, 0.0, 1.0, 1.0), (2.5, -1.0, 0.5, 0.25), (-3.0, 4.0, 1.0, -2.0)]
    cov = np.array(sigma, dtype=float)
    for x1, x2, m1, m2 in points:
        at = {dp.x1: x1, dp.x2: x2, dp.mu1: m1, dp.mu2: m2, **model.constants}
        expected = scipy.stats.multivariate_normal([m1, m2], cov).pdf([x1, x2])
        assert float(model.density.subs(at)) == pytest.approx(expected, rel=1e-12)
    assert model.validate({"x1": [1.0], "x2": [2.0]})["x1"].tolist() == [1.0]  # one point is a sample


def test_exact_sigma_accepts_small_positive_definite_matrices_and_names_bad_ones():
    small_sigma = dp.exact_sigma(((0.5, 0.1), (0.1, 0.5)))  # floats are taken as the exact numbers they store
    assert small_sigma == sp.Matrix([[sp.Rational(1, 2), sp.Rational(0.1)], [sp.Rational(0.1), sp.Rational(1, 2)]])
    assert dp.exact_sigma(((sp.Rational(1, 2), sp.Rational(1, 10)), (sp.Rational(1, 10), 1)))[0, 1] == sp.Rational(
        1, 10
    )
    with pytest.raises(InputError, match=r"^Sigma must be 2x2, got shape ragged$"):
        dp.exact_sigma(((1, 0), (0,)))
    with pytest.raises(
        InputError, match=r"^Sigma must be a 2x2 matrix of real numbers, got \[\['a', '0'\], \['0', '1'\]\]$"
    ):
        dp.exact_sigma((("a", 0), (0, 1)))
    with pytest.raises(InputError, match=r"^Sigma must be a 2x2 matrix of real numbers"):
        dp.exact_sigma(((1 + 1j, 0), (0, 1)))


@pytest.mark.parametrize(("n", "k"), [(5, 1), (5, 2), (6, 3), (7, 7)])
def test_minibatch_variance_factor_equals_enumeration_over_every_batch(n, k):
    """Var(sum_B z_i) over all C(n, k) equally likely batches, exact, for centred data with sum z^2 = 1."""
    z = [sp.Rational(v) for v in range(1, n + 1)]
    mean = sum(z) / n
    z = [v - mean for v in z]
    scale = sum(v**2 for v in z)
    sums = [sum(c) for c in itertools.combinations(z, k)]
    variance = sum(s**2 for s in sums) / len(sums) - (sum(sums) / len(sums)) ** 2
    factor = dp.minibatch_variance_factor().subs({dp.n_sym: n, dp.k_sym: k})
    assert variance / scale == factor
    scale_k = dp.minibatch_gradient_covariance_scale().subs({dp.n_sym: n, dp.k_sym: k})
    assert scale_k == sp.Rational(n, k) ** 2 * factor


@pytest.mark.parametrize(("n", "k"), [(21, 1), (21, 7), (10, 4)])
def test_reshuffled_batches_take_distinct_points_within_an_epoch(n, k):
    """An epoch is n // k batches (a remainder smaller than k is left for the next permutation)."""
    per_epoch, epochs = n // k, 3
    batches = list(px.batch_indices(n, k, epochs * per_epoch, "reshuffle", np.random.default_rng(0)))
    assert all(len(b) == k for b in batches)
    for e in range(epochs):
        taken = np.concatenate(batches[e * per_epoch : (e + 1) * per_epoch])
        assert len(set(taken)) == per_epoch * k and set(taken) <= set(range(n))


def test_independent_batches_are_fresh_draws_without_replacement():
    batches = list(px.batch_indices(50, 5, 200, "independent", np.random.default_rng(0)))
    assert all(len(set(b)) == 5 and b.min() >= 0 and b.max() < 50 for b in batches)
    counts = np.bincount(np.concatenate(batches), minlength=50)
    assert counts.sum() == 1000 and counts.min() > 0  # every point is drawn, with no epoch structure
    assert len({tuple(sorted(b)) for b in batches}) > 150
