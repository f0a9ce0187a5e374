"""Layouts of the question kinds that explain rather than answer: why the log (LogTheory), an estimator's bias
(Bias), its precision (Precision) and the prior's weight (PriorStrength). Each takes the kind's computed work
(numerics.kinds) and only formats it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import sympy as sp

from mlemap.derivations.engine import n_obs
from mlemap.derivations.sheet import Bias, LogTheory, Precision, PriorStrength
from mlemap.reports import figures
from mlemap.reports.document import KINDS_TEXT, Section, hat, math


def truth_latex(model, names=None) -> str:
    """theta = 1.5, sigma^2 = 4 : the parameters a sample was drawn at."""
    params = [p for p in model.params if names is None or p.name in names]
    return r",\ ".join(f"{sp.latex(p.symbol)} = {model.truth[p.name]:g}" for p in params)


def log_theory(sec: Section, q: LogTheory, work, plan: figures.FigurePlan, d=None) -> None:
    t, u = work
    view = SimpleNamespace(
        **vars(t),
        ops_derivative_product=t.ops_derivative_product,
        ops_derivative_log=t.ops_derivative_log,
        parameter_tex=sp.latex(t.parameter),
        argmax_likelihood_tex=[sp.latex(v) for v in t.argmax_likelihood],
        argmax_log_likelihood_tex=[sp.latex(v) for v in t.argmax_log_likelihood],
        curvature_likelihood_tex=sp.latex(t.curvature_likelihood) if t.curvature_likelihood is not None else "",
        curvature_log_likelihood_tex=sp.latex(t.curvature_log_likelihood)
        if t.curvature_log_likelihood is not None
        else "",
    )
    sec.text(KINDS_TEXT.theory_analytical(view))
    sec.math(sp.latex(t.product_to_sum[0]) + " = " + sp.latex(t.product_to_sum[1]))
    sec.text(KINDS_TEXT.theory_numerical(SimpleNamespace(**vars(u), inf=float("inf")), truth_latex(q.model)))
    first = next(p for p in q.model.params if p.name == u.parameter)
    sample = SimpleNamespace(**vars(u), parameter_tex=sp.latex(first.symbol))
    sec.text(KINDS_TEXT.theory_estimator(view, sample, q.example.title if q.example is not None else ""))


def bias(sec: Section, q: Bias, work, plan: figures.FigurePlan, d=None) -> None:
    d_params = {p.symbol: p for p in q.model.params}
    shown = False
    for found in work.found:
        theta = hat(found.param)
        if found.expectation is None:
            sec.text(f"The expectation of ${theta}$ is not derived: {found.reason}.")
            continue
        shown = True
        lines = [
            rf"E\left[{theta}\right] = {math(d, found.expectation)}",
            rf"\operatorname{{bias}}\left({theta}\right) = E\left[{theta}\right] - {sp.latex(found.param)} = {math(d, found.bias)}",
        ]
        if found.correction is not None:
            lines.append(rf"{theta}_{{\text{{unbiased}}}} = {math(d, found.correction)}")
        condition = "" if found.condition is sp.true else rf"\quad \text{{for }} {sp.latex(found.condition)}"
        sec.math("\n".join(line + condition for line in lines))
        sec.text(_bias_words(found, d_params[found.param].symbol))
    if shown and work.checks:
        c0 = work.checks[0]
        sec.table(
            ("parameter", "true value", "derived E", "simulated mean", "unbiased version's mean"),
            [
                (
                    f"${sp.latex(next(p.symbol for p in q.model.params if p.name == c.param))}$",
                    f"{c.truth:.4g}",
                    f"{c.derived_mean:.4g}",
                    f"{c.simulated_mean:.4g} ± {c.simulated_se:.2g}",
                    "" if c.corrected_mean is None else f"{c.corrected_mean:.4g} ± {c.corrected_se:.2g}",
                )
                for c in work.checks
            ],
            f"{c0.replications} seeded samples of size n = {c0.n} at the true values; ± one standard error of the mean.",
        )


def _bias_words(found, symbol) -> str:
    if found.bias == 0:
        return f"The estimator is unbiased for every n: its expectation is ${sp.latex(symbol)}$ itself."
    if found.correction is None:
        return (
            "The estimator is biased, and its expectation is not a fixed multiple of the parameter, so no rescaling "
            "removes the bias."
        )
    if not found.bias.has(n_obs):
        return "The estimator is biased by an amount that does not shrink with n."
    return (
        "The estimator is biased, and asymptotically unbiased: its bias vanishes as n grows. Dividing it by "
        "$E[\\hat\\theta] / \\theta$, a function of n alone, gives the unbiased version above."
    )


def precision(sec: Section, q: Precision, work, plan: figures.FigurePlan, d=None) -> None:
    info, at = work
    d_params = q.model.params
    if info.expected is None:
        sec.text(f"The expected information is not derived: {info.reason}.")
    else:
        sec.text(
            "The expected (Fisher) information $I = E[-\\nabla^2 \\ell]$ replaces each sum of the data in the negative "
            "Hessian by its expectation; its inverse is the Cramér-Rao bound, the smallest covariance an unbiased "
            "estimator can have, and the MLE's covariance for large n."
        )
        bound = f"\nI^{{-1}} = {math(d, info.cramer_rao)}" if info.cramer_rao is not None else ""  # a line each
        sec.math(rf"I = {math(d, info.expected)}{bound}")
    if not at.estimate:
        sec.text(f"There is no estimate at data to give standard errors at: {at.reason}.")
        return
    where = "the model's observed data" if at.observed_data else f"a seeded simulated sample of n = {at.n}"
    level = f"{100 * at.level:g}%"
    rows = []
    for p in d_params:
        k = p.name
        if k not in at.se_observed:
            continue
        expected = at.se_expected.get(k, float("nan"))
        rows.append(
            (
                f"${sp.latex(p.symbol)}$",
                f"{at.estimate[k]:.4g}",
                f"{at.se_observed[k]:.3g}" + ("" if np.isnan(expected) else f" ({expected:.3g})"),
                _interval(at.wald[k]),
                _interval(at.likelihood_ratio[k]) if k in at.likelihood_ratio else "",
            )
        )
    objective = "log-posterior" if q.model.prior is not None else "log-likelihood"
    caveat = ""
    if q.model.prior is not None:
        caveat = (
            " For a MAP these are the Laplace approximation of the posterior: the observed information includes the "
            "prior's curvature, the expected information in brackets does not, and the intervals are approximate "
            "posterior intervals."
        )
    if at.n < 30:
        caveat += f" With n = {at.n} the large-n approximations are rough guides only."
    sec.text(
        f"At {where}: the standard error from the observed information (minus the Hessian of the {objective} at "
        "the estimate) and, in brackets, from the expected information at the estimate; the Wald interval is the "
        f"estimate ± {_z(at.level):.3g} standard errors, the likelihood-ratio interval the parameter values whose profile "
        f"{objective} lies within $\\chi^2_1({at.level:g})/2$ of its maximum. Both are {level} intervals for large n; "
        "where they differ, the likelihood is not yet close to a parabola."
        + (f" The likelihood-ratio interval is not computed: {at.reason}." if at.reason else "")
        + caveat
    )
    sec.table(("parameter", "estimate", "standard error", f"Wald {level}", f"likelihood ratio {level}"), rows, "")


def _z(level: float) -> float:
    import scipy.stats

    return float(scipy.stats.norm.ppf((1 + level) / 2))


def _interval(iv) -> str:
    left = "(" if iv.open_lower else "["
    right = ")" if iv.open_upper else "]"
    return f"{left}{iv.lower:.4g}, {iv.upper:.4g}{right}"


def prior_strength(sec: Section, q: PriorStrength, work, plan: figures.FigurePlan, d=None) -> None:
    s = work
    centre = s.prior_mean
    closer, gaps = [], []
    for r in s.rows:
        if centre is not None and abs(r.posterior_mean - centre) < abs(r.map - centre):
            closer.append(r.label)
        else:
            gaps.append(abs(r.posterior_mean - r.map))
    sec.text(KINDS_TEXT.prior_strength(s, closer, max(gaps) if closer and gaps else None))
    sec.table(
        ("prior", "MAP (exact)", "MAP", "posterior mean"),
        [
            (
                r.label,
                ""
                if r.map_exact is None
                else (f"${sp.latex(r.map_exact)}$" if not r.map_exact.has(sp.CRootOf) else "a root of a polynomial"),
                f"{r.map:.4g}",
                f"{r.posterior_mean:.4g}",
            )
            for r in s.rows
        ],
        f"MLE {s.mle:.4g}.",
    )
    theta = q.model.param_symbols[0]
    lo, hi = s.interval
    grid = np.linspace(lo + (hi - lo) / 400, hi - (hi - lo) / 400, 397)
    with np.errstate(all="ignore"):
        priors = {r.label: np.asarray(r.prior(grid), float) for r in s.rows}
        posteriors = {r.label: np.asarray(r.posterior(grid), float) for r in s.rows}
        likelihood = None if s.likelihood is None else np.asarray(s.likelihood(grid), float)
    sec.figure(
        plan.add(
            f"{q.key}_priors",
            figures.prior_panels,
            grid,
            priors,
            posteriors,
            {r.label: r.map for r in s.rows},
            s.mle,
            likelihood,
            f"${sp.latex(theta)}$",
        ),
        "A panel per prior: its density dashed, the posterior density it gives solid with the MAP a dot"
        + (
            ", the likelihood normalised to a density drawn as a wide grey band behind it"
            if likelihood is not None
            else ""
        )
        + ", and the MLE dotted. The narrower the prior, the further it pulls the posterior from the "
        "likelihood towards itself.",
    )
