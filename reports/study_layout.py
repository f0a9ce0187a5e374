"""The layout of an OptimizerStudy of any model (numerics.study), where the log-likelihood is not quadratic: the
stability bound and the best rate derived from the curvature at the optimum, gradient ascent at round fractions
of the bound with what each run did, why the predicted step counts differ from the measured ones, the reference
torch code, torch.optim's optimizers and mini-batch gradients."""

from __future__ import annotations

import numpy as np
import sympy as sp

from mlemap.derivations.engine import Derivation, n_obs
from mlemap.derivations.gradient import curvature_at_estimate
from mlemap.derivations.sheet import OptimizerStudy
from mlemap.numerics.study import Run, Study
from mlemap.reports import figures, reference_code
from mlemap.reports.document import Section, hat, math, number
from mlemap.reports.exact_study import (
    HEATMAP,
    ascent_caption,
    ascent_errors,
    ascent_gradient,
    bound_title,
    without_torch,
)
from mlemap.reports.layouts import truth_latex
from mlemap.reports.study_symbols import StudySymbols


def general_study(sec: Section, q: OptimizerStudy, st: Study, d: Derivation, plan, sym: StudySymbols) -> None:
    _derivation(sec, st, d, sym)
    _ascent(sec, q, st, d, plan, sym)
    if st.optimizers:
        sec.table(
            ("optimizer", "rate", "steps to the optimum"),
            [(r.label, number(r.lr), outcome(r)) for r in st.optimizers],
            "torch.optim on the mean negative log-likelihood.",
        )
    elif st.without_torch and "optimizers" in q.parts:
        sec.text(without_torch(st.without_torch))
    if st.grid is not None:
        _paths(sec, q, st, plan)
    if st.batches:
        sec.table(
            ("batch size", "final distance to the optimum", "status"),
            [
                (f"${sym.batch} = {r.label.rsplit(' ', 1)[-1]}$", number(r.errors[-1], 3), _batch_status(r))
                for r in st.batches
            ],
            f"Mini-batch gradient ascent: each step ascends $n/{sym.batch}$ times the log-likelihood of "
            f"${sym.batch}$ points drawn without replacement, at a tenth of the full-data bound; smaller batches, "
            "noisier steps.",
        )


def _paths(sec: Section, q: OptimizerStudy, st: Study, plan) -> None:
    """The optimizers' paths and gradient ascent's at the first rate, a panel each; where no optimizer ran (no
    torch, or none asked for), gradient ascent's path alone, and the caption says so."""
    assert st.grid is not None  # drawn only for a study with its grid
    m1, m2, values = st.grid
    first = st.ascent[0]
    paths = {r.label: r.path for r in st.optimizers} | {
        f"gradient ascent, {bound_title(first.lr, st.bound)}": first.path
    }
    labels = (*(f"${sp.latex(p.symbol)}$" for p in q.model.params), r"$\ell$")
    if st.optimizers:
        caption = f"The optimizers' paths on the log-likelihood, a panel per optimizer; {HEATMAP}."
    else:
        start = "(" + ", ".join(_tex(x) for x in first.path[0]) + ")"
        at = rf"${first.lr / st.bound:.6g} \times$ the bound"
        caption = f"Gradient ascent's path on the log-likelihood from ${start}$ at {at}; {HEATMAP}."
    sec.figure(plan.add(f"{q.key}_paths", figures.path_panels, m1, m2, values, paths, _point(st), labels), caption)


def outcome(run: Run) -> str:
    """What a run did, in words that match its status."""
    if run.status == "converged":
        return str(run.steps)
    return {
        "diverged": f"ran away at step {run.steps + 1}",
        "left_domain": f"left the parameter's domain at step {run.steps + 1}",
        "cycles": "oscillates between two points",
    }.get(run.status, f"not converged in {run.steps} steps")


def _batch_status(run: Run) -> str:
    return f"{run.steps} steps" if run.status == "max_steps" else outcome(run)


def _point(st: Study) -> list[float]:
    return [st.optimum[k] for k in st.names]


def _tex(x: float) -> str:
    return number(float(x)).strip("$")


def _derivation(sec: Section, st: Study, d: Derivation, sym: StudySymbols) -> None:
    """Where the answers table's numbers come from: the optimum, -H there and its eigenvalues, the bound and
    the best rate."""
    v, r, k, f = sym.vector, sym.rate, sym.eigen, sym.factor
    model = d.model
    drawn = f"drawn at the true values ${truth_latex(model)}$" if not model.observed else "observed"
    how = "from its closed form" if d.estimate is not None else "found numerically"
    at = r",\ ".join(f"{hat(p)} = {_tex(st.optimum[p.name])}" for p in d.params)
    vector = ", ".join(sp.latex(p) for p in d.params)
    objective = "log-posterior" if model.prior is not None else "log-likelihood"
    words, shown = _curvature(st, d, objective)
    sec.text(
        f"The study's data: n = {st.n} points {drawn}. At them the {d.kind}, {how}, is ${at}$: the optimum the "
        f"runs should reach. Near it the {objective} is close to its second-order expansion "
        rf"$\ell({v}) \approx \ell(\hat{{{v}}}) + \frac{{1}}{{2}} ({v} - \hat{{{v}}})^T H ({v} - \hat{{{v}}})$, "
        rf"with ${v} = ({vector})$ and $H$ the Hessian at the optimum. So gradient ascent "
        rf"${v}_{{t+1}} = {v}_t + {r} \nabla \ell({v}_t)$ moves the error by "
        rf"${v}_{{t+1}} - \hat{{{v}}} \approx (I + {r} H)({v}_t - \hat{{{v}}})$: along each eigenvector of $-H$, "
        rf"with eigenvalue ${k}_i$, it is multiplied at every step by ${f}_i = 1 - {r} {k}_i$, and every "
        rf"$|{f}_i| < 1$ exactly when $0 < {r} < 2 / {k}_{{\max}}$, the stability bound. At the optimum" + words
    )
    sec.math(shown)
    low, high = min(st.curvatures), max(st.curvatures)
    eigen = (
        rf"${k}_{{\min}} = {_tex(low)}$ and ${k}_{{\max}} = {_tex(high)}$"
        if len(st.curvatures) > 1
        else rf"${k}_{{\min}} = {k}_{{\max}} = {_tex(high)}$, its one entry"
    )
    sec.text(f"Its eigenvalues are {eigen}, so")
    sec.math(
        rf"\frac{{2}}{{{k}_{{\max}}}} = \frac{{2}}{{{_tex(high)}}} = {_tex(st.bound)},\qquad "
        rf"\frac{{2}}{{{k}_{{\min}} + {k}_{{\max}}}} = \frac{{2}}{{{_tex(low)} + {_tex(high)}}} = {_tex(st.optimal)}"
    )
    worst = (high - low) / (high + low)
    fractions = ", ".join(f"{run.lr / st.bound:.6g}" for run in st.ascent)
    sec.text(
        "The first is the largest stable rate. The second is the rate with the fastest worst-case contraction: "
        rf"it makes the flattest and the stiffest direction contract alike, $1 - {r} {k}_{{\min}} = "
        rf"-(1 - {r} {k}_{{\max}}) = ({k}_{{\max}} - {k}_{{\min}}) / ({k}_{{\max}} + {k}_{{\min}}) = {_tex(worst)}$ "
        "per step; a smaller rate slows the flattest direction, a larger one the stiffest. The runs below use "
        rf"{_and(fractions.split(', '))} $\times$ the bound."
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _curvature(st: Study, d: Derivation, objective: str) -> tuple[str, str]:
    """The words after 'At the optimum' and the display of -H there they announce: in the estimates where the
    sums they use follow from them (curvature_at_estimate); exact at the observed data where the estimate is
    exact; else the derived Hessian's numbers at the data. An exact form shows only where its numbers agree with
    the eigenvalues the study computed (numerics.study: the derived Hessian at the data, with torch or without)."""
    at = ", ".join(hat(p) for p in d.params)
    in_estimates = curvature_at_estimate(d)
    if in_estimates is not None and _agrees(st, d, in_estimates):
        exact = math(d, in_estimates, symbol_names={p: hat(p) for p in d.params})
        words = (
            ", where the score vanishes, the data's sums are what the estimate's equations make them, and the "
            "negative Hessian is"
        )
        return words, rf"-H({at}) = {exact} = {_matrix(_at_optimum(st, d, in_estimates))}"
    observed = _at_observed_data(d)
    if observed is not None and _agrees(st, d, observed):
        words = f", where the data's sums take their observed values and the {d.kind} is exact, the negative Hessian is"
        return words, rf"-H({at}) = {math(d, observed)} = {_matrix(_at_optimum(st, d, observed))}"
    numbers = np.asarray(st.curvature, dtype=float)
    # entries that are rounding beside the largest (an off-diagonal zero at the optimum) print as 0
    numbers = np.where(np.abs(numbers) < 1e-9 * np.max(np.abs(numbers)), 0.0, numbers)
    words = f" the negative Hessian, the {objective}'s derived Hessian evaluated at the data, is"
    return words, rf"-H({at}) = {_matrix(numbers)}"


def _matrix(numbers: np.ndarray) -> str:
    rows = r" \\ ".join(" & ".join(_tex(x) for x in row) for row in numbers)
    return rf"\left[\begin{{matrix}}{rows}\end{{matrix}}\right]"


def _at_observed_data(d: Derivation) -> sp.Matrix | None:
    """-H exactly at the model's observed data and its exact estimate; None without either."""
    if not d.model.observed or not d.observed_statistics or d.estimate is None or set(d.estimate) != set(d.params):
        return None
    at = (-d.hessian).subs(d.model.constants).subs(d.observed_statistics).subs(d.estimate)
    exact = sp.simplify(at)
    return exact if not exact.free_symbols else None


def _at_optimum(st: Study, d: Derivation, exact: sp.Matrix) -> np.ndarray:
    """An exact -H in numbers, at the study's n and optimum."""
    values = {n_obs: st.n} | {p: st.optimum[p.name] for p in d.params}
    return np.array(exact.subs(values).evalf(), dtype=float)


def _agrees(st: Study, d: Derivation, exact: sp.Matrix) -> bool:
    """Whether an exact -H, at the study's n and optimum, has the eigenvalues the study computed."""
    return bool(np.allclose(np.linalg.eigvalsh(_at_optimum(st, d, exact)), sorted(st.curvatures), rtol=1e-6))


def _ascent(sec: Section, q: OptimizerStudy, st: Study, d: Derivation, plan, sym: StudySymbols) -> None:
    start = "$(" + ", ".join(number(float(x)).strip("$") for x in st.ascent[0].path[0]) + ")$"
    gradient = ascent_gradient(st.without_torch, ", each gradient by automatic differentiation,")
    sec.table(
        (f"rate ${sym.rate}$", "fraction of the bound", "result", "steps", "predicted steps"),
        [
            (
                number(r.lr),
                rf"${r.lr / st.bound:.6g} \times$ the bound",
                "converged" if r.status == "converged" else outcome(r),
                r.steps if r.status == "converged" else "",
                "never" if r.predicted is None else r.predicted,
            )
            for r in st.ascent
        ],
        f"Gradient ascent from {start}{gradient} "
        r"until $|\nabla \ell| / n < 10^{-6}$; predicted: the iteration linearised at the optimum, from the same start.",
    )
    sec.text(_outcomes(st, sym) + " " + _predicted_versus_measured(st, start, sym))
    converged = [r for r in st.ascent if r.status == "converged" and r.steps]
    if converged:
        chosen = min(converged, key=lambda r: abs(r.lr / st.bound - 0.5))
        fraction = round(chosen.lr / st.bound, 6)
        names = ", ".join(sp.latex(p) for p in d.params)
        sec.text(f"{reference_code.CONTRACT}, theta being $({names})$, at {fraction:g} × the bound:")
        sec.code(reference_code.ascent_code(chosen.path[0], st.bound, fraction, chosen.steps))
    curves, notes, steps = ascent_errors(st, sym)
    cycling = tuple(round(r.lr / st.bound, 6) for r in st.ascent if r.status == "cycles")
    sec.figure(
        plan.add(f"{q.key}_ascent", figures.error_panels, curves, notes, steps),
        ascent_caption(steps, False, sym, cycling),
    )


def _outcomes(st: Study, sym: StudySymbols) -> str:
    """What the runs did, each claim from its run: converged, oscillated, ran away or left the domain."""
    said = []
    done = [r for r in st.ascent if r.status == "converged"]
    if done:
        fractions = _and([f"{r.lr / st.bound:.6g}" for r in done])
        said.append(rf"The runs at {fractions} $\times$ the bound converge.")
    for r in st.ascent:
        near = 1 - 2 * r.lr / st.bound  # the stiffest direction's factor at the optimum: 1 - eta kappa_max
        if r.status == "cycles":
            a, b = r.path[-2], r.path[-1]
            said.append(
                rf"At {_at(r, st)} the stiffest direction's factor at the optimum is ${_tex(near)}$, below $-1$: "
                "near the optimum the error along it grows, changing sign at every step; away from the optimum the "
                "curvature is no longer the one there, and the run settles into an oscillation of period 2 between "
                f"{_vector(a)} and {_vector(b)}, at distances {_tex(r.errors[-2])} and {_tex(r.errors[-1])} from the "
                "optimum: it neither converges nor runs away."
            )
        elif r.status == "diverged":
            said.append(
                rf"At {_at(r, st)} the stiffest direction's factor at the optimum is ${_tex(near)}$: the error "
                f"grows at every step, and the run ran away (it was stopped at step {r.steps + 1}, far from its start)."
            )
        elif r.status == "left_domain":
            said.append(
                f"At {_at(r, st)} a step at step {r.steps + 1} left the parameter's domain, where the log-likelihood "
                "is not defined, and the run stopped there."
            )
        elif r.status == "max_steps":
            said.append(f"At {_at(r, st)} the run had not converged after {r.steps} steps.")
    return " ".join(said)


def _at(r: Run, st: Study) -> str:
    return rf"${r.lr / st.bound:.6g} \times$ the bound"


def _vector(x) -> str:
    return "$(" + ", ".join(_tex(v) for v in x) + ")$"


def _predicted_versus_measured(st: Study, start: str, sym: StudySymbols) -> str:
    """One sentence on why the linearisation's step counts differ from the measured ones, where they do."""
    off = [r for r in st.ascent if r.status == "converged" and r.predicted is not None and r.predicted != r.steps]
    if not off:
        return "The measured step counts are the predicted ones."
    pairs = _and([f"{r.steps} against {r.predicted} at {_at(r, st)}" for r in off])
    at_start = " and ".join(f"${_tex(c)}$" for c in st.start_curvatures)
    concave = "" if min(st.start_curvatures, default=1) > 0 else " (the log-likelihood is not even concave there)"
    at_optimum = " and ".join(f"${_tex(c)}$" for c in st.curvatures)
    return (
        f"The measured step counts differ from the predicted ones ({pairs}) because the prediction assumes the "
        f"curvature at the optimum all the way, while the runs start at {start}, where $-H$ has eigenvalues "
        f"{at_start}{concave} against {at_optimum} at the optimum: the linearisation describes only the last steps."
    )
