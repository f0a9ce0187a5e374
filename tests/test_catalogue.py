"""Every textbook model of the catalogue (tests/textbook_catalogue.py), generic tests parametrised over it:
its estimate agrees with an independent reference and its verification has no FAIL and no crash."""

from __future__ import annotations

import numpy as np
import pytest

from derivations import derive
from numerics.checks import check_data
from numerics.estimate import estimate
from numerics.verify import verify
from tests.textbook_catalogue import CAPABILITIES, CASES

IDS = [f"{case.capability}-{case.model.name}" for case in CASES]
CLOSED = {"root", "support", "constraint", "rewrite", "routes", "covariates", "supports"}


def test_every_capability_has_two_models_or_more():
    counts = {cap: sum(case.capability == cap for case in CASES) for cap in CAPABILITIES}
    assert min(counts.values()) >= 2, counts
    assert len({case.model.name for case in CASES}) >= 19  # models, each counted once


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_estimate_agrees_with_an_independent_reference(case):
    d = derive(case.model)
    if case.capability in CLOSED:
        assert d.estimate is not None, d.no_closed_form
    data = check_data(case.model, seed=11)
    found = estimate(d, data)
    assert found.converged and found.values is not None, found.reason
    assert found.method == ("closed form" if case.capability in CLOSED else "numerical")
    reference = case.model.peer(data)
    tol = case.model.tolerances.get("peer", 1e-6)
    for name, value in reference.items():
        assert found.values[name] == pytest.approx(value, rel=tol, abs=tol), name


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_verification_has_no_fail_and_no_crash(case):
    with np.errstate(all="ignore"):
        result = verify(case.model)
    assert result.passed, result.table()
    assert not [c for c in result.checks if "crashed" in c.detail]
    assert {c.check: c.status for c in result.checks}["peer"] == "PASS"


def test_a_wrong_estimate_at_a_support_bound_fails_the_optimizers_and_the_peer():
    from dataclasses import replace

    from tests.textbook_catalogue import uniform_0_theta

    d = derive(uniform_0_theta())
    (theta,) = d.params
    wrong = replace(d, estimate={theta: d.estimate[theta] * 1.01})  # barely above the sample maximum
    failed = {c.check for c in verify(wrong).checks if c.status == "FAIL"}
    assert {"scipy_optimize", "torch_optim", "peer"} <= failed


SUPPORT_SHEET = """
from derivations.sheet import Estimate, Sheet
from tests.textbook_catalogue import pareto, uniform_0_theta

SHEET = Sheet(
    title="Order statistics",
    questions=(
        Estimate("q1", "The MLE of theta for Uniform(0, theta)?", uniform_0_theta()),
        Estimate("q2", "The MLE of the Pareto scale and shape?", pareto()),
    ),
)
"""


@pytest.mark.build
def test_a_maximum_at_a_support_bound_is_shown_with_its_monotonicity_argument_and_proved(tmp_path):
    import json

    from reports.cli import main

    sheet = tmp_path / "order_sheet.py"
    sheet.write_text(SUPPORT_SHEET)
    out = tmp_path / "report"
    assert main(["--sheet", str(sheet), "--out", str(out), "--format", "md"]) == 0
    records = json.loads((out / "steps.json").read_text())
    assert all(r["status"] == "proved" for r in records if r.get("claims"))
    bound_steps = [r for r in records if r["step"].startswith("Support bound")]
    assert [r["question"] for r in bound_steps] == ["q1", "q2"]
    shown = (out / "report.md").read_text()
    assert r"\hat{\theta} = x_{(n)}" in shown and r"\hat{x_{m}} = x_{(1)}" in shown
