"""Build the report into a temporary directory, one timed step at a time, and swap it in at the end.

A failed or interrupted build names the step that failed and leaves the previous report untouched. The one
exception is the last step, LaTeX: every other file is written and proved by then, so a LaTeX error still swaps
the new report in, without report.pdf but with report.tex and report.log to read, and then raises PdfFailed
quoting the first LaTeX error line and its source line (l.NN).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import load_sheet_module
from mlemap.reports import questions, render
from mlemap.reports.document import at_a_glance, colophon, with_colophon
from mlemap.reports.output import (
    describe_os_error,
    locked,
    marker_files,
    new_temp,
    remove_stale_temps,
    resolve_out,
    swap_in,
    write_marker,
)
from mlemap.reports.plan import ReportPlan, Settings
from mlemap.reports.sheet_document import GenericReport
from mlemap.reports.workers import Worker, die_with_parent

FORMATS = ("md", "tex", "pdf", "html")
FIGURE_PROCESSES = min(2, os.cpu_count() or 1)  # drawing is about a quarter of a build's CPU time
TEX_PACKAGES = "texlive-latex-base texlive-latex-recommended latexmk lmodern"


class LatexFailed(RuntimeError):
    """LaTeX stopped on an error: the message quotes its first error line and where in report.tex it is."""


class BuildError(RuntimeError):
    def __init__(self, step: str, cause: BaseException):
        if isinstance(cause, OSError):
            reason = describe_os_error(cause)
        elif isinstance(cause, LatexFailed):
            reason = str(cause)  # LaTeX's own words, without a Python exception's name
        else:
            reason = f"{type(cause).__name__}: {cause}"
        super().__init__(f"step '{step}' failed: " + " ".join(reason.split()))
        self.step = step


class PdfFailed(BuildError):
    """The LaTeX step failed after every other file was written: the new report is in `out` all the same,
    without report.pdf, with report.tex and report.log to read."""

    def __init__(self, out: Path, reason: str):
        super().__init__("latex", LatexFailed(reason))
        self.out = out


def latex_to_pdf(directory: Path, log: Callable[[str], None]) -> bool:
    if shutil.which("latexmk") is None or shutil.which("pdflatex") is None:
        log(f"pdf: skipped, no latexmk/pdflatex on PATH (apt-get install {TEX_PACKAGES})")
        return False
    # defence in depth for text from outside (checked at its declaration already): TeX may read and write files
    # below the report's directory only, and never runs a shell
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1", openin_any="p", openout_any="p")
    cmd = [
        "latexmk",
        "-pdf",
        "-pdflatex=pdflatex -no-shell-escape %O %S",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-quiet",
        "report.tex",
    ]
    returncode, output = run_tool(cmd, directory, env)
    for auxiliary in ("aux", "fls", "fdb_latexmk", "out", "toc"):  # the log stays: readers check it for overfull boxes
        (directory / f"report.{auxiliary}").unlink(missing_ok=True)
    if returncode != 0:
        (directory / "report.pdf").unlink(missing_ok=True)  # a PDF LaTeX gave up on is not the report
        log_file = directory / "report.log"
        first = first_latex_error(log_file.read_text(errors="replace")) if log_file.exists() else None
        tail = " | ".join(output.splitlines()[-6:]) or "no output"
        raise LatexFailed(first or f"latexmk exited {returncode} and report.log names no error: {tail}")
    return True


def first_latex_error(log_text: str) -> str | None:
    """The log's first error line (TeX starts it with '!') and the line of report.tex it stopped at, which TeX
    prints a few lines below as 'l.NN <the source text>'; None when the log holds no error line."""
    lines = log_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("!")), None)
    if start is None:
        return None
    where = next((m for m in (re.match(r"l\.(\d+)(.*)", line) for line in lines[start + 1 : start + 40]) if m), None)
    if where is None:
        return f"LaTeX: {lines[start]}"
    source = where.group(2).strip()
    return f"report.tex l.{where.group(1)}: {lines[start]}" + (f" (at '{source}')" if source else "")


def pdf_step(tmp: Path, progress: Progress, log: Callable[[str], None], maybe_fail=None) -> None:
    """The LaTeX step. Its LaTeX error is recorded (progress.pdf_failure), not raised: the Markdown, HTML and
    answers are whole, so the build goes on and swaps them in; any other failure stops the build as usual."""
    try:
        with progress.step("latex"):
            latex_to_pdf(tmp, log)
            if maybe_fail is not None:
                maybe_fail("latex")
    except BuildError as exc:
        if not isinstance(exc.__cause__, LatexFailed):
            raise
        progress.pdf_failure = str(exc.__cause__)


def run_tool(cmd: list[str], cwd: Path, env: dict) -> tuple[int, str]:
    """A subprocess in its own process group, killed with its children (pdflatex) if the build stops, and
    by the kernel if the build is killed (the parent-death signal)."""
    parent = os.getpid()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: die_with_parent(parent),  # noqa: PLW1509 - the child only asks for the parent-death signal before exec
    )
    try:
        output, _ = proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):  # it had already ended
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return proc.returncode, output


class Progress:
    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.times: dict[str, float] = {}
        self.pdf_failure: str | None = None  # LaTeX's first error, when the PDF alone could not be made

    @contextmanager
    def step(self, name: str):
        start = time.perf_counter()
        try:
            yield
        except InputError:
            raise  # the sheet's or the request's rule, in its own one line (exit 2)
        except Exception as exc:  # an interrupt (Ctrl-C, SIGTERM) is not a failed step: it passes through
            raise BuildError(name, exc) from exc
        self.times[name] = time.perf_counter() - start
        self.log(f"[{name:<9}] {self.times[name]:6.2f} s")


def report_for(settings: Settings) -> ReportPlan:
    """The report of the sheet's questions, one section each by its kind."""
    if settings.sheet_path is None:
        raise InputError("no sheet given: name a sheet file (--sheet)")
    sheet = load_sheet_module(settings.sheet_path).SHEET
    return GenericReport(sheet.for_student(settings.student) if settings.student is not None else sheet, settings)


def check_request(report: ReportPlan, formats) -> None:
    unknown = set(formats) - set(FORMATS)
    if unknown or not formats:
        raise InputError(f"--format must be a comma list of {', '.join(FORMATS)}, got {','.join(formats) or 'nothing'}")
    unknown_sections = set(report.settings.sections or ()) - set(report.sections)
    if unknown_sections:
        choices = ", ".join(report.sections) or "none: this sheet's report has no optional sections"
        raise InputError(f"--only: unknown section {sorted(unknown_sections)[0]!r}; choose from {choices}")


def build(
    settings: Settings, out: Path, formats=FORMATS, log: Callable[[str], None] = print, fail_at: str | None = None
) -> Path:
    """Build into a marked temporary sibling of out, under a lock on out, and swap it in at the end.
    fail_at names a step to fail on purpose (tests use it to show a failed build keeps the old report)."""
    report = report_for(settings)
    check_request(report, formats)
    out = resolve_out(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create its parent directory ({exc.strerror})") from None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: the directory {out.parent} is not writable")
    with locked(out):
        for stale in remove_stale_temps(out):
            log(f"removed {stale.name}, left by a build that did not finish")
        tmp = new_temp(out, "new")
        try:
            if report.settings.variant == "questions":
                progress = _questions_into(tmp, report, formats, log)
            else:
                progress = _build_into(
                    tmp, report, formats, log, fail_at, previous=out if marker_files(out) is not None else None
                )
            write_marker(tmp)
            swap_in(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if progress.pdf_failure is not None:
        log(f"wrote {out} without report.pdf in {sum(progress.times.values()):.1f} s")
        raise PdfFailed(out, progress.pdf_failure)
    log(f"wrote {out} in {sum(progress.times.values()):.1f} s")
    return out


def _build_into(
    tmp: Path, report: ReportPlan, formats, log: Callable[[str], None], fail_at: str | None, previous: Path | None
) -> Progress:
    """The report's files in tmp; previous is the report it replaces (its unchanged figures and LaTeX
    cross-references are reused), or None."""
    progress = Progress(log)

    def maybe_fail(name):
        if fail_at == name:
            raise RuntimeError("failure requested with fail_at")

    with progress.step("derive"):
        report.prepare()
        maybe_fail("derive")
    # Forked after "derive", so the worker starts with every derivation already made; the results are seeded
    # and the same whichever process computes them.
    worker = Worker(timed, report.background, fork=report.settings.jobs > 1)
    try:
        for name, step in report.foreground():
            with progress.step(name):
                step()
                maybe_fail(name)
        with progress.step("verify"):
            result, seconds = worker.result()
            report.absorb(result)
            maybe_fail("verify")
    finally:
        worker.kill()
    log(f"            (verification ran {seconds:.2f} s in a worker, alongside the steps above)")
    with progress.step("document"):  # the text, with the figures it asks for recorded, not yet drawn
        sections, plan = report.document()
        answer_rows = report.answers()
        front = [at_a_glance(report.glance())] if report.settings.variant == "solutions" else []
        sections = [*front, *with_colophon(sections, colophon(report.settings.seed))]
        maybe_fail("document")
    with progress.step("figures"):
        plan.render(
            tmp / "figures",
            processes=min(FIGURE_PROCESSES, report.settings.jobs),
            previous=previous and previous / "figures",
        )
        maybe_fail("figures")
    with progress.step("prove"):
        proved = prove_steps(sections)
        maybe_fail("prove")
    (tmp / "steps.json").write_text(json.dumps(proved, indent=1, ensure_ascii=False) + "\n")
    write_documents(tmp, sections, report.title, report.subtitle, answer_rows, formats, progress, log, maybe_fail)
    return progress


class UnprovedStep(ValueError):
    """A displayed step whose equality SymPy cannot prove: the report is not written."""


def prove_steps(sections) -> list[dict]:
    """Prove every displayed step's claims; the records of steps.json. The first step that fails stops the build,
    named by its question and title."""
    records = []
    for sec in sections:
        for block in sec.blocks:
            for step in block["steps"] if block["kind"] == "steps" else ():
                proof = step["proof"]
                if proof is not None and not proof.proved():
                    raise UnprovedStep(
                        f"question {sec.key}, step '{step['title']}': SymPy cannot prove {step['latex']}"
                    )
                records.append(
                    {
                        "question": sec.key,
                        "step": step["title"],
                        "latex": step["latex"],
                        "status": "stated" if proof is None else "proved",
                        **({} if proof is None else proof.as_record()),
                    }
                )
    return records


def _questions_into(tmp: Path, report: ReportPlan, formats, log: Callable[[str], None]) -> Progress:
    """The students' sheet: each question with its setup and data, nothing derived, so nothing that answers it;
    its data sets as CSV files beside it, and no answers.json."""
    progress = Progress(log)
    with progress.step("document"):
        settings = report.settings
        sheet = questions.handout(report.sheet, report.questions(), settings.seed, settings.n)
    with progress.step("write"):
        student = settings.student
        questions.write(tmp, sheet, report.title, "Questions" + (f" for student {student}" if student else ""), formats)
    if "pdf" in formats:
        pdf_step(tmp, progress, log)
    return progress


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    return fn(), time.perf_counter() - start


def write_documents(
    tmp: Path,
    sections,
    title: str,
    sub: str,
    answer_rows: list[dict] | None,
    formats,
    progress: Progress,
    log,
    maybe_fail,
) -> None:
    with progress.step("write"):
        if "md" in formats:
            (tmp / "report.md").write_text(render.markdown(sections, title, sub))
        if "tex" in formats or "pdf" in formats:
            (tmp / "report.tex").write_text(render.latex(sections, title, sub))
        if "html" in formats:
            (tmp / "report.html").write_text(render.html(sections, title, sub, tmp / "figures"))
        if answer_rows is not None:  # None: the questions variant, which must not give an answer away
            (tmp / "answers.json").write_text(json.dumps(answer_rows, indent=2, sort_keys=True) + "\n")
        maybe_fail("write")
    if "pdf" in formats:
        pdf_step(tmp, progress, log, maybe_fail)
