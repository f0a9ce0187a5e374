"""Grade a class: every (student, question, answer) row checked against the derivation, points per question
from the sheet (1 per answer unless it declares `points`), in parallel on the machine's cores. Deterministic:
the same submissions give the same grades in any order of work."""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import Sheet, answers
from mlemap.numerics.check import Feedback, check

MAX_BYTES = 20_000_000  # a submissions file larger than this is refused, not read
MAX_ROWS = 100_000
MAX_ID = 100  # characters of a student ID


@dataclass(frozen=True)
class Graded:
    student: str
    question: str
    answer: str
    feedback: Feedback
    points: float


@dataclass(frozen=True)
class ClassResult:
    questions: tuple[str, ...]  # the sheet's answer keys, in order
    points: dict[str, float]  # the most each question gives
    rows: tuple[Graded, ...]  # sorted by student, then question order

    def students(self) -> list[str]:
        return sorted({r.student for r in self.rows})

    def total(self, student: str) -> float:
        return sum(r.points for r in self.rows if r.student == student)

    def mistakes(self, question: str) -> Counter:
        return Counter(r.feedback.mistake for r in self.rows if r.question == question and r.feedback.mistake)

    def verdicts(self, question: str) -> Counter:
        return Counter(r.feedback.verdict for r in self.rows if r.question == question)


def read_submissions(path: Path) -> list[tuple[str, str, str]]:
    """(student, question, answer) rows of a CSV with a header student,question,answer, or of a directory with
    a file per student (see read_directory); each bad row or byte is refused in one line naming the line."""
    if path.is_dir():
        return read_directory(path)
    reader = csv.reader(io.StringIO(_text_of(path), newline=""))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["student", "question", "answer"]:
        raise InputError(f"{path}: the first line must be the header student,question,answer; got {header!r}")
    rows = []
    for line, fields in enumerate(reader, start=2):
        if not fields:
            continue
        if len(fields) != 3:
            raise InputError(f"{path}, line {line}: needs 3 fields (student, question, answer), got {len(fields)}")
        student, question, answer = (f.strip() for f in fields)
        rows.append((_student_id(student, f"{path}, line {line}"), question, answer))
        if len(rows) > MAX_ROWS:
            raise InputError(f"{path}: more than {MAX_ROWS} answers; split the class into several files")
    return rows


def read_directory(path: Path) -> list[tuple[str, str, str]]:
    """A directory with one CSV file per student, STUDENT.csv with the header question,answer: as an LMS exports
    a class. Only regular *.csv files count, in name order; a symbolic link is refused, never followed."""
    rows: list[tuple[str, str, str]] = []
    files = sorted(p for p in path.iterdir() if p.suffix == ".csv")
    if not files:
        raise InputError(f"{path}: a directory of submissions holds one STUDENT.csv per student; it has none")
    for file in files:
        if file.is_symlink() or not file.is_file():
            raise InputError(f"{file}: not a regular file; a submission is a file of its own")
        student = _student_id(file.stem, str(file))
        reader = csv.reader(io.StringIO(_text_of(file), newline=""))
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != ["question", "answer"]:
            raise InputError(f"{file}: the first line must be the header question,answer; got {header!r}")
        for line, fields in enumerate(reader, start=2):
            if fields and len(fields) != 2:
                raise InputError(f"{file}, line {line}: needs 2 fields (question, answer), got {len(fields)}")
            if fields:
                rows.append((student, fields[0].strip(), fields[1].strip()))
        if len(rows) > MAX_ROWS:
            raise InputError(f"{path}: more than {MAX_ROWS} answers; split the class into several directories")
    return rows


def _student_id(student: str, where: str) -> str:
    if not student or len(student) > MAX_ID or any(ord(c) < 32 for c in student):
        raise InputError(f"{where}: a student ID is 1 to {MAX_ID} printable characters")
    return student


def _text_of(path: Path) -> str:
    """A submissions file's text: at most MAX_BYTES, no NUL byte, UTF-8."""
    try:
        raw = path.read_bytes() if path.stat().st_size <= MAX_BYTES else None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the submissions ({exc.strerror})") from None
    if raw is None:
        raise InputError(f"{path}: larger than {MAX_BYTES // 1_000_000} MB; split the class into several files")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise InputError(f"{path}: holds a NUL byte at offset {nul}; a submissions file is text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start}); save the file as UTF-8") from None


_SHEET: Sheet | None = None  # the worker processes' copy, inherited through fork
_STUDENT_SHEETS: dict[str, Sheet] = {}  # a student's own sheet, drawn once per process


def sheet_of(sheet: Sheet, student: str | None) -> Sheet:
    """The sheet a student answered: with their own data where the sheet draws data per student."""
    if student is None or not sheet.per_student:
        return sheet
    if student not in _STUDENT_SHEETS:
        _STUDENT_SHEETS[student] = sheet.for_student(student)
    return _STUDENT_SHEETS[student]


def _check_one(job: tuple[str | None, str, str]) -> Feedback:
    student, question, answer = job
    assert _SHEET is not None
    try:
        return check(sheet_of(_SHEET, student), question, answer)
    except InputError as exc:
        return Feedback("unreadable", False, None, str(exc))


def grade(sheet: Sheet, rows: list[tuple[str, str, str]], jobs: int | None = None) -> ClassResult:
    """Each distinct (question, answer) checked once, on every core; then points by question."""
    global _SHEET
    found = answers(sheet)
    keys = tuple(a.key for a in found)
    points = {k: float(getattr(sheet, "points", {}).get(k, 1.0)) for k in keys}
    unknown = sorted({q for _, q, _ in rows if q not in points})
    if unknown:
        raise InputError(f"question {unknown[0]!r}: no such answer on the sheet; its keys are {', '.join(keys)}")
    # each distinct answer once; with data per student, once per student (the same text may be right for one)
    own = bool(sheet.per_student)
    distinct = sorted({(s if own else None, q, a) for s, q, a in rows}, key=lambda j: (j[0] or "", j[1], j[2]))
    _SHEET = sheet
    _STUDENT_SHEETS.clear()
    for key in keys:  # derive every model once, before the workers fork: they inherit it
        check(sheet, key, "0")
    workers = jobs or os.cpu_count() or 1
    if workers > 1 and len(distinct) > 1:
        with ProcessPoolExecutor(workers) as pool:
            verdicts = dict(zip(distinct, pool.map(_check_one, distinct, chunksize=8)))
    else:
        verdicts = {job: _check_one(job) for job in distinct}
    order = {k: i for i, k in enumerate(keys)}
    graded = sorted(
        (
            Graded(s, q, a, v, points[q] if v.verdict == "correct" else 0.0)
            for s, q, a in rows
            for v in [verdicts[(s if own else None, q, a)]]
        ),
        key=lambda g: (g.student, order[g.question], g.answer),
    )
    return ClassResult(keys, points, tuple(graded))
