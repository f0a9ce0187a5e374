"""The derivation steps a report prints: the right steps in order, each showing the object it names."""

from __future__ import annotations

import pytest
import sympy as sp

from derivations.engine import n_obs
from derivations.registry import derivation

TITLES = {
    "gaussian": [
        "Density of one observation", "Log-density", "Joint log-likelihood in sample statistics", "Score", "Hessian",
        "MLE (score = 0)", "Second-order check",
    ],
    "coin_map": [
        "Density of one observation", "Log-density", "Joint log-likelihood in sample statistics", "Log-prior",
        "Log-posterior (up to a constant)", "Score", "Hessian", "Statistics of the observed data",
        "Stationary points inside the domain", "MAP (score = 0)", "Second-order check",
    ],
    "cauchy": ["Density of one observation", "Log-density", "Joint log-likelihood"],
}


@pytest.mark.parametrize("name", sorted(TITLES))
def test_step_titles_in_order(name):
    assert [s.title for s in derivation(name).steps] == TITLES[name]


def _by_title(d):
    return {s.title: s for s in d.steps}


def test_each_step_shows_its_object(model_derivation):
    d = model_derivation
    steps = _by_title(d)
    theta = ", ".join(sp.latex(p) for p in d.params)
    assert steps["Density of one observation"].latex.endswith(" = " + sp.latex(d.model.density))
    assert steps["Log-density"].latex.endswith(" = " + sp.latex(d.log_density))
    assert steps["Log-density"].latex.startswith(r"\log p(")
    if not d.separable:
        assert steps["Joint log-likelihood"].latex == rf"\ell({theta}) = {sp.latex(d.loglik)}"
        return
    joint = steps["Joint log-likelihood in sample statistics"]
    assert joint.latex.endswith(" = " + d.latex(d.loglik)) and joint.latex.startswith(rf"\ell({theta}) = ")
    for stat in d.statistics:
        if stat.symbol != n_obs:
            assert f"${stat.latex}$" in joint.text
    if d.model.prior is not None:
        assert steps["Log-prior"].latex.endswith(" = " + sp.latex(d.log_prior))
        assert steps["Log-posterior (up to a constant)"].latex.endswith(d.latex(d.objective) + " + C")
    score = steps["Score"].latex
    assert score.endswith(d.latex(d.score) if len(d.params) > 1 else d.latex(d.score[0]))
    assert steps["Hessian"].latex.endswith(" = " + d.latex(d.hessian))
    for sym, value in d.observed_statistics.items():
        assert f"{d.latex(sym)} = {sp.latex(value)}" in steps["Statistics of the observed data"].latex
    final = steps[f"{d.kind} (score = 0)"]
    for p, v in d.estimate.items():
        assert rf"\hat{{{sp.latex(p)}}} = {d.latex(v)}" in final.latex
    second = steps["Second-order check"]
    assert d.latex(d.second_order.hessian) in second.latex
    for k, minor in enumerate(d.second_order.minors, start=1):
        assert f"D_{k} = {d.latex(minor)}" in second.latex
    assert ("strict maximum" in second.text) == (d.second_order.status == "proved")
