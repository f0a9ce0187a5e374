"""The CI recipes run on GitHub as written: mlemap's own workflow and the course recipe are valid by GitHub's
workflow schema (check-jsonschema's vendored copy) and clean by zizmor; their actions are the majors that run on
Node 24; nothing is apt-installed that ubuntu-latest lacks; the caches are keyed by the Python version and the
lock of dependencies; and the course recipe's loop finds sheets by their SHEET, runs them all, reports every
failure and then fails. Each check is also fed a broken workflow, which it must refuse."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_course_repo import course_repository

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / ".github" / "workflows" / "ci.yml"
COURSE = ROOT / "examples" / "course-ci.yml"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"
BIN = Path(sys.executable).parent  # the test environment's scripts: check-jsonschema, zizmor, mlemap
NODE24 = {"actions/checkout": 5, "actions/setup-python": 6, "actions/cache": 5, "actions/upload-artifact": 6}


def tool(name: str) -> str:
    path = BIN / name
    if not path.is_file():
        pytest.fail(f"{name} is not installed beside {sys.executable}: it is in pyproject's test dependency group")
    return str(path)


def load(path: Path) -> dict:
    from ruamel.yaml import YAML  # check-jsonschema's own YAML reader

    return YAML(typ="safe").load(path.read_text())


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def schema_errors(path: Path) -> subprocess.CompletedProcess:
    cmd = [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def zizmor(path: Path) -> subprocess.CompletedProcess:
    cmd = [tool("zizmor"), "--offline", "--no-progress", "--config", str(ZIZMOR_CONFIG), str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def old_actions(workflow: dict) -> list[str]:
    """Each `uses:` of an action below the first major that runs on Node 24 (NODE24)."""
    found = []
    for step in steps(workflow):
        name, _, ref = step.get("uses", "").partition("@")
        major = re.fullmatch(r"v(\d+)(\.\d+)*", ref)
        if name in NODE24 and (major is None or int(major.group(1)) < NODE24[name]):
            found.append(step["uses"])
    return found


def missing_apt_packages(text: str) -> list[str]:
    """apt packages the recipe installs that ubuntu-latest has no install candidate for."""
    installs = re.findall(r"apt-get install ([^\n;&|]*)", text)
    return [word for line in installs for word in line.split() if word in {"chromium", "chromium-browser"}]


@pytest.mark.parametrize("path", [CI, COURSE], ids=["ci", "course"])
def test_the_recipe_is_valid_by_githubs_workflow_schema_and_clean_by_zizmor(path):
    valid = schema_errors(path)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    audit = zizmor(path)
    assert audit.returncode == 0 and "No findings" in audit.stdout + audit.stderr, audit.stdout + audit.stderr


def test_a_workflow_broken_in_its_structure_fails_the_schema(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(CI.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1))
    out = schema_errors(broken)
    assert out.returncode == 1 and "runs-on" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("change", "audit"),
    [
        (  # a pull request's title pasted into a shell script: code injection
            ("- run: pip install nox && nox -s lint", '- run: echo "${{ github.event.pull_request.title }}"'),
            "template-injection",
        ),
        (("actions/cache@v5", "someone/cache@v5"), "unpinned-uses"),  # another's action must be pinned to a commit
        (("with: { persist-credentials: false }", "with: { fetch-depth: 0 }"), "artipacked"),
    ],
    ids=["injection", "unpinned", "credentials"],
)
def test_a_workflow_with_a_security_flaw_fails_zizmor(tmp_path, change, audit):
    broken = tmp_path / "broken.yml"
    old, new = change
    assert old in CI.read_text()
    broken.write_text(CI.read_text().replace(old, new, 1))
    assert schema_errors(broken).returncode == 0  # still a valid workflow: only zizmor can tell
    out = zizmor(broken)
    assert out.returncode != 0 and audit in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("path", [CI, COURSE], ids=["ci", "course"])
def test_the_recipes_use_node24_actions_and_no_missing_apt_package(path):
    workflow = load(path)
    assert old_actions(workflow) == []
    assert missing_apt_packages(path.read_text()) == []
    assert {s["uses"].partition("@")[0] for s in steps(workflow) if "uses" in s} <= set(NODE24)


def test_the_checks_of_versions_and_packages_find_what_the_recipes_used_to_say():
    old = {"jobs": {"j": {"steps": [{"uses": "actions/checkout@v4"}, {"uses": "actions/cache@v4.2.0"}]}}}
    assert old_actions(old) == ["actions/checkout@v4", "actions/cache@v4.2.0"]
    assert old_actions({"jobs": {"j": {"steps": [{"uses": "actions/checkout@main"}]}}}) == ["actions/checkout@main"]
    assert missing_apt_packages("sudo apt-get install -y latexmk chromium") == ["chromium"]


def test_mlemaps_caches_are_keyed_by_the_python_version_and_the_lock():
    workflow = load(CI)
    for step in steps(workflow):
        options = step.get("with", {})
        if options.get("cache") == "pip":  # setup-python's own key: its Python version and these files' hash
            assert options["cache-dependency-path"].split() == ["pyproject.toml", "constraints.txt"], step
    (derivations,) = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/cache@")]
    key = derivations["with"]["key"]
    assert "steps.python.outputs.python-version" in key
    assert "'constraints.txt'" in key and "'pyproject.toml'" in key and "'derivations/**/*.py'" in key
    job = next(j for j in workflow["jobs"].values() if derivations in j["steps"])
    assert any(s.get("id") == "python" and s["uses"].startswith("actions/setup-python@") for s in job["steps"])


def test_the_course_recipe_needs_no_requirements_file():
    workflow = load(COURSE)
    assert all(s.get("with", {}).get("cache") is None for s in steps(workflow))  # `cache: pip` wants one
    (cache,) = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/cache@")]
    assert "steps.python.outputs.python-version" in cache["with"]["key"]


# --- the course recipe's loop, run for real on a course repository ------------------------------------------
def sheet_loop() -> str:
    (step,) = [s for s in steps(load(COURSE)) if s.get("name") == "Verify every sheet"]
    return step["run"]


def run_loop(course: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH"}}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `mlemap` as pip installed it
    return subprocess.run(
        ["bash", "-e", "-c", sheet_loop()], cwd=course, env=env, capture_output=True, text=True, timeout=900
    )


HELPER = """
    # a helper module of the course: it names SHEET only inside a string and a function, so it is no sheet
    TEMPLATE = "SHEET = ..."


    def make():
        SHEET = None
        return SHEET
"""


def test_the_course_loop_runs_every_sheet_reports_every_failure_and_then_fails(tmp_path):
    course = course_repository(tmp_path)  # sheets/__init__.py and a right sheets/week5.py
    (course / "sheets" / "helpers.py").write_text(textwrap.dedent(HELPER))
    week5 = (course / "sheets" / "week5.py").read_text()
    (course / "sheets" / "week6.py").write_text(week5.replace("lambda: sum(CALLS) / len(CALLS)", "lambda: 2.5"))
    (course / "extra").mkdir()
    (course / "extra" / "week7.py").write_text(week5.replace("lambda: sum(CALLS) / len(CALLS)", "lambda: 1.5"))
    out = run_loop(course)
    assert out.returncode == 1, out.stdout + out.stderr
    errors = [line for line in out.stdout.splitlines() if line.startswith("::error")]
    assert errors == [
        "::error file=extra/week7.py::mlemap verify failed for extra/week7.py",
        "::error file=sheets/week6.py::mlemap verify failed for sheets/week6.py",
    ]
    assert out.stdout.rstrip().endswith("2 sheet(s) failed")
    junit = sorted(p.name for p in (course / "junit").iterdir())
    assert junit == ["extra-week7.xml", "sheets-week5.xml", "sheets-week6.xml"]  # all ran; no helper, no __init__


def test_the_course_loop_passes_a_course_whose_sheets_all_pass_and_fails_one_without_sheets(tmp_path):
    course = course_repository(tmp_path / "good")
    out = run_loop(course)
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(p.name for p in (course / "junit").iterdir()) == ["sheets-week5.xml"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.py").write_text("x = 1\n")
    none = run_loop(empty)
    assert none.returncode == 1 and "::error::no Python file defines SHEET" in none.stdout
