"""A fit at data, summarised as a statsmodels user reads one: each parameter's estimate, its standard errors from the
observed information (the negative Hessian at the estimate) and from the expected (Fisher) information, Wald and
likelihood-ratio (profile) intervals, the log-likelihood, AIC and BIC. Exact where the derivation is: a closed form
is evaluated exactly at the data's statistics (the floats taken as the numbers they are), its Hessian and its
Fisher information too, and shown as floats. The formats are minimal: fixed columns for a terminal, an escaped HTML
table with MathML names for a notebook, LaTeX and Markdown."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

import numpy as np
import scipy.stats
import sympy as sp

from mlemap.derivations.engine import Derivation, NoClosedForm, estimate_at, n_obs, time_limit
from mlemap.derivations.fisher import fisher
from mlemap.derivations.model import InputError
from mlemap.derivations.pieces import kinks_of
from mlemap.derivations.show import hat_latex, latex_text, mathml
from mlemap.numerics.compile import compiled
from mlemap.numerics.domains import tangent_basis

if TYPE_CHECKING:
    from mlemap.numerics.estimate import PointEstimate

DEFAULT_ALPHA = 0.05
EXACT_SECONDS = 5  # SymPy's time for the exact Hessian and Fisher information at the data, before floats take over
EXACT_SHOWN = (
    24  # an exact estimate is shown beside its float when its LaTeX is this short (39/25, not a float's 2^-44ths)
)
COLUMN = 11


@dataclass(frozen=True)
class Row:
    """One parameter: nan marks what does not apply (its reason is among the summary's notes)."""

    name: str
    latex: str  # the estimate's own symbol: \hat{\lambda}
    estimate: float
    se_observed: float
    se_expected: float
    wald: tuple[float, float]
    likelihood_ratio: tuple[float, float] | None  # None: not computed (a note says why)
    exact: sp.Expr | None = None  # the closed form at the data's statistics, exactly


@dataclass(frozen=True, repr=False)
class Summary:
    title: str
    model: str
    kind: str  # MLE or MAP
    method: str  # closed form, numerical, set
    n: int
    k: int  # free parameters: the parameters less the constraints
    alpha: float
    loglik: float
    rows: tuple[Row, ...]
    notes: tuple[str, ...]

    @property
    def level(self) -> float:
        return 1 - self.alpha

    @property
    def aic(self) -> float:
        return 2 * self.k - 2 * self.loglik

    @property
    def bic(self) -> float:
        return self.k * np.log(self.n) - 2 * self.loglik

    def header(self) -> list[tuple[str, str]]:
        """(key, value) pairs, read in two columns: what was fitted, how, and how well."""
        return [
            ("Model:", self.model),
            ("Log-likelihood:", number(self.loglik)),
            ("Estimator:", self.kind),
            ("AIC:", number(self.aic)),
            ("Method:", self.method),
            ("BIC:", number(self.bic)),
            ("No. observations:", str(self.n)),
            ("Parameters:", str(self.k)),
        ]

    def columns(self) -> list[str]:
        pct = f"{100 * self.level:g}%"
        return ["estimate", "SE (obs.)", "SE (exp.)", f"Wald {pct} lower", "upper", f"LR {pct} lower", "upper"]

    def cells(self, row: Row) -> list[str]:
        lr = [number(v) for v in row.likelihood_ratio] if row.likelihood_ratio else ["SKIP", "SKIP"]
        wald = [number(v) for v in row.wald]
        return [number(row.estimate), number(row.se_observed), number(row.se_expected), *wald, *lr]

    def text(self) -> str:
        """Fixed columns for a terminal, statsmodels' layout: the fit above, the parameters, the notes below."""
        name_width = max([len(r.name) for r in self.rows] + [9]) + 1
        width = name_width + COLUMN * 7
        half = width // 2
        lines = [plain(self.title).center(width).rstrip(), "=" * width]  # the estimator is the table's own row
        pairs = self.header()
        for (k1, v1), (k2, v2) in zip(pairs[::2], pairs[1::2]):
            lines.append(f"{k1:<18}{v1:>{half - 20}}    {k2:<18}{v2:>{width - half - 22}}")
        lines.append("=" * width)
        pct = f"{100 * self.level:g}%"
        lines.append(
            " " * (name_width + COLUMN)
            + f"{'SE':>{COLUMN}}{'SE':>{COLUMN}}{f'Wald {pct} interval':>{2 * COLUMN}}{f'LR {pct} interval':>{2 * COLUMN}}"
        )
        heads = ["estimate", "(obs.)", "(exp.)", "lower", "upper", "lower", "upper"]
        lines.append(" " * name_width + "".join(f"{h:>{COLUMN}}" for h in heads))
        lines.append("-" * width)
        for row in self.rows:
            lines.append(f"{row.name:<{name_width}}" + "".join(f"{c:>{COLUMN}}" for c in self.cells(row)))
        lines.append("=" * width)
        lines.append("Notes:")
        for i, note in enumerate(self.notes, 1):
            lines += textwrap.wrap(f"[{i}] {note}", width, subsequent_indent="    ", break_on_hyphens=False)
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _exact_shown(self, row: Row) -> str | None:
        """LaTeX of the exact estimate where there is one short enough to read beside its float."""
        if row.exact is None:
            return None
        shown = sp.latex(row.exact)
        return shown if len(shown) <= EXACT_SHOWN and row.exact.is_number and not row.exact.is_Float else None

    def _repr_html_(self) -> str:
        """An HTML table, every text escaped, the estimates' names in MathML: no MathJax needed."""
        pairs = self.header()
        head = "".join(
            f"<tr><th>{escape(k1)}</th><td>{escape(v1)}</td><th>{escape(k2)}</th><td>{escape(v2)}</td></tr>"
            for (k1, v1), (k2, v2) in zip(pairs[::2], pairs[1::2])
        )
        exact = any(self._exact_shown(r) for r in self.rows)
        titles = ["", *self.columns()] + (["exact"] if exact else [])
        body = []
        for row in self.rows:
            cells = [mathml(row.latex, "inline"), *(escape(c) for c in self.cells(row))]
            if exact:
                shown = self._exact_shown(row)
                cells.append(mathml(shown, "inline") if shown else "")
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        notes = "".join(f"<li>{escape(note)}</li>" for note in self.notes)
        return (
            f'<div class="mlemap-summary">\n<p><strong>{title_html(self.title)}</strong></p>\n'
            f"<table>\n<tbody>{head}</tbody>\n</table>\n<table>\n<thead><tr>"
            + "".join(f"<th>{escape(t)}</th>" for t in titles)
            + "</tr></thead>\n<tbody>\n"
            + "\n".join(body)
            + f"\n</tbody>\n</table>\n<ol>{notes}</ol>\n</div>\n"
        )

    def _repr_latex_(self) -> str:
        """A LaTeX tabular (nbconvert puts it as it is into a PDF), every text escaped."""
        pairs = self.header()
        head = " \\\\\n".join(
            f"{latex_text(k1)} & {latex_text(v1)} & {latex_text(k2)} & {latex_text(v2)}"
            for (k1, v1), (k2, v2) in zip(pairs[::2], pairs[1::2])
        )
        rows = " \\\\\n".join(
            f"${row.latex}$ & " + " & ".join(latex_text(c) for c in self.cells(row)) for row in self.rows
        )
        notes = "".join(f"\\item {latex_text(note)}\n" for note in self.notes)
        return (
            f"\\textbf{{{title_latex(self.title)}}}\n\n\\begin{{tabular}}{{lrlr}}\n{head}\n\\end{{tabular}}"
            f"\n\n\\begin{{tabular}}{{l{'r' * 7}}}\n & "
            + " & ".join(latex_text(c) for c in self.columns())
            + f" \\\\ \\hline\n{rows}\n\\end{{tabular}}\n"
            + (f"\\begin{{enumerate}}\n{notes}\\end{{enumerate}}\n" if notes else "")
        )

    def _repr_markdown_(self) -> str:
        pairs = self.header()
        head = ["| | | | |", "|---|---:|---|---:|"] + [
            f"| {k1} | {v1} | {k2} | {v2} |" for (k1, v1), (k2, v2) in zip(pairs[::2], pairs[1::2])
        ]
        table = ["| | " + " | ".join(self.columns()) + " |", "|---" + "|---:" * 7 + "|"]
        table += [f"| ${row.latex}$ | " + " | ".join(self.cells(row)) + " |" for row in self.rows]
        notes = [f"{i}. {note}" for i, note in enumerate(self.notes, 1)]
        return "\n".join([f"**{self.title}**", "", *head, "", *table, "", *notes]) + "\n"


MATH = re.compile(r"\$([^$]+)\$")


def plain(title: str) -> str:
    """A title for a terminal: its $...$ math as the letters, \\mu as mu."""
    return MATH.sub(lambda m: m[1].replace("\\", "").replace("{", "").replace("}", ""), title)


def title_html(title: str) -> str:
    """A title for HTML: escaped text, its $...$ math as inline MathML."""
    parts = MATH.split(title)  # text, math, text, ...
    return "".join(mathml(p, "inline") if k % 2 else escape(p) for k, p in enumerate(parts))


def title_latex(title: str) -> str:
    """A title for LaTeX: its text escaped, its $...$ math kept."""
    parts = MATH.split(title)
    return "".join(f"${p}$" if k % 2 else latex_text(p) for k, p in enumerate(parts))


def number(value: float) -> str:
    """A float in at most ten characters: four decimals where they read well, else four significant digits."""
    if not np.isfinite(value):
        return "--" if np.isnan(value) else f"{value}"
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4f}"
    return f"{value:.3e}"


def checked_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0 < alpha < 1:
        raise InputError(f"alpha must be a number in (0, 1) (0.05 gives 95% intervals), got {alpha!r}")
    return float(alpha)


def summarize(point: PointEstimate, d: Derivation, data: Mapping[str, np.ndarray], alpha: object) -> Summary:
    """The summary of the estimate `point` of d at the (validated) data."""
    level_alpha = checked_alpha(alpha)
    n = len(next(iter(data.values())))
    k = len(d.params) - len(d.model.constraints)
    c = compiled(d)
    if not point.converged or not point.values:
        return Summary(
            d.model.title,
            d.model.name,
            d.kind,
            point.method,
            n,
            k,
            level_alpha,
            np.nan,
            (),
            (f"no estimate: {point.reason}",),
        )
    est = dict(point.values)
    notes: list[str] = [
        "SE (obs.): from the observed information, the negative Hessian of the "
        + ("log-posterior" if d.model.prior is not None else "log-likelihood")
        + " at the estimate; SE (exp.): from the expected (Fisher) information at the estimate"
        + ("; the prior adds no information from data" if d.model.prior is not None else "")
    ]
    skipped = irregular(d)
    notes += [f"{name}: {why}" for name, why in skipped.items()]
    exact = exact_point(d, data) if point.method == "closed form" else None
    se_obs, se_exp = standard_errors(d, data, est, exact, skipped, notes)
    z = float(scipy.stats.norm.ppf(1 - level_alpha / 2))
    ratio = likelihood_ratio_intervals(d, data, est, se_obs, skipped, 1 - level_alpha, notes)
    rows = tuple(
        Row(
            name,
            hat_latex(p),
            est[name],
            se_obs[name],
            se_exp[name],
            (est[name] - z * se_obs[name], est[name] + z * se_obs[name]),
            ratio.get(name),
            None if exact is None else exact[0][p],
        )
        for p, name in zip(d.params, c.names)
    )
    return Summary(
        d.model.title, d.model.name, d.kind, point.method, n, k, level_alpha, loglik(d, est, data), rows, tuple(notes)
    )


def loglik(d: Derivation, est: Mapping[str, float], data: Mapping[str, np.ndarray]) -> float:
    """sum_i log p(x_i | theta) at the estimate, straight from the declared density (no prior)."""
    c = compiled(d)
    logp, _ = c.numpy_per_observation
    n = len(next(iter(data.values())))
    terms = logp(*(est[k] for k in c.names), *(data[s.name] for s in d.model.data))
    return float(np.sum(np.broadcast_to(terms, n)))


def irregular(d: Derivation) -> dict[str, str]:
    """Parameters whose standard errors and intervals the regular theory does not give, with the reason."""
    out = {}
    for b in d.bounds:
        out[b.param.name] = (
            "no standard error or interval: the support depends on it (its estimate is an order statistic, "
            "whose error falls as 1/n, not 1/sqrt(n))"
        )
    for p in d.params:
        if p.name not in out and kinks_of(d.objective, p):
            out[p.name] = (
                "no standard error or interval: the log-likelihood has a kink in it (not twice differentiable)"
            )
    if d.model.matrices:
        for p in d.params:
            out.setdefault(p.name, "no standard error or interval: a covariance matrix's entries are not covered yet")
    return out


def exact_point(d: Derivation, data: Mapping[str, np.ndarray]) -> tuple[dict, dict] | None:
    """(the estimate, the statistics) exactly, at the data's statistics taken as the numbers they are; None where
    the closed form does not give it in EXACT_SECONDS."""
    if not d.separable or d.model.constraints or d.model.matrices or d.bounds:
        return None
    stats = compiled(d).statistics(data)
    at = {s.symbol: sp.Rational(stats[s.symbol.name]) for s in d.statistics}
    at[n_obs] = sp.Integer(len(next(iter(data.values()))))
    try:
        with time_limit(EXACT_SECONDS, "the estimate at the data, exactly"):
            found = estimate_at(d, at)
    except NoClosedForm:
        return None
    if found is None or not all(v.is_number for v in found.values()):
        return None
    return found, at


def standard_errors(d, data, est, exact, skipped, notes) -> tuple[dict[str, float], dict[str, float]]:
    """sqrt(diag(information^-1)) of the observed and of the expected information, over the regular parameters
    (on the constraints' tangent space where there are some); exact where the estimate is."""
    c = compiled(d)
    keep = [i for i, name in enumerate(c.names) if name not in skipped]
    basis = tangent_basis(c, est)[keep] if keep else np.zeros((0, 0))
    observed = expected = None
    if exact is not None:
        observed, expected = exact_information(d, exact)
    if observed is None:
        observed = -np.asarray(c.evaluator.hessian(est, data), float)
    fish = fisher(d)
    if expected is None and fish.expected is not None and keep:
        expected = numeric_expected(d, fish.expected, est, data)
    if fish.expected is None and keep:
        notes.append(f"SE (exp.) not derived: {fish.reason}")
    se_obs = errors(observed, keep, basis, "observed", notes)
    se_exp = errors(expected, keep, basis, "expected", notes) if expected is not None else np.full(len(keep), np.nan)
    out_obs, out_exp = dict.fromkeys(c.names, np.nan), dict.fromkeys(c.names, np.nan)
    for j, i in enumerate(keep):
        out_obs[c.names[i]], out_exp[c.names[i]] = float(se_obs[j]), float(se_exp[j])
    return out_obs, out_exp


def exact_information(d: Derivation, exact: tuple[dict, dict]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The observed and expected information at the exact estimate, evaluated exactly, then as floats."""
    found, at = exact
    values = {**at, **found}
    try:
        with time_limit(EXACT_SECONDS, "the information at the data, exactly"):
            observed = as_floats(-d.hessian.subs(d.model.constants).subs(values))
            fish = fisher(d)
            expected = None if fish.expected is None else as_floats(fish.expected.subs(d.model.constants).subs(values))
    except NoClosedForm:
        return None, None
    return observed, expected


def as_floats(m: sp.Matrix) -> np.ndarray | None:
    """An exact matrix of numbers as floats; None when some entry is not a finite number."""
    if not all(v.is_number for v in m):
        return None
    out = np.array(m.evalf(30).tolist(), dtype=complex)
    return out.real if np.all(np.isfinite(out)) and not np.any(out.imag) else None


def numeric_expected(d: Derivation, expected: sp.Matrix, est, data) -> np.ndarray | None:
    c = compiled(d)
    at = {p.symbol: est[p.name] for p in d.model.params}
    if d.separable:  # a fixed design's information is written in the sample's statistics
        stats = c.statistics(data)
        at |= {s.symbol: stats[s.symbol.name] for s in d.statistics}
    at[n_obs] = len(next(iter(data.values())))
    return as_floats(expected.subs(d.model.constants).subs(at))


def errors(info: np.ndarray | None, keep: list[int], basis: np.ndarray, which: str, notes: list[str]) -> np.ndarray:
    """sqrt of the diagonal of B (B' I B)^-1 B' over the kept parameters; nan, with a note, where the information
    there is not positive definite (a flat direction, or an estimate on the domain's edge)."""
    nan = np.full(len(keep), np.nan)
    if info is None or not keep:
        return nan
    sub = np.asarray(info, float)[np.ix_(keep, keep)]
    reduced = basis.T @ sub @ basis
    if not np.all(np.isfinite(reduced)) or np.any(np.linalg.eigvalsh((reduced + reduced.T) / 2) <= 0):
        notes.append(f"SE from the {which} information: none, as it is not positive definite at the estimate")
        return nan
    return np.sqrt(np.diag(basis @ np.linalg.inv(reduced) @ basis.T))


def likelihood_ratio_intervals(d, data, est, se_obs, skipped, level, notes) -> dict[str, tuple[float, float]]:
    """{theta_j : 2 (l(theta_hat) - max over the others l) <= chi2_1(level)}, its ends found by scipy's root
    bracketing on the profile (numerics/precision.py); SKIP with a note where the theory or the search fails."""
    from mlemap.numerics.precision import _profile_interval  # the report's own profile search, shared

    if d.model.constraints or d.model.matrices:
        notes.append("LR intervals: SKIP, the profile of constrained parameters is not computed")
        return {}
    out = {}
    for par in d.model.params:
        name, value = par.name, est[par.name]
        if name in skipped:
            continue
        ends = [float(e) for e in (par.domain.inf, par.domain.sup)]
        if value in ends or not np.isfinite(se_obs[name]):
            notes.append(
                f"LR interval of {name}: SKIP, the estimate is on the end of its domain {par.domain}"
                if value in ends
                else f"LR interval of {name}: SKIP, no standard error to start the search"
            )
            continue
        try:
            found = _profile_interval(d, data, est, name, se_obs[name], level)
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            notes.append(f"LR interval of {name}: SKIP, the profile search failed ({exc})")
            continue
        out[name] = (found.lower, found.upper)
        for side, is_open, end in (("lower", found.open_lower, found.lower), ("upper", found.open_upper, found.upper)):
            if is_open:
                notes.append(
                    f"LR interval of {name}: its {side} end {end:g} is the domain's; the profile stays "
                    "above the cutoff up to it"
                )
    if d.model.prior is not None and out:
        notes.append("LR intervals profile the log-posterior (a MAP's objective), not the likelihood alone")
    return out
