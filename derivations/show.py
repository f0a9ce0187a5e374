"""A derivation shown stage by stage: in a terminal (SymPy's pretty printer) and in a notebook (Markdown with
LaTeX). The stages are the derivation's own exact expressions; the report's worked steps (reports/steps.py)
write the same chain out at length and prove each link."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sympy as sp

if TYPE_CHECKING:
    from mlemap.derivations.engine import Derivation

Stage = tuple[str, sp.Basic]
SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def stages(d: Derivation) -> list[Stage]:
    """(title, exact expression or equation) from the log-density to the second-order check."""
    theta = d.params
    model = d.model
    responses = ", ".join(str(x) for x in model.data if x not in model.covariates)
    given = "".join(f"{c}, " for c in model.covariates)  # a regression's density is conditional on them
    out: list[Stage] = [(f"log-density log p({responses} | {given}theta)", d.log_density)]
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
        out += [("holds where (else the maximum is on the domain's boundary)", c) for c in d.conditions]
    elif d.maximiser_set:
        p, lo, hi = d.maximiser_set
        out.append((f"every {p} in this interval maximises (a flat likelihood)", sp.Interval(lo, hi)))
    if d.second_order is not None:
        out.append(
            (
                f"leading principal minors of -H at the estimate: {d.second_order.status}",
                sp.Matrix(d.second_order.minors),
            )
        )
    return out


def terminal_names(d: Derivation) -> dict[sp.Symbol, tuple[sp.Symbol, str]]:
    """Each statistic's short name and what it is: Σg (Σx, Σx²) for a sum, where g prints on one line; #(k=1)
    for a count; max(x) and min(x) for an order statistic."""
    names = {}
    for s in d.statistics:
        powered = re.sub(r"\*\*(\d+)", lambda power: power[1].translate(SUPERSCRIPTS), str(s.expr))  # x**4: x⁴
        g = re.sub(r"(?<!\*)\*(?!\*)", "·", powered)  # a product u·v; a power left, x**(3/2), stays readable
        if s.reduce in ("median", "absdev"):
            names[s.symbol] = (
                sp.Symbol(f"median({g})" if s.reduce == "median" else f"Σ|{g} - median({g})|"),
                "the median of the n observations"
                if s.reduce == "median"
                else "the sum of the absolute deviations from the median",
            )
        elif s.reduce != "sum":
            names[s.symbol] = (
                sp.Symbol(f"{s.reduce}({g})"),
                f"the {'largest' if s.reduce == 'max' else 'smallest'} {g} of the n observations",
            )
        elif isinstance(s.expr, sp.KroneckerDelta):
            x, v = sorted(s.expr.args, key=lambda a: a.is_number)
            names[s.symbol] = (sp.Symbol(f"#({x}={v})"), f"how many of the n observations have {x} = {v}")
        elif s.expr != 1:  # g = 1 sums to n, which needs no name
            names[s.symbol] = (sp.Symbol("Σ" + g.replace(" ", "")), f"the sum of {g} over the n observations")
    return names


def as_text(d: Derivation) -> str:
    """The stages for a terminal, each expression pretty-printed in Unicode (SymPy wraps long ones at the
    terminal's width, or at COLUMNS)."""
    lines = [f"{d.model.name}: {d.kind}"]
    names = terminal_names(d)
    lines += [f"{shown.name} = {what}" for shown, what in names.values()]
    shown_as = {symbol: shown for symbol, (shown, _) in names.items()}
    for title, expr in stages(d):
        lines += ["", f"{title}:", sp.pretty(expr.xreplace(shown_as), use_unicode=True)]
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
