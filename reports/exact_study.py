"""The layout of an OptimizerStudy of a quadratic log-likelihood (numerics.exact_study): the sample and its
derivation, gradient ascent against the exact rates, torch.optim, and mini-batch SGD with its noise floor."""

from __future__ import annotations

import numpy as np
import sympy as sp

from derivations.engine import n_obs
from derivations.sheet import OptimizerStudy
from numerics.exact_study import SGD_FRACTION_OF_BOUND, ExactStudy
from reports import figures
from reports.document import KINDS_TEXT, Section, math, number
from reports.layouts import truth_latex
from reports.steps import worked_steps

SHOWN_ABOVE = ("Log-density", "Joint log-likelihood in sample statistics")


def g(x, digits: int = 4) -> str:
    """A number in a figure's legend (plain text there)."""
    return f"{x:.{digits}g}"


def count(v) -> str:
    return "not reached" if v is None else str(v)


def exact_study(sec: Section, q: OptimizerStudy, st: ExactStudy, plan: figures.FigurePlan) -> None:
    s = st.sample
    labels = tuple(f"${sp.latex(p)}$" for p in s.derivation.params)
    if "ascent" in q.parts:
        _intro(sec, q, st, plan, labels)
        _rates(sec, q, st, plan, labels)
    if st.optimizers:
        _optimizers(sec, q, st, plan, labels)
    if st.batches is not None:
        _batches(sec, q, st, plan, labels)


def _intro(sec: Section, q, st: ExactStudy, plan, labels) -> None:
    s = st.sample
    d = s.derivation
    optimum = r",\ ".join(f"\\hat{{{sp.latex(p)}}} = {v:.4g}" for p, v in zip(d.params, s.optimum))
    truth = truth_latex(d.model) if st.truth is not None else ""
    view = {"n": s.n, "optimum_tex": optimum}
    sec.text(KINDS_TEXT.exact_intro(view, st.truth is not None, s.seed, truth))
    sec.steps([step for step in worked_steps(d) if step.title not in SHOWN_ABOVE])
    if s.data.shape[1] == 2:
        names = tuple(f"${sp.latex(x)}$" for x in d.model.data)
        at = [st.truth[k] for k in s.names] if st.truth is not None and len(s.names) == 2 else None
        sec.figure(
            plan.add(f"{q.key}_sample", figures.sample_scatter, s.data, s.optimum, at, names),
            f"The data (n = {s.n}){', the true value' if at else ''} and the estimate.",
        )


def _rates(sec: Section, q, st: ExactStudy, plan, labels) -> None:
    s, rates = st.sample, st.rates
    assert rates is not None and s.theory is not None
    bound = s.theory.bound.subs(n_obs, s.n)
    optimal = s.theory.optimal.subs(n_obs, s.n)
    evals = np.linalg.eigvalsh(s.curvature)
    isotropic = bool(np.isclose(evals[0], evals[-1], rtol=1e-12))
    sec.text(
        KINDS_TEXT.exact_rates(
            f"{math(None, s.theory.bound)} = {sp.latex(bound)}",
            float(bound),
            f"{sp.latex(optimal)}",
            float(optimal),
            isotropic,
            rates.ascent,
        )
    )
    start = ", ".join(f"{v:g}" for v in st.start)
    sec.table(
        ("rate", "fraction of the bound", "result", "steps", "predicted steps"),
        [
            (
                number(r.lr),
                r.label.removesuffix(" of the bound"),
                {"converged": "converged", "diverged": "diverges", "max_steps": "not converged"}[r.status],
                r.steps,
                "never" if r.predicted is None else r.predicted,
            )
            for r in rates.ascent
        ],
        f"Gradient ascent from ({start}) until the mean gradient is below 1e-6 in norm; the predicted counts come "
        "from the iteration matrix.",
    )
    distance = r"$\|\theta_t - \hat\theta\|$"
    if st.grid is not None:
        m1, m2, values = st.grid
        paths = {f"rate {g(r.lr, 3)}, {r.label}": r.path for r in rates.ascent}
        sec.figure(
            plan.add(
                f"{q.key}_ascent_paths", figures.path_panels, m1, m2, values, paths, s.optimum, (*labels, r"$\ell$")
            ),
            f"Gradient ascent from ({start}), a panel per rate on the same log-likelihood heatmap; x marks the optimum. "
            "Past the bound the iterates overshoot further at every step.",
        )
    sec.figure(
        plan.add(
            f"{q.key}_ascent_errors",
            figures.error_curves,
            {f"rate {g(r.lr, 3)}": r.errors for r in rates.ascent},
            ylabel=distance,
        ),
        "Distance to the optimum against step, log scale. Rates placed symmetrically about half the bound contract "
        "by the same factor, so their curves coincide: dashed and solid lines keep both visible.",
    )


def _optimizers(sec: Section, q, st: ExactStudy, plan, labels) -> None:
    s = st.sample
    iso = {o.name: o for o in st.optimizers}
    evals = np.linalg.eigvalsh(s.curvature)
    isotropic = bool(np.isclose(evals[0], evals[-1], rtol=1e-12))
    other, kappa, angle = None, "", 0.0
    if st.compare is not None:
        c, runs, _ = st.compare
        other = {o.name: o for o in runs}
        ce, cv = np.linalg.eigh(c.curvature)
        kappa = number(ce[-1] / ce[0])
        angle = round(float(np.degrees(np.arctan2(abs(cv[1, 0]), abs(cv[0, 0])))), 1) if len(ce) == 2 else 0.0
    sec.text(KINDS_TEXT.exact_optimizers(iso, isotropic, other, kappa, angle))
    header = ["optimizer", "settings", "steps", "evaluations"]
    if other:
        header += ["settings (second model)", "steps", "evaluations"]
    rows = []
    for o in st.optimizers:
        row = [o.name, o.settings, count(o.steps), count(o.evaluations)]
        if other:
            row += [other[o.name].settings, count(other[o.name].steps), count(other[o.name].evaluations)]
        rows.append(row)
    second = ""
    if st.compare is not None:
        c = st.compare[0]
        second = (
            f"; the second model is {c.derivation.model.title}, whose curvature $C$ has inverse "
            f"${sp.latex(sp.simplify(c.curvature_exact.inv()))}$ (the rates of the SGD family follow each model's own "
            "curvature)"
        )
    sec.table(
        header,
        rows,
        f"Steps and evaluations of the objective until the distance to the optimum is below 1e-6 (at most 3000 steps){second}.",
    )
    grid = st.compare[2] if st.compare is not None else None
    if st.compare is not None and grid is not None:
        c, runs, _ = st.compare
        m1, m2, values = grid
        sec.figure(
            plan.add(
                f"{q.key}_optimizer_paths",
                figures.heatmap_paths,
                m1,
                m2,
                values,
                {o.name: o.path for o in runs},
                "",
                labels=(*labels, r"$\ell$"),
                optimum=c.optimum,
            ),
            "torch.optim's paths on the log-likelihood of the second model.",
        )
        sec.figure(
            plan.add(
                f"{q.key}_optimizer_errors",
                figures.error_curves,
                {o.name: o.errors for o in runs},
                ylabel=r"$\|\theta_t - \hat\theta\|$",
            ),
            "Distance to the optimum against step, second model.",
        )


def _batches(sec: Section, q, st: ExactStudy, plan, labels) -> None:
    b = st.batches
    assert b is not None
    if b.floors:
        sec.text(KINDS_TEXT.exact_batches(b, SGD_FRACTION_OF_BOUND))
    floors = {f.k: f.predicted for f in b.floors}
    sec.figure(
        plan.add(f"{q.key}_sgd", figures.sgd_convergence, list(b.runs), floors),
        "Mini-batch SGD: distance to the optimum against steps and against samples seen; dashed, each batch size's "
        "derived noise floor.",
    )
    sec.table(
        ("k", "derived noise floor", "measured"),
        [(f.k, number(f.predicted), number(f.measured)) for f in b.floors],
        "Root mean square distance to the optimum after burn-in, constant rate, independently drawn batches.",
    )
    sec.table(
        ("k", "derived", "Monte Carlo", "replications"),
        [(v.k, number(v.predicted_trace, 3), number(v.measured_trace, 3), v.replications) for v in b.variances],
        "Trace of the covariance of the unbiased mini-batch gradient at the start.",
    )
    if b.landscapes is not None:
        m1, m2, lands = b.landscapes
        sec.text(KINDS_TEXT.exact_landscapes(lands))
        sec.figure(
            plan.add(f"{q.key}_subsets", figures.subset_landscapes, m1, m2, lands, st.sample.optimum, labels),
            "Subset log-likelihoods (shifted to a maximum of 0): white contour 2 below the maximum, + the subset's "
            "optimum, x the full data's.",
        )
