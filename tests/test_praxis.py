"""Praxis numbers checked against their derivations, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from derivations.model import InputError
from numerics import praxis as px


@pytest.fixture(scope="module")
def sheet():
    return px.Praxis(px.PraxisConfig(n=10_000, seed=0))


@pytest.fixture(scope="module")
def small():
    return px.Praxis(px.PraxisConfig(n=2_000, seed=5))


@pytest.mark.parametrize("mu", [(0.0, 0.0), (1.0, -2.0), (4.5, 3.0)])
def test_loglik_through_statistics_matches_the_sheets_L(sheet, mu):
    assert px.sheet_relative_error(sheet, mu) <= 1e-9


def test_a_wrong_constant_fails_the_sheet_comparison(sheet, monkeypatch):
    monkeypatch.setattr(px.Praxis, "constant", lambda self: 0.0)  # the sheet's L drops it; we must subtract it
    assert px.sheet_relative_error(sheet) > 1e-3


def test_heatmap_matches_the_sheets_helper(small):
    _, _, fast = px.heatmap(small, resolution=7)
    slow = px.sheet_heatmap(torch.tensor(small.data), torch.tensor(small.sigma), resolution=7)
    np.testing.assert_allclose(fast - small.constant(), slow, rtol=1e-9)


def test_mle_is_the_sample_mean(sheet):
    np.testing.assert_allclose(sheet.mle, sheet.data.mean(axis=0), rtol=1e-13)


def test_stability_bound_is_twice_the_smallest_variance_over_n():
    for sigma in [((5, 0), (0, 5)), px.ANISOTROPIC_SIGMA]:
        p = px.Praxis(px.PraxisConfig(n=100, sigma=sigma))
        study_bound = float(p.theory.bound.subs(px.n_sym, 100))
        assert study_bound == pytest.approx(2 * np.linalg.eigvalsh(p.sigma)[0] / 100, rel=1e-14)


def test_measured_steps_equal_predicted_and_past_the_bound_diverges(sheet):
    study = px.learning_rate_study(sheet)
    for row in study.rows:
        if row["fraction_of_bound"] < 1:
            assert row["status"] == "converged" and row["steps"] == row["predicted"], row
        else:
            assert row["status"] == "diverged" and row["predicted"] is None, row


def test_isotropic_optimal_rate_lands_in_one_step(sheet):
    optimal = float(sheet.theory.optimal.subs(px.n_sym, sheet.config.n))
    assert px.gradient_ascent(sheet, optimal).steps == 1


def test_optimizers_reach_the_mle_and_lbfgs_beats_plain_sgd_when_anisotropic():
    p = px.Praxis(px.PraxisConfig(n=2_000, seed=1, sigma=px.ANISOTROPIC_SIGMA))
    runs = {r.name: r for r in px.compare_optimizers(p)}
    assert all(r.steps is not None for r in runs.values()), {k: r.steps for k, r in runs.items()}
    assert runs["LBFGS"].steps < runs["SGD + momentum"].steps < runs["SGD"].steps


def test_sgd_with_k_equal_n_is_full_batch_ascent(small):
    full = px.gradient_ascent(small, 1e-4, max_steps=25)
    batch = px.sgd(small, small.config.n, 1e-4, full.steps)
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
        (lambda p: px.gradient_ascent(p, 0.0), "learning rate must be"),
        (lambda p: px.gradient_ascent(p, -1e-3), "learning rate must be"),
        (lambda p: px.sgd(p, 0, 1e-3, 5), "batch size k"),
        (lambda p: px.sgd(p, p.config.n + 1, 1e-3, 5), "batch size k"),
        (lambda p: px.PraxisConfig(sigma=((1, 2), (2, 1))), "positive definite"),
        (lambda p: px.PraxisConfig(sigma=((1, 0), (0, 0))), "positive definite"),
        (lambda p: px.PraxisConfig(sigma=((1, 0.5), (0, 1))), "symmetric"),
        (lambda p: px.columns(np.zeros((5, 3))), r"shape \(n, 2\)"),
        (lambda p: px.PraxisConfig(n=0), "n must be a positive integer"),
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
    from derivations.registry import derivation
    from numerics.compile import compiled

    gaussian = compiled(derivation("gaussian"))  # log(sigma^2) and 1/sigma^2 terms
    assert gaussian.quadratic_form(gaussian.statistics({"x": np.array([1.0, 2.0, 4.0])})) is None
