"""A derivation shown stage by stage: in a terminal (SymPy's pretty printer) and in a notebook (Markdown with
LaTeX, LaTeX, and HTML with MathML that needs no MathJax). The stages are the derivation's own exact expressions;
the report's worked steps (reports/steps.py) write the same chain out at length and prove each link."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape
from typing import TYPE_CHECKING

import sympy as sp
from sympy.printing.conventions import split_super_sub

if TYPE_CHECKING:
    from mlemap.derivations.engine import Derivation

Stage = tuple[str, sp.Basic]
SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
COMBINING_HAT = "\u0302"


def hat(p: sp.Symbol) -> sp.Symbol:
    """The estimate of p as the stages write it: a placeholder every display prints as p with a hat."""
    return sp.Symbol(f"hat({p.name})")


def hat_latex(p: sp.Symbol) -> str:
    """\\hat{\\lambda}; the hat on the base of a sub- or superscripted name: \\hat{\\sigma}^{2}, not over the 2."""
    base, full = sp.latex(sp.Symbol(split_super_sub(p.name)[0])), sp.latex(p)
    return rf"\hat{{{base}}}{full[len(base) :]}" if full.startswith(base) else rf"\hat{{{full}}}"


def hat_text(p: sp.Symbol) -> str:
    """λ̂, σ̂², β̂₀: the base's last character wears a combining circumflex."""
    base = sp.pretty(sp.Symbol(split_super_sub(p.name)[0]), use_unicode=True)
    full = sp.pretty(p, use_unicode=True)
    return base + COMBINING_HAT + full[len(base) :] if full.startswith(base) else full + COMBINING_HAT


def scalar(m: sp.Basic) -> sp.Basic:
    """A 1x1 matrix (one parameter's score or Hessian) as the number it is."""
    return m[0, 0] if isinstance(m, sp.MatrixBase) and m.shape == (1, 1) else m


def stages(d: Derivation) -> list[Stage]:
    """(title, exact expression or equation) from the log-density to the second-order check."""
    theta = d.params
    model = d.model
    responses = ", ".join(str(x) for x in model.data if x not in model.covariates)
    given = "".join(f"{c}, " for c in model.covariates)  # a regression's density is conditional on them
    named = ", ".join(p.name for p in theta)  # the model's own parameters (sigma, lambda), not a generic theta
    out: list[Stage] = [(f"log-density log p({responses} | {given}{named})", d.log_density)]
    if d.model.prior is not None:
        out.append((f"log-prior log p({named})", d.log_prior))
    out.append(("log-likelihood" + (" in the sample statistics" if d.separable else ""), d.loglik))
    objective = "log-posterior" if d.model.prior is not None else "log-likelihood"
    out.append((f"score (gradient of the {objective})", scalar(d.score)))  # one parameter's: a number
    out.append(("Hessian", scalar(d.hessian)))
    if d.estimate is not None:
        out += [(f"{d.kind} of {p.name}", sp.Eq(hat(p), d.estimate[p])) for p in theta]
        out += [("holds where (else the maximum is on the domain's boundary)", c) for c in d.conditions]
    elif d.maximiser_set:
        p, lo, hi = d.maximiser_set
        out.append((f"every {p} in this interval maximises (a flat likelihood)", sp.Interval(lo, hi)))
    if d.second_order is not None:  # in the parameters at a stationary point: the estimates, hatted
        minors = scalar(sp.Matrix(d.second_order.minors)).xreplace({p: hat(p) for p in theta})
        out.append((f"leading principal minors of -H at the estimate: {d.second_order.status}", minors))
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
    shown_as: dict[sp.Basic, sp.Basic] = {symbol: shown for symbol, (shown, _) in names.items()}
    shown_as |= {hat(p): sp.Symbol(hat_text(p)) for p in d.params}
    for title, expr in stages(d):
        lines += ["", f"{title}:", sp.pretty(expr.xreplace(shown_as), use_unicode=True)]
    if d.estimate is None:
        lines += ["", f"no closed form: {d.no_closed_form}"]
    return "\n".join(lines) + "\n"


def display_latex(d: Derivation, expr: sp.Basic) -> str:
    """LaTeX of a stage: the statistics under their usual names, the estimates with hats."""
    names = {s.symbol: s.latex for s in d.statistics} | {hat(p): hat_latex(p) for p in d.params}
    return sp.latex(expr, symbol_names=names)


def _sentence(title: str) -> str:
    return f"{title[0].upper()}{title[1:]}:"


def as_markdown(d: Derivation) -> str:
    """The stages for a notebook: one display equation each, the statistics under their usual names."""
    parts = [f"**{d.model.name}**: {d.kind}"]
    for title, expr in stages(d):
        parts.append(f"{_sentence(title)}\n$$ {display_latex(d, expr)} $$")
    if d.estimate is None:
        parts.append(f"No closed form: {d.no_closed_form}")
    return "\n\n".join(parts) + "\n"


LATEX_SPECIALS = {c: "\\" + c for c in "#$%&_{}"} | {
    "\\": r"\textbackslash{}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "|": r"\textbar{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def latex_text(text: str) -> str:
    """Text for LaTeX's text mode: every character LaTeX would read as a command written out."""
    return "".join(LATEX_SPECIALS.get(c, c) for c in str(text))


def as_latex(d: Derivation) -> str:
    """The stages as LaTeX text with display equations (\\[ ... \\]): a notebook's text/latex, which nbconvert
    also puts as it is into a PDF."""
    parts = [rf"\textbf{{{latex_text(d.model.name)}}}: {d.kind}"]
    for title, expr in stages(d):
        parts.append(f"{latex_text(_sentence(title))}\n\\[ {display_latex(d, expr)} \\]")
    if d.estimate is None:
        parts.append(latex_text(f"No closed form: {d.no_closed_form}"))
    return "\n\n".join(parts) + "\n"


def mathml(latex: str, display: str = "block") -> str:
    """MathML of a formula, which a browser draws without MathJax or a network; a formula latex2mathml cannot take,
    or whose MathML does not parse, is shown as its escaped source."""
    from latex2mathml.converter import convert  # a dependency; loaded only when HTML is asked for

    try:
        converted = convert(latex, display=display)
        root = ET.fromstring(converted)
    except Exception:  # noqa: BLE001 - latex2mathml's own errors, and output that is not XML: shown as source
        return f"<code>{escape(latex)}</code>"
    for element in root.iter():  # a symbol's name is the user's text: no link, no handler, nothing but MathML
        tag = element.tag.rsplit("}", 1)[-1]
        names = [a.rsplit("}", 1)[-1].lower() for a in element.attrib]
        if not tag.startswith("m") or any(a == "href" or a.startswith(("on", "xlink")) for a in names):
            return f"<code>{escape(latex)}</code>"
    return converted


def as_html(d: Derivation) -> str:
    """The stages as HTML, every text escaped and every formula MathML: an offline nbconvert page shows them."""
    parts = [f"<p><strong>{escape(d.model.name)}</strong>: {escape(d.kind)}</p>"]
    for title, expr in stages(d):
        parts.append(f"<p>{escape(_sentence(title))}</p>\n{mathml(display_latex(d, expr))}")
    if d.estimate is None:
        parts.append(f"<p>{escape(f'No closed form: {d.no_closed_form}')}</p>")
    return '<div class="mlemap-derivation">\n' + "\n".join(parts) + "\n</div>\n"
