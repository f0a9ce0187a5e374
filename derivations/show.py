"""A derivation shown stage by stage: in a terminal (SymPy's pretty printer) and in a notebook (Markdown with
LaTeX). The stages are the derivation's own exact expressions; the report's worked steps (reports/steps.py)
write the same chain out at length and prove each link."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import sympy as sp

if TYPE_CHECKING:
    from derivations.engine import Derivation

Stage = tuple[str, sp.Basic]


def stages(d: Derivation) -> list[Stage]:
    """(title, exact expression or equation) from the log-density to the second-order check."""
    theta = d.params
    out: list[Stage] = [("log-density log p(x | theta)", d.log_density)]
    if d.model.prior is not None:
        out.append(("log-prior log p(theta)", d.log_prior))
    out.append(("log-likelihood" + (" in the sample statistics" if d.separable else ""), d.loglik))
    out.append(
        (
            "score (gradient of the " + ("log-posterior" if d.model.prior is not None else "log-likelihood") + ")",
            d.score,
        )
    )
    out.append(("Hessian", d.hessian))
    if d.estimate is not None:
        out += [(f"{d.kind} of {p.name}", sp.Eq(p, d.estimate[p])) for p in theta]
    if d.second_order is not None:
        out.append(
            (
                f"leading principal minors of -H at the estimate: {d.second_order.status}",
                sp.Matrix(d.second_order.minors),
            )
        )
    return out


def terminal_names(d: Derivation) -> dict[sp.Symbol, sp.Symbol]:
    """Each sum statistic as Σg (Σx, Σx²), where g prints on one line."""
    names = {}
    for s in d.statistics:
        g = str(s.expr).replace("**2", "²").replace("**3", "³").replace("*", "·")
        if s.expr != 1 and "**" not in g:  # the statistic of g = 1 is n itself
            names[s.symbol] = sp.Symbol("Σ" + g.replace(" ", ""))
    return names


def as_text(d: Derivation) -> str:
    """The stages for a terminal, each expression pretty-printed in Unicode."""
    lines = [f"{d.model.name}: {d.kind}"]
    width = shutil.get_terminal_size().columns  # long expressions wrap at the terminal's edge, not at 80
    names = terminal_names(d)
    sums = {s.symbol: s.expr for s in d.statistics}
    lines += [f"{shown.name} = the sum of {sums[symbol]} over the n observations" for symbol, shown in names.items()]
    for title, expr in stages(d):
        lines += ["", f"{title}:", sp.pretty(expr.xreplace(names), use_unicode=True, num_columns=width)]
    if d.estimate is None:
        lines += ["", f"no closed form: {d.no_closed_form}"]
    return "\n".join(lines) + "\n"


def as_markdown(d: Derivation) -> str:
    """The stages for a notebook: one display equation each, the statistics under their usual names."""
    parts = [f"**{d.model.name}**: {d.kind}"]
    for title, expr in stages(d):
        parts.append(f"{title[0].upper()}{title[1:]}:\n$$ {d.latex(expr)} $$")
    if d.estimate is None:
        parts.append(f"No closed form: {d.no_closed_form}")
    return "\n\n".join(parts) + "\n"
