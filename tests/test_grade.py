"""Grading a class: totals match this test's own tally, two runs give the same bytes, the feedback pages escape
what students wrote, and a broken submissions file is one line."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest

from mlemap.reports.grade import main, slug

# (question, answer, right?) the class draws from
ANSWERS = [
    ("task1.mu_mle", r"\frac{1}{n}\sum_{i=1}^n x_i", True),
    ("task1.mu_mle", "sum(x_i)/(n-1)", False),
    ("task1.sigma2_mle", r"\frac1n\sum_i (x_i-\bar x)^2", True),
    ("task1.sigma2_mle", r"\frac{1}{n-1}\sum_i (x_i-\bar x)^2", False),
    ("task3a.theta_map", "sqrt(5)/5", True),
    ("task3a.theta_map", "0.4472", True),
    ("task3a.theta_map", "3/7", False),
    ("task3b.p_next_head", "(h+1)/(n+2)", True),
    ("task3b.p_next_head", "x_i +", False),
]


def synthetic_class(path: Path, students: int = 12, seed: int = 4) -> dict[str, int]:
    rng = random.Random(seed)
    tally: dict[str, int] = {}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "question", "answer"])
    for k in range(students):
        student = f"s{k:02d}"
        tally[student] = 0
        for question in dict.fromkeys(q for q, _, _ in ANSWERS):
            _, answer, right = rng.choice([a for a in ANSWERS if a[0] == question])
            writer.writerow([student, question, answer])
            tally[student] += right
    path.write_text(out.getvalue())
    return tally


@pytest.mark.build
def test_grading_a_class_matches_an_independent_tally_and_is_deterministic(tmp_path):
    submissions = tmp_path / "class.csv"
    tally = synthetic_class(submissions)
    assert main([str(submissions), "--out", str(tmp_path / "a")]) == 0
    assert main([str(submissions), "--out", str(tmp_path / "b"), "--jobs", "1"]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "a" / "grades.csv").read_text())))
    assert {r["student"]: float(r["total"]) for r in rows} == {s: float(t) for s, t in tally.items()}
    for name in ("grades.csv", "summary.md", "summary.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert len(list((tmp_path / "a" / "feedback").glob("*.html"))) == len(tally)
    summary = (tmp_path / "a" / "summary.md").read_text()
    assert "n_minus_1" in summary or "prior_forgotten" in summary


def test_student_text_is_escaped_and_ids_become_safe_file_names(tmp_path):
    submissions = tmp_path / "class.csv"
    submissions.write_text(
        "student,question,answer\n"
        '"../../etc/x<script>",task1.mu_mle,"<script>alert(1)</script>"\n'
        '"=HYPERLINK(""http://x"")",task1.mu_mle,`x`\n'
    )
    assert main([str(submissions), "--out", str(tmp_path / "g")]) == 0
    pages = sorted((tmp_path / "g" / "feedback").iterdir())
    assert all(p.parent == tmp_path / "g" / "feedback" for p in pages) and len(pages) == 4
    text = "".join(p.read_text() for p in pages if p.suffix == ".html")
    assert "<script" not in text and "&lt;script&gt;" in text
    grades = (tmp_path / "g" / "grades.csv").read_text()
    assert "'=HYPERLINK" in grades  # a formula cell is quoted for spreadsheets
    assert slug("a/b") != slug("a_b")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"student,question,answer\nalice,task1.mu_mle,x\x00\n", "holds a NUL byte"),
        (b"student,question,answer\nalice,task1.mu_mle,\xff\xfe\n", "not UTF-8"),
        (b"name,answer\nalice,1\n", "the first line must be the header"),
        (b"student,question,answer\nalice,task1.mu_mle\n", "line 2: needs 3 fields"),
        (b"student,question,answer\nalice,task9.x,1\n", "no such answer on the sheet"),
    ],
)
def test_a_broken_submissions_file_is_one_line(tmp_path, capsys, content, message):
    submissions = tmp_path / "class.csv"
    submissions.write_bytes(content)
    assert main([str(submissions), "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "g").exists()


@pytest.mark.build
def test_gradescope_results_carry_each_students_tally_and_every_question(tmp_path):
    import json

    submissions = tmp_path / "class.csv"
    tally = synthetic_class(submissions, students=4, seed=9)
    assert main([str(submissions), "--out", str(tmp_path / "g"), "--gradescope", "--jobs", "1"]) == 0
    for student, right in tally.items():
        results = json.loads((tmp_path / "g" / "gradescope" / f"{slug(student)}.json").read_text())
        assert results["score"] == right == sum(t["score"] for t in results["tests"])
        answered = [t for t in results["tests"] if t["output"] != "no answer"]
        assert len(answered) == len({q for q, _, _ in ANSWERS})  # the sheet's other questions: "no answer", 0
        assert all(t["score"] == 0 for t in results["tests"] if t not in answered)
        verdicts = {t["output"].split(":")[0] for t in answered}
        assert verdicts <= {"correct", "incorrect", "unreadable"} and all(t["max_score"] == 1 for t in answered)
    assert not (tmp_path / "g2").exists()
    assert main([str(submissions), "--out", str(tmp_path / "g2"), "--jobs", "1"]) == 0
    assert not (tmp_path / "g2" / "gradescope").exists()  # only when asked


@pytest.mark.build
def test_a_directory_with_a_file_per_student_grades_as_the_class_csv_does(tmp_path):
    submissions = tmp_path / "class.csv"
    synthetic_class(submissions, students=3, seed=5)
    folder = tmp_path / "class"
    folder.mkdir()
    rows = list(csv.DictReader(io.StringIO(submissions.read_text())))
    for student in {r["student"] for r in rows}:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["question", "answer"])
        writer.writerows([r["question"], r["answer"]] for r in rows if r["student"] == student)
        (folder / f"{student}.csv").write_text(out.getvalue())
    (folder / "notes.txt").write_text("not a submission: only STUDENT.csv files count")
    assert main([str(submissions), "--out", str(tmp_path / "a"), "--jobs", "1"]) == 0
    assert main([str(folder), "--out", str(tmp_path / "b"), "--jobs", "1"]) == 0
    assert (tmp_path / "a" / "grades.csv").read_bytes() == (tmp_path / "b" / "grades.csv").read_bytes()


def test_a_broken_directory_of_submissions_is_one_line(tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    assert main([str(folder), "--out", str(tmp_path / "a")]) == 2
    assert "one STUDENT.csv per student" in capsys.readouterr().err
    (folder / "s1.csv").write_text("student,question,answer\ns1,task1.mu_mle,xbar\n")
    assert main([str(folder), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "the first line must be the header question,answer" in err and len(err.strip().splitlines()) == 1
