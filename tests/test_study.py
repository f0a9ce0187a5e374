"""The optimizer study of any model: its bound and predictions against independent computation."""

from __future__ import annotations

import numpy as np
import pytest
from mlemap.derivations.sheet import OptimizerStudy
from mlemap.numerics.study import run_study

from mlemap import catalogue


@pytest.fixture(scope="module")
def conjugate_study():
    return run_study(catalogue.derivation("normal_normal"), seed=0)


def test_the_bound_is_two_over_the_curvature_of_the_log_posterior(conjugate_study):
    """N(mu, 4) data and a N(0, 1) prior: -d^2/dmu^2 of the log-posterior is n/4 + 1, whatever the data."""
    n = conjugate_study.n
    assert conjugate_study.curvatures == pytest.approx((n / 4 + 1,), rel=1e-12)
    assert conjugate_study.bound == pytest.approx(2 / (n / 4 + 1), rel=1e-12)


def test_on_a_quadratic_the_predicted_steps_are_the_measured_ones(conjugate_study):
    below = [r for r in conjugate_study.ascent if r.lr < conjugate_study.bound]
    assert below and all(r.status == "converged" and r.steps == r.predicted for r in below)
    (past,) = [r for r in conjugate_study.ascent if r.lr > conjugate_study.bound]
    assert past.status == "diverged" and past.predicted is None and np.all(np.isfinite(past.path))


def test_the_optimizers_reach_the_closed_form(conjugate_study):
    converged = [r for r in conjugate_study.optimizers if r.status == "converged"]
    assert {r.label for r in converged} >= {"SGD", "Adam", "LBFGS"}
    assert all(r.errors[-1] <= 1e-5 for r in converged)


def test_full_batch_ascent_lands_where_the_closed_form_is_and_small_batches_stay_noisy(conjugate_study):
    by_k = {r.label: r for r in conjugate_study.batches}
    full = by_k[f"k = {conjugate_study.n}"]
    assert full.errors[-1] < 1e-8 < by_k["k = 1"].errors[-1]


def test_a_two_parameter_non_gaussian_study_draws_a_grid_around_its_paths():
    from pathlib import Path

    from mlemap.derivations.sheet import load_sheet

    sheet = load_sheet(Path(__file__).resolve().parents[1] / "mlemap" / "sheets" / "exercise4.py")
    (q,) = [q for q in sheet.questions if isinstance(q, OptimizerStudy)]
    from mlemap.derivations.engine import derive

    st = run_study(derive(q.model), seed=0, fractions=(0.5,))
    m1, m2, values = st.grid
    assert values.shape == m1.shape == m2.shape and np.all(np.isfinite(values))
    best = np.unravel_index(np.argmax(values), values.shape)
    assert abs(m1[best] - st.optimum["m"]) < 0.1 and abs(m2[best] - st.optimum["v"]) < 0.1
    assert st.ascent[0].status == "converged"
