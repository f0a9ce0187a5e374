"""The optimizer study of any model: its bound and predictions against independent computation."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from mlemap import catalogue
from mlemap.derivations.engine import derive
from mlemap.derivations.gradient import curvature_at_estimate
from mlemap.derivations.model import InputError, Model, Parameter
from mlemap.derivations.sheet import OptimizerStudy, Sheet, load_sheet
from mlemap.numerics.study import _cycles, run_study
from mlemap.reports.study_symbols import math_tokens, study_symbols


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
    sheet = load_sheet(Path(__file__).resolve().parents[1] / "mlemap" / "sheets" / "exercise4.py")
    (q,) = [q for q in sheet.questions if isinstance(q, OptimizerStudy)]
    st = run_study(derive(q.model), seed=0, fractions=(0.5,))
    m1, m2, values = st.grid
    assert values.shape == m1.shape == m2.shape and np.all(np.isfinite(values))
    best = np.unravel_index(np.argmax(values), values.shape)
    assert abs(m1[best] - st.optimum["m"]) < 0.1 and abs(m2[best] - st.optimum["v"]) < 0.1
    assert st.ascent[0].status == "converged"


# --- one meaning per symbol, and Exercise 4's study as its text states it ---------------------------------------

ROOT = Path(__file__).resolve().parents[1]
SYM = r"(\\[A-Za-z]+|[A-Za-z])"
# how a handout gives a symbol each meaning a study needs; the models give theirs (parameter, data)
MEANINGS = (
    ("learning rate", r"learning rate \$" + SYM + r"\$"),
    ("learning rate", r"_\{t\s*\+\s*1\} = \\?[A-Za-z]+_t \+ " + SYM + r" "),
    ("learning rate", r"\(I [+-] " + SYM + r" "),
    ("parameter", SYM + r"_\{t\s*\+\s*1\} ="),
    ("eigenvalue", SYM + r"_\{\\m(?:ax|in)\}"),
    ("eigenvalue", r"eigenvalue \$" + SYM),
    ("contraction factor", r"\$" + SYM + r"(?:_i)? = 1 - "),
    ("root", r"\$" + SYM + r"(?:_\{?\d+\}?)? \\approx [^$]*\$ is [^.;]*root"),
    ("curvature of one point", r"H = -n " + SYM + r"\b"),
    ("batch size", r"(?:batch size|subsets? of|of size) \$" + SYM + r"\$"),
    ("batch size", r"\| \$" + SYM + r" = \d+\$ \|"),
    ("covariance of one point's score", r"\$" + SYM + r"\$ the covariance of one point's score"),
    ("an additive constant", r"\+ " + SYM + r"\.?\s*\$\$"),
)


def symbol_meanings(text: str, sheet: Sheet) -> dict[str, set[str]]:
    """What a handout makes each symbol mean: its models' parameters and data, and every phrase of MEANINGS."""
    found: dict[str, set[str]] = {}
    for m in sheet.models:
        for kind, symbols in (("parameter", [p.symbol for p in m.params]), ("data", m.data)):
            for s in symbols:
                for token in math_tokens(f"${sp.latex(s)}$"):
                    found.setdefault(token, set()).add(kind)
    for meaning, pattern in MEANINGS:
        for token in re.findall(pattern, text):
            found.setdefault(token, set()).add(meaning)
    return found


def clashes(text: str, sheet: Sheet) -> dict[str, set[str]]:
    return {s: m for s, m in symbol_meanings(text, sheet).items() if len(m) > 1}


def sheet_of(name: str) -> Sheet:
    return load_sheet(ROOT / "mlemap" / "sheets" / f"{name}.py")


@pytest.fixture(scope="module")
def handouts(tmp_path_factory):
    """Both shipped sheets' solutions, as Markdown."""
    from mlemap.reports.cli import main

    built = {}
    for name in ("exercise3", "exercise4"):
        out = tmp_path_factory.mktemp(name) / "report"
        assert (
            main(["--sheet", str(ROOT / "mlemap" / "sheets" / f"{name}.py"), "--out", str(out), "--format", "md"]) == 0
        )
        built[name] = (out / "report.md").read_text()
    return built


def test_the_meaning_finder_catches_a_symbol_with_two_meanings():
    """The old wording: lambda a Poisson rate and a learning rate and an eigenvalue, c counts and an eigenvalue,
    rho a root and a factor, C a constant in the question and the curvature in the answer."""
    four, three = sheet_of("exercise4"), sheet_of("exercise3")
    wrong = (
        r"gradient ascent $\theta_{t+1} = \theta_t + \lambda \nabla \ell(\theta_t)$, below $2 / c_{\max}$; "
        r"the bound $2 / \lambda_{\max}(-H)$; where $\rho \approx 0.4844$ is the only real root of $x = 0$. "
        r"$\rho = 1 - \lambda c$"
    )
    found = clashes(wrong, four)
    assert found[r"\lambda"] == {"parameter", "learning rate", "eigenvalue"}
    assert found["c"] == {"data", "eigenvalue"} and found[r"\rho"] == {"root", "contraction factor"}
    assert clashes(r"$$\log p = -\frac{1}{2} x^2 + C.$$ Its Hessian $H = -n C$ is constant.", three) == {
        "C": {"an additive constant", "curvature of one point"}
    }
    assert clashes(r"gradient ascent $\theta_{t+1} = \theta_t + \eta \nabla \ell(\theta_t)$", four) == {}


@pytest.mark.build
@pytest.mark.parametrize("name", ["exercise3", "exercise4"])
def test_every_symbol_of_a_built_sheet_has_one_meaning(handouts, name):
    text = handouts[name]
    meanings = symbol_meanings(text, sheet_of(name))
    assert meanings.get(r"\kappa") == {"eigenvalue"} and "learning rate" in set().union(*meanings.values())
    assert clashes(text, sheet_of(name)) == {}


def test_each_meaning_takes_the_sheets_own_symbol_or_a_free_one():
    """A sheet that names its learning rate keeps it; lambda taken by a model moves the eigenvalues to kappa;
    a sheet using every candidate gets one line naming the rule."""
    four, three = study_symbols(sheet_of("exercise4")), study_symbols(sheet_of("exercise3"))
    assert (three.rate, three.batch, three.vector) == (r"\lambda", "k", r"\mu")  # as Exercise 3 writes them
    assert (four.rate, four.eigen, four.batch) == (r"\eta", r"\kappa", "b")  # lambda: the call rate; k: trials
    assert three.curvature != "C" and four.factor != r"\rho"  # C: Exercise 3's constant; rho: a root
    for s in (three, four):
        picked = [s.rate, s.eigen, s.factor, s.curvature, s.score_covariance, s.batch, s.vector]
        assert len(set(picked)) == len(picked)
    greedy = Sheet(
        "every rate",
        (),
        extra_models=tuple(
            Model(
                name=f"m{i}",
                title="t",
                data=(sp.Symbol("x"),),
                params=(Parameter(sp.Symbol(g, positive=True), sp.Interval.open(0, sp.oo), "p"),),
                density=sp.Symbol(g, positive=True) * sp.exp(-sp.Symbol(g, positive=True) * sp.Symbol("x")),
            )
            for i, g in enumerate(("eta", "alpha", "gamma", "epsilon"))
        ),
    )
    with pytest.raises(InputError, match=r"^sheet: no free symbol for the study's rate"):
        study_symbols(greedy)


def test_math_tokens_read_symbols_not_words():
    assert math_tokens(r"$\mathrm{Gamma}(2, 1)$ and $\theta_{MAP} = \frac{a}{b}$, but not a") == {
        r"\theta",
        "a",
        "b",
    }


def lognormal_data():
    from mlemap.numerics.checks import check_data

    (q,) = [q for q in sheet_of("exercise4").questions if isinstance(q, OptimizerStudy)]
    return q.model, check_data(q.model, 0)


@pytest.fixture(scope="module")
def lognormal_study():
    model, _ = lognormal_data()
    return run_study(derive(model), seed=0, parts=())


def test_the_log_normal_bound_is_two_over_the_curvature_at_the_closed_form_optimum(lognormal_study):
    """Independently: m_hat and v_hat by numpy, -H by central differences of the log-likelihood written in numpy;
    the rates are 0.1, 0.5, 0.9 and 1.1 times 2 / its largest eigenvalue."""
    _, data = lognormal_data()
    logs = np.log(data["x"])
    n = len(logs)
    m_hat, v_hat = logs.mean(), logs.var()

    def loglik(m, v):
        return float(np.sum(-((logs - m) ** 2) / (2 * v) - logs - 0.5 * np.log(2 * np.pi * v)))

    h = 1e-4
    point = np.array([m_hat, v_hat])
    hessian = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            hessian[i, j] = (
                loglik(*(point + ei + ej))
                - loglik(*(point + ei - ej))
                - loglik(*(point - ei + ej))
                + loglik(*(point - ei - ej))
            ) / (4 * h * h)
    kappa = np.linalg.eigvalsh(-hessian)
    assert lognormal_study.optimum == pytest.approx({"m": m_hat, "v": v_hat}, rel=1e-9)
    assert lognormal_study.bound == pytest.approx(2 / kappa[-1], rel=1e-5)
    assert lognormal_study.optimal == pytest.approx(2 / (kappa[0] + kappa[-1]), rel=1e-5)
    rates = [r.lr for r in lognormal_study.ascent]
    assert rates == pytest.approx([f * 2 / kappa[-1] for f in (0.1, 0.5, 0.9, 1.1)], rel=1e-5)
    exact = curvature_at_estimate(derive(lognormal_data()[0]))  # what the handout displays, in the estimates
    at = {"n": n, "m": m_hat, "v": v_hat}
    shown = np.array(exact.subs({s: at[s.name] for s in exact.free_symbols}), dtype=float)
    assert shown == pytest.approx(-hessian, rel=1e-5)


def test_past_the_bound_the_log_normal_run_oscillates_and_the_handout_says_so(lognormal_study, handouts):
    """1.1 x the bound: bounded, back where it was two steps before, away from the optimum: 'oscillates'. The
    section states each rate as its fraction of the bound, and the converged runs' measured and predicted
    counts with the reason they differ."""
    (past,) = [r for r in lognormal_study.ascent if r.lr > lognormal_study.bound]
    assert past.status == "cycles" and np.all(np.isfinite(past.path))
    assert np.allclose(past.path[-1], past.path[-3], atol=1e-12) and past.errors[-1] > 1e-3
    section = handouts["exercise4"].split("by gradient ascent from")[1].split("## Colophon")[0]
    for f in (0.1, 0.5, 0.9, 1.1):
        assert rf"${f:g} \times$ the bound" in section
    assert "oscillation of period 2" in section and "diverge" not in section
    for r in lognormal_study.ascent:
        if r.status == "converged" and r.steps != r.predicted:
            assert f"{r.steps} against {r.predicted}" in section
    assert "the linearisation describes only the last steps" in section


def test_a_period_two_cycle_is_told_from_a_damped_or_a_growing_oscillation():
    base = np.array([1.0, 2.0])
    swing = np.array([0.0, 0.1])
    cycle = np.array([base + (-1) ** t * swing for t in range(10)])
    damped = np.array([base + (-0.9) ** t * swing for t in range(10)])
    growing = np.array([base + (-1.2) ** t * swing for t in range(10)])
    still = np.array([base for _ in range(10)])
    assert _cycles(cycle) and not _cycles(damped) and not _cycles(growing) and not _cycles(still)
