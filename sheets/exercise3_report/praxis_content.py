"""Exercise 3's praxis section: the 2-D Gaussian mean, gradient ascent, torch.optim and stochastic gradients."""

from __future__ import annotations

import numpy as np
import sympy as sp

from reports import figures
from reports.document import Section
from reports.steps import worked_steps
from sheets.exercise3_report.compute import SGD_FRACTION_OF_BOUND, Results
from sheets.exercise3_report.wording import QUESTIONS, TEXT, count, g


def praxis(results: Results, plan: figures.FigurePlan) -> list[Section]:
    """The praxis on the 2-D Gaussian mean: the sample and its derivation, then the three tasks."""
    r = results.praxis
    return [_praxis_intro(r, plan), _gradient_ascent(r, plan), _optimizers(r, plan), _stochastic_gradients(r, plan)]


def _praxis_intro(r: dict, plan: figures.FigurePlan) -> Section:
    p = r["p"]
    n = p.config.n
    intro = Section("praxis", "Praxis: the mean of a 2-D Gaussian")
    intro.text(
        TEXT.praxis_intro(
            n, p.config.seed, p.mle, r["sheet_check"], [f"{v:g}" for v in p.config.mu], sp.latex(p.sigma_exact)
        )
    )
    intro.steps(
        [
            s
            for s in worked_steps(p.derivation)
            if s.title not in ("Log-density", "Joint log-likelihood in sample statistics")
        ]
    )
    intro.figure(
        plan.add("sample", figures.sample_scatter, p.data, p.mle, p.config.mu),
        f"The sample (n = {n}), the true mean and the MLE.",
    )
    return intro


def _gradient_ascent(r: dict, plan: figures.FigurePlan) -> Section:
    p, study = r["p"], r["study"]
    n = p.config.n
    rows = [
        {
            "lr": run.lr,
            "fraction_of_bound": float(f"{run.lr / study.bound:.6g}"),
            "status": run.status,
            "steps": run.steps,
            "predicted": run.predicted,
        }
        for run in study.ascent
    ]
    ga = Section("praxis1", "Praxis Task 1: gradient ascent and the learning rate", 2)
    ga.question(r["question"].text)
    ga.text(TEXT.praxis_rate(study.bound, study.optimal, rows, n))
    ga.table(
        ("rate", "fraction of bound", "status", "steps", "predicted steps"),
        [
            (
                g(row["lr"], 4),
                row["fraction_of_bound"],
                row["status"],
                row["steps"],
                row["predicted"] if row["predicted"] is not None else "never",
            )
            for row in rows
        ],
        "Gradient ascent from (0, 0) until the mean gradient norm is below 1e-6; predicted counts come from the iteration matrix at the MLE.",
    )
    m1, m2, values = r["grid"]
    paths = {f"rate {g(res.lr, 3)} ({res.status}, {res.steps} steps)": res.path for res in study.ascent}
    ga.figure(
        plan.add("ascent_paths", figures.path_panels, m1, m2, values, paths, p.mle),
        "Gradient ascent from (0, 0), a panel per rate on the same log-likelihood heatmap; x marks the MLE. Past the bound the iterates overshoot further at every step.",
    )
    ga.figure(
        plan.add("ascent_errors", figures.error_curves, {f"rate {g(res.lr, 3)}": res.errors for res in study.ascent}),
        "Distance to the MLE against step, log scale.",
    )
    return ga


def _optimizers(r: dict, plan: figures.FigurePlan) -> Section:
    p = r["p"]
    iso = {o.name: o for o in r["optimizers"]}
    aniso = {o.name: o for o in r["optimizers_aniso"]}
    evals, vecs = np.linalg.eigh(r["aniso"].sigma)
    angle = float(np.degrees(np.arctan2(abs(vecs[1, -1]), abs(vecs[0, -1]))))
    exact_eigs = sorted(r["aniso"].sigma_exact.eigenvals(multiple=True), key=float, reverse=True)
    opt = Section("praxis2", "Praxis Task 2: torch.optim optimizers", 2)
    opt.question(QUESTIONS["praxis2"])
    opt.text(
        TEXT.praxis_optimizers(
            iso, aniso, g(evals[-1] / evals[0], 4), sp.latex(p.sigma_exact), [sp.latex(e) for e in exact_eigs], angle
        )
    )
    opt.table(
        ("optimizer", "settings", "steps (Sigma = 5I)", "evaluations", "steps (anisotropic)", "evaluations"),
        [
            (
                o.name,
                o.settings,
                count(o.steps),
                count(o.evaluations),
                count(aniso[o.name].steps),
                count(aniso[o.name].evaluations),
            )
            for o in r["optimizers"]
        ],
        "Steps and objective evaluations until the distance to the MLE is below 1e-6 (at most 3000 steps).",
    )
    am1, am2, avalues = r["grid_aniso"]
    opt.figure(
        plan.add(
            "optimizer_paths",
            figures.heatmap_paths,
            am1,
            am2,
            avalues,
            {o.name: o.path for o in r["optimizers_aniso"]},
            "anisotropic Sigma",
            optimum=r["aniso"].mle,
        ),
        "torch.optim paths on the log-likelihood of the anisotropic sample.",
    )
    opt.figure(
        plan.add("optimizer_errors", figures.error_curves, {o.name: o.errors for o in r["optimizers_aniso"]}),
        "Distance to the MLE against step, anisotropic Sigma.",
    )
    return opt


def _stochastic_gradients(r: dict, plan: figures.FigurePlan) -> Section:
    p = r["p"]
    m1, m2, lands = r["landscapes"]
    sgd = Section("praxis3", "Praxis Task 3: stochastic gradients", 2)
    sgd.question(QUESTIONS["praxis3"])
    sgd.text(TEXT.praxis_sgd(r["floors"], r["variances"], r["running_mean_error"], lands, SGD_FRACTION_OF_BOUND))
    floors = {f["k"]: f["predicted"] for f in r["floors"]}
    sgd.figure(
        plan.add("sgd_convergence", figures.sgd_convergence, r["sgd_runs"], floors),
        "Mini-batch SGD: distance to the MLE against steps and against samples seen; dashed, each batch size's predicted noise floor.",
    )
    sgd.table(
        ("k", "predicted noise floor", "measured"),
        [(f["k"], g(f["predicted"], 4), g(f["measured"], 4)) for f in r["floors"]],
        "RMS distance to the MLE after burn-in, constant rate, independent batches.",
    )
    sgd.table(
        ("k", "derived tr Cov", "Monte Carlo tr Cov", "replications"),
        [(v.k, g(v.predicted_trace), g(v.measured_trace), v.replications) for v in r["variances"]],
        "Trace of the covariance of the unbiased mini-batch gradient at (0, 0).",
    )
    sgd.text(TEXT.praxis_landscapes(lands))
    sgd.figure(
        plan.add("subset_landscapes", figures.subset_landscapes, m1, m2, lands, p.mle),
        "Subset log-likelihoods (shifted to max 0): white contour 2 below the maximum, + the subset mean, x the full-data MLE.",
    )
    return sgd
