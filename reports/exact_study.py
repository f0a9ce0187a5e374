"""The layout of an OptimizerStudy of a quadratic log-likelihood (numerics.exact_study): the sample and its
derivation, gradient ascent against the exact rates, torch.optim, and mini-batch SGD with its noise floor."""

from __future__ import annotations

import numpy as np
import sympy as sp

from mlemap.derivations.engine import n_obs
from mlemap.derivations.sheet import OptimizerStudy
from mlemap.numerics.exact_study import SGD_FRACTION_OF_BOUND, ExactStudy
from mlemap.numerics.quadratic import optimizer_settings
from mlemap.numerics.study import Study
from mlemap.reports import figures, reference_code
from mlemap.reports.document import KINDS_TEXT, Section, hat, math, number, statistics_defined
from mlemap.reports.layouts import truth_latex
from mlemap.reports.steps import worked_steps
from mlemap.reports.study_symbols import StudySymbols

SHOWN_ABOVE = ("Log-density", "Joint log-likelihood")


def bound_title(rate: float, bound: float) -> str:
    """A rate as a figure names it: its multiple of the stability bound (mathtext)."""
    return rf"${figures.figure_number(rate / bound, 4)} \times \mathrm{{bound}}$"


def ascent_errors(rates: Study, sym: StudySymbols) -> tuple[dict[str, np.ndarray], dict[str, str], int | None]:
    """A rate study's distances for figures.error_panels, by title (the rate's multiple of the bound); each
    panel's note the factors q = 1 - eta kappa, kappa each eigenvalue of -H at the optimum (in the sheet's
    symbols), by which the error along that principal axis is multiplied per step (stiffest first); and the step
    the axis ends at: a little after the slowest converged run, when some run never converges (beyond it that
    one only grows or cycles)."""
    curves, notes = {}, {}
    for r in rates.ascent:
        title = bound_title(r.lr, rates.bound)
        # each in braces: mathtext would read the minus after a comma as a subtraction
        factors = dict.fromkeys(
            f"{{{figures.figure_number(_factor(r.lr, c), 3)}}}" for c in sorted(rates.curvatures)[::-1]
        )
        curves[title] = r.errors
        notes[title] = f"${sym.factor} = " + r",\ ".join(factors) + "$"
    done = [r.steps for r in rates.ascent if r.status == "converged"]
    steps = int(1.15 * max(done)) + 1 if done and len(done) < len(rates.ascent) else None
    return curves, notes, steps


def _factor(rate: float, curvature: float) -> float:
    """1 - rate curvature, 0 where it is rounding (the best rate of one parameter: 1 - 2 kappa / (2 kappa))."""
    q = 1 - rate * curvature
    return 0.0 if abs(q) < 1e-12 else q


ASCENT_ERRORS_CAPTION = (
    "Distance to the optimum against step, log scale: a panel per rate, the other rates grey behind it. {factor} "
    "is the factor by which the error along a principal axis of the curvature ({which}) is multiplied at every step"
    r"{near}: rates with factors ${q}$ and $-{q}$ shrink the error alike, but a negative factor throws the "
    r"iterate past the optimum at every step, and one below $-1$ throws it further each time{where}.{cycles}{cut}"
)
HEATMAP = (
    r"the colour is $\ell - \max\,\ell$ on a square-root scale, clipped at a round level at or below the start's "
    "(beyond it, one colour), with white contours where it is minus a power of ten; x marks the optimum"
)


def ascent_caption(steps: int | None, exact: bool, sym: StudySymbols, cycling: tuple[float, ...] = ()) -> str:
    """The caption of ascent_errors' figure, in the notation of the study's text (the eigenvalues of -H, at the
    optimum where H varies); cycling: the fractions of the bound whose runs settled into a period-2 oscillation
    instead of growing (away from the optimum the curvature is no longer the one the factors use)."""
    cut = (
        ""
        if steps is None
        else f" The step axis ends at step {steps}; beyond it a run that does not converge goes on as it does there."
    )
    return ASCENT_ERRORS_CAPTION.format(
        factor=f"${sym.factor} = 1 - {sym.rate} {sym.eigen}$",
        which=f"${sym.eigen}$ its eigenvalue of $-H$" + ("" if exact else " at the optimum"),
        near="" if exact else " near the optimum",
        q=sym.factor,
        where="" if exact else ", as long as the curvature is the one at the optimum",
        cycles=_cycling(cycling),
        cut=cut,
    )


def _cycling(fractions: tuple[float, ...]) -> str:
    if not fractions:
        return ""
    at = " and ".join(rf"${f:g} \times$" for f in fractions)
    return (
        f" At {at} the bound the error grows only at first: away from the optimum the curvature changes, and the "
        "run settles into an oscillation of period 2 about the optimum, neither converging nor running away."
    )


def count(v) -> str:
    return "not reached" if v is None else str(v)


def exact_study(sec: Section, q: OptimizerStudy, st: ExactStudy, plan: figures.FigurePlan, sym: StudySymbols) -> None:
    s = st.sample
    labels = tuple(f"${sp.latex(p)}$" for p in s.derivation.params)
    if "ascent" in q.parts:
        _intro(sec, q, st, plan, labels, sym)
        _rates(sec, q, st, plan, labels, sym)
    if st.optimizers:
        _optimizers(sec, q, st, plan, labels, sym)
    elif st.without_torch and "optimizers" in q.parts:
        sec.text(without_torch(st.without_torch))
    if st.batches is not None:
        _batches(sec, q, st, plan, labels, sym)


def without_torch(reason: str) -> str:
    """What a study built without torch left out, and why (gradient ascent's table says what its gradient was:
    ascent_gradient)."""
    return f"torch.optim's optimizers were left out of this build: {reason}."


def ascent_gradient(without: str, autograd: str) -> str:
    """How gradient ascent's gradients were computed, as its table's caption says it: autograd's words where
    torch ran, the derived score where it did not (without: numerics' reason, '' with torch)."""
    return ", each gradient the derived score (this build ran without torch)," if without else autograd


def _intro(sec: Section, q, st: ExactStudy, plan, labels, sym: StudySymbols) -> None:
    s = st.sample
    d = s.derivation
    optimum = r",\ ".join(f"{hat(p)} = {v:.4g}" for p, v in zip(d.params, s.optimum))
    truth = truth_latex(d.model) if st.truth is not None else ""
    assert s.theory is not None  # an exact study is of a quadratic log-likelihood
    view = {"n": s.n, "optimum_tex": optimum, "curvature_tex": _per_point(s.theory.curvature / n_obs)}
    view["sums"] = statistics_defined(d)  # the names the steps below use
    sec.text(KINDS_TEXT.exact_intro(view, st.truth is not None, s.seed, truth, sym))
    sec.steps([step for step in worked_steps(d) if step.title not in SHOWN_ABOVE])
    if s.data.shape[1] == 2:
        names = tuple(f"${sp.latex(x)}$" for x in d.model.data)
        at = [st.truth[k] for k in s.names] if st.truth is not None and len(s.names) == 2 else None
        sec.figure(
            plan.add(f"{q.key}_sample", figures.sample_scatter, s.data, s.optimum, at, names),
            f"The data ($n = {s.n}$){', the true value (a ring)' if at else ''} and the estimate (x)"
            + (", and the two zoomed in until they stand apart." if at else "."),
        )


def _per_point(curvature: sp.Matrix) -> str:
    """' = I/5' where one point's curvature is a multiple of the identity; '' otherwise (no inline matrix)."""
    scale = curvature[0, 0]
    if curvature == scale * sp.eye(curvature.rows):
        return f" = {sp.latex(scale)} I"
    return ""


def _rates(sec: Section, q, st: ExactStudy, plan, labels, sym: StudySymbols) -> None:
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
            sym,
        )
    )
    start = ", ".join(f"{v:g}" for v in st.start)
    sec.table(
        ("rate", "fraction of the bound", "result", "steps", "predicted steps"),
        [
            (
                number(r.lr),
                rf"${r.lr / rates.bound:.6g} \times$ the bound",
                {"converged": "converged", "diverged": "diverges", "max_steps": "not converged"}[r.status],
                r.steps,
                "never" if r.predicted is None else r.predicted,
            )
            for r in rates.ascent
        ],
        f"Gradient ascent from ({start}){ascent_gradient(rates.without_torch, '')} until the mean gradient is below "
        "$10^{-6}$ in norm; the predicted counts come from the iteration matrix.",
    )
    # the code before the figures: text that flows fills the page a figure would leave
    converged = [r for r in rates.ascent if r.status == "converged" and r.steps]
    if converged:
        # half the bound: a rate a student would pick, converging in a few steps (the optimal one takes one)
        chosen = min(converged, key=lambda r: abs(r.lr / rates.bound - 0.5) + (r.steps < 2))
        sec.text(f"{reference_code.CONTRACT}, at {number(chosen.lr / rates.bound)} × the bound:")
        sec.code(reference_code.ascent_code(st.start, rates.bound, round(chosen.lr / rates.bound, 6), chosen.steps))
    distance = rf"$\|{sym.vector}_t - \hat{{{sym.vector}}}\|$"
    if st.grid is not None:
        m1, m2, values = st.grid
        paths = {bound_title(r.lr, rates.bound): r.path for r in rates.ascent}
        sec.figure(
            plan.add(
                f"{q.key}_ascent_paths", figures.path_panels, m1, m2, values, paths, s.optimum, (*labels, r"$\ell$")
            ),
            f"Gradient ascent from ({start}) on the log-likelihood, a panel per rate (a multiple of the stability "
            f"bound); {HEATMAP}. Past the bound the iterates overshoot further at every step.",
        )
    curves, notes, steps = ascent_errors(rates, sym)
    sec.figure(
        plan.add(f"{q.key}_ascent_errors", figures.error_panels, curves, notes, steps, distance),
        ascent_caption(steps, True, sym),
    )


def _optimizers(sec: Section, q, st: ExactStudy, plan, labels, sym: StudySymbols) -> None:
    s = st.sample
    iso = {o.name: o for o in st.optimizers}
    evals = np.linalg.eigvalsh(s.curvature)
    isotropic = bool(np.isclose(evals[0], evals[-1], rtol=1e-12))
    other, kappa, angle = None, "", 0.0
    if st.compare is not None:
        c, runs, _ = st.compare
        other = {o.name: o for o in runs}
        ce, cv = np.linalg.eigh(c.curvature)
        kappa = number(ce[-1] / ce[0]).strip("$")
        angle = round(float(np.degrees(np.arctan2(abs(cv[1, 0]), abs(cv[0, 0])))), 1) if len(ce) == 2 else 0.0
    sec.text(KINDS_TEXT.exact_optimizers(iso, isotropic, other, kappa, angle, sym))
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
        spread = sorted(c.curvature_exact.inv().eigenvals(), key=float, reverse=True)
        second = (
            f"; the second model is {c.derivation.model.title}, whose $\\Sigma = {sym.curvature}^{{-1}}$ has eigenvalues "
            f"{' and '.join(f'${sp.latex(v)}$' for v in spread)} (the rates of the SGD family follow each model's "
            "own curvature)"
        )
    # the paths, the table (it breaks across pages and so fills one), the code, then the distances
    figures_of = _compare_figures(sec, q, st, plan, labels, sym)
    next(figures_of, None)
    sec.table(
        header,
        rows,
        "Steps and evaluations of the objective until the distance to the optimum is below $10^{-6}$ (at most 3000 "
        f"steps){second}{_moved(st, sym)}.",
    )
    adam = next((o for o in optimizer_settings(s) if o[0] == "Adam"), None)
    if adam is not None:
        sec.text("In torch, Adam (any optimizer of the table but LBFGS takes its place, with its settings):")
        sec.code(reference_code.optimizer_code(st.start, adam[1].__name__, adam[2]))
    next(figures_of, None)


def _compare_figures(sec: Section, q, st: ExactStudy, plan, labels, sym: StudySymbols):
    """The second model's optimizer paths, a panel each, and their distances to the optimum: a figure added
    at each next(), where the caller wants it."""
    grid = st.compare[2] if st.compare is not None else None
    if st.compare is not None and grid is not None:
        c, runs, _ = st.compare
        m1, m2, values = grid
        paths = {o.name: o.path for o in runs}
        sec.figure(
            plan.add(
                f"{q.key}_optimizer_paths", figures.path_panels, m1, m2, values, paths, c.optimum, (*labels, r"$\ell$")
            ),
            f"torch.optim's paths on the log-likelihood of the second model, a panel per optimizer; {HEATMAP}"
            f"{_moved(st, sym, short=True)}.",
        )
        yield
        sec.figure(
            plan.add(
                f"{q.key}_optimizer_errors",
                figures.error_curves,
                {o.name: o.errors for o in runs},
                ylabel=rf"$\|{sym.vector}_t - \hat{{{sym.vector}}}\|$",
            ),
            "Distance to the optimum against step on the second model, log scale; each optimizer has a colour, "
            "dash and marker of its own.",
        )
        yield


def _moved(st: ExactStudy, sym: StudySymbols, short: bool = False) -> str:
    """Where the second model's optimizers start, when that is not the sheet's start (numerics.exact_study
    .off_axes), and why (short: only where, the table's caption says why)."""
    if st.compare_start is None or np.allclose(st.compare_start, st.start):
        return ""
    moved = ", ".join(f"{v:.2f}" for v in st.compare_start)
    start = ", ".join(f"{v:g}" for v in st.start)
    if short:
        return f"; the optimizers start from $({moved})$, off the principal axes of ${sym.curvature}$ (the table below says why)"
    return (
        f"; on the second model the optimizers start from $({moved})$, not from $({start})$: the line from there to "
        f"the optimum runs along a principal axis of ${sym.curvature}$, where the gradient points straight at the optimum and "
        "every method moves on that one line, so the start is turned about the optimum, at its distance, to "
        "halfway between the axes"
    )


def _batch_table(sec: Section, b, sym: StudySymbols) -> None:
    """Per batch size, the noise floor and the gradient's covariance, each derived beside measured: one table."""
    floors = {f.k: f for f in b.floors}
    traces = {v.k: v for v in b.variances}
    runs = {v.replications for v in b.variances}
    replications = f" ({runs.pop()} replications)" if len(runs) == 1 else ""
    rows = [
        (
            f"${k}$",  # a batch size
            *((number(floors[k].predicted), number(floors[k].measured)) if k in floors else ("", "")),
            *(
                (number(traces[k].predicted_trace, 3), number(traces[k].measured_trace, 3))
                + (() if replications else (traces[k].replications,))
                if k in traces
                else ("", "") + (() if replications else ("",))
            ),
        )
        for k in sorted(floors.keys() | traces.keys())
    ]
    header = (
        f"${sym.batch}$",
        "noise floor, derived",
        "measured",
        "gradient trace, derived",
        f"Monte Carlo{replications}",
    )
    sec.table(
        header + (() if replications else ("replications",)),
        rows,
        "Noise floor: the root mean square distance to the optimum after burn-in, at a constant rate, batches "
        "drawn independently. Gradient trace: the trace of the covariance of the unbiased mini-batch gradient at "
        "the start.",
    )


def _batches(sec: Section, q, st: ExactStudy, plan, labels, sym: StudySymbols) -> None:
    b = st.batches
    assert b is not None
    if b.floors:
        sec.text(KINDS_TEXT.exact_batches(b, SGD_FRACTION_OF_BOUND, sym))
    floors = {f.k: f.predicted for f in b.floors}
    sec.figure(
        plan.add(f"{q.key}_sgd", figures.sgd_convergence, list(b.runs), floors, batch=sym.batch),
        "Mini-batch SGD: distance to the optimum against steps and against samples seen, a colour per batch size "
        f"${sym.batch}$; dashed, each batch size's derived noise floor.",
    )
    _batch_table(sec, b, sym)
    if b.landscapes is not None:
        m1, m2, lands = b.landscapes
        sec.text(KINDS_TEXT.exact_landscapes(lands, sym))
        sec.figure(
            plan.add(
                f"{q.key}_subsets", figures.subset_landscapes, m1, m2, lands, st.sample.optimum, labels, batch=sym.batch
            ),
            f"Log-likelihoods of random subsets of ${sym.batch}$ points, coloured by $\\hat\\ell - \\max\\,\\hat\\ell$ "
            "on a log scale, clipped where the full data's is at half the grid: white contour 2 below the maximum, + "
            "the subset's optimum, a red ring the full data's.",
        )
    run = next((r for r in b.runs if r.k > 1 and r.schedule == "constant"), None)
    if run is not None:  # last: a reference, and text that flows to fill the page a figure left
        sec.text(f"In torch, for ${sym.batch} = {run.k}$ at the constant rate:")
        sec.code(reference_code.batch_code(st.start, run.k, run.lr, len(run.errors) - 1, st.sample.seed))
