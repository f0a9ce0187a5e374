"""The report as a neutral document: sections of blocks (text, question, math, steps, table, figure), which
render.py lays out as Markdown and LaTeX. Prose templates shared by every sheet live in templates/kinds.j2."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter

from mlemap.derivations.engine import n_obs
from mlemap.derivations.linear import COMPACT_FROM, normal_equations, residual_variance
from mlemap.derivations.show import hat_latex

TEMPLATES = Path(__file__).parent / "templates"


def environment(*directories: Path) -> jinja2.Environment:
    """Prose templates: StrictUndefined, so a missing number is an error, never an empty string."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in directories]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["zip_with"] = lambda left, right: list(zip(left, right))
    env.filters["number"] = lambda x: number(x)  # noqa: PLW0108 - number is defined below this module line
    return env


KINDS_TEXT: Any = environment(TEMPLATES).get_template("kinds.j2").module  # the macros of kinds.j2


@dataclass
class Section:
    key: str
    title: str
    level: int = 1
    blocks: list[dict] = field(default_factory=list)
    numbered: bool = True  # False: front or back matter (the answers at a glance, the colophon), which has no number

    def text(self, text: str) -> None:
        self.blocks.append({"kind": "text", "text": str(text).strip()})

    def question(self, text: str) -> None:
        self.blocks.append({"kind": "question", "text": text})

    def math(self, latex: str) -> None:
        self.blocks.append({"kind": "math", "latex": latex})

    def steps(self, steps) -> None:
        self.blocks.append(
            {
                "kind": "steps",
                "steps": [{"title": s.title, "latex": s.latex, "text": s.text, "proof": s.proof} for s in steps],
            }
        )

    def table(self, header, rows, caption="") -> None:
        self.blocks.append(
            {"kind": "table", "header": list(header), "rows": [list(map(str, r)) for r in rows], "caption": caption}
        )

    def code(self, text: str) -> None:
        """Python printed as it is (verbatim in LaTeX, escaped in HTML)."""
        self.blocks.append({"kind": "code", "code": text})

    def box(self, title: str, items) -> None:
        """A short framed list beside the derivation: a task's common mistakes."""
        self.blocks.append({"kind": "box", "title": title, "entries": [str(i) for i in items]})

    def figure(self, name: str, caption: str) -> None:
        self.blocks.append({"kind": "figure", "name": name, "caption": caption})


FLOOR = 1e-12  # an error below this is rounding, shown as a bound rather than as a number


def number(x: float, digits: int = 4) -> str:
    """A number as a reader writes it: 0.0123 or 1234, and beyond that $5.28 \\times 10^{-5}$, never 5.278e-05."""
    if x == 0 or not np.isfinite(x):
        return f"{x:g}"
    if 1e-3 <= abs(x) < 1e5:  # every integer digit kept: 35720, never 3.57e+04
        return f"{x:.{max(digits, int(np.floor(np.log10(abs(x)))) + 1)}g}"
    exponent = int(np.floor(np.log10(abs(x))))
    mantissa = f"{x / 10**exponent:.{digits}g}"
    return rf"${mantissa} \times 10^{{{exponent}}}$"


def error_text(error: float) -> str:
    """A check's error for a reader: '< 1e-12' where it is rounding noise, else 3 significant digits."""
    return f"< {FLOOR:g}" if abs(error) < FLOOR else f"{error:.3g}"


def hat(p: sp.Symbol) -> str:
    """The estimate's name, the hat on the base: sigma^2 gives \\hat{\\sigma}^{2}, mu_1 \\hat{\\mu}_{1}."""
    return hat_latex(p)


def statistic_names(d) -> dict[sp.Symbol, str]:
    """Each sample statistic sum_i g(x_i) written S_g, as a textbook names its sums: the equations stay short.
    Counts of a value are N_v and order statistics x_(n), x_(1), as a textbook writes them."""
    names: dict[sp.Symbol, str] = {}
    for s in d.statistics:
        if s.expr != 1:
            name = statistic_latex(s)  # a second S_{xy} (x*y beside a data symbol xy) shows its product sign
            names[s.symbol] = name if name not in names.values() else f"S_{{{sp.latex(s.expr, mul_symbol='dot')}}}"
    return names


def statistic_latex(s) -> str:
    """A statistic's short name, from what it reduces (never from its symbol's name): N_{v} for the count of a
    value v, x_{(n)} and x_{(1)} for the largest and smallest, the median as x-tilde and the summed absolute
    deviations from it as D_x, else S_{g} for the sum of g."""
    if isinstance(s.expr, sp.KroneckerDelta):
        (value,) = (a for a in s.expr.args if a.is_number)
        return f"N_{{{sp.latex(value)}}}"
    # log(x) as a textbook writes it in a subscript, \log x: no brackets around a single symbol
    data = re.sub(r"\\(log|exp)\{\\left\((\w+) \\right\)\}", r"\\\1{\2}", sp.latex(s.expr))
    shown = {
        "max": f"{{{data}}}_{{(n)}}",
        "min": f"{{{data}}}_{{(1)}}",
        "median": rf"\tilde{{{data}}}",
        "absdev": f"D_{{{data}}}",
    }
    return shown.get(s.reduce, f"S_{{{data.replace(' ', '')}}}")


LINES = "\n"  # separates the equations of one display: each is set on its own line
ROOT = sp.Symbol(r"\rho")
ORDINALS = {1: "smallest", 2: "second smallest", 3: "third smallest", 4: "fourth smallest"}


def named_roots(expr):
    """expr with each CRootOf written rho (rho_1, rho_2, ... when there are several), and the roots by name."""
    roots = sorted(expr.atoms(sp.CRootOf), key=sp.default_sort_key) if isinstance(expr, sp.Basic) else []
    names = [ROOT] if len(roots) == 1 else [sp.Symbol(rf"\rho_{{{k}}}") for k in range(1, len(roots) + 1)]
    return expr.xreplace(dict(zip(roots, names))) if roots else expr, dict(zip(names, roots))


def roots_defined(expr) -> str:
    """'where rho ~ 0.4844 is the real root of 100 rho^3 - ... = 0 in (0, 1)': the algebraic numbers named by math()."""
    notes = []
    for name, root in named_roots(expr)[1].items():
        poly = root.poly.as_expr().xreplace({root.poly.gen: name})
        count = root.poly.count_roots()
        which = (
            "the only real root"
            if count == 1
            else _root_by_place(root)
            or f"the {ORDINALS.get(root.index + 1, f'{root.index + 1}th smallest')} of the {count} real roots"
        )
        notes.append(f"${sp.latex(name)} \\approx {float(root):.4g}$ is {which} of ${sp.latex(poly)} = 0$")
    return ("where " + "; ".join(notes) + ".") if notes else ""


def _root_by_place(root: sp.CRootOf) -> str | None:
    """'the root in (0, 1)' or 'the positive root' where only this root lies there: how a reader tells it apart."""
    value = float(root)
    if 0 < value < 1 and root.poly.count_roots(0, 1) - int(root.poly.eval(1) == 0) - int(root.poly.eval(0) == 0) == 1:
        return "the root in $(0, 1)$"
    if value > 0 and root.poly.count_roots(0, None) - int(root.poly.eval(0) == 0) == 1:
        return "the positive root"
    if value < 0 and root.poly.count_roots(None, 0) - int(root.poly.eval(0) == 0) == 1:
        return "the negative root"
    return None


class ReaderLatex(LatexPrinter):
    """SymPy's LaTeX in the order a textbook writes it: a sum starts with a positive term (x_i - x_bar, not
    -x_bar + x_i), and n stands first in a product (n mu, not mu n; see math)."""

    def _print_Rational(self, expr):
        """A fraction of long perfect powers as the power it is: (8/9)^15, not 35184372088832/205891132094649."""
        if expr.q > 10**6:
            for k in range(64, 1, -1):
                top, exact_top = sp.integer_nthroot(abs(expr.p), k)
                bottom, exact_bottom = sp.integer_nthroot(expr.q, k)
                if exact_top and exact_bottom:
                    sign = "- " if expr.p < 0 else ""
                    return rf"{sign}\left(\frac{{{top}}}{{{bottom}}}\right)^{{{k}}}"
        return super()._print_Rational(expr)

    def _as_ordered_terms(self, expr, order=None):
        terms = list(super()._as_ordered_terms(expr, order=order))
        if len(expr.free_symbols) == 1 and expr.is_polynomial() and sp.degree(expr) > 2:
            return terms  # a polynomial keeps its descending powers: -100 theta^3 + 150 theta^2 - ...
        positive = next((t for t in terms if not t.could_extract_minus_sign()), None)
        return terms if positive is None else [positive, *(t for t in terms if t is not positive)]


N_FIRST = sp.Symbol("!n", positive=True, integer=True)  # sorts before every other name: n leads a product


def math(d, expr, **options) -> str:
    """LaTeX of an expression of a derivation: its statistics by their short names (d None: an expression with
    none), algebraic roots as rho, in a reader's order (ReaderLatex)."""
    names = (statistic_names(d) if d is not None else {}) | {N_FIRST: "n"} | options.pop("symbol_names", {})
    shown = named_roots(expr)[0]
    if isinstance(shown, (sp.Basic, sp.MatrixBase)):
        shown = shown.xreplace({n_obs: N_FIRST})
    return ReaderLatex({"symbol_names": names, **options}).doprint(shown)


def statistics_defined(d) -> str:
    """'$S_{x} = \\sum_{i=1}^{n} x_{i}$, ...': what the short names stand for."""
    return ", ".join(f"${statistic_names(d)[s.symbol]} = {s.latex}$" for s in d.statistics if s.expr != 1)


def estimate_math(d) -> str:
    compact = matrix_estimate(d)
    if compact is not None:
        return compact
    return LINES.join(rf"{hat(p)} = {math(d, v)}" for p, v in d.estimate.items())


def matrix_estimate(d) -> str | None:
    """Many weights of a linear model in matrix form, (X^T X + lambda I)^-1 X^T y, and a variance as the mean
    squared residual, where writing each out (Cramer's rule) would fill pages; None where that does not apply."""
    entries = matrix_entries(d)
    eq = normal_equations(d) if entries is not None else None
    if entries is None or eq is None:
        return None
    weights = r"\begin{pmatrix}" + r" \\ ".join(hat(p) for p in eq.params) + r"\end{pmatrix}"
    lines = [rf"\hat{{\mathbf{{w}}}} = {weights} = {_solution(eq)}"]
    lines += [rf"{hat(p)} = {entries[p]}" for p in d.params if p not in eq.params]
    return LINES.join(lines)


def _solution(eq) -> str:
    ridge = "" if eq.ridge == 0 else rf" + {sp.latex(eq.ridge)} I"
    return rf"\left(\mathbf{{X}}^\top \mathbf{{X}}{ridge}\right)^{{-1}} \mathbf{{X}}^\top \mathbf{{y}}"


def matrix_entries(d) -> dict | None:
    """Each estimate's LaTeX in the matrix form (the k-th entry of the solution; a variance as the mean squared
    residual), for a linear model with many weights; None where that does not apply."""
    eq = normal_equations(d) if d.estimate is not None else None
    if eq is None or eq.gram is None or len(eq.params) < COMPACT_FROM:
        return None
    entries = {p: rf"\left[{_solution(eq)}\right]_{{{k + 1}}}" for k, p in enumerate(eq.params)}
    for p in d.params:
        if p in eq.params:
            continue
        square = residual_variance(d, eq, p)
        entries[p] = (
            math(d, d.estimate[p])
            if square is None
            else rf"\frac{{1}}{{n}}\left({math(d, square)} - \hat{{\mathbf{{w}}}}^\top \mathbf{{X}}^\top \mathbf{{y}}\right)"
        )
    return entries


def numerical_math(d, values: dict[str, float]) -> str:
    """A numerical estimate, to the six digits its convergence test guarantees."""
    return LINES.join(rf"{hat(p)} \approx {values[p.name]:.6g}" for p in d.params)


def colophon(seed: int) -> Section:
    """The one place the program and its files are named."""
    sec = Section("colophon", "Colophon", numbered=False)
    sec.text(
        f"Computed by mlemap with seed {seed}, proved by SymPy; steps.json lists each step with its proof, "
        "answers.json the answers in exact form and in full precision."
    )
    return sec


def with_colophon(sections: list[Section], last: Section) -> list[Section]:
    """The colophon last, opening with how the document was checked where a section says so: the solutions end
    with one short section, the one place that names the tools."""
    if sections and sections[-1].key == "checked":
        merged = [*sections[-1].blocks, *last.blocks]
        return [*sections[:-1], Section(last.key, last.title, blocks=merged, numbered=last.numbered)]
    return [*sections, last]


def at_a_glance(rows: list[dict]) -> Section:
    """The front page's table: each answer of answers.json, exact and to 4 significant digits."""
    sec = Section("answers", "Answers at a glance", numbered=False)
    table, notes = [], []
    for row in rows:  # each row's display LaTeX was written from its derivation: nothing is read back
        shown = f"$\\displaystyle {row['display']}$" if row.get("display") else ""
        if row.get("display_conditions"):
            shown += f", where ${row['display_conditions']}$"
        notes.append(row.get("roots", ""))
        table.append((row["question"], shown, "" if row["value"] is None else f"{row['value']:.4g}"))
    caption = (
        "Exact answers where they exist, and their values to 4 significant digits; the sections below derive each one."
    )
    roots = [n[0].upper() + n[1:] for n in dict.fromkeys(notes) if n]
    sec.table(("question", "exact", "value"), table, " ".join([caption, *roots]))
    sec.blocks[-1]["answers"] = [row["key"] for row in rows]  # each row links to the section that derives it
    return sec
