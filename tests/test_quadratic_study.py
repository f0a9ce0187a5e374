"""Gradient methods on a quadratic log-likelihood (Exercise 3's praxis, any Gaussian mean with known Sigma)
checked against their derivations and against the sheet's own helper, seeded."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats
import sympy as sp
import torch

from mlemap.derivations.designs import exact_covariance, gaussian_mean
from mlemap.derivations.engine import derive, n_obs
from mlemap.derivations.gradient import (
    batch,
    minibatch_gradient_covariance_scale,
    minibatch_variance_factor,
    rate,
    step_size_theory,
)
from mlemap.derivations.model import InputError
from mlemap.numerics import minibatch as mb
from mlemap.numerics import quadratic as qd
from mlemap.numerics.exact_study import draw
from mlemap.numerics.study import Study, run_study
from mlemap.sheets.exercise3 import ANISOTROPIC, PRAXIS_RATES
from tests.conftest import under_mutmut

SHEET_SIGMA = ((5, 0), (0, 5))
ANISOTROPIC_SIGMA = ((sp.Rational(21, 8), sp.Rational(19, 8)), (sp.Rational(19, 8), sp.Rational(21, 8)))
START = (0.0, 0.0)


def _module_unless_mutmut(fixture_name, config):
    """Module scope saves time; while mutmut maps functions to tests each test builds its own."""
    return "function" if under_mutmut("stats") else "module"


def sample_of(sigma=SHEET_SIGMA, n=10_000, seed=0) -> qd.Sample:
    d = derive(gaussian_mean("praxis_test", sigma, (1, 1)))
    return qd.sample(d, draw(d, n, seed), seed)


@pytest.fixture(scope=_module_unless_mutmut)
def sheet():
    return sample_of()


@pytest.fixture(scope=_module_unless_mutmut)
def small():
    return sample_of(n=2_000, seed=5)


def sheet_L(X: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The exercise sheet's L, verbatim: it drops the constant."""
    diff = X - mu
    return (-0.5 * diff @ sigma.inverse() * diff).sum()


def constant(s: qd.Sample) -> float:
    """What the sheet's L drops: n (-log 2 pi - log det Sigma / 2), from the covariance alone."""
    sigma = np.linalg.inv(s.curvature)
    return s.n * (-np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(sigma)))


@pytest.mark.parametrize("mu", [(0.0, 0.0), (1.0, -2.0), (4.5, 3.0)])
def test_loglik_through_statistics_matches_the_sheets_L(sheet, mu):
    sigma = torch.tensor(np.linalg.inv(sheet.curvature))
    theirs = float(sheet_L(torch.tensor(sheet.data), torch.tensor(mu, dtype=torch.float64), sigma))
    ours = sheet.compiled.objective(sheet.theta(mu), sheet.stats) - constant(sheet)
    assert ours == pytest.approx(theirs, rel=1e-9)


@pytest.mark.parametrize("sigma", [SHEET_SIGMA, ANISOTROPIC_SIGMA], ids=["sheet", "anisotropic"])  # the cross term
def test_heatmap_matches_the_sheets_helper_point_by_point(sigma):
    s = sample_of(sigma, n=2_000, seed=5)
    m1, m2, fast = qd.heatmap(s, 7, (-5.0, 5.0))
    X, S = torch.tensor(s.data), torch.tensor(np.linalg.inv(s.curvature))
    slow = np.array(
        [
            [float(sheet_L(X, torch.tensor([a, b], dtype=torch.float64), S)) for a, b in zip(r1, r2)]
            for r1, r2 in zip(m1, m2)
        ]
    )
    np.testing.assert_allclose(fast - constant(s), slow, rtol=1e-9)


def test_optimum_is_the_sample_mean(sheet):
    np.testing.assert_allclose(sheet.optimum, sheet.data.mean(axis=0), rtol=1e-13)


@pytest.mark.parametrize("sigma", [SHEET_SIGMA, ANISOTROPIC_SIGMA])
def test_stability_bound_is_twice_the_smallest_variance_over_n(sigma):
    s = sample_of(sigma, n=100)
    smallest = np.linalg.eigvalsh(np.array(sigma, dtype=float))[0]
    assert s.bound() == pytest.approx(2 * smallest / 100, rel=1e-14)


def _study(s: qd.Sample, fractions) -> Study:
    return run_study(s.derivation, s.seed, fractions, data=s.columns())


def test_measured_steps_equal_the_closed_form_prediction_and_past_the_bound_diverges(sheet):
    """The generic study (autograd ascent, linearised prediction) against the closed-form step count, over
    the curvature's eigen-directions |1 - lr n c_i|^t."""
    study = _study(sheet, PRAXIS_RATES)
    assert study.bound == pytest.approx(sheet.bound(), rel=1e-12)
    for run in study.ascent:
        if run.lr < study.bound:
            assert run.status == "converged" and run.steps == run.predicted == qd.predicted_steps(sheet, run.lr, START)
        else:
            assert (
                run.status == "diverged" and run.predicted is None and qd.predicted_steps(sheet, run.lr, START) is None
            )
            assert np.all(np.isfinite(run.path))


def test_isotropic_optimal_rate_lands_in_one_step(sheet):
    optimal = float(sheet.theory.optimal.subs(n_obs, sheet.n))
    study = _study(sheet, (0.5,))
    assert study.optimal == pytest.approx(optimal, rel=1e-12)
    (run,) = _study(sheet, (optimal / study.bound,)).ascent
    assert run.steps == 1 and run.errors[-1] < 1e-9


def test_optimizers_reach_the_optimum_and_lbfgs_beats_plain_sgd_when_anisotropic():
    s = sample_of(ANISOTROPIC_SIGMA, n=2_000, seed=1)
    runs = {r.name: r for r in qd.compare_optimizers(s, START)}
    assert all(r.steps is not None for r in runs.values()), {k: r.steps for k, r in runs.items()}
    assert runs["LBFGS"].steps < runs["SGD + momentum"].steps < runs["SGD"].steps


def test_sgd_with_k_equal_n_is_full_batch_ascent(small):
    (full,) = _study(small, (0.1,)).ascent
    run = mb.sgd(small, small.n, full.lr, full.steps, START)
    np.testing.assert_allclose(run.path, full.path, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 7, 2000])
def test_derived_sgd_gradient_equals_autograd(small, k):
    runs = [mb.sgd(small, k, 0.5 / k, 30, START, seed=4, gradient=g) for g in ("autograd", "derived")]
    np.testing.assert_allclose(runs[0].path, runs[1].path, rtol=0, atol=1e-12)


@pytest.mark.parametrize("gradient", ["autograd", "derived"])
def test_sgd_k1_with_inverse_t_is_the_running_mean(small, gradient):
    variance = 1 / float(small.curvature[0, 0])
    run = mb.sgd(small, 1, variance, small.n, START, schedule="inverse_t", gradient=gradient)
    np.testing.assert_allclose(run.path[-1], small.optimum, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 100])
def test_minibatch_gradient_variance_matches_derivation(sheet, k):
    v = mb.gradient_variance(sheet, k, START, replications=2000)
    # Monte Carlo relative standard error of a 2-D covariance trace with 2000 draws is about 3%.
    assert v.measured_trace == pytest.approx(v.predicted_trace, rel=0.12)


def test_score_covariance_is_the_precision_times_the_data_covariance_times_the_precision(sheet):
    precision = sheet.curvature
    expected = precision @ np.cov(sheet.data.T, bias=True) @ precision
    np.testing.assert_allclose(mb.score_covariance(sheet), expected, rtol=1e-10)


@pytest.mark.parametrize("sigma", [SHEET_SIGMA, ANISOTROPIC_SIGMA], ids=["sheet", "anisotropic"])
def test_constant_rate_noise_floor_matches_measurement(sigma):
    s = sample_of(sigma, n=2_000, seed=5)
    k = 10
    lr = 0.2 * s.bound(k)
    run = mb.sgd(s, k, lr, 4000, START, sampling="independent")
    measured = float(np.sqrt(np.mean(run.errors[1000:] ** 2)))
    assert measured == pytest.approx(mb.noise_floor(s, k, lr), rel=0.15)


def test_a_noise_floor_without_the_batch_noise_fails_the_measurement(small, monkeypatch):
    monkeypatch.setattr(mb, "score_covariance", lambda s: np.zeros((2, 2)))
    run = mb.sgd(small, 10, 0.2 * small.bound(10), 2000, START, sampling="independent")
    assert float(np.sqrt(np.mean(run.errors[500:] ** 2))) > 10 * mb.noise_floor(small, 10, 0.2 * small.bound(10))


def test_subset_landscapes_curvature_scales_with_k_and_centre_is_subset_mean(sheet):
    m1, _, landscapes = mb.subset_landscapes(sheet, [1, 10, 1000], 101, (-5.0, 5.0))
    step = m1[0, 1] - m1[0, 0]
    for land in landscapes:
        np.testing.assert_allclose(land.hessian, -land.k * sheet.curvature, rtol=1e-12)
        if np.all(np.abs(land.subset_optimum) < 5):
            assert np.all(np.abs(land.grid_argmax - land.subset_optimum) <= step / 2 + 1e-12)


def test_streamed_statistics_equal_in_memory_ones(small):
    cov = np.linalg.inv(small.curvature)

    def draws(rng, size):
        x = rng.multivariate_normal([1.0, 1.0], cov, size)
        return {"x1": x[:, 0], "x2": x[:, 1]}

    streamed = qd.streamed_statistics(small, draws, small.n, chunk=300, seed=small.seed)
    for key, value in small.stats.items():
        assert streamed[key] == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: mb.sgd(s, 5, 0.0, 3, START), "learning rate must be"),
        (lambda s: _study(s, (0.5, -1e-3)), "fraction of the bound must be"),
        (lambda s: mb.sgd(s, 0, 1e-3, 5, START), "batch size k"),
        (lambda s: mb.sgd(s, s.n + 1, 1e-3, 5, START), "batch size k"),
        (lambda s: exact_covariance(((1, 2), (2, 1))), "positive definite"),
        (lambda s: exact_covariance(((1, 0), (0, 0))), "positive definite"),
        (lambda s: exact_covariance(((1, 0.5), (0, 1))), "symmetric"),
        (lambda s: qd.Sample(s.derivation, np.zeros((5, 3))), r"shape \(n >= 2, 2\)"),
        (lambda s: qd.heatmap(s, 1, (-1.0, 1.0)), "resolution"),
        (lambda s: mb.noise_floor(s, 5, s.bound(5)), "below the stability bound"),
    ],
)
def test_bad_input_is_one_line(small, call, message):
    with pytest.raises(InputError, match=message):
        call(small)


def test_a_model_that_is_not_quadratic_is_refused():
    from mlemap.catalogue import GAUSSIAN

    d = derive(GAUSSIAN)
    with pytest.raises(InputError, match="not quadratic"):
        qd.sample(d, {"x": np.array([1.0, 2.0, 4.0])})


def test_quadratic_form_equals_the_objective_and_its_gradient(small):
    A, b, c = small.compiled.quadratic_form(small.stats)
    mu = torch.tensor([0.7, -1.3], dtype=torch.float64, requires_grad=True)
    quad = mu @ A @ mu + b @ mu + c
    columns = {k: torch.as_tensor(v) for k, v in small.columns().items()}
    full = small.compiled.objective_torch({"mu1": mu[0], "mu2": mu[1]}, columns)
    assert float(quad.detach()) == pytest.approx(float(full.detach()), rel=1e-12)
    g_quad, g_full = (torch.autograd.grad(v, mu)[0] for v in (quad, full))
    torch.testing.assert_close(g_quad, g_full, rtol=1e-12, atol=0)


@pytest.mark.parametrize("sigma", [SHEET_SIGMA, ANISOTROPIC_SIGMA], ids=["sheet", "anisotropic"])
def test_step_size_theory_is_the_iteration_of_gradient_ascent_on_the_derived_loglik(sigma):
    d = derive(gaussian_mean("praxis_test", sigma, (1, 1)))
    theory = step_size_theory(d)
    # One ascent step mu + lambda * score is affine with slope I + lambda * Hessian; the Hessian is constant.
    hessian = d.hessian.subs(d.model.constants)
    assert sp.simplify(theory.iteration_matrix - (sp.eye(2) + rate * hessian)) == sp.zeros(2, 2)
    smin, smax = sorted(np.linalg.eigvalsh(np.array(sigma, dtype=float)))
    assert theory.stability == sp.Interval.open(0, theory.bound)
    assert float(theory.bound.subs(n_obs, 1)) == pytest.approx(2 * smin, rel=1e-14)
    assert float(theory.subset_bound.subs(batch, 1)) == pytest.approx(2 * smin, rel=1e-14)
    assert theory.subset_bound == theory.bound.subs(n_obs, batch)
    kappa = smax / smin
    assert float(theory.optimal_factor) == pytest.approx((kappa - 1) / (kappa + 1), abs=1e-14)
    at_optimal = np.array(theory.iteration_matrix.subs(rate, theory.optimal).subs(n_obs, 100), dtype=float)
    assert max(abs(np.linalg.eigvals(at_optimal))) == pytest.approx((kappa - 1) / (kappa + 1), abs=1e-12)
    assert float(theory.optimal.subs(n_obs, 1)) == pytest.approx(2 / (1 / smin + 1 / smax), rel=1e-14)


def test_step_size_theory_is_none_where_the_curvature_depends_on_the_parameters():
    from mlemap.catalogue import COIN_UNIFORM, GAUSSIAN

    assert step_size_theory(derive(GAUSSIAN)) is None and step_size_theory(derive(COIN_UNIFORM)) is None


@pytest.mark.parametrize(
    "sigma", [SHEET_SIGMA, ANISOTROPIC_SIGMA, ((1, 0.3), (0.3, 0.5)), ((2,),), ((2, 0, 0), (0, 1, 0.5), (0, 0.5, 1))]
)
def test_gaussian_mean_density_is_the_multivariate_normal(sigma):
    model = gaussian_mean("m", sigma, (0.0,) * len(sigma))
    assert model.params[0].description
    cov = np.array(sigma, dtype=float)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, m = rng.normal(size=len(sigma)), rng.normal(size=len(sigma))
        at = {**dict(zip(model.data, x)), **dict(zip(model.param_symbols, m)), **model.constants}
        expected = scipy.stats.multivariate_normal(m, cov).pdf(x)
        assert float(model.density.subs(at)) == pytest.approx(expected, rel=1e-12)


def test_the_anisotropic_praxis_sigma_has_eigenvalues_5_and_a_quarter():
    d = derive(ANISOTROPIC)
    eig = sorted(
        np.linalg.eigvalsh(np.linalg.inv(np.array((d.hessian / -n_obs).subs(d.model.constants).tolist(), float)))
    )
    assert eig == pytest.approx([0.25, 5.0], rel=1e-12)


def test_exact_covariance_takes_floats_as_stored_and_names_bad_ones():
    small_sigma = exact_covariance(((0.5, 0.1), (0.1, 0.5)))  # floats are taken as the exact numbers they store
    assert small_sigma == sp.Matrix([[sp.Rational(1, 2), sp.Rational(0.1)], [sp.Rational(0.1), sp.Rational(1, 2)]])
    with pytest.raises(InputError, match=r"^Sigma must be square with 1 to 4 rows, got shape ragged$"):
        exact_covariance(((1, 0), (0,)))
    with pytest.raises(
        InputError, match=r"^Sigma must be a square matrix of real numbers, got \[\['a', '0'\], \['0', '1'\]\]$"
    ):
        exact_covariance((("a", 0), (0, 1)))
    with pytest.raises(InputError, match=r"^Sigma must be a square matrix of real numbers"):
        exact_covariance(((1 + 1j, 0), (0, 1)))


@pytest.mark.parametrize(("n", "k"), [(5, 1), (5, 2), (6, 3), (7, 7)])
def test_minibatch_variance_factor_equals_enumeration_over_every_batch(n, k):
    """Var(sum_B z_i) over all C(n, k) equally likely batches, exact, for centred data."""
    z = [sp.Rational(v) for v in range(1, n + 1)]
    mean = sum(z) / n
    z = [v - mean for v in z]
    scale = sum(v**2 for v in z)
    sums = [sum(c) for c in itertools.combinations(z, k)]
    variance = sum(s**2 for s in sums) / len(sums) - (sum(sums) / len(sums)) ** 2
    factor = minibatch_variance_factor().subs({n_obs: n, batch: k})
    assert variance / scale == factor
    assert minibatch_gradient_covariance_scale().subs({n_obs: n, batch: k}) == sp.Rational(n, k) ** 2 * factor


@pytest.mark.parametrize(("n", "k"), [(21, 1), (21, 7), (10, 4)])
def test_reshuffled_batches_take_distinct_points_within_an_epoch(n, k):
    per_epoch, epochs = n // k, 3
    batches = list(mb.batch_indices(n, k, epochs * per_epoch, "reshuffle", np.random.default_rng(0)))
    assert all(len(b) == k for b in batches)
    for e in range(epochs):
        taken = np.concatenate(batches[e * per_epoch : (e + 1) * per_epoch])
        assert len(set(taken)) == per_epoch * k and set(taken) <= set(range(n))


def test_independent_batches_are_fresh_draws_without_replacement():
    batches = list(mb.batch_indices(50, 5, 200, "independent", np.random.default_rng(0)))
    assert all(len(set(b)) == 5 and b.min() >= 0 and b.max() < 50 for b in batches)
    counts = np.bincount(np.concatenate(batches), minlength=50)
    assert counts.sum() == 1000 and counts.min() > 0
    assert len({tuple(sorted(b)) for b in batches}) > 150
