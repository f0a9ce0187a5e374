"""Render the neutral document to Markdown, LaTeX and HTML through the layout templates."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import jinja2
from latex2mathml.converter import convert as mathml
from markupsafe import Markup, escape

from reports.document import TEMPLATES

TEX_SPECIALS = {
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}
MATH = re.compile(r"(\$[^$]+\$)")


TEXT_IN_MATH = {"&": r"\&", "%": r"\%", "#": r"\#", "<": r"\textless{}", ">": r"\textgreater{}"}


def tex(text) -> str:
    r"""Escape prose for LaTeX, leaving $...$ math as it is but for the specials of its text groups
    ($\text{R&D}$ is a text, not an alignment)."""
    parts = MATH.split(str(text))
    return "".join(
        _in_text_groups(p, TEXT_IN_MATH) if MATH.fullmatch(p) else "".join(TEX_SPECIALS.get(c, c) for c in p)
        for p in parts
    )


WRAP = 28  # a column whose cells run longer than this wraps (tabularx X column) instead of widening the table
LINE = 80  # characters of a table row that fit the text width; a longer row wraps every column but short ones


def columns(block: dict) -> str:
    """The tabularx column spec of a table block: long columns wrap, short ones keep their width."""
    rows = [block["header"], *block["rows"]]
    longest = [max(len(str(row[k])) for row in rows) for k in range(len(block["header"]))]
    wide = [n > WRAP or (sum(longest) > LINE and n > 8) for n in longest]
    return "".join(r">{\raggedright\arraybackslash}X" if w else "l" for w in wide) if any(wide) else "l" * len(wide)


LONG_TABLE = 20  # rows from which a table may run over pages (longtable) instead of floating on one


def long_columns(block: dict) -> str:
    """The longtable column spec: wrapping columns as p{} of the width the short ones leave."""
    spec = columns(block)
    wide = spec.count("X")
    if not wide:
        return spec
    share = f"{0.9 / wide - 0.04 * spec.count('l') / wide:.3f}"
    return spec.replace(r">{\raggedright\arraybackslash}X", rf">{{\raggedright\arraybackslash}}p{{{share}\linewidth}}")


def md(text) -> str:
    """Prose for GitHub's Markdown, whose renderer eats a backslash before a brace or a backslash."""
    parts = MATH.split(str(text))
    return "".join(_inline(p) if MATH.fullmatch(p) else p for p in parts)


def _inline(math: str) -> str:
    """Inline math GitHub renders: braces as \\lbrace and \\rbrace, a matrix's rows ended by \\cr."""
    return math.replace(r"\{", r"\lbrace ").replace(r"\}", r"\rbrace ").replace("\\\\", r"\cr ")


def mdcell(text) -> str:
    return md(text).replace("|", r"\|")


def _env(**delimiters) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        **delimiters,
    )
    env.filters.update(tex=tex, md=md, mdcell=mdcell, columns=columns, long_columns=long_columns)
    env.globals.update(LONG_TABLE=LONG_TABLE)
    return env


MD = _env()
TEX = _env(
    block_start_string="<%",
    block_end_string="%>",
    variable_start_string="<<",
    variable_end_string=">>",
    comment_start_string="<#",
    comment_end_string="#>",
)


def markdown(sections, title: str, subtitle: str) -> str:
    return MD.get_template("report.md.j2").render(sections=sections, title=title, subtitle=subtitle)


def latex(sections, title: str, subtitle: str) -> str:
    return TEX.get_template("report.tex.j2").render(sections=sections, title=title, subtitle=subtitle)


TEXT_GROUP = re.compile(r"\\(text|textrm|textit|textbf|mathrm|operatorname|mbox)\s*\{")
MATHML_TAGS = frozenset(
    [
        "math",
        "mrow",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "mfrac",
        "msqrt",
        "mroot",
        "msub",
        "msup",
        "msubsup",
        "munder",
        "mover",
        "munderover",
        "mtable",
        "mtr",
        "mtd",
        "mstyle",
        "mpadded",
        "mphantom",
        "menclose",
        "merror",
        "semantics",
        "annotation",
        "mfenced",
    ]
)
MATHML_ATTRIBUTES = frozenset(
    [
        "xmlns",
        "display",
        "mathvariant",
        "stretchy",
        "fence",
        "separator",
        "columnalign",
        "rowalign",
        "columnspacing",
        "rowspacing",
        "columnlines",
        "rowlines",
        "frame",
        "lspace",
        "rspace",
        "width",
        "height",
        "depth",
        "linethickness",
        "accent",
        "accentunder",
        "movablelimits",
        "form",
        "largeop",
        "symmetric",
        "minsize",
        "maxsize",
        "scriptlevel",
        "displaystyle",
        "notation",
        "open",
        "close",
        "separators",
        "align",
    ]
)


HTML_IN_TEXT = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _in_text_groups(latex: str, replace: dict[str, str]) -> str:
    r"""The characters of replace swapped inside text groups (\text{...}, \mathrm{...}) only; an escaped one
    (\&) is left as it is."""
    out, i = [], 0
    for match in TEXT_GROUP.finditer(latex):
        if match.start() < i:
            continue
        depth, j = 1, match.end()
        while j < len(latex) and depth:
            depth += {"{": 1, "}": -1}.get(latex[j], 0)
            j += 1
        inner = latex[match.end() : j - 1]
        swapped = re.sub(
            r"\\?[&%#<>]", lambda m: m.group() if len(m.group()) == 2 else replace.get(m.group(), m.group()), inner
        )
        out += [latex[i : match.end()], swapped, "}" if depth == 0 else ""]
        i = j
    return "".join(out) + latex[i:]


def _escaped_text_groups(latex: str) -> str:
    """<, > and & inside text groups as entities: latex2mathml copies a group's text into <mtext> as it is."""
    return _in_text_groups(latex, HTML_IN_TEXT)


def safe_mathml(latex: str, display: str = "inline") -> str:
    """MathML of a formula that holds only MathML elements and presentation attributes (no href, no script, no
    event handler); anything else is shown as its escaped source."""
    import xml.etree.ElementTree as ET

    try:
        converted = mathml(_escaped_text_groups(latex), display=display)
        root = ET.fromstring(converted)
    except Exception:  # noqa: BLE001 - latex2mathml's own errors, and output that is not XML: shown as source
        return f"<code>{escape(latex)}</code>"
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag not in MATHML_TAGS or any(a.rsplit("}", 1)[-1] not in MATHML_ATTRIBUTES for a in element.attrib):
            return f"<code>{escape(latex)}</code>"
    return converted


def prose(text) -> Markup:
    """Prose for HTML: escaped, its $...$ math as inline MathML (no script, no network: the browser draws it)."""
    parts = MATH.split(str(text))
    return Markup("".join(safe_mathml(p[1:-1]) if MATH.fullmatch(p) else str(escape(p)) for p in parts))


def display(latex: str) -> Markup:
    return Markup(safe_mathml(latex, display="block"))


def html(sections, title: str, subtitle: str, figures: Path) -> str:
    """One self-contained page: MathML for the math, the figures' PNGs inlined as data URIs."""

    def figure_uri(name: str) -> str:
        return "data:image/png;base64," + base64.b64encode((figures / f"{name}.png").read_bytes()).decode()

    env = _env(autoescape=True)
    env.filters.update(prose=prose, display=display, figure_uri=figure_uri)
    return env.get_template("report.html.j2").render(sections=sections, title=title, subtitle=subtitle)
