"""Verification inside a user's own test suite, and as JUnit XML for CI.

from mlemap.numerics.testing import assert_verified, sheet_cases
def test_my_model(): assert_verified(MY_MODEL)

@pytest.mark.parametrize("result", sheet_cases("sheets/my_sheet.py"))   # one test per model and check
def test_my_sheet(result): assert_passed(result)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from xml.etree import ElementTree as ET

from mlemap.derivations.engine import Derivation
from mlemap.derivations.model import Model
from mlemap.derivations.sheet import Sheet, load_sheet
from mlemap.numerics.checks import CheckResult
from mlemap.numerics.verify import Verification, format_table, verify, verify_sheet


class VerificationFailed(AssertionError):
    """Some check of a derivation failed: the message is the table of the failures."""


def assert_verified(model: Model | Derivation, seed: int = 0) -> Verification:
    """Every check of the model passes (or is skipped with a reason); else VerificationFailed with the table."""
    result = verify(model, seed)
    if not result.passed:
        raise VerificationFailed(
            f"{result.name}: {len(result.failures)} check(s) failed\n" + format_table(result.failures)
        )
    return result


def assert_passed(result: CheckResult) -> None:
    """One check, as sheet_cases gives them: a FAIL raises VerificationFailed naming its error and tolerance; a
    SKIP is pytest's skip with its reason (a check that did not apply, or needs torch, is no pass)."""
    if result.status == "SKIP":
        import pytest  # assert_passed runs in a user's pytest suite

        pytest.skip(result.detail or "the check did not apply")
    if result.status == "FAIL":
        raise VerificationFailed(
            f"{result.model}, {result.check}: error {result.error:.3e} > tolerance {result.tolerance:.1e} {result.detail}".rstrip()
        )


def sheet_cases(sheet: Sheet | str | Path, seed: int = 0) -> list:
    """pytest parameters, one per model and check of the sheet (answers included), with ids 'model-check'.
    The checks run once, when the tests are collected."""
    import pytest  # only for a user's test suite: mlemap itself does not need pytest to run

    chosen = sheet if isinstance(sheet, Sheet) else load_sheet(Path(sheet))
    verifications, _ = verify_sheet(chosen, seed)
    return [pytest.param(r, id=f"{r.model}-{r.check}".replace(" ", "_")) for v in verifications for r in v.checks]


def junit_xml(results: Iterable[CheckResult], suite: str) -> bytes:
    """The checks as a JUnit XML report: a testcase per check (classname the model), FAIL a failure, SKIP skipped."""
    results = list(results)
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(sum(r.status == "FAIL" for r in results)),
        skipped=str(sum(r.status == "SKIP" for r in results)),
    )
    for r in results:
        case = ET.SubElement(root, "testcase", classname=r.model, name=r.check)
        if r.status == "FAIL":
            ET.SubElement(case, "failure", message=f"error {r.error:.3e} > tolerance {r.tolerance:.1e}").text = r.detail
        elif r.status == "SKIP":
            ET.SubElement(case, "skipped", message=r.detail)
        else:
            ET.SubElement(
                case, "system-out"
            ).text = f"error {r.error:.3e} <= tolerance {r.tolerance:.1e} {r.detail}".rstrip()
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
