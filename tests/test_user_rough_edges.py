"""Rough edges a new user met, pip-installed and working outside the repository: a shipped sheet by its name on
every command; each verdict said once; build_report's formats (and sections) as a string; "at least 1
observation"; a CSV file's name and line in a data error; the model's own parameters in the first stage's title;
an optimizer study's n declared beside observed data."""

from __future__ import annotations

import csv
import dataclasses
import importlib.resources
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlemap import catalogue
from mlemap.derivations.engine import derive
from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import OptimizerStudy, Sheet, answers, load_sheet, sheet_file
from mlemap.derivations.show import stages
from mlemap.reports import api_words, build_report
from tests.test_bad_inputs import snapshot

ROOT = Path(__file__).resolve().parent.parent
SHEETS = Path(str(importlib.resources.files("mlemap.sheets")))  # where pip put the shipped sheets
SHIPPED = sorted(p.stem for p in SHEETS.glob("*.py") if not p.name.startswith("_"))
SHIPPED_LIST = ", ".join(SHIPPED)
POISSON_SHEET = """
from mlemap.derivations.sheet import Estimate, Sheet
from mlemap.catalogue import POISSON
SHEET = Sheet(title="{title}", questions=(Estimate("q1", "The MLE of lambda?", POISSON),))
"""


def mlemap(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlemap", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def own_sheet(folder: Path, name: str, title: str = "A course's own sheet") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(POISSON_SHEET.format(title=title)))
    return path


# --- 1. a shipped sheet by its name ----------------------------------------------------------------------------
def test_the_shipped_names_are_the_packages_sheet_files():
    assert len(SHIPPED) >= 2 and all((SHEETS / f"{name}.py").is_file() for name in SHIPPED)


@pytest.mark.parametrize("name", [*SHIPPED, *(f"{n}.py" for n in SHIPPED)])
def test_a_shipped_name_is_the_shipped_sheet_where_no_such_file_is_here(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stem = name.removesuffix(".py")
    assert sheet_file(name).resolve() == (SHEETS / f"{stem}.py").resolve()
    shipped = load_sheet(name)
    namespace: dict = {}
    exec(compile((SHEETS / f"{stem}.py").read_text(), f"{stem}.py", "exec"), namespace)  # the file, run apart
    assert shipped.title == namespace["SHEET"].title


@pytest.mark.parametrize(
    ("present", "given"),
    [("exercise3.py", "exercise3"), ("exercise3.py", "exercise3.py"), ("exercise4.py", "exercise4")],
)
def test_a_file_of_that_name_in_the_working_directory_wins(present, given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    own_sheet(tmp_path, present)
    assert sheet_file(given) == Path(present)
    assert load_sheet(given).title == "A course's own sheet"


@pytest.mark.parametrize("given", ["sub/exercise3", "sub/exercise3.py", "exercise5", "mlemap/sheets/exercise3.py"])
def test_a_missing_file_that_is_no_bare_shipped_name_lists_the_shipped_sheets(given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sheet_file(given) == Path(given)
    expected = f"{given} is not a sheet file (no such file; shipped sheets: {SHIPPED_LIST})"
    with pytest.raises(InputError) as refused:
        load_sheet(given)
    assert str(refused.value) == expected


COMMANDS_WITH_A_SHEET = {
    "report": ["report", "--out", "r", "--sheet"],
    "verify": ["verify", "--sheet"],
    "check": ["check", "task1.mu_mle", "xbar", "--sheet"],
    "grade": ["grade", "class.csv", "--sheet"],
}


@pytest.mark.parametrize("command", COMMANDS_WITH_A_SHEET)
def test_every_command_names_the_shipped_sheets_for_a_missing_file_outside_the_repo(command, tmp_path):
    (tmp_path / "class.csv").write_text("student,question,answer\ns1,task1.mu_mle,xbar\n")
    before = snapshot(tmp_path)
    out = mlemap(*COMMANDS_WITH_A_SHEET[command], "mlemap/sheets/exercise3.py", cwd=tmp_path)
    last = out.stderr.rstrip().splitlines()[-1]
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert last.endswith(
        f"mlemap/sheets/exercise3.py is not a sheet file (no such file; shipped sheets: {SHIPPED_LIST})"
    )
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", COMMANDS_WITH_A_SHEET)
def test_every_sheet_option_lists_the_shipped_names_in_its_help(command, capsys):
    from mlemap.reports import console

    with pytest.raises(SystemExit):
        console.main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in SHIPPED), text


def shipped_value(sheet_name: str, key: str) -> float:
    (found,) = [a for a in answers(load_sheet(SHEETS / f"{sheet_name}.py")) if a.key == key]
    return found.value


@pytest.mark.parametrize(
    ("scale", "code", "verdict"), [(1.0, 0, "correct"), (1.1, 1, "incorrect")], ids=["right", "wrong"]
)
def test_check_takes_a_shipped_sheet_by_name_outside_the_repo(scale, code, verdict, tmp_path):
    value = shipped_value("exercise3", "task3a.theta_map") * scale
    out = mlemap("check", "--sheet", "exercise3", "task3a.theta_map", f"{value:.4g}", "--quiet", cwd=tmp_path)
    assert (out.returncode, out.stdout.split(":")[0], out.stderr) == (code, verdict, "")


def test_verify_takes_a_shipped_sheet_by_name_outside_the_repo(tmp_path):
    out = mlemap("verify", "--sheet", "exercise4", "--model", "geometric", "--json", "-", cwd=tmp_path)
    result = json.loads(out.stdout)
    assert out.returncode == 0 and result["passed"], out.stderr
    assert result["sheet"] == load_sheet(SHEETS / "exercise4.py").title
    assert "geometric" in {r["model"] for r in result["checks"]}


def test_grade_takes_a_shipped_sheet_by_name_outside_the_repo(tmp_path):
    value = shipped_value("exercise4", "task3a.lambda_map")
    rows = f"student,question,answer\nright,task3a.lambda_map,{value:.5g}\nwrong,task3a.lambda_map,{value * 1.2:.5g}\n"
    (tmp_path / "class.csv").write_text(rows)
    out = mlemap("grade", "--sheet", "exercise4", "class.csv", "--out", "g", "--jobs", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with (tmp_path / "g" / "grades.csv").open(newline="") as grades:
        points = {row["student"]: row["task3a.lambda_map"] for row in csv.DictReader(grades)}
    assert points == {"right": "1", "wrong": "0"}


@pytest.mark.build
def test_report_takes_a_shipped_sheet_by_name_outside_the_repo(tmp_path):
    out = mlemap(
        "report",
        "--sheet",
        "exercise4",
        "--only",
        "task2",
        "--format",
        "md",
        "--jobs",
        "1",
        "--out",
        "r",
        "--quiet",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    title = load_sheet(SHEETS / "exercise4.py").title
    assert (tmp_path / "r" / "report.md").read_text().startswith(f"# {title}\n")


# --- 2. each verdict said once ---------------------------------------------------------------------------------
VERDICT_WORD = re.compile(r"\b(?:in)?correct\b|\bunreadable\b|\bundecided\b")


def said_once(line: str, verdict: str) -> bool:
    """The line opens with the verdict and never names a verdict again."""
    return line.startswith(f"{verdict}: ") and VERDICT_WORD.findall(line) == [verdict]


@pytest.mark.parametrize(
    "line",
    [
        "correct: correct: equal to the derived answer, proved symbolically",
        "correct: line 3: correct: equal to the derived answer, proved symbolically",
        "correct: correct to the 4 digits given (relative error 3.0e-05)",
        "correct: correct, not proved: equal to the derived answer on 6 random data sets",
    ],
)
def test_the_once_check_finds_the_doubled_verdicts_users_saw(line):
    assert not said_once(line, "correct")


def cases() -> list[tuple[str, str, str]]:
    """(question, answer, verdict) on the default sheet, through every path a verdict is worded on: proved, exact,
    rounded, wrong by a named mistake, wrong by a number, unreadable."""
    theta = shipped_value("exercise3", "task3a.theta_map")
    return [
        ("task1.mu_mle", "xbar", "correct"),
        ("task1.mu_mle", "sum(x_i)/(n-1)", "incorrect"),
        ("task3a.theta_map", f"{theta:.4g}", "correct"),
        ("task3a.theta_map", f"{theta * 1.5:.4g}", "incorrect"),
        ("task1.mu_mle", "\\input{x}", "unreadable"),
    ]


def test_the_check_command_says_each_verdict_once(capsys):
    from mlemap.numerics.check import main as check

    for question, answer, verdict in cases():
        check([question, answer])
        first = capsys.readouterr().out.splitlines()[0]
        assert said_once(first, verdict), first


def test_an_unproved_correct_answer_says_its_verdict_once(monkeypatch, capsys):
    import mlemap.numerics.check as check_module

    monkeypatch.setattr(check_module, "in_statistics", lambda student, d: None)  # no proof: the random data sets
    assert check_module.main(["task1.mu_mle", "xbar"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert said_once(first, "correct") and "not proved" in first, first


def test_a_derivation_checked_line_by_line_says_its_verdict_once(tmp_path, capsys):
    from mlemap.numerics.check import main as check

    lines = tmp_path / "lines.txt"
    lines.write_text("\\sum_i (x_i - \\mu) = 0\n\\sum_i x_i - n\\mu = 0\n\\mu = \\frac{1}{n}\\sum_i x_i\n")
    assert check(["task1.mu_mle", "--lines", str(lines)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert said_once(first, "correct"), first


def test_grade_feedback_and_gradescope_say_each_verdict_once(tmp_path):
    from mlemap.reports.grade import main as grade

    rows = [(f"s{k}", q, a) for k, (q, a, _) in enumerate(cases())]
    (tmp_path / "class.csv").write_text("student,question,answer\n" + "".join(f'{s},{q},"{a}"\n' for s, q, a in rows))
    assert (
        grade([str(tmp_path / "class.csv"), "--out", str(tmp_path / "g"), "--gradescope", "--quiet", "--jobs", "1"])
        == 0
    )
    expected = {s: v for s, (_, _, v) in zip((r[0] for r in rows), cases())}
    for student, verdict in expected.items():
        (results,) = (tmp_path / "g" / "gradescope").glob(f"{student}-*.json")
        outputs = [t["output"] for t in json.loads(results.read_text())["tests"] if t["output"] != "no answer"]
        assert len(outputs) == 1 and said_once(outputs[0], verdict), outputs
        (page,) = (tmp_path / "g" / "feedback").glob(f"{student}-*.md")
        (shown,) = [line for line in page.read_text().splitlines() if line.startswith(f"**{verdict}**")]
        assert said_once(re.sub(r"^\*\*(\w+)\*\* \([^)]*\)", r"\1", shown), verdict), shown


# --- 3. build_report's formats and sections, worded for the API ---------------------------------------------------
@pytest.mark.build
@pytest.mark.parametrize(
    ("formats", "files"),
    [("md", {"report.md"}), (" md , html ", {"report.md", "report.html"}), (["html"], {"report.html"})],
)
def test_build_report_takes_formats_as_a_string_or_a_list(formats, files, tmp_path):
    sheet = own_sheet(tmp_path, "short_sheet.py")
    out = build_report(sheet, out=tmp_path / "r", formats=formats, sections="q1", log=lambda line: None)
    written = {p.name for p in out.iterdir() if p.name.startswith("report.")}
    assert written == files


@pytest.mark.parametrize("formats", ["m,d", "", "docx", ["md", "docx"], [5], 5, None])
def test_build_report_refuses_bad_formats_in_its_own_words(formats, tmp_path):
    sheet = own_sheet(tmp_path, "short_sheet.py")
    before = snapshot(tmp_path)
    with pytest.raises(InputError) as refused:
        build_report(sheet, out=tmp_path / "r", formats=formats, log=lambda line: None)
    message = str(refused.value)
    assert message.startswith("build_report: formats must be") and repr(formats) in message
    assert "--" not in message and "\n" not in message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"sections": ("nope",)}, "build_report: sections: unknown section 'nope'; choose from q1"),
        ({"sections": "nope,q1"}, "build_report: sections: unknown section 'nope'; choose from q1"),
        ({"colour": "red"}, "build_report: no option 'colour'"),
        ({"out": "short_sheet.py"}, "is a file"),
    ],
)
def test_build_report_words_its_errors_without_command_line_flags(options, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    own_sheet(tmp_path, "short_sheet.py")
    before = snapshot(tmp_path)
    with pytest.raises(InputError) as refused:
        build_report("short_sheet.py", **{"out": "r", "formats": "md", "log": lambda line: None, **options})
    message = str(refused.value)
    assert words in message and "--" not in message, message
    assert snapshot(tmp_path) == before


def test_build_report_without_a_sheet_names_the_shipped_ones():
    with pytest.raises(InputError, match=rf"^build_report: no sheet given; .*\({re.escape(SHIPPED_LIST)}\)$"):
        build_report(None)


@pytest.mark.parametrize(
    ("message", "worded"),
    [
        ("--out /x: cannot create its parent directory", "out /x: cannot create its parent directory"),
        ("--only: unknown section 'a'", "sections: unknown section 'a'"),
        ("choose a smaller --n", "choose a smaller n"),
        ("--out's last part is 300 bytes long", "out's last part is 300 bytes long"),
        ("/tmp/a--out/b is a file", "/tmp/a--out/b is a file"),  # a path that holds the letters is no flag
        ("--outer space", "--outer space"),
    ],
)
def test_api_words_names_flags_as_arguments(message, worded):
    assert api_words(message) == worded


# --- 4. "at least 1 observation" --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "given"),
    [
        (catalogue.POISSON, 0),
        (catalogue.GAUSSIAN, 0),
        (catalogue.GAUSSIAN, 1),
        (dataclasses.replace(catalogue.EXPONENTIAL, min_n=3), 2),
        (dataclasses.replace(catalogue.EXPONENTIAL, min_n=1), 0),
    ],
)
def test_too_few_observations_are_counted_in_good_grammar(model, given):
    from mlemap.numerics.estimate import estimate

    with pytest.raises(InputError) as refused:
        estimate(model, {"x": [1.0] * given})
    noun = "observation" if model.min_n == 1 else "observations"
    assert str(refused.value) == f"{model.name}: needs at least {model.min_n} {noun}, got {given}"
    assert not re.search(r"\b1 observations\b", str(refused.value))


# --- 5. a CSV file's name and line in a data error --------------------------------------------------------------
CSV_CASES = [
    ("POISSON", ["x", "1", "1.2", "3"], 1, "must lie in"),
    ("POISSON", ["x", "1", "", "2", "-4"], 2, "must lie in"),  # a blank line: rows and lines part ways
    ("EXPONENTIAL", ["x", "0.5", "inf"], 1, "must be finite"),
]


@pytest.mark.parametrize(("model", "lines", "bad_row", "rule"), CSV_CASES)
def test_a_bad_value_in_a_csv_names_the_file_and_its_line(model, lines, bad_row, rule, tmp_path):
    from mlemap.numerics.estimate import estimate_csv

    data = tmp_path / "ray.csv"
    data.write_text("\n".join(lines) + "\n")
    value_lines = [k for k, line in enumerate(lines, 1) if line.strip()][1:]  # counted apart from the reader
    with pytest.raises(InputError) as refused:
        estimate_csv(getattr(catalogue, model), data)
    message = str(refused.value)
    assert message.startswith(f"{data}: ") and rule in message
    assert message.endswith(f"on line {value_lines[bad_row]}"), message


def test_derive_data_names_the_csv_and_its_line_outside_the_repo(tmp_path):
    (tmp_path / "models.py").write_text("from mlemap.catalogue import POISSON\n")
    (tmp_path / "ray.csv").write_text("x\n3\n\n1.2\n")
    out = mlemap("derive", "models.py:POISSON", "--data", "ray.csv", cwd=tmp_path)
    last = out.stderr.rstrip().splitlines()[-1]
    assert out.returncode == 2 and last.startswith("error: ray.csv: poisson: data 'x' must lie in"), out.stderr
    assert last.endswith("got 1.2 on line 4") and "Traceback" not in out.stderr


def test_good_csv_data_still_fit(tmp_path):
    from mlemap.numerics.estimate import estimate_csv

    counts = [2, 0, 3, 5, 1]
    (tmp_path / "calls.csv").write_text("x\n" + "\n\n".join(map(str, counts)) + "\n")
    found = estimate_csv(catalogue.POISSON, tmp_path / "calls.csv")
    assert found.values == pytest.approx({"lambda": sum(counts) / len(counts)}, rel=1e-12)


# --- 6. the model's own parameters in the stages' titles ----------------------------------------------------------
@pytest.mark.parametrize(
    "model",
    [catalogue.GAUSSIAN, catalogue.POISSON, catalogue.EXPONENTIAL, catalogue.COIN_MAP, catalogue.LINEAR_REGRESSION],
    ids=lambda m: m.name,
)
def test_the_first_stage_names_the_models_own_parameters(model):
    d = derive(model)
    titles = [title for title, _ in stages(d)]
    conditioned = titles[0].split(" | ", 1)[1].rstrip(")").split(", ")
    assert conditioned == [c.name for c in model.covariates] + [p.name for p in d.params]
    if "theta" not in {p.name for p in d.params}:
        assert not any("theta" in t for t in titles), titles
    if model.prior is not None:
        (prior,) = [t for t in titles if t.startswith("log-prior")]
        assert prior == f"log-prior log p({', '.join(p.name for p in d.params)})"


# --- 7. an optimizer study's n beside observed data ---------------------------------------------------------------
OBSERVED = dataclasses.replace(catalogue.POISSON, name="calls", observed={"x": (2, 4, 3, 5, 1, 3)})
SIMULATED = catalogue.POISSON  # no observed data: draws n from its simulate hook


@pytest.mark.parametrize(
    ("model", "options", "refused"),
    [
        (OBSERVED, {"n": 1000}, True),
        (OBSERVED, {"n": 1000, "compare": dataclasses.replace(OBSERVED, name="calls2")}, True),
        (OBSERVED, {}, False),
        (OBSERVED, {"n": 1000, "compare": SIMULATED}, False),  # n draws the compared model's data
        (SIMULATED, {"n": 1000}, False),
    ],
)
def test_an_optimizer_study_refuses_n_beside_observed_data(model, options, refused):
    if not refused:
        assert OptimizerStudy("s", "Ascend.", model, **options).n == options.get("n", 0)
        return
    with pytest.raises(InputError) as stop:
        OptimizerStudy("s", "Ascend.", model, **options)
    message = str(stop.value)
    assert message.startswith(f"question s: n = {options['n']} draws") and model.name in message and "\n" not in message


def test_a_study_on_data_drawn_per_student_drops_n():
    sheet = Sheet(
        "Per student",
        (OptimizerStudy("s", "Ascend.", SIMULATED, n=50),),
        per_student={SIMULATED.name: lambda rng: {"x": rng.poisson(3, 8)}},
    )
    (study,) = sheet.for_student("alice").questions
    assert study.model.observed and len(study.model.observed[study.model.data[0]]) == 8 and study.n == 0
