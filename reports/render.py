"""Render the neutral document to Markdown and LaTeX through the layout templates."""

from __future__ import annotations

import re

import jinja2

from reports.document import TEMPLATES

TEX_SPECIALS = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}
MATH = re.compile(r"(\$[^$]+\$)")


def tex(text) -> str:
    """Escape prose for LaTeX, leaving $...$ math as it is."""
    parts = MATH.split(str(text))
    return "".join(p if MATH.fullmatch(p) else "".join(TEX_SPECIALS.get(c, c) for c in p) for p in parts)


def mdcell(text) -> str:
    return str(text).replace("|", r"\|")


def _env(**delimiters) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, **delimiters
    )
    env.filters.update(tex=tex, mdcell=mdcell)
    return env


MD = _env()
TEX = _env(block_start_string="<%", block_end_string="%>", variable_start_string="<<", variable_end_string=">>", comment_start_string="<#", comment_end_string="#>")


def markdown(sections, title: str, subtitle: str) -> str:
    return MD.get_template("report.md.j2").render(sections=sections, title=title, subtitle=subtitle)


def latex(sections, title: str, subtitle: str) -> str:
    return TEX.get_template("report.tex.j2").render(sections=sections, title=title, subtitle=subtitle)
