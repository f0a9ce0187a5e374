"""Each student's own data: a sheet declares a model's data drawn per student; the same ID gets the same data on
any machine (seeded from the sheet and the ID), the key, the students' sheet, check and grade all use them. The
expected answers here are computed from the drawn tosses by this test itself (the mean of 0/1 tosses)."""

from __future__ import annotations

import csv
import io
import textwrap
from fractions import Fraction

import pytest

from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import load_sheet
from mlemap.numerics.check import check

SHEET_FILE = textwrap.dedent(
    """
    from mlemap.derivations.sheet import Estimate, Sheet
    from mlemap.catalogue import coin_model

    COIN = coin_model("coin", "Coin tosses", None)
    SHEET = Sheet(
        "A coin for each student",
        (Estimate("toss", "What is the MLE of $\\\\theta$ from your tosses?", COIN),),
        per_student={"coin": lambda rng: {"x": rng.integers(0, 2, 12)}},
    )
    """
)


@pytest.fixture(scope="module")
def sheet_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("course") / "coins.py"
    path.write_text(SHEET_FILE)
    return path


def tosses(sheet, student: str) -> list[int]:
    (q,) = sheet.for_student(student).questions
    return [int(v) for v in q.model.observed[q.model.data[0]]]


def mle(values: list[int]) -> Fraction:
    return Fraction(sum(values), len(values))


def test_the_same_id_gets_the_same_data_and_another_id_other_data(sheet_path):
    sheet = load_sheet(sheet_path)
    alice, bob = tosses(sheet, "alice"), tosses(sheet, "bob")
    assert alice == tosses(load_sheet(sheet_path), "alice") and len(alice) == 12
    assert alice != bob  # seeded from the ID: two students draw apart


def test_check_uses_the_students_own_data(sheet_path):
    sheet = load_sheet(sheet_path)
    alice, bob = mle(tosses(sheet, "alice")), mle(tosses(sheet, "bob"))
    assert alice != bob
    assert check(sheet.for_student("alice"), "toss.theta_mle", str(alice)).verdict == "correct"
    assert check(sheet.for_student("bob"), "toss.theta_mle", str(alice)).verdict == "incorrect"


def test_grading_a_class_checks_each_answer_against_its_students_data(sheet_path, tmp_path):
    from mlemap.reports.grade import main

    sheet = load_sheet(sheet_path)
    alice = mle(tosses(sheet, "alice"))
    submissions = tmp_path / "class.csv"
    submissions.write_text(f"student,question,answer\nalice,toss.theta_mle,{alice}\nbob,toss.theta_mle,{alice}\n")
    assert main([str(submissions), "--sheet", str(sheet_path), "--out", str(tmp_path / "g"), "--jobs", "1"]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "g" / "grades.csv").read_text())))
    assert {r["student"]: float(r["total"]) for r in rows} == {"alice": 1.0, "bob": 0.0}


@pytest.mark.build
def test_a_students_sheet_lists_their_data_and_their_key_answers_it(sheet_path, tmp_path):
    import json

    from mlemap.reports.cli import main

    sheet = load_sheet(sheet_path)
    common = ["--sheet", str(sheet_path), "--format", "md", "--student", "alice"]
    assert main([*common, "--variant", "questions", "--out", str(tmp_path / "q")]) == 0
    assert main([*common, "--out", str(tmp_path / "k")]) == 0
    data = (tmp_path / "q" / "report.md").read_text()
    assert ", ".join(str(v) for v in tosses(sheet, "alice")) in data and "for student alice" in data
    (row,) = [r for r in json.loads((tmp_path / "k" / "answers.json").read_text()) if r["key"] == "toss.theta_mle"]
    assert Fraction(row["exact"]) == mle(tosses(sheet, "alice"))


@pytest.mark.parametrize("student", ["", "x" * 101, "tab\there"])
def test_a_bad_student_id_is_one_line(sheet_path, student):
    with pytest.raises(InputError, match="student ID"):
        load_sheet(sheet_path).for_student(student)


def test_per_student_must_name_a_model_of_the_sheet(sheet_path, tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(SHEET_FILE.replace('per_student={"coin"', 'per_student={"dice"'))
    with pytest.raises(InputError, match="per_student maps a model's name"):
        load_sheet(path)
