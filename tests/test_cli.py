"""The command line's conventions: `mlemap --version`; results on standard output and messages on standard error;
`--json -` is standard output and no file is written unless an option names it; `--quiet`; help in the user's
terms; a failed LaTeX step keeps the Markdown, HTML and answers and report.log, and quotes LaTeX's first error
with its line; without torch the checks that need it SKIP, saying so on one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from mlemap.numerics.torch_optional import INSTALL_TORCH, TORCH_MISSING
from mlemap.reports import build as build_module
from mlemap.reports import console, render
from mlemap.reports.build import BuildError, first_latex_error
from tests.test_bad_inputs import snapshot
from tests.test_package import POISSON_SHEET

ROOT = Path(__file__).resolve().parent.parent
HAS_LATEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None
WRONG_PEER_SHEET = POISSON_SHEET.replace(
    'SHEET = Sheet(title="One Poisson", questions=(Estimate("q1", "The MLE of lambda?", POISSON),))',
    "from dataclasses import replace\n"
    'CALLS = replace(POISSON, observed={"x": [1, 2, 6]})\n'
    'SHEET = Sheet(title="One Poisson", questions=(Estimate("q1", "The MLE of lambda?", CALLS),),'
    ' peers={"q1.lambda_mle": lambda: 3.5})  # the MLE is 3: this peer is wrong on purpose',
)


def mlemap(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlemap", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A working directory holding one sheet, nothing else."""
    (tmp_path / "poisson_sheet.py").write_text(textwrap.dedent(POISSON_SHEET))
    return tmp_path


def test_the_command_prints_its_version():
    out = mlemap("--version")
    assert (out.returncode, out.stdout, out.stderr) == (0, f"mlemap {version('mlemap')}\n", "")


def test_verify_writes_nothing_unasked_and_json_dash_is_standard_output(workdir):
    before = snapshot(workdir)
    plain = mlemap("verify", "--sheet", "poisson_sheet.py", cwd=workdir)
    assert plain.returncode == 0 and plain.stdout.rstrip().endswith("12 passed, 0 failed"), plain.stderr
    assert snapshot(workdir) == before, "verify wrote a file unasked"
    dashed = mlemap("verify", "--sheet", "poisson_sheet.py", "--json", "-", cwd=workdir)
    payload = json.loads(dashed.stdout)  # standard output is the JSON and nothing else
    assert payload["passed"] is True and len(payload["checks"]) == 12
    assert [a["key"] for a in payload["answers"]] == ["q1.lambda_mle"]
    assert snapshot(workdir) == before, "--json - wrote a file (named '-'?)"
    junit = mlemap("verify", "--sheet", "poisson_sheet.py", "--junit", "-", "--json", "v.json", cwd=workdir)
    assert len(ET.fromstring(junit.stdout).findall("testcase")) == 12
    assert json.loads((workdir / "v.json").read_text()) == payload  # a file where one is named
    both = mlemap("verify", "--json", "-", "--junit", "-", cwd=workdir)
    assert both.returncode == 2 and both.stderr.strip().splitlines()[-1].endswith("name a file for one of them")


def test_check_json_dash_is_standard_output_only(tmp_path, capsys, monkeypatch):
    from mlemap.numerics.check import main

    monkeypatch.chdir(tmp_path)
    assert main(["task1.mu_mle", "sum(x_i)/(n-1)", "--json", "-"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["verdict"] == "incorrect" and out.err == ""
    assert list(tmp_path.iterdir()) == []


def test_report_progress_goes_to_standard_error_and_quiet_silences_it(workdir):
    loud = mlemap("report", "--sheet", "poisson_sheet.py", "--format", "md", "--out", "r", cwd=workdir)
    assert loud.returncode == 0 and loud.stdout == "", loud.stderr
    lines = loud.stderr.splitlines()
    assert lines[0].startswith("[derive   ]") and lines[-1].startswith(f"wrote {workdir / 'r'} in ")
    quiet = mlemap("report", "--sheet", "poisson_sheet.py", "--format", "md", "--out", "r", "--quiet", cwd=workdir)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert (workdir / "r" / "report.md").read_text().startswith("# One Poisson")
    refused = mlemap("report", "--sheet", "poisson_sheet.py", "--out", "poisson_sheet.py", "--quiet", cwd=workdir)
    assert refused.returncode == 2 and refused.stderr.startswith("error: --out ")  # errors are never silenced


def test_verify_quiet_prints_only_the_failed_checks_and_the_count(workdir):
    quiet = mlemap("verify", "--sheet", "poisson_sheet.py", "--quiet", cwd=workdir)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "12 passed, 0 failed\n", "")
    (workdir / "wrong.py").write_text(textwrap.dedent(WRONG_PEER_SHEET))
    failed = mlemap("verify", "--sheet", "wrong.py", "--quiet", cwd=workdir)
    rows = failed.stdout.splitlines()
    assert failed.returncode == 1 and rows[-1] == "11 passed, 1 skipped, 1 failed", failed.stdout + failed.stderr
    assert [row.split()[:3] for row in rows[2:-1]] == [["poisson", "answer", "q1.lambda_mle"]]
    assert rows[-2].split()[5] == "FAIL" and "scipy" in rows[-2] and failed.stderr == ""  # with its reason


def test_check_and_grade_quiet(tmp_path, capsys):
    from mlemap.numerics.check import main as check
    from mlemap.reports.grade import main as grade

    assert check(["task1.mu_mle", "sum(x_i)/(n-1)"]) == 1
    verdict, *why = capsys.readouterr().out.splitlines()
    assert verdict.startswith("incorrect: ") and why  # the verdict, then where the answer goes wrong
    assert check(["task1.mu_mle", "sum(x_i)/(n-1)", "--quiet"]) == 1
    assert capsys.readouterr() == (verdict + "\n", "")  # the verdict line alone
    (tmp_path / "class.csv").write_text("student,question,answer\ns1,task1.mu_mle,xbar\n")
    assert grade([str(tmp_path / "class.csv"), "--out", str(tmp_path / "g")]) == 0
    assert capsys.readouterr().err == f"graded 1 students into {tmp_path / 'g'}\n"
    assert grade([str(tmp_path / "class.csv"), "--out", str(tmp_path / "g"), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


# --- help in the user's terms ------------------------------------------------------------------------
JARGON = re.compile(r"\bnox\b|Exercise 3|exercise 3|python -m")  # the project's tooling and its own sheet's name


def jargon(text: str) -> list[str]:
    return JARGON.findall(text)


def test_the_jargon_check_finds_what_the_help_used_to_say():
    assert jargon("the sheet file (default: the shipped Exercise 3)") == ["Exercise 3"]
    assert jargon("`nox -s verify`: every check") == ["nox"]
    assert jargon("a Python file defining SHEET (default: the example sheet shipped with mlemap)") == []


@pytest.mark.parametrize("command", ["", "report", "verify", "check", "grade", "derive"])
def test_every_help_speaks_the_users_terms(command, capsys):
    with pytest.raises(SystemExit) as stop:
        console.main([command, "--help"] if command else ["--help"])
    out = capsys.readouterr()
    assert stop.value.code == 0 and out.err == "" and out.out.startswith(f"usage: mlemap {command}".rstrip())
    assert jargon(out.out) == [], out.out
    if command in ("report", "verify", "check", "grade"):
        assert "the example sheet shipped with mlemap" in " ".join(out.out.split())


# --- a failed LaTeX step -----------------------------------------------------------------------------
def test_the_first_latex_error_is_quoted_with_its_source_line():
    log = "This is pdfTeX\n(./report.tex\n! Undefined control sequence.\nl.60 \\undefinedmacro\n{here}\n! Later.\n"
    assert first_latex_error(log) == r"report.tex l.60: ! Undefined control sequence. (at '\undefinedmacro')"
    assert first_latex_error("! Emergency stop.\n<*> report.tex\n") == "LaTeX: ! Emergency stop."
    assert first_latex_error("Output written on report.pdf (3 pages).\n") is None


def broken_latex(*args, **kwargs) -> str:
    """render.latex's document with an undefined command as the first line of its body."""
    text = REAL_LATEX(*args, **kwargs)
    return text.replace("\\begin{document}\n", "\\begin{document}\n\\undefinedmacro{here}\n", 1)


REAL_LATEX = render.latex


@pytest.mark.build
@pytest.mark.skipif(not HAS_LATEX, reason="needs latexmk and pdflatex")
def test_a_failed_latex_step_keeps_everything_but_the_pdf_and_says_where(workdir, capsys, monkeypatch):
    from mlemap.reports.cli import main

    out = workdir / "r"
    argv = ["--sheet", str(workdir / "poisson_sheet.py"), "--out", str(out), "--format", "md,html,pdf", "--quiet"]
    assert main(argv) == 0 and (out / "report.pdf").is_file()
    before = snapshot(workdir)
    requested = "step 'latex' failed: RuntimeError: failure requested"  # not LaTeX's own error: no swap
    with pytest.raises(BuildError, match=requested):
        build_module.build(main_settings(workdir), out, ("md", "html", "pdf"), log=lambda s: None, fail_at="latex")
    assert snapshot(workdir) == before, "a build that failed otherwise in its LaTeX step changed the report"
    capsys.readouterr()
    monkeypatch.setattr(render, "latex", broken_latex)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    line = (out / "report.tex").read_text().splitlines().index(r"\undefinedmacro{here}") + 1
    assert err == (
        f"error: step 'latex' failed: report.tex l.{line}: ! Undefined control sequence. (at '\\undefinedmacro'); "
        f"{out} holds the new report without report.pdf (see its report.log)"
    )
    kept = {p.name for p in out.iterdir()}
    assert kept == {".mlemap-report", "answers.json", "figures", "steps.json"} | {
        f"report.{kind}" for kind in ("md", "html", "tex", "log")
    }  # no report.pdf, and none of LaTeX's auxiliary files
    assert "! Undefined control sequence." in (out / "report.log").read_text()
    assert (out / "report.md").read_bytes() == before["r/report.md"]  # the Markdown, as the good build wrote it
    monkeypatch.undo()
    assert main(argv) == 0 and (out / "report.pdf").is_file()  # the kept report is mlemap's: the next build replaces it


def main_settings(workdir: Path):
    from mlemap.reports.plan import Settings

    return Settings(sheet_path=workdir / "poisson_sheet.py", jobs=1)


# --- torch missing -----------------------------------------------------------------------------------
NO_TORCH = """
import sys


class NoTorch:
    '''The import system as it is without torch installed.'''

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoTorch())
"""


@pytest.fixture
def without_torch(tmp_path_factory) -> dict[str, str]:
    """An environment whose Python cannot import torch: a sitecustomize that every process (a build's workers
    too) runs at start-up."""
    site = tmp_path_factory.mktemp("site")
    (site / "sitecustomize.py").write_text(NO_TORCH)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


TORCH_NOTE = TORCH_MISSING  # the reason every check that needs torch gives


def test_without_torch_verify_skips_the_checks_that_need_it_and_says_so_in_one_line(workdir, without_torch):
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=without_torch, capture_output=True, text=True)
    assert probe.returncode == 1 and "No module named 'torch'" in probe.stderr  # the blocker blocks
    out = mlemap("verify", "--sheet", "poisson_sheet.py", "--json", "-", cwd=workdir, env=without_torch)
    assert out.returncode == 0, out.stderr
    checks = {c["check"]: c for c in json.loads(out.stdout)["checks"]}
    torch_checks = {"autograd", "hessian_autograd", "torch_optim"}
    assert {k for k, c in checks.items() if c["status"] == "SKIP"} == torch_checks
    assert all(checks[k]["detail"] == f"skipped: {TORCH_NOTE}" for k in torch_checks)
    # the rest still ran: the checks without torch are the same as with it
    assert {k for k, c in checks.items() if c["status"] == "PASS"} >= {"finite_difference", "scipy_optimize", "peer"}
    assert out.stderr == f"note: 3 check(s) skipped: {TORCH_NOTE}; to run them: {INSTALL_TORCH}\n"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in out.stderr  # the CPU build, not CUDA's
    table = mlemap("verify", "--sheet", "poisson_sheet.py", cwd=workdir, env=without_torch)
    assert table.stdout.rstrip().endswith("9 passed, 3 skipped, 0 failed"), table.stdout
    assert snapshot(workdir) == {"poisson_sheet.py": (workdir / "poisson_sheet.py").read_bytes()}


def test_without_torch_a_wrong_answer_still_fails(workdir, without_torch):
    """Skipping the torch checks must not let a wrong closed form through: the wrong peer still fails."""
    (workdir / "wrong_sheet.py").write_text(textwrap.dedent(WRONG_PEER_SHEET))
    out = mlemap("verify", "--sheet", "wrong_sheet.py", "--quiet", cwd=workdir, env=without_torch)
    assert out.returncode == 1 and out.stdout.rstrip().endswith("skipped, 1 failed"), out.stdout + out.stderr


def test_without_torch_the_report_of_the_second_sheet_builds_in_markdown(tmp_path, without_torch):
    """pip install mlemap, no extra: Exercise 4's Markdown report builds, gradient ascent along the derived
    score, torch.optim's part left out with the reason; its answers are the ones built with torch."""
    sheet = ROOT / "mlemap" / "sheets" / "exercise4.py"
    out = mlemap(
        "report", "--sheet", str(sheet), "--out", "R", "--format", "md", "--quiet", cwd=tmp_path, env=without_torch
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    report = (tmp_path / "R" / "report.md").read_text()
    assert f"torch.optim's optimizers were left out of this build: {TORCH_NOTE}." in report
    assert "| SGD + momentum 0.9 |" not in report  # the optimizer table needs torch.optim
    colophon = re.search(r"of (\d+) independent numerical checks of the answers, ([^.]*)\.", report)
    assert colophon, report[-2000:]
    counts = {said: int(k) for k, said in re.findall(r"(\d+) (agreed|did not apply|need torch|FAILED)", colophon[2])}
    assert "FAILED" not in counts and counts["need torch"] > 0, colophon[0]  # none failed: they skipped, said so
    assert sum(counts.values()) == int(colophon[1]), colophon[0]
    with_torch = json.loads(build_answers(tmp_path / "T", sheet))
    assert json.loads((tmp_path / "R" / "answers.json").read_text()) == with_torch


def build_answers(out: Path, sheet: Path) -> str:
    built = mlemap("report", "--sheet", str(sheet), "--out", str(out), "--format", "md", "--quiet")
    assert built.returncode == 0, built.stderr
    return (out / "answers.json").read_text()


def test_a_step_that_reaches_for_a_missing_torch_is_one_line():
    """The commands' last guard: whatever still needs torch where it is missing exits 2 with one line."""
    code = (
        "from mlemap.reports.__main__ import run\n"
        "def main():\n"
        "    raise ModuleNotFoundError(\"No module named 'torch.optim'\", name='torch.optim')\n"
        "run(main)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == "", out.stderr
    assert out.stderr.startswith("error: torch is not installed") and len(out.stderr.splitlines()) == 1, out.stderr


def test_without_torch_the_derivations_and_the_version_still_work(without_torch):
    derived = mlemap("derive", "mlemap/catalogue.py:POISSON", env=without_torch)
    assert derived.returncode == 0 and "MLE of lambda:" in derived.stdout, derived.stderr
    assert mlemap("--version", env=without_torch).stdout == f"mlemap {version('mlemap')}\n"
