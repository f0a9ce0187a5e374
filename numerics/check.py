"""Check one student answer against the derivation: `check(sheet, key, answer) -> Feedback`.

The answer is parsed by a grammar (derivations.answer), never evaluated as Python. It is correct when SymPy proves
it equal to the derived answer (sums written in the derivation's statistics), or when it agrees exactly at K small
data sets (said so: not proved). Otherwise it is incorrect, with the smallest data set where the two differ, and,
where it equals one of the question's typical mistakes (derivations.mistakes), the mistake named with the step of
the worked derivation where it goes wrong. A number is correct when it is the exact answer rounded to the digits
given (at least 3 significant ones)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import sympy as sp

from mlemap.derivations.answer import (
    SUM,
    Notation,
    UnknownSymbol,
    Unreadable,
    in_statistics,
    innermost_first,
    parse_answer,
)
from mlemap.derivations.engine import Derivation, derive, n_obs
from mlemap.derivations.mistakes import Mistake, typical_mistakes
from mlemap.derivations.model import InputError, in_support, observed_counts
from mlemap.derivations.sheet import Answer, Question, Sheet, answers_of
from mlemap.derivations.solve import NoClosedForm, time_limit

DATA_SETS = 6  # random data sets an unproved answer must agree on
CHECK_SECONDS = 10.0  # a per-answer limit: a pathological answer is "undecided", never a hang
MIN_DIGITS = 3


@dataclass(frozen=True)
class Feedback:
    verdict: str  # "correct", "incorrect", "unreadable" or "undecided"
    proved: bool
    mistake: str | None
    message: str  # the reason, without the verdict word: every display prints "verdict: message"
    counterexample: dict | None = None  # {"data": {...}, "yours": number, "expected": number}
    step: str | None = None
    line: int | None = None  # a derivation checked line by line: the first line that is wrong

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def exit_code(self) -> int:
        return {"correct": 0, "incorrect": 1}.get(self.verdict, 2)


_KEYS: dict[int, tuple[Sheet, dict[str, tuple[Question, Answer]]]] = {}  # by id of a sheet: its answers by key
_DERIVED: dict[int, Derivation] = {}  # by id of a model: a class's checks derive each once
_MISTAKES: dict[tuple[int, str], list[Mistake]] = {}


def derived(model) -> Derivation:
    found = _DERIVED.get(id(model))
    if found is None or found.model is not model:
        found = _DERIVED[id(model)] = derive(model)
    return found


def question_of(sheet: Sheet, key: str) -> tuple[Question, Answer]:
    held = _KEYS.get(id(sheet))
    if held is None or held[0] is not sheet:
        table = {a.key: (q, a) for q in sheet.questions for a in answers_of(q, derived)}
        held = _KEYS[id(sheet)] = (sheet, table)
    if key not in held[1]:
        raise InputError(f"question {key!r}: no such answer on the sheet; its keys are {', '.join(held[1])}")
    return held[1][key]


def mistakes_of(q: Question, d: Derivation, right: Answer) -> list[Mistake]:
    """The question's typical mistakes, derived once per process."""
    key = (id(q), right.key)
    if key not in _MISTAKES:
        _MISTAKES[key] = typical_mistakes(q, d, right.key, right.expr, derived)
    return _MISTAKES[key]


def check(sheet: Sheet, key: str, text: str, seed: int = 0) -> Feedback:
    """The verdict on one answer, with its message and evidence."""
    q, right = question_of(sheet, key)
    d = derived(q.model)
    notation = Notation.of(d, getattr(sheet, "names", {}))
    try:
        with time_limit(CHECK_SECONDS, "the check"):
            student = parse_answer(text, notation)
            return _judge(q, d, right, student, notation, seed)
    except UnknownSymbol as exc:
        return Feedback("unreadable", False, None, str(exc))
    except Unreadable as exc:
        return Feedback("unreadable", False, None, f"cannot read the answer: {exc}")
    except NoClosedForm:
        return Feedback("undecided", False, None, f"could not decide within {CHECK_SECONDS:g} s")


def _judge(q, d: Derivation, right: Answer, student: sp.Basic, notation: Notation, seed: int) -> Feedback:
    if isinstance(student, sp.Tuple):
        return Feedback("unreadable", False, None, f"this answer is one value; the answer has {len(student)} parts")
    expected = right.expr
    if student.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return Feedback("incorrect", False, None, "the answer is undefined or infinite (a division by zero?)")
    allowed = {n_obs} | _sums(student) | (expected.free_symbols & set(d.params))
    extra = sorted(str(s) for s in student.free_symbols - allowed)
    if extra:
        return Feedback("incorrect", False, None, f"the answer should not depend on {', '.join(extra)}")
    if expected.is_number:
        return _against_number(q, d, right, student, notation)
    proof = in_statistics(student, d)
    if proof is not None and _equal(proof, expected):
        return Feedback("correct", True, None, "equal to the derived answer, proved symbolically")
    rows_list = _data_sets(q, d, seed)
    for rows in rows_list:
        mine, theirs = _value(student, d, rows), _value(expected, d, rows)
        if theirs is None:
            continue  # data where the derived answer itself is undefined (all x equal): not a test
        if mine is None:
            return _incorrect(q, d, right, student, rows_list, rows, sp.nan, theirs)
        if mine is None or theirs is None:
            continue
        if not _equal(mine, theirs):
            return _incorrect(q, d, right, student, rows_list, rows, mine, theirs)
    return Feedback(
        "correct", False, None, f"equal to the derived answer on {len(rows_list)} random data sets, not proved"
    )


def _sums(expr) -> set:
    return {s for t in expr.atoms(SUM) for s in t.free_symbols}


def _equal(a, b) -> bool:
    """Exactly equal: rationals compared as they are, rational functions by their canonical form (cancel), the
    rest by simplify."""
    if a.is_Rational and b.is_Rational:
        return bool(a == b)
    if _apart(a, b):
        return False
    try:
        difference = sp.cancel(sp.together(a - b))
        if difference != 0 and (difference.has(sp.Pow, sp.log, sp.exp, sp.CRootOf) or difference.is_number):
            difference = sp.simplify(difference)
    except (TypeError, ValueError):
        return False
    if difference == 0:
        return True
    if difference.is_number and b.is_number:  # algebraic numbers SymPy does not simplify to 0: 30 digits decide
        try:
            return abs(complex(sp.N(difference, 30))) < 1e-25 * max(1.0, abs(complex(sp.N(b, 30))))
        except (TypeError, ValueError):
            return False
    return False


def _apart(a, b) -> bool:
    """Two numbers that differ at 30 digits: certainly not equal, decided without simplifying (a class's wrong
    answers are mostly this)."""
    if not (getattr(a, "is_number", False) and getattr(b, "is_number", False)):
        return False
    try:
        gap, scale = complex(sp.N(a - b, 30)), complex(sp.N(b, 30))
    except (TypeError, ValueError):
        return False
    return abs(gap) > 1e-20 * max(1.0, abs(scale))


def _against_number(q, d, right: Answer, student, notation: Notation) -> Feedback:
    """The derived answer is a number (the sheet's data are given): the student's formula at those data, or a
    decimal correct to the digits given."""
    expected = right.expr
    if student.atoms(SUM) or student.has(n_obs):
        if not q.model.observed:
            return Feedback("undecided", False, None, "the answer uses data, and the question's model has none")
        value = _value(student, d, *_observed_rows(d))
        if value is None:
            return Feedback("undecided", False, None, "the answer could not be evaluated at the sheet's data")
        student = value
    decimal = (
        notation.decimals[0] if len(notation.decimals) == 1 and student.is_Rational and not student.is_Integer else None
    )
    if decimal is not None:
        found = _decimal(decimal, student, expected)
    elif _equal(student, expected):
        return Feedback("correct", True, None, "equal to the derived answer exactly")
    else:
        found = Feedback(
            "incorrect",
            False,
            None,
            f"not the answer: yours is {float(sp.N(student)):.6g}, the derived one {float(sp.N(expected)):.6g}",
            {"data": "the sheet's", "yours": float(sp.N(student)), "expected": float(sp.N(expected))},
        )
    if found.verdict != "incorrect":
        return found
    for m in mistakes_of(q, d, right):
        if not m.expr.is_number:
            continue
        same = _decimal(decimal, student, m.expr).verdict == "correct" if decimal else _equal(student, m.expr)
        if same:
            return Feedback("incorrect", False, m.name, f"not the answer: {m.words}.", found.counterexample, m.step)
    return found


def _decimal(text: str, given: sp.Rational, expected) -> Feedback:
    """Correct when the exact answer rounds to the digits given: |given - exact| <= half a unit of the last one."""
    shape = Decimal(text).as_tuple()
    digits = len("".join(map(str, shape.digits)).lstrip("0"))
    value = float(sp.N(expected, 30))
    error = abs(float(given) - value) / abs(value) if value else abs(float(given))
    signed = Fraction(int(given.p), int(given.q))  # the sign typed before the digits counts
    unit = Fraction(10) ** int(shape.exponent)
    rounded = abs(signed - Fraction(str(sp.N(expected, 40)))) <= unit / 2
    if digits < MIN_DIGITS:
        return Feedback(
            "undecided", False, None, f"give at least {MIN_DIGITS} significant digits (relative error {error:.1e})"
        )
    if rounded:
        return Feedback(
            "correct",
            False,
            None,
            f"the exact answer rounded to the {digits} digits given (relative error {error:.1e})",
        )
    return Feedback(
        "incorrect",
        False,
        None,
        f"not the answer rounded to {digits} digits: it is {value:.{digits}g} "
        f"(yours differs by a relative {error:.1e})",
        {"data": "the sheet's", "yours": float(given), "expected": value},
    )


def _observed_rows(d: Derivation) -> tuple[list[dict], list[int]]:
    """The distinct rows of the observed data, exact, and how often each occurs (a sum over 10^5 coin tosses is
    a sum over two rows)."""
    assert d.model.observed  # the caller asks only for a model with data
    counted = observed_counts(d.model)
    return [{s: sp.nsimplify(v) for s, v in row.items()} for row, _ in counted], [k for _, k in counted]


_DATA_SETS: dict[tuple[int, int], tuple[Derivation, list]] = {}  # by model and seed: a class's checks share them


def _data_sets(q, d: Derivation, seed: int) -> list:
    """The question's small data sets, drawn once per model and seed (see _draw_data_sets)."""
    key = (id(d.model), seed)
    held = _DATA_SETS.get(key)
    if held is None or held[0] is not d:
        held = _DATA_SETS[key] = (d, list(_draw_data_sets(d, seed)))
    return held[1]


def _draw_data_sets(d: Derivation, seed: int):
    """Small data sets, n = 3, 4, 5, 3, 4, 5: the model's own draws at its truth, rounded to exact numbers
    (integers where the support is discrete, two decimals else)."""
    model = d.model
    rng = np.random.default_rng(seed)
    for k in range(DATA_SETS):
        n = max(3 + k % 3, model.min_n)
        if model.simulate is not None and model.truth:
            drawn = model.draw(rng, n)
        else:
            drawn = {s.name: rng.integers(1, 6, n).astype(float) for s in model.data}
        whole = {name: np.round(np.asarray(v, float)) for name, v in drawn.items()}
        integers = all(in_support(whole[s.name], model.support.get(s, sp.Reals)).all() for s in model.data)
        scale = 1 if integers and k < DATA_SETS // 2 else 100  # integers first, where the support allows them
        rows = [{s: sp.Rational(round(float(drawn[s.name][i]) * scale), scale) for s in model.data} for i in range(n)]
        yield [{**row, **_parameters(d, k)} for row in rows]


def _parameters(d: Derivation, k: int) -> dict:
    """Parameter values for an answer in the parameters (a density, a bias): the truth moved a little, exact."""
    out = {}
    for p in d.model.params:
        base = d.model.truth.get(p.name, 0.5) if d.model.truth else 0.5
        value = _exact(round(float(base) * (1 + 0.07 * (k + 1)), 3))
        out[p.symbol] = value if p.domain.contains(value) is sp.true else _exact(base)
    return out


def _exact(x) -> sp.Rational:
    """A float as the decimal it prints as (0.535 -> 107/200): what nsimplify finds, without its search."""
    return sp.Rational(repr(float(x))) if isinstance(x, (float, int, np.floating, np.integer)) else sp.nsimplify(x)


def _value(expr: sp.Basic, d: Derivation, rows: list[dict], counts: list[int] | None = None):
    """expr at the data rows, exactly: SUM(g) summed over them, the derivation's statistics from their
    definitions, n the number of rows. counts: how often each row occurs (None: once each)."""
    times = counts or [1] * len(rows)
    n = sum(times)
    at = innermost_first(expr, lambda g: sp.Add(*[k * g.subs(row) for row, k in zip(rows, times)]))
    if at is None:
        return None
    stats = {}
    for s in d.statistics:
        if s.symbol == n_obs or not at.has(s.symbol):
            continue
        values = [s.expr.subs(row) for row in rows]
        if s.reduce == "sum":
            stats[s.symbol] = sp.Add(*[k * v for v, k in zip(values, times)])
        elif s.reduce in ("max", "min"):
            stats[s.symbol] = (sp.Max if s.reduce == "max" else sp.Min)(*values)
        else:
            return None
    params = {p: rows[0][p] for p in d.params if p in rows[0]}
    value = at.subs(stats).subs(n_obs, n).subs(params).subs(d.model.constants)
    return value if value.is_number and value.is_finite is not False else None


def _incorrect(q, d, right: Answer, student, rows_list, rows, mine, theirs) -> Feedback:
    data = {s.name: [str(row[s]) for row in rows] for s in d.model.data}
    used = (right.expr.free_symbols | student.free_symbols) & set(d.params)
    data |= {p.name: str(rows[0][p]) for p in sorted(used, key=str)}
    evidence = {"data": data, "yours": _shown(mine), "expected": _shown(theirs)}
    for m in mistakes_of(q, d, right):
        if all(_agrees(student, m.expr, d, r) for r in rows_list[:3]):
            return Feedback("incorrect", False, m.name, f"not the answer: {m.words}.", evidence, m.step)
    return Feedback(
        "incorrect",
        False,
        None,
        f"not the answer: on the data {data} yours gives {_shown(mine)} and the derived answer {_shown(theirs)}",
        evidence,
    )


def _agrees(student, other: sp.Basic, d: Derivation, rows) -> bool:
    mine, theirs = _value(student, d, rows), _value(other, d, rows)
    return mine is not None and theirs is not None and _equal(mine, theirs)


def _shown(value) -> str | float:
    if value.is_Rational:
        return str(value)
    return float(sp.N(value))


__all__ = ["Feedback", "Mistake", "check"]


def _checked(sheet: Sheet, args) -> Feedback:
    """One answer, or with --lines a derivation read from a file or standard input (at most 100 kB)."""
    if not args.lines:
        return check(sheet, args.question, args.answer, args.seed)
    import sys

    from mlemap.numerics.reasoning import check_lines

    try:
        raw = sys.stdin.buffer.read(100_001) if args.answer == "-" else Path(args.answer).read_bytes()[:100_001]
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--lines {args.answer}: cannot read the derivation ({exc})") from None
    if len(raw) > 100_000:
        raise InputError(f"--lines {args.answer}: a derivation is at most 100 kB")
    return check_lines(sheet, args.question, text.splitlines(), args.seed)


def main(argv: list[str] | None = None, prog: str = "python -m mlemap.numerics.check") -> int:
    """Exit 0 correct, 1 incorrect, 2 unreadable, undecided or a usage error."""
    import argparse
    import json
    import sys

    from mlemap.derivations.sheet import load_sheet, sheet_option_help
    from mlemap.sheets import DEFAULT_SHEET  # the command line alone chooses the default sheet

    usage = argparse.ArgumentParser(prog=prog, description="Check one student answer against the sheet's derivation.")
    usage.add_argument("--sheet", default=str(DEFAULT_SHEET), help=sheet_option_help())
    usage.add_argument("question", help="the answer's key in answers.json, e.g. task1.sigma2_mle")
    usage.add_argument(
        "answer", help="the answer: LaTeX (\\frac{1}{n}\\sum_i x_i), plain text (sum(x_i)/n) or a number"
    )
    usage.add_argument("--json", metavar="PATH", help="also write the feedback as JSON; '-' writes it to stdout only")
    usage.add_argument("--seed", type=int, default=0, help="seed of the random data sets (default 0)")
    usage.add_argument(
        "--student", metavar="ID", help="check against this student's own data, where the sheet draws data per student"
    )
    usage.add_argument(
        "--lines",
        action="store_true",
        help="ANSWER is a file ('-': standard input) holding a derivation, one expression or equation per line; "
        "each line is checked against the one before, the last against the answer",
    )
    usage.add_argument("--quiet", "-q", action="store_true", help="print the verdict line only (and errors)")
    args = usage.parse_args(argv)
    try:
        sheet = load_sheet(args.sheet)
        feedback = _checked(sheet.for_student(args.student) if args.student is not None else sheet, args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json == "-":
        print(json.dumps(feedback.as_dict(), indent=1, sort_keys=True))
        return feedback.exit_code
    print(f"{feedback.verdict}: {feedback.message}")
    if feedback.step and not args.quiet:
        print(f"  where it goes wrong: the step '{feedback.step}' of the worked solution")
    if not args.quiet and feedback.counterexample and isinstance(feedback.counterexample.get("data"), dict):
        print(
            f"  for example, on {feedback.counterexample['data']}: yours {feedback.counterexample['yours']}, "
            f"expected {feedback.counterexample['expected']}"
        )
    if args.json:
        from mlemap.numerics.verify import json_target_problem, write_whole

        target = Path(args.json)
        problem = json_target_problem(target)
        if problem:
            print(f"error: --json {target}: {problem}", file=sys.stderr)
            return 2
        write_whole(target, (json.dumps(feedback.as_dict(), indent=1, sort_keys=True) + "\n").encode())
    return feedback.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
