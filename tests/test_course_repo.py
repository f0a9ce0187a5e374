"""mlemap where a course keeps its sheets: a repository with its own `sheets`, `reports` and `tests` packages and a
conftest, using the installed package (this venv's install) through the `mlemap` command and the pytest helpers.
Nothing mlemap installs may shadow the course's own modules: before the rename to one import name, mlemap
installed top-level `sheets`, `reports`, `numerics` and `derivations`, and the course's `python -m pytest` failed
with "cannot import name 'DEFAULT_SHEET' from 'sheets'"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MLEMAP = Path(sys.executable).parent / "mlemap"  # the console script pip installed beside this interpreter
CALLS = [2, 0, 3, 1, 4, 2]  # the week's observed data: the MLE of lambda is their mean, 2

WEEK5 = """
    # the course's sheet, importing from the installed package only
    from dataclasses import replace

    from mlemap import Estimate, Sheet
    from mlemap.catalogue import POISSON

    CALLS = {calls}
    CALLS_MODEL = replace(POISSON, observed={{"x": CALLS}})  # the catalogue's model at this week's data

    SHEET = Sheet(
        title="Week 5: calls per hour",
        questions=(Estimate("q1", r"What is the MLE of $\\lambda$?", CALLS_MODEL),),
        peers={{"q1.lambda_mle": lambda: {peer}}},
    )
"""
RIGHT_PEER = "sum(CALLS) / len(CALLS)"  # the MLE, computed without mlemap

COURSE_FILES = {
    "sheets/__init__.py": 'WEEKS = ("week5",)  # the course\'s own sheets package, which mlemap must not shadow\n',
    "reports/__init__.py": 'FOOTER = "Stats 101"  # the course\'s own reports package\n',
    "tests/__init__.py": "",
    "conftest.py": """
        from pathlib import Path

        import pytest

        ROOT = Path(__file__).parent


        @pytest.fixture
        def week5_path():
            return ROOT / "sheets" / "week5.py"
    """,
    "tests/test_week5.py": """
        from pathlib import Path

        import pytest
        from mlemap.numerics.testing import assert_passed, sheet_cases

        from reports import FOOTER
        from sheets import WEEKS
        from sheets.week5 import SHEET

        WEEK5 = Path(__file__).parent.parent / "sheets" / "week5.py"


        @pytest.mark.parametrize("result", sheet_cases(WEEK5))
        def test_week5(result):
            assert_passed(result)


        def test_the_course_packages_are_its_own(week5_path):
            assert WEEKS == ("week5",) and FOOTER == "Stats 101"
            assert SHEET.title.startswith("Week 5") and week5_path == WEEK5
    """,
}


def course_repository(root: Path, peer: str = RIGHT_PEER) -> Path:
    for name, text in COURSE_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip())
    (root / "sheets" / "week5.py").write_text(textwrap.dedent(WEEK5.format(calls=CALLS, peer=peer)).lstrip())
    return root


def in_course(root: Path, *cmd: str) -> subprocess.CompletedProcess:
    """A command run from the course repository, as its CI would: no PYTHONPATH pointing into mlemap's clone."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "MLEMAP_NO_CACHE"}}
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return course_repository(tmp_path_factory.mktemp("course"))


def test_the_mlemap_script_is_installed_beside_the_interpreter():
    assert MLEMAP.is_file() and os.access(MLEMAP, os.X_OK), f"no mlemap script at {MLEMAP}: pip install -e ."


def test_nothing_installed_shadows_the_course_s_own_packages(course):
    probe = (
        "import importlib.util, json; "
        "print(json.dumps({n: getattr(importlib.util.find_spec(n), 'origin', None) "
        "for n in ('sheets', 'reports', 'tests', 'numerics', 'derivations')}))"
    )
    found = json.loads(in_course(course, sys.executable, "-c", probe).stdout)
    assert found["sheets"] == str(course / "sheets" / "__init__.py")
    assert found["reports"] == str(course / "reports" / "__init__.py")
    assert found["tests"] == str(course / "tests" / "__init__.py")
    assert found["numerics"] is None and found["derivations"] is None, found


def test_mlemap_verify_checks_the_course_s_sheet(course):
    out = in_course(course, str(MLEMAP), "verify", "--sheet", "sheets/week5.py")
    assert out.returncode == 0, out.stderr
    assert "q1.lambda_mle" in out.stdout and "= 2\n" in out.stdout  # the MLE at the week's data: their mean
    assert " FAIL" not in out.stdout and "answer q1.lambda_mle" in out.stdout
    assert not (course / "build").exists(), "verify wrote a file unasked"


def test_mlemap_report_writes_the_course_s_report(course):
    out = in_course(course, str(MLEMAP), "report", "--sheet", "sheets/week5.py", "--format", "md", "--out", "out/w5")
    assert out.returncode == 0, out.stderr
    text = (course / "out" / "w5" / "report.md").read_text()
    assert text.startswith("# Week 5: calls per hour")
    answers = {row["key"]: row for row in json.loads((course / "out" / "w5" / "answers.json").read_text())}
    assert answers["q1.lambda_mle"]["value"] == sum(CALLS) / len(CALLS)


def test_the_course_s_pytest_suite_passes_with_the_helpers(course):
    out = in_course(course, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "test_week5[poisson-autograd]" not in out.stdout  # passed quietly: the summary only
    passed = int(out.stdout.strip().splitlines()[-1].split()[0])
    assert passed >= 10  # a test per model and check, and the test of the course's own packages


def test_a_wrong_answer_fails_verify_and_the_course_s_pytest(tmp_path):
    wrong = course_repository(tmp_path, peer=f"{RIGHT_PEER} + 0.5")  # a peer off by a half: the check must fail
    verified = in_course(wrong, str(MLEMAP), "verify", "--sheet", "sheets/week5.py")
    assert verified.returncode == 1, verified.stderr
    assert any(line.split()[1:2] == ["answer"] and "FAIL" in line.split() for line in verified.stdout.splitlines())
    tested = in_course(wrong, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert tested.returncode == 1 and "1 failed" in tested.stdout, tested.stdout[-3000:]
    assert "q1.lambda_mle" in tested.stdout
