"""The exercise sheet's questions (Theory and Tasks 1-3) and their exact answers."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derivations import bayes
from derivations.engine import Derivation
from derivations.models import COIN_MAP, COIN_MAP_SD, COIN_UNIFORM, x
from derivations.registry import derivation

TWO_TAILS = ({x: 0}, {x: 0})
NEXT_HEAD = ({x: 1},)


@dataclass(frozen=True)
class Answer:
    key: str
    question: str
    expr: sp.Expr
    latex: str
    model: str

    @property
    def value(self) -> float | None:
        """A float for display and checks; None for answers that are expressions in the data."""
        return float(self.expr) if self.expr.is_number else None


def _answer(key, question, expr, deriv: Derivation) -> Answer:
    return Answer(key, question, expr, deriv.latex(expr), deriv.model.name)


def _estimates(key: str, question: str, deriv: Derivation) -> list[Answer]:
    return [
        _answer(f"{key}.{p.name.replace('^', '')}_{deriv.kind.lower()}", f"{question}: {p.name}", deriv.estimate[p], deriv)
        for p in deriv.params
    ]


def answers() -> list[Answer]:
    """Every answer of the sheet's theory half, derived, never typed in."""
    out = _estimates("task1", "Gaussian MLE", derivation("gaussian"))
    out += _estimates("task2", "Linear model MLE", derivation("linear_regression"))
    for model, tag in ((COIN_MAP, "variance"), (COIN_MAP_SD, "sd")):
        deriv = derivation(model.name)
        suffix = "" if tag == "variance" else "_sd"
        (theta_map,) = deriv.estimate.values()
        out.append(_answer(f"task3a.theta_map{suffix}", f"theta_MAP, prior 0.1 read as the {tag}", theta_map, deriv))
        out.append(
            _answer(
                f"task3a.p_two_tails{suffix}",
                f"P(x8 = 0, x9 = 0 | theta_MAP), 0.1 read as the {tag}",
                bayes.plug_in_predictive(model, deriv.estimate, TWO_TAILS),
                deriv,
            )
        )
    uniform = derivation(COIN_UNIFORM.name)
    out.append(_answer("task3b.posterior", "p(theta | D) under U(0, 1)", bayes.posterior(COIN_UNIFORM), uniform))
    out.append(
        _answer("task3b.p_next_head", "P(x8 = 1 | D) under U(0, 1)", bayes.posterior_predictive(COIN_UNIFORM, NEXT_HEAD), uniform)
    )
    return out
