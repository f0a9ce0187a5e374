"""Run every computation Exercise 3's report needs, once: derivations, verification, theory demos, praxis."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from derivations.engine import derive
from derivations.fisher import fisher
from derivations.sheet import OptimizerStudy, answers
from numerics.checks import check_data
from numerics.montecarlo import gaussian_variance_bias, standard_errors
from numerics.study import run_study
from numerics.verify import answer_checks, verify
from reports.plan import Settings
from sheets.catalogue import EXTRA_MODELS, SHEET_MODELS, derivation
from sheets.catalogue import MODELS as MODELS_BY_NAME
from sheets.exercise3_demos import praxis as px
from sheets.exercise3_demos.log_theory import log_theory
from sheets.exercise3_demos.prior_strength import prior_strength
from sheets.exercise3_demos.underflow import underflow

SECTIONS = ("theory", "task1", "task2", "task3", "praxis", "appendix", "models")
DEFAULT_SECTIONS = SECTIONS[:-1]  # the models appendix only on request (--appendix models)
SECTION_MODELS = {
    "task1": ("gaussian",),
    "task2": ("linear_regression",),
    "task3": ("coin_map", "coin_map_sd", "coin_uniform"),
    "appendix": tuple(m.name for m in SHEET_MODELS),
    "models": tuple(m.name for m in EXTRA_MODELS),
}
SGD_STEPS = 400
FLOOR_STEPS = 2000
SGD_FRACTION_OF_BOUND = 0.1
ZOOM = (-0.5, 2.0)  # the optimizer paths run from (0, 0) to about (1, 1)


@dataclass
class Results:
    settings: Settings
    sheet: object = None
    checks: dict = field(default_factory=dict)  # model name -> list[CheckResult]
    answers: list = field(default_factory=list)
    theory: object = None
    underflow: object = None
    praxis: dict = field(default_factory=dict)
    extensions: dict = field(default_factory=dict)


def models_for(sections) -> list[str]:
    """The models the chosen sections show, each once, in section order."""
    return list(dict.fromkeys(m for s in sections for m in SECTION_MODELS.get(s, ())))


def derive_all(settings: Settings) -> None:
    for name in [m.name for m in SHEET_MODELS + EXTRA_MODELS]:
        derivation(name)


def run_verification(settings: Settings, results: Results, sheet) -> None:
    checks = [c for name in models_for(settings.sections) for c in verify(derivation(name), settings.seed).checks]
    found = answers(sheet, deriv=lambda m: derivation(m.name))
    for r in checks + list(answer_checks(sheet, found).checks):
        results.checks.setdefault(r.model, []).append(r)
    results.answers = [a.as_dict() for a in found]


def run_theory(settings: Settings, results: Results) -> None:
    results.theory = log_theory()
    results.underflow = underflow(n=settings.n, seed=settings.seed)


def run_extensions(settings: Settings, results: Results) -> None:
    """Fisher information of every model, the variance-bias demonstration, the prior-strength study."""
    names = models_for([s for s in settings.sections if s in ("appendix", "models")])
    fishers = {name: fisher(derivation(name)) for name in names}
    results.extensions = {
        "fisher": fishers,
        "standard_errors": {
            name: standard_errors(derivation(name), fishers[name], check_data(MODELS_BY_NAME[name], settings.seed))
            for name in names
        },
        "bias": gaussian_variance_bias(derivation("gaussian"), seed=settings.seed),
        "prior_strength": prior_strength(),
    }


def run_optimizers(settings: Settings) -> dict:
    """torch.optim's optimizers on the anisotropic covariance, the slower comparison: the worker's share of
    the praxis, which balances the two cores."""
    config = px.PraxisConfig(n=settings.n, seed=settings.seed, sigma=px.ANISOTROPIC_SIGMA)
    return {"optimizers_aniso": px.compare_optimizers(px.Praxis(config))}


def run_praxis(settings: Settings, results: Results, sheet) -> None:
    (question,) = [q for q in sheet.questions if isinstance(q, OptimizerStudy)]
    p = px.Praxis(px.PraxisConfig(n=settings.n, seed=settings.seed))
    aniso = px.Praxis(px.PraxisConfig(n=settings.n, seed=settings.seed, sigma=px.ANISOTROPIC_SIGMA))
    n = settings.n
    grid = px.heatmap(p, settings.resolution)
    grid_aniso = px.heatmap(aniso, settings.resolution, bounds=ZOOM)
    # the learning-rate study only: the praxis compares the optimizers its own way, below
    study = run_study(derive(question.model), settings.seed, question.fractions, data=px.columns(p.data), parts=())
    ks = sorted({k for k in (1, 5, 10, 100, 1000, n) if k <= n})
    smin = float(np.linalg.eigvalsh(p.sigma)[0])
    # the derived score: the same gradient as autograd (tests/test_praxis.py holds them together), without
    # torch's per-step overhead; torch.optim has the praxis's torch part below
    sgd_runs = [
        px.sgd(p, k, SGD_FRACTION_OF_BOUND * 2 * smin / k, SGD_STEPS, seed=settings.seed, gradient="derived")
        for k in ks
    ]
    floors = []
    for k in ks:
        if k == n:
            continue
        lr = SGD_FRACTION_OF_BOUND * 2 * smin / k
        run = px.sgd(p, k, lr, FLOOR_STEPS, seed=settings.seed, sampling="independent", gradient="derived")
        floors.append(
            {
                "k": k,
                "predicted": px.sgd_noise_floor(p, k, lr),
                "measured": float(np.sqrt(np.mean(run.errors[FLOOR_STEPS // 4 :] ** 2))),
            }
        )
    running_mean = px.sgd(p, 1, smin, n, schedule="inverse_t", seed=settings.seed, gradient="derived")
    variances = [px.minibatch_gradient_variance(p, k, seed=settings.seed + 1) for k in ks if k < n]
    m1, m2, lands = px.subset_landscapes(p, ks, settings.resolution, seed=settings.seed + 2)
    results.praxis = {
        "p": p,
        "aniso": aniso,
        "grid": grid,
        "grid_aniso": grid_aniso,
        "question": question,
        "study": study,
        "sgd_runs": sgd_runs,
        "floors": floors,
        "running_mean_error": float(np.max(np.abs(running_mean.path[-1] - p.mle))),
        "variances": variances,
        "landscapes": (m1, m2, lands),
        "optimizers": px.compare_optimizers(p),
        "sheet_check": px.sheet_relative_error(p),
        "smin": smin,
    }
