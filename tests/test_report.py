"""The report: complete, deterministic, atomic, and refusing bad CLI input with exit code 2."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mlemap.derivations.sheet import answers
from mlemap.reports.build import BuildError, build
from mlemap.reports.cli import main
from mlemap.reports.plan import Settings
from mlemap.sheets import DEFAULT_SHEET
from mlemap.sheets.exercise3 import SHEET
from tests import golden_reports

SMALL = Settings(seed=3, n=400, resolution=20, sheet_path=DEFAULT_SHEET)
SECTIONS = ("theory", "task1", "task2", "task3a", "task3b", "praxis", "appendix")
needs_tex = pytest.mark.skipif(
    shutil.which("latexmk") is None or shutil.which("pdftotext") is None,
    reason="no latexmk/pdftotext: PDF output is skipped",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report"
    build(SMALL, out, ("md", "tex", "pdf") if shutil.which("latexmk") else ("md", "tex"), log=lambda s: None)
    return out


@pytest.fixture(scope="module")
def companion(tmp_path_factory):
    """The staff's companion: the appendix and the table of every check."""
    import dataclasses

    out = tmp_path_factory.mktemp("companion") / "companion"
    build(dataclasses.replace(SMALL, variant="companion"), out, ("md",), log=lambda s: None)
    return out


def test_the_appendix_and_the_checks_are_in_the_companion_not_the_handout(report, companion):
    handout, staff = (report / "report.md").read_text(), (companion / "report.md").read_text()
    assert "## Appendix" in staff and "## Verification" in staff and "## Task 1" not in staff
    assert "## Appendix" not in handout and "## Verification" not in handout
    colophon = handout.split("## Colophon")[-1]  # the handout's one closing section says how it was checked
    assert "independent numerical checks" in colophon and "The companion for the course staff lists them" in colophon


def test_every_sheet_section_and_answer_is_in_the_markdown(report):
    text = (report / "report.md").read_text()
    for heading in (
        "Theory",
        "Task 1",
        "Task 2",
        "Task 3a",
        "Task 3b",
        "Praxis 1",
        "Praxis 2",
        "Praxis 3",
    ):
        assert f" {heading}" in text, heading
    from mlemap.catalogue import derivation
    from mlemap.reports.document import math

    familiar = _familiar_latex()
    for ans in answers(SHEET):  # as the report writes it: statistics by their short names, roots as rho
        shown = {math(derivation(ans.model), ans.expr), familiar.get(ans.key)}
        assert any(s and s in text for s in shown), ans.key
    assert "FAIL" not in text


def _familiar_latex() -> dict[str, str]:
    """The answers a sheet declares a familiar form for (x_bar for mu_hat), as the handout prints them."""
    from mlemap.catalogue import derivation
    from mlemap.derivations.sheet import Estimate, estimate_key
    from mlemap.reports.document import math

    shown = {}
    for q in SHEET.questions:
        if isinstance(q, Estimate):
            d = derivation(q.model.name)
            for p, form in q.familiar_forms.items():
                shown[estimate_key(q, d, p)] = math(d, form, order="none")
    return shown


def test_markdown_tables_are_well_formed(report):
    lines = (report / "report.md").read_text().splitlines()
    separators = [i for i, line in enumerate(lines) if line.startswith("| ---")]
    assert separators
    for i in separators:
        width = lines[i].count(" --- |")
        assert lines[i] == "|" + " --- |" * width
        # the header above and every row below have as many unescaped cell borders
        for row in [lines[i - 1]] + [line for line in lines[i + 1 :] if line.startswith("|")][:1]:
            assert row.replace("\\|", "").count("|") == width + 1, row


def test_figures_exist_for_markdown_and_latex(report):
    md, tex = (report / "report.md").read_text(), (report / "report.tex").read_text()
    for png in (report / "figures").glob("*.png"):
        assert f"figures/{png.name}" in md
        assert (report / "figures" / f"{png.stem}.pdf").exists()
        assert f"figures/{png.stem}.pdf" in tex


def test_each_model_is_verified_once_in_the_companion(companion):
    from mlemap.numerics.results import compares

    text = (companion / "report.md").read_text().split("## Verification")[1]
    for model in SHEET.models:
        assert text.count(f"| {model.title} | {compares('autograd')} |") == 1, model.name
    assert "Poisson" not in text  # only the sheet's models


def test_answers_json_has_exact_latex_and_float(report):
    rows = {r["key"]: r for r in json.loads((report / "answers.json").read_text())}
    for ans in answers(SHEET):
        assert rows[ans.key]["exact"] == str(ans.expr) and rows[ans.key]["latex"] == ans.latex
        assert rows[ans.key]["value"] == ans.value
    assert rows["praxis.lr_bound"]["value"] == pytest.approx(2 * 5 / SMALL.n)


def test_two_builds_are_byte_identical(report, tmp_path):
    again = build(SMALL, tmp_path / "again", ("md", "tex"), log=lambda s: None)
    for name in ("report.md", "report.tex", "answers.json"):
        assert (again / name).read_bytes() == (report / name).read_bytes(), name
    for png in (report / "figures").glob("*.png"):
        assert (again / "figures" / png.name).read_bytes() == png.read_bytes(), png.name


@needs_tex
def test_pdf_text_holds_the_key_answers(report):
    text = subprocess.run(
        ["pdftotext", str(report / "report.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    by_key = {a.key: a for a in answers(SHEET)}
    for key in ("task3a.theta_map", "task3a.p_two_tails", "task3b.p_next_head"):
        assert f"{by_key[key].value:.4g}" in text, key  # 4 significant digits: answers.json holds the rest


@pytest.mark.parametrize("step", ["derive", "verify", "document", "figures", "write"])
def test_a_failed_step_leaves_the_previous_report_untouched(tmp_path, step):
    out = tmp_path / "report"
    only = Settings(seed=0, n=200, resolution=10, sections=("task3a",), sheet_path=DEFAULT_SHEET)
    build(only, out, ("md",), log=lambda s: None)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(BuildError, match=f"step '{step}' failed"):
        build(only, out, ("md",), log=lambda s: None, fail_at=step)
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temporary directory left behind


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--format", "md,docx"], "choose from md,tex,pdf"),
        (["--n", "0"], "must be >= 1"),
        (["--n", "ten"], "whole number"),
        (["--resolution", "1"], "whole number >= 2"),
    ],
)
def test_cli_usage_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_unknown_section_of_the_sheets_report_exits_2(tmp_path, capsys):
    assert main(["--only", "nonsense", "--out", str(tmp_path / "r")]) == 2
    assert "--only: unknown section 'nonsense'; choose from theory, task1" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_output_path_that_is_a_file_exits_2(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    assert main(["--out", str(target), "--only", "task1", "--format", "md"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_cli_output_under_a_file_exits_2(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert main(["--out", str(blocker / "sub" / "report"), "--only", "task1", "--format", "md"]) == 2
    assert "cannot create its parent directory" in capsys.readouterr().err


def test_sections_are_the_first_parts_of_the_question_keys():
    from mlemap.reports.build import report_for

    assert report_for(Settings(sheet_path=DEFAULT_SHEET)).sections == SECTIONS


def test_a_build_without_a_sheet_is_refused_in_one_line(tmp_path):
    from mlemap.derivations.model import InputError

    with pytest.raises(InputError, match=r"^no sheet given"):
        build(Settings(), tmp_path / "r", ("md",), log=lambda s: None)


def test_without_tex_the_pdf_is_skipped_in_one_line(tmp_path, monkeypatch):
    from mlemap.reports import build as build_module

    monkeypatch.setattr(build_module.shutil, "which", lambda name: None)
    lines: list[str] = []
    out = build(
        Settings(seed=0, n=200, resolution=10, sections=("task1",), sheet_path=DEFAULT_SHEET),
        tmp_path / "report",
        ("md", "tex", "pdf"),
        log=lines.append,
    )
    assert (out / "report.md").exists() and (out / "report.tex").exists() and not (out / "report.pdf").exists()
    skipped = [line for line in lines if line.startswith("pdf: skipped")]
    assert len(skipped) == 1 and "latexmk" in skipped[0]


def two_lines(slope: float):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, slope])
    ax.set_title(f"slope {slope}")
    return fig


def test_figures_drawn_in_two_processes_are_the_files_one_process_draws(tmp_path):
    from mlemap.reports.figures import FigurePlan

    plan = FigurePlan()
    names = [plan.add(f"line{i}", two_lines, float(i)) for i in range(3)]
    assert plan.render(tmp_path / "two", processes=2) == names
    assert plan.render(tmp_path / "one", processes=1) == names
    for name in names:
        for ext in ("png", "pdf"):
            assert (tmp_path / "two" / f"{name}.{ext}").read_bytes() == (
                tmp_path / "one" / f"{name}.{ext}"
            ).read_bytes()


def test_a_figure_name_is_used_once():
    from mlemap.reports.figures import FigurePlan

    plan = FigurePlan()
    plan.add("line", two_lines, 1.0)
    with pytest.raises(ValueError, match="figure name 'line' is used twice"):
        plan.add("line", two_lines, 2.0)


def test_python_m_reports_exits_with_the_cli_code(tmp_path):
    """The entry point leaves without the interpreter's teardown: its exit code and output must survive that."""
    import sys

    ok = subprocess.run(
        [sys.executable, "-m", "mlemap.reports", "--out", str(tmp_path / "r"), "--only", "task1", "--format", "md"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr.rstrip().splitlines()[-1].startswith(f"wrote {tmp_path / 'r'}")
    assert (tmp_path / "r" / "report.md").is_file()
    (tmp_path / "file").write_text("")
    bad = subprocess.run(
        [sys.executable, "-m", "mlemap.reports", "--out", str(tmp_path / "file"), "--format", "md"],
        capture_output=True,
        text=True,
    )
    assert (bad.returncode, bad.stderr.strip()) == (
        2,
        f"error: --out {tmp_path / 'file'} is a file; it must be a directory (or not exist yet)",
    )
    usage = subprocess.run([sys.executable, "-m", "mlemap.reports", "--bogus"], capture_output=True, text=True)
    assert (usage.returncode, usage.stderr.strip().splitlines()[-1]) == (
        2,
        "python -m mlemap.reports: error: unrecognized arguments: --bogus",
    )
    helped = subprocess.run([sys.executable, "-m", "mlemap.reports", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: python -m mlemap.reports [-h]")


@pytest.mark.build
def test_exercise3_answers_are_those_reviewed_and_one_process_writes_what_two_do(tmp_path):
    """tests/golden/exercise3-answers.json is answers.json as built before the sheet became an input (reviewed
    then); regenerate it with `python -m mlemap.reports --format md --out DIR` and review the diff."""
    golden = Path(__file__).parent / "golden" / "exercise3-answers.json"
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["--out", str(one), "--format", "md", "--jobs", "1"]) == 0
    assert main(["--out", str(two), "--format", "md", "--jobs", "2"]) == 0
    assert (one / "answers.json").read_text() == golden.read_text()
    assert (one / "report.md").read_bytes() == (two / "report.md").read_bytes()
    assert (one / "report.md").read_text() == golden_reports.golden("exercise3").read_text(), (
        "prose changed: review, then python -m tests.golden_reports"
    )
    assert sorted(p.name for p in (one / "figures").iterdir()) == sorted(p.name for p in (two / "figures").iterdir())
