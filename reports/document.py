"""The report as a neutral document: sections of blocks (text, question, math, steps, table, figure), which
render.py lays out as Markdown and LaTeX. Prose templates shared by every sheet live in templates/kinds.j2."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import sympy as sp

TEMPLATES = Path(__file__).parent / "templates"


def environment(*directories: Path) -> jinja2.Environment:
    """Prose templates: StrictUndefined, so a missing number is an error, never an empty string."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(d) for d in directories]), undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["zip_with"] = lambda left, right: list(zip(left, right))
    return env


KINDS_TEXT = environment(TEMPLATES).get_template("kinds.j2").module


@dataclass
class Section:
    key: str
    title: str
    level: int = 1
    blocks: list[dict] = field(default_factory=list)

    def text(self, text: str) -> None:
        self.blocks.append({"kind": "text", "text": str(text).strip()})

    def question(self, text: str) -> None:
        self.blocks.append({"kind": "question", "text": text})

    def math(self, latex: str) -> None:
        self.blocks.append({"kind": "math", "latex": latex})

    def steps(self, steps) -> None:
        self.blocks.append({"kind": "steps", "steps": [{"title": s.title, "latex": s.latex, "text": s.text, "proof": s.proof} for s in steps]})

    def table(self, header, rows, caption="") -> None:
        self.blocks.append({"kind": "table", "header": list(header), "rows": [list(map(str, r)) for r in rows], "caption": caption})

    def figure(self, name: str, caption: str) -> None:
        self.blocks.append({"kind": "figure", "name": name, "caption": caption})


def hat(p: sp.Symbol) -> str:
    """The estimate's name: sigma^2 gives \\hat{\\sigma}^{2}, not a hat over the square."""
    base, power = (p.name.split("^", 1) + [""])[:2]
    symbol = sp.latex(sp.Symbol(base)) if power else sp.latex(p)
    return rf"\hat{{{symbol}}}" + (f"^{{{power}}}" if power else "")


def estimate_math(d) -> str:
    return r", \qquad ".join(rf"{hat(p)} = {d.latex(v)}" for p, v in d.estimate.items())
