"""Exercise 3's worked-solution report: its sections, prose (text.j2 beside this file) and figures, laid out
from the results compute.py gathers."""

from __future__ import annotations

import numpy as np
import sympy as sp

from derivations import bayes
from derivations.sheet import Estimate
from reports import figures
from reports.document import KINDS_TEXT, Section, error_text, math
from reports.steps import worked_steps
from sheets.catalogue import COIN_MAP, COIN_UNIFORM, EXTRA_MODELS, SHEET_PRIOR, derivation, theta, x
from sheets.catalogue import MODELS as MODELS_BY_NAME
from sheets.exercise3_demos.praxis_theory import n_sym
from sheets.exercise3_report.compute import Results
from sheets.exercise3_report.praxis_content import praxis
from sheets.exercise3_report.wording import QUESTIONS, TEXT


def model_section(key: str, title: str, model: str, results: Results, level: int = 1, skip=()) -> Section:
    """The model's answer and its worked steps (those titled in skip left out: shown already above)."""
    d = derivation(model)
    sec = Section(key, title, level)
    if d.estimate is not None:
        sec.text(KINDS_TEXT.model_answer(d))
    else:
        sec.text(f"No closed form: {d.no_closed_form}.")
    question = next((q for q in results.sheet.questions if isinstance(q, Estimate) and q.model.name == model), None)
    steps = worked_steps(d, question.familiar_forms, question.where) if question else worked_steps(d)
    sec.steps([s for s in steps if s.title not in skip])
    return sec


def theory(results: Results) -> list[Section]:
    t, u = results.theory, results.underflow
    view = dict(
        vars(t),
        ops_derivative_product=t.ops_derivative_product,
        ops_derivative_log=t.ops_derivative_log,
        curvature_likelihood_tex=sp.latex(t.curvature_likelihood),
        curvature_log_likelihood_tex=sp.latex(t.curvature_log_likelihood),
    )
    view["argmax_likelihood"] = [sp.latex(v) for v in t.argmax_likelihood]
    view["argmax_log_likelihood"] = [sp.latex(v) for v in t.argmax_log_likelihood]
    tv = type("TheoryView", (), view)
    sec = Section("theory", "Theory: why take the logarithm of a likelihood?")
    sec.question(QUESTIONS["theory"])
    sec.text(TEXT.theory_analytical(tv))
    sec.math(sp.latex(t.product_to_sum[0]) + " = " + sp.latex(t.product_to_sum[1]))
    sec.text(TEXT.theory_numerical(u))
    sec.text(TEXT.theory_estimator(tv, u))
    return [sec]


def task1(results: Results) -> list[Section]:
    sec = model_section("task1", "Task 1: Gaussian MLE of $\\mu$ and $\\sigma^2$", "gaussian", results)
    sec.blocks.insert(0, {"kind": "question", "text": QUESTIONS["task1"]})
    sec.blocks.insert(3, {"kind": "text", "text": str(TEXT.task1_note()).strip()})
    return [sec]


def task2(results: Results) -> list[Section]:
    sec = model_section("task2", "Task 2: linear model, MLE of $a$, $b$ and $\\sigma^2$", "linear_regression", results)
    sec.blocks.insert(0, {"kind": "question", "text": QUESTIONS["task2"]})
    sec.blocks.insert(3, {"kind": "text", "text": str(TEXT.task2_note()).strip()})
    return [sec]


def task3(results: Results, plan: figures.FigurePlan) -> list[Section]:
    ans = {a["key"]: a for a in results.answers}
    sec = Section("task3", "Task 3: the coin, MAP and posterior predictive")
    sec.question(QUESTIONS["task3"])
    logz = bayes.truncation_log_normaliser(COIN_MAP)
    sec.text(
        TEXT.task3a(
            ans["task3a.theta_map"]["latex"],
            ans["task3a.theta_map"]["value"],
            ans["task3a.p_two_tails"]["latex"],
            ans["task3a.p_two_tails"]["value"],
            ans["task3a.theta_map_sd"]["value"],
            ans["task3a.p_two_tails_sd"]["value"],
            sp.latex(logz),
            float(SHEET_PRIOR[1]),
            float(SHEET_PRIOR[1] ** 2),
        )
    )
    heads = sum(COIN_UNIFORM.observed[x])
    tails = len(COIN_UNIFORM.observed[x]) - heads
    (mle,) = derivation("coin_uniform").estimate.values()
    prior_mean = sp.integrate(theta * COIN_UNIFORM.prior, (theta, 0, 1))
    sec.text(
        TEXT.task3b(
            ans["task3b.posterior"]["latex"],
            ans["task3b.p_next_head"]["latex"],
            ans["task3b.p_next_head"]["value"],
            heads + 1,
            tails + 1,
            sp.latex(mle),
            sp.latex(prior_mean),
        )
    )
    grid = np.linspace(0.005, 0.995, 397)
    curves, marks = {}, {}
    for name, label in (
        ("coin_map", "prior N(0.5, 0.1)"),
        ("coin_map_sd", "prior N(0.5, 0.1^2)"),
        ("coin_uniform", "prior U(0, 1)"),
    ):
        d = derivation(name)
        f = sp.lambdify(theta, d.objective.subs(d.observed_statistics), "numpy")
        curves[label] = np.asarray(f(grid), float)
        marks[f"{d.kind} {label}"] = float(next(iter(d.estimate.values())))
    sec.figure(
        plan.add("coin_posteriors", figures.coin_posteriors, grid, curves, marks),
        "Log-posterior of the coin's theta under each prior; dotted lines mark the MAP (the flat prior's MAP is the MLE).",
    )
    subs = []
    for model, title in (
        ("coin_map", "Derivation, prior variance 0.1"),
        ("coin_map_sd", "Derivation, prior variance 0.01"),
        ("coin_uniform", "Derivation, flat prior"),
    ):
        shared = (
            ("Log-density", "Joint log-likelihood in sample statistics") if subs else ()
        )  # the same likelihood as the first
        sub = model_section(f"task3.{model}", title, model, results, level=2, skip=shared)
        subs.append(sub)
    return [sec, *subs]


def appendix(results: Results, plan: figures.FigurePlan) -> list[Section]:
    from numerics.montecarlo import REPLICATIONS, SAMPLE_SIZE

    ext = results.extensions
    fisher_sec = Section("appendix.fisher", "Appendix: Fisher information, standard errors and bias")
    fisher_sec.text(TEXT.fisher_intro(REPLICATIONS, SAMPLE_SIZE))
    rows, se_rows = [], []
    for name, fish in ext["fisher"].items():
        d = derivation(name)
        mc = {r.check: r for r in results.checks.get(name, [])}.get("cramer_rao_mc")
        shown = "" if mc is None or np.isnan(mc.error) else f"{mc.error:.3f} (tol {mc.tolerance:g})"
        se = ", ".join(
            f"{k}: {obs:.4g}" + ("" if np.isnan(exp) else f" ({exp:.4g})")
            for k, (obs, exp) in ext["standard_errors"][name].items()
        )
        title = d.model.title
        if fish.expected is None:
            rows.append((title, "not derived: " + fish.reason, ""))
        else:
            rows.append((title, f"${math(d, fish.expected)}$", f"${math(d, fish.cramer_rao)}$"))
        se_rows.append((title, se, shown))
    fisher_sec.table(
        ("model", "expected information I", "Cramer-Rao bound"), rows, "Exact expected information and bounds."
    )
    fisher_sec.table(
        ("model", "SE observed (expected)", "MC: max |var / derived - 1|"),
        se_rows,
        "Standard errors at the estimate on each model's check sample, from the observed information (negative Hessian "
        "of the objective, so a MAP includes the prior's curvature) and, in brackets, the expected one; the last column "
        "is the Monte Carlo check of the estimator's variance. For a MAP the two columns differ by the prior's curvature, "
        "which only the observed one contains. These are asymptotic errors: for the coin's seven tosses they are rough guides, not exact.",
    )
    fisher_sec.text(TEXT.bias(ext["bias"]))
    _prior_strength(fisher_sec, ext["prior_strength"], plan)
    return [fisher_sec]


def _prior_strength(fisher_sec: Section, prior_strength, plan: figures.FigurePlan) -> None:
    mle, strength = prior_strength
    centre = float(SHEET_PRIOR[0])
    mean_closer = [abs(r.posterior_mean - centre) < abs(r.map - centre) for r in strength]
    fisher_sec.text(
        TEXT.prior_strength(
            mle,
            strength,
            f"{centre:g}",
            mean_closer,
            max((abs(r.posterior_mean - r.map) for r, c in zip(strength, mean_closer) if not c), default=None),
        )
    )
    fisher_sec.table(
        ("prior variance v", "MAP (exact)", "MAP", "posterior mean"),
        [
            (
                f"${sp.latex(r.variance)}$",
                f"${sp.latex(r.map_exact)}$" if not r.map_exact.has(sp.CRootOf) else "root of a cubic",
                f"{r.map:.4g}",
                f"{r.posterior_mean:.4g}",
            )
            for r in strength
        ],
        "The coin with a N(0.5, v) prior.",
    )
    fisher_sec.figure(
        plan.add("prior_strength", figures.prior_strength, mle, strength),
        "MLE, MAP and posterior mean of the coin as the prior narrows.",
    )


def models(results: Results) -> list[Section]:
    head = Section("models", "Appendix: more models, one declaration each")
    head.text(
        "Each model below is only a declaration of its density, parameters and prior; its derivation, its checks and this section are generated from it."
    )
    return [head] + [model_section(f"models.{m.name}", m.title, m.name, results, level=2) for m in EXTRA_MODELS]


def verification_appendix(results: Results) -> Section:
    """Every check of the models shown, in one table: what it compares, its error, its tolerance."""
    sec = Section("verification", "Appendix: verification")
    sec.text(
        "Every derivation above was checked against independent numerics, and every answer against an independent scipy computation; a check passes when its error is within its tolerance."
    )
    labels = {f"answer {a['key']}": f"{a['question']} vs an independent scipy computation" for a in results.answers}
    for model, checks in results.checks.items():  # a table per model: one table of them all would not fit a page
        rows = [
            (
                labels.get(r.check) or r.compares,
                "n/a" if r.status == "SKIP" else error_text(r.error),
                f"{r.tolerance:g}",
                r.status,
            )
            for r in checks
        ]
        title = MODELS_BY_NAME[model].title if model in MODELS_BY_NAME else model
        sec.table(("what is compared", "error", "tolerance", "result"), rows, f"{title}.")
    return sec


def document(results: Results) -> tuple[list[Section], figures.FigurePlan]:
    """The sections of the chosen parts, and the plan of their figures (drawn by the caller)."""
    plan = figures.FigurePlan()
    builders = {
        "theory": lambda: theory(results),
        "task1": lambda: task1(results),
        "task2": lambda: task2(results),
        "task3": lambda: task3(results, plan),
        "praxis": lambda: praxis(results, plan),
        "appendix": lambda: appendix(results, plan),
        "models": lambda: models(results),
    }
    chosen = [sec for key in results.settings.sections for sec in builders[key]()]
    return chosen + [verification_appendix(results)], plan


def answers_json(results: Results) -> list[dict]:
    rows = [dict(a) for a in results.answers]
    if results.praxis:
        p = results.praxis["p"]
        th = p.theory
        for key, question, expr in (
            (
                "praxis.lr_bound",
                r"largest stable gradient-ascent rate, $2\sigma_{\min}/n$",
                th.bound.subs(n_sym, p.config.n),
            ),
            ("praxis.lr_optimal", "rate with the fastest worst-case contraction", th.optimal.subs(n_sym, p.config.n)),
        ):
            rows.append(
                {"key": key, "question": question, "exact": str(expr), "latex": sp.latex(expr), "value": float(expr)}
            )
        for i, name in enumerate(("mu1", "mu2")):
            rows.append(
                {
                    "key": f"praxis.mle_{name}",
                    "question": f"sample mean, $\\{name[:-1]}_{name[-1]}$",
                    "exact": None,
                    "latex": None,
                    "value": float(p.mle[i]),
                }
            )
    return rows
