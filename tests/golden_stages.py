"""The reviewed stage-by-stage display of a derivation (`mlemap derive` in a terminal, a Derivation in a
notebook, its estimate as answers.json writes it) for models that show each kind of statistic, and Exercise 3's
answers as a notebook shows them:
tests/golden/stages.txt.

Regenerate after a deliberate change of the display's wording or form, then review the diff:

    python -m tests.golden_stages
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "stages.txt"
WIDTH = "100"  # the terminal's columns: long expressions wrap there


def kumaraswamy_a1():
    """b (1 - x)^(b - 1) on (0, 1): its statistic log(1 - x) prints with spaces."""
    import sympy as sp

    from mlemap.derivations.model import Model, Parameter

    x, b = sp.Symbol("x", positive=True), sp.Symbol("b", positive=True)
    return Model(
        "kumaraswamy_a1",
        "Kumaraswamy, a = 1",
        (x,),
        (Parameter(b, sp.Interval.open(0, sp.oo)),),
        b * (1 - x) ** (b - 1),
        support={x: sp.Interval.open(0, 1)},
    )


def plane():
    """y = a u + b v + unit Gaussian noise: a density conditional on two covariates."""
    import sympy as sp

    from mlemap.derivations.model import Model, Parameter

    u, v, y, a, b = sp.symbols("u v y a b", real=True)
    density = sp.exp(-((y - a * u - b * v) ** 2) / 2) / sp.sqrt(2 * sp.pi)
    return Model(
        "plane", "Regression on two covariates", (u, v, y), (Parameter(a), Parameter(b)), density, covariates=(u, v)
    )


def current() -> str:
    """Each model's terminal text and notebook Markdown, one after the other."""
    os.environ.setdefault("MLEMAP_NO_CACHE", "1")
    os.environ["COLUMNS"] = WIDTH
    import sympy as sp

    from mlemap.catalogue import MODELS
    from mlemap.derivations.engine import derive
    from mlemap.derivations.sheet import answers, load_sheet
    from mlemap.derivations.show import as_text
    from tests import textbook_catalogue as textbook
    from tests.test_textbook import weibull

    models = [MODELS["gaussian"], MODELS["coin_map"], MODELS["cauchy"], textbook.uniform_0_theta()]
    models += [textbook.pareto(), textbook.categorical(), textbook.signed_categorical()]
    models += [MODELS["linear_regression"], kumaraswamy_a1()]
    models += [
        weibull(3),
        weibull(4),
        weibull(sp.Rational(3, 2)),
    ]  # powers x³, x⁴ and x**(3/2) in the statistics' names
    models += [plane(), textbook.tied_poisson()]  # two covariates; two responses
    models += [textbook.bit_named_xy()]  # two statistics whose names would coincide
    parts = []
    for model in models:
        d = derive(model)
        parts += [f"=== {model.name}: terminal ===", as_text(d), f"=== {model.name}: notebook ===", repr(d)]
        parts.append(d._repr_markdown_())
        if d.estimate is not None:  # as answers.json writes an exact answer: the statistics by their names
            parts.append(f"=== {model.name}: exact ===\n" + "\n".join(f"{p} = {v}" for p, v in d.estimate.items()))
    sheet = load_sheet(Path(__file__).parents[1] / "mlemap" / "sheets" / "exercise3.py")
    parts += ["=== exercise3: answers in a notebook ===", answers(sheet)._repr_markdown_()]
    return "\n".join(parts)


if __name__ == "__main__":
    GOLDEN.write_text(current())
    print(f"wrote {GOLDEN}; review the diff before committing")
