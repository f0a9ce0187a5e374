"""The worked derivation of a model as displayed steps: each a title, its LaTeX and a sentence.

Presentation only: every expression comes from the Derivation (derivations/), which is where the mathematics
is derived, cached and mutation-tested.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derivations.engine import Derivation, n_obs


@dataclass(frozen=True)
class Step:
    title: str
    latex: str
    text: str = ""


def worked_steps(d: Derivation) -> list[Step]:
    """The steps a worked solution shows, from the density to the second-order check."""
    m = d.model
    tex = d.latex
    theta = ", ".join(sp.latex(p) for p in d.params)
    data = ", ".join(sp.latex(s) for s in m.data)
    steps = [
        Step("Density of one observation", rf"p({data} \mid {theta}) = {sp.latex(m.density)}"),
        Step(
            "Log-density",
            rf"\log p({data} \mid {theta}) = {sp.latex(d.log_density)}",
            "The log turns the product over observations into a sum and powers into factors.",
        ),
    ]
    if d.separable:
        sums = ", ".join(f"${s.latex}$" for s in d.statistics if s.symbol != n_obs)
        steps.append(
            Step(
                "Joint log-likelihood in sample statistics",
                rf"\ell({theta}) = \sum_{{i=1}}^{{n}} \log p = {tex(d.loglik)}",
                f"The data enter only through $n$ and {sums}." if sums else "The data enter only through $n$.",
            )
        )
    else:
        steps.append(Step("Joint log-likelihood", rf"\ell({theta}) = {sp.latex(d.loglik)}", "Not separable."))
    if m.prior is not None:
        steps.append(Step("Log-prior", rf"\log p({theta}) = {sp.latex(d.log_prior)}"))
        steps.append(Step("Log-posterior (up to a constant)", rf"\log p({theta} \mid D) = {tex(d.objective)} + C"))
    if not d.separable:
        return steps
    steps.append(
        Step("Score", r"\nabla \ell = " + tex(d.score) if len(d.params) > 1 else rf"\frac{{d\ell}}{{d{theta}}} = {tex(d.score[0])}")
    )
    steps.append(Step("Hessian", r"\nabla^2 \ell = " + tex(d.hessian)))
    if d.observed_statistics:
        subs = r", \quad ".join(f"{tex(k)} = {sp.latex(v)}" for k, v in d.observed_statistics.items())
        steps.append(Step("Statistics of the observed data", subs))
    if d.estimate is None:
        steps.append(Step("Stationary point", r"\text{no closed form}", d.no_closed_form))
        return steps
    if len(d.candidates) > 1 or d.observed_statistics:
        roots = r", \quad ".join(tex(c[p]) for c in d.candidates for p in d.params)
        steps.append(Step("Stationary points inside the domain", roots))
    est = r", \quad ".join(rf"\hat{{{sp.latex(p)}}} = {tex(v)}" for p, v in d.estimate.items())
    if d.boundary:
        text = "The score has one sign on the whole domain, so the objective rises towards this end: the supremum."
        steps.append(Step(f"{d.kind} (on the boundary)", est, text))
        return steps
    steps.append(Step(f"{d.kind} (score = 0)", est))
    so = d.second_order
    if so is not None:
        text = {
            "proved": "All leading principal minors of the negative Hessian are positive: a strict maximum.",
            "conditional": "Negative definite provided the undecided minors are positive; numerics check them on data.",
            "fails": "A leading principal minor of the negative Hessian is not positive: not a maximum.",
        }[so.status]
        minors = r", \quad ".join(f"D_{k + 1} = {tex(v)}" for k, v in enumerate(so.minors))
        steps.append(Step("Second-order check", r"\nabla^2 \ell \big|_{\hat\theta} = " + tex(so.hessian) + r", \quad " + minors, text))
    return steps
