"""`mlemap grade --sheet S submissions.csv --out DIR`: a class's answers checked, written as grades.csv, one
feedback page per student (Markdown and HTML) and a summary with a figure of the verdicts per question. The
directory is guarded like a report's: new, empty or an earlier grading, swapped in at the end."""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import io
import json
import re
import sys
from pathlib import Path

from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import answers, load_sheet
from mlemap.numerics.grade import ClassResult, grade, read_submissions
from mlemap.reports.output import locked, new_temp, remove_stale_temps, resolve_out, swap_in, write_marker

VERDICT_ORDER = ("correct", "incorrect", "unreadable", "undecided")


def slug(student: str) -> str:
    """A file name from a student ID: its safe characters and a hash, so two IDs never share a file."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", student)[:40].strip("_") or "student"
    return f"{safe}-{hashlib.sha256(student.encode()).hexdigest()[:8]}"


def grades_csv(result: ClassResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *result.questions, "total", "out of"])
    best = sum(result.points.values())
    for student in result.students():
        mine = {r.question: r.points for r in result.rows if r.student == student}
        writer.writerow(
            [
                _cell(student),
                *(f"{mine.get(q, 0.0):g}" for q in result.questions),
                f"{result.total(student):g}",
                f"{best:g}",
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet does not run: a leading =, +, - or @ is quoted with an apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _code(text: str) -> str:
    """A student's text in Markdown: a code span long enough for any backticks in it."""
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text.replace(chr(10), ' ')} {fence}"


def feedback_markdown(result: ClassResult, student: str, labels: dict[str, str]) -> str:
    rows = [r for r in result.rows if r.student == student]
    lines = [
        f"# Feedback for {_code(student)}",
        "",
        f"Total: {result.total(student):g} of {sum(result.points.values()):g} points.",
        "",
    ]
    for r in rows:
        lines += [f"## {labels.get(r.question, r.question)}", "", f"Your answer: {_code(r.answer)}", ""]
        lines.append(f"**{r.feedback.verdict}** ({r.points:g} of {result.points[r.question]:g}): {r.feedback.message}")
        if r.feedback.step:
            lines += ["", f"Where it goes wrong: the step *{r.feedback.step}* of the worked solution."]
        lines.append("")
    return "\n".join(lines)


def _label_html(label: str) -> str:
    """A question's label (the sheet's checked text): its $...$ as MathML, the rest escaped."""
    from mlemap.reports.render import safe_mathml

    pieces = re.split(r"(\$[^$]+\$)", label)
    return "".join(
        safe_mathml(p[1:-1]) if p.startswith("$") and p.endswith("$") and len(p) > 1 else html.escape(p) for p in pieces
    )


def feedback_html(result: ClassResult, student: str, labels: dict[str, str]) -> str:
    """The same page in HTML: every text from outside escaped; no script, no link."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback</title>",
        "<style>body{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.5}"
        ".correct{color:#176417}.incorrect{color:#a11}.unreadable,.undecided{color:#8a5a00}"
        "code{background:#f3f3f3;padding:0 .2em;word-break:break-all}</style></head><body>",
        f"<h1>Feedback for <code>{esc(student)}</code></h1>",
        f"<p>Total: {result.total(student):g} of {sum(result.points.values()):g} points.</p>",
    ]
    for r in (r for r in result.rows if r.student == student):
        parts.append(f"<h2>{_label_html(labels.get(r.question, r.question))}</h2>")
        parts.append(f"<p>Your answer: <code>{esc(r.answer)}</code></p>")
        parts.append(
            f"<p><strong class='{r.feedback.verdict}'>{r.feedback.verdict}</strong> "
            f"({r.points:g} of {result.points[r.question]:g}): {_message_html(r.feedback)}</p>"
        )
        if r.feedback.step:
            parts.append(
                f"<p>Where it goes wrong: the step <em>{esc(r.feedback.step)}</em> of the worked solution.</p>"
            )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _message_html(feedback) -> str:
    """A named mistake's words are the derivation's, with their math ($n - 1$) set as MathML; any other message
    may quote the student's text and is escaped whole."""
    if feedback.mistake is None:
        return html.escape(feedback.message)
    from mlemap.reports.render import prose

    return str(prose(feedback.message))


def summary_markdown(result: ClassResult, labels: dict[str, str]) -> str:
    lines = ["# Class summary", "", f"{len(result.students())} students, {len(result.rows)} answers.", ""]
    lines += ["| question | " + " | ".join(VERDICT_ORDER) + " | most common mistakes |", "|---" * 6 + "|"]
    for q in result.questions:
        v = result.verdicts(q)
        common = ", ".join(f"{name} ({k})" for name, k in result.mistakes(q).most_common(3))
        lines.append(
            f"| {labels.get(q, q)} | " + " | ".join(str(v.get(x, 0)) for x in VERDICT_ORDER) + f" | {common} |"
        )
    lines += ["", "![Verdicts per question](summary.png)", ""]
    return "\n".join(lines)


def summary_figure(result: ClassResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(result.questions) + 1.2))
    left = np.zeros(len(result.questions))
    colours = {"correct": "#2e8b57", "incorrect": "#c0392b", "unreadable": "#e0a030", "undecided": "#999999"}
    for verdict in VERDICT_ORDER:
        counts = np.array([result.verdicts(q).get(verdict, 0) for q in result.questions])
        ax.barh(result.questions, counts, left=left, color=colours[verdict], label=verdict)
        left += counts
    ax.invert_yaxis()
    ax.set(xlabel="answers")
    ax.legend(
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25 if len(result.questions) < 6 else -0.08),
        ncol=4,
        frameon=False,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def gradescope_results(result: ClassResult, student: str, labels: dict[str, str]) -> str:
    """One student's results in Gradescope's autograder format (results.json): the total, and a test per
    question with its points, its maximum and the feedback as output."""
    answered = {r.question: r for r in result.rows if r.student == student}
    tests = []
    for q in result.questions:
        r = answered.get(q)
        output = "no answer" if r is None else f"{r.feedback.verdict}: {r.feedback.message}"
        tests.append(
            {
                "name": labels.get(q, q),
                "score": 0.0 if r is None else r.points,
                "max_score": result.points[q],
                "output": output,
                "visibility": "visible",
            }
        )
    return json.dumps({"score": result.total(student), "tests": tests}, indent=1, sort_keys=True) + "\n"


def write_class(result: ClassResult, directory: Path, labels: dict[str, str], gradescope: bool = False) -> None:
    (directory / "grades.csv").write_text(grades_csv(result))
    if gradescope:  # Gradescope runs an autograder per submission; each student's file is its results.json
        (directory / "gradescope").mkdir()
        for student in result.students():
            text = gradescope_results(result, student, labels)
            (directory / "gradescope" / f"{slug(student)}.json").write_text(text)
    (directory / "feedback").mkdir()
    for student in result.students():
        name = slug(student)
        (directory / "feedback" / f"{name}.md").write_text(feedback_markdown(result, student, labels))
        (directory / "feedback" / f"{name}.html").write_text(feedback_html(result, student, labels))
    (directory / "summary.md").write_text(summary_markdown(result, labels))
    summary_figure(result, directory / "summary.png")


def main(argv: list[str] | None = None, prog: str = "python -m mlemap.reports.grade") -> int:
    from mlemap.derivations.sheet import sheet_option_help
    from mlemap.sheets import DEFAULT_SHEET  # the command line alone chooses the default sheet

    usage = argparse.ArgumentParser(prog=prog, description="Grade a class's answers against the sheet's derivations.")
    usage.add_argument(
        "submissions",
        help="a CSV file with the header student,question,answer, or a directory of STUDENT.csv files with the "
        "header question,answer",
    )
    usage.add_argument("--sheet", default=str(DEFAULT_SHEET), help=sheet_option_help())
    usage.add_argument("--out", default="build/grades", help="output directory (default build/grades)")
    usage.add_argument("--jobs", type=int, default=None, help="processes (default: every core)")
    usage.add_argument(
        "--gradescope",
        action="store_true",
        help="also write gradescope/STUDENT.json, each student's results in Gradescope's results.json format",
    )
    usage.add_argument("--quiet", "-q", action="store_true", help="no messages on standard error, except errors")
    args = usage.parse_args(argv)
    try:
        sheet = load_sheet(args.sheet)
        rows = read_submissions(Path(args.submissions))
        out = resolve_out(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        result = grade(sheet, rows, args.jobs)
        labels = {a.key: a.question for a in answers(sheet)}
        with locked(out):
            remove_stale_temps(out)
            tmp = new_temp(out, "new")
            try:
                write_class(result, tmp, labels, args.gradescope)
                write_marker(tmp)
                swap_in(tmp, out)
            except BaseException:
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
                raise
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"graded {len(result.students())} students into {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
