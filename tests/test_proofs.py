"""Every displayed step of a report is proved when the report is built: steps.json lists them, each one
re-proved here by an independent method, and a step that does not hold stops the build, naming it. The prover
itself is tested on equalities that hold and on the same ones off by a hair."""

from __future__ import annotations

import json
import textwrap

import pytest
import sympy as sp

from mlemap.catalogue import GAUSSIAN, x
from mlemap.derivations import proof
from mlemap.derivations.engine import derive, n_obs
from tests.reprove import reproved

GAUSSIAN_SHEET = """
import sympy as sp
from mlemap.derivations.engine import n_obs as n
from mlemap.derivations.proof import over_observations
from mlemap.derivations.sheet import Estimate, Sheet
from mlemap.catalogue import GAUSSIAN, x

xbar = sp.Symbol(r"\\bar{x}", real=True)
MEANS = {xbar: over_observations(x, (x,), n) / n}
SHEET = Sheet(
    title="One Gaussian",
    questions=(
        Estimate("q1", "The MLE of mu and sigma^2?", GAUSSIAN,
                 familiar={"mu": xbar, "sigma^2": over_observations((x - xbar) ** 2, (x,), n) / DIVISOR}, where=MEANS),
    ),
)
"""


def sheet_file(tmp_path, divisor: str):
    path = tmp_path / "gaussian_sheet.py"
    path.write_text(textwrap.dedent(GAUSSIAN_SHEET).replace("DIVISOR", divisor))
    return path


@pytest.mark.build
def test_every_step_of_a_build_is_proved_and_reproved_independently(tmp_path):
    from mlemap.reports.cli import main

    out = tmp_path / "report"
    assert main(["--sheet", str(sheet_file(tmp_path, "n")), "--out", str(out), "--format", "md"]) == 0
    records = json.loads((out / "steps.json").read_text())
    assert {r["question"] for r in records} == {"q1"} and len(records) >= 5
    shown = (out / "report.md").read_text()
    assert all(r["status"] == "proved" and all(line in shown for line in r["latex"].split("\n")) for r in records)
    assert all(reproved(r, seed) for r in records for seed in (0, 1))
    (estimate,) = [r for r in records if r["step"] == "MLE (score = 0)"]  # the familiar forms, proved there
    assert r"\hat{\mu} = \bar{x}" in estimate["latex"]
    assert r"\hat{\sigma}^{2} = \frac{\sum_{i=1}^{n} \left({x}_{i} - \bar{x}\right)^{2}}{n}" in estimate["latex"]


@pytest.mark.build
def test_a_step_that_does_not_hold_stops_the_build_naming_it(tmp_path, capsys):
    from mlemap.reports.cli import main

    out = tmp_path / "report"
    assert main(["--sheet", str(sheet_file(tmp_path, "(n - 1)")), "--out", str(out), "--format", "md", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        r"error: step 'prove' failed: UnprovedStep: question q1, step 'MLE (score = 0)': SymPy cannot prove "
    ), err
    assert not out.exists()


# The prover itself, fed equalities that hold and the same ones off by a hair: an exact zero is told from a
# number 10^-25 away, on each of its routes (a root of a quintic, a nested radical, logarithms, symbols).

ROOT = sp.CRootOf(x**5 - x - 1, 0)  # r^5 = r + 1, so 1/r = r^4 - 1
HAIR = sp.Rational(1, 10**25)
a, b = sp.symbols("a b")
ZEROS = [
    sp.Integer(0),
    ROOT**5 - ROOT - 1,
    1 / ROOT - ROOT**4 + 1,
    sp.sqrt(5 + 2 * sp.sqrt(6)) - sp.sqrt(2) - sp.sqrt(3),
    sp.log(6) - sp.log(2) - sp.log(3),
    sp.log(a * b) - sp.log(a) - sp.log(b),  # only with the logarithm expanded for any sign of a and b
    (a + b) ** 2 - a**2 - 2 * a * b - b**2,
]


@pytest.mark.parametrize("zero", ZEROS, ids=str)
def test_an_exact_zero_is_zero_and_a_hair_away_is_not(zero):
    assert proof.is_zero(zero)
    assert not proof.is_zero(zero + HAIR)
    assert not proof.is_zero(zero + HAIR * a)


@pytest.mark.parametrize("number", [sp.Rational(1, 3), sp.exp(HAIR) - 1, HAIR, ROOT - 1])
def test_a_nonzero_number_is_not_zero(number):
    assert not proof.is_zero(number)


def test_a_transcendental_number_a_hair_from_zero_is_not_zero():
    assert not proof.is_zero(sp.log(6) - sp.log(2) - sp.log(3) + sp.exp(-100))


def test_statistics_are_named_as_the_derivation_names_them():
    deriv = derive(GAUSSIAN)
    for st in deriv.statistics:
        assert proof.statistic_symbol(st.expr, {}) == st.symbol  # name and sign: the same SymPy symbol
    assert proof.statistic_symbol(sp.Integer(1), {}) is n_obs
    own = sp.Symbol("T")
    assert proof.statistic_symbol(x**3, {x**3: own}) is own
    assert proof.statistic_symbol(x**3, {}).is_nonnegative is None
    assert proof.statistic_symbol(x**3, {}).is_real


def test_sums_over_the_observations_become_statistics_by_linearity():
    s_x, s_xx = sp.symbols("S_x S_xx")
    known = {x: s_x, x**2: s_xx}
    total = proof.over_observations(3 * (x - a) ** 2 + 2, (x,), n_obs)
    assert (
        sp.expand(proof.in_statistics(total, (x,), known) - (3 * s_xx - 6 * a * s_x + 3 * a**2 * n_obs + 2 * n_obs))
        == 0
    )
    m = sp.Symbol("m", positive=True, integer=True)
    partial = proof.over_observations(x, (x,), m)  # not over all n observations: left as it is
    assert proof.in_statistics(partial, (x,), known) == partial


def _holds(lhs, rhs, relation=proof.EQUAL, definitions=()):
    s_x = sp.Symbol("S_x")
    return proof.holds((lhs, rhs, relation), dict(definitions), (x,), {x: s_x}, (a,))


def test_a_claim_holds_through_definitions_that_refer_to_one_another():
    c, d, e = sp.symbols("c d e")
    chain = [(b, c + 1), (c, d + 1), (d, e + 1)]
    assert _holds(b, e + 3, definitions=chain)
    assert not _holds(b, e + 3 + HAIR, definitions=chain)
    xbar = sp.Symbol("xbar")
    mean = [(xbar, proof.over_observations(x, (x,), n_obs) / n_obs)]
    assert _holds(n_obs * xbar, sp.Symbol("S_x"), definitions=mean)
    assert not _holds(n_obs * xbar, sp.Symbol("S_x") + HAIR, definitions=mean)


def test_up_to_a_constant_allows_a_constant_and_nothing_that_varies_with_a_parameter():
    assert _holds(a**2 + sp.log(b), a**2, proof.UP_TO_CONSTANT)
    assert not _holds(a**2 + sp.log(b), a**2, proof.EQUAL)
    assert not _holds(a**2 + HAIR * a, a**2, proof.UP_TO_CONSTANT)


def test_a_matrix_claim_holds_entry_by_entry():
    assert _holds(sp.Matrix([[a, 1], [0, a]]), sp.Matrix([[a, 1], [0, a]]))
    assert not _holds(sp.Matrix([[a, 1], [0, a]]), sp.Matrix([[a, 1], [HAIR, a]]))


def test_a_step_without_claims_is_not_proved():
    assert not proof.Claims((), (x,), (), (a,)).proved()
    assert proof.Claims(((a, a, proof.EQUAL),), (x,), (), (a,)).proved()
    assert not proof.Claims(((a, a + HAIR, proof.EQUAL),), (x,), (), (a,)).proved()


def test_a_proof_is_cached_under_its_own_claims(monkeypatch, tmp_path):
    """With the disk cache on, a false claim never meets the cached verdict of a true one."""
    from tests.conftest import cache_in

    cache_in(monkeypatch, tmp_path)
    a = sp.Symbol("a", real=True)
    for _ in range(2):  # computed, then read back
        assert proof.prove(((a + a, 2 * a, proof.EQUAL),), {}, (x,), {}, (a,))
        assert not proof.prove(((a + a, 3 * a, proof.EQUAL),), {}, (x,), {}, (a,))
    assert len(list(tmp_path.glob("proof-*.json"))) == 2


def test_admissible_keeps_a_number_inside_the_domain_and_drops_a_root_outside_at_every_sampled_statistic():
    from mlemap.derivations.model import Model, Parameter
    from mlemap.derivations.solve import admissible

    theta, total = sp.Symbol("theta", positive=True), sp.Symbol("S_x", nonnegative=True)
    model = Model("m", "m", (x,), (Parameter(theta, sp.Interval.open(0, 1)),), theta)
    half, negative, between = {theta: sp.Rational(1, 2)}, {theta: -total - 1}, {theta: total / (total + 1)}
    assert admissible(model, [half, negative]) == [half]  # -S - 1 < 0 whatever the data
    assert admissible(model, [between, negative]) == [between]
    assert admissible(model, [half, between]) == [half, between]  # both can be inside: SymPy's order kept
    below = {theta: total - sp.sqrt(total**2 + 1)}  # negative for every S, which SymPy does not prove
    assert admissible(model, [below, between]) == [between]
    unsigned = sp.Symbol("S_y", real=True)  # a sum of data of either sign
    scale = Model("m", "m", (x,), (Parameter(theta, sp.Interval.open(0, sp.oo)),), theta)
    either = [{theta: unsigned}, {theta: -unsigned}]
    assert admissible(scale, either) == either  # each is positive for some data: neither is dropped
