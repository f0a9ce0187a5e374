r"""A sheet that stresses the report's layout (tests/test_layout.py): 40 models, copies of the catalogue's and
Exercise 4's under new names, each with a title of about 150 characters holding LaTeX, and an Estimate question
each whose section title and answer labels are as long. Its front-page table, table of contents and
verification table run over several pages, and its long headings and table cells must wrap inside the margins."""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from mlemap.catalogue import EXPONENTIAL, GAUSSIAN, LINEAR_REGRESSION, NORMAL_NORMAL, POISSON
from mlemap.derivations.sheet import Estimate, Sheet
from mlemap.sheets.exercise4 import CALLS_MODEL, GEOMETRIC, LOGNORMAL, RAYLEIGH

# models with a prior once each (their MAP's explanation derives two more models: slow), then the others in turn
ONCE = (NORMAL_NORMAL, CALLS_MODEL)
BASES = (GAUSSIAN, LINEAR_REGRESSION, POISSON, EXPONENTIAL, RAYLEIGH, GEOMETRIC, LOGNORMAL)
COUNT = 40
# about 150 characters, with inline math that may break only at its relations and operators
LONG = (
    r"restated at length, with $\hat\theta = \arg\max_{\theta} \sum_{i=1}^{n} \log p(x_i \mid \theta)$ "
    r"and $\frac{\partial \ell}{\partial \theta} = 0$ at the optimum"
)


def _model(k: int, base):
    return replace(base, name=f"{base.name}_{k}", title=f"Model {k}: {base.title}, {LONG}")


MODELS = [_model(k, base) for k, base in enumerate(ONCE + tuple(BASES[k % len(BASES)] for k in range(COUNT - 2)))]

SHEET = Sheet(
    title=r"Layout stress sheet: forty models with long titles, $\sum_{i=1}^{n} \log p(x_i \mid \theta)$ everywhere",
    questions=tuple(
        Estimate(
            f"q{k}",
            f"Question {k} on {m.title}: what is the estimate of every parameter, and why is it a maximum?",
            m,
            labels={p.name: f"Estimate of ${sp.latex(p.symbol)}$ for model {k}, {LONG}" for p in m.params},
            title=f"Question {k}: {m.title}",
        )
        for k, m in enumerate(MODELS)
    ),
)
