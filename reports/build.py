"""Build the report into a temporary directory, one timed step at a time, and swap it in at the end.

A failed or interrupted build names the step that failed and leaves the previous report untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import torch

from derivations.model import InputError
from numerics.compile import warm_torch_optim
from derivations.engine import derive
from derivations.sheet import OptimizerStudy, answers
from numerics.study import run_study
from numerics.verify import answer_checks, verify
from reports import compute, content, render
from reports.sheet_document import SheetResults, answer_rows, sheet_sections
from reports.output import describe_os_error, locked, new_temp, remove_stale_temps, resolve_out, swap_in, write_marker
from reports.workers import Worker, die_with_parent

FORMATS = ("md", "tex", "pdf")
TITLE = "Exercise 3: maximum likelihood and MAP, worked solutions"
FIGURE_PROCESSES = min(2, os.cpu_count() or 1)  # drawing is about a quarter of a build's CPU time
TEX_PACKAGES = "texlive-latex-base texlive-latex-recommended latexmk lmodern"


class BuildError(RuntimeError):
    def __init__(self, step: str, cause: BaseException):
        reason = describe_os_error(cause) if isinstance(cause, OSError) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"step '{step}' failed: " + " ".join(reason.split()))
        self.step = step


def latex_to_pdf(directory: Path, log: Callable[[str], None]) -> bool:
    if shutil.which("latexmk") is None or shutil.which("pdflatex") is None:
        log(f"pdf: skipped, no latexmk/pdflatex on PATH (apt-get install {TEX_PACKAGES})")
        return False
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-quiet", "report.tex"]
    returncode, output = run_tool(cmd, directory, env)
    if returncode != 0:
        tail = " | ".join(output.splitlines()[-6:])
        raise RuntimeError(f"latexmk exited {returncode}: {tail}")
    run_tool(["latexmk", "-c", "report.tex"], directory, env)
    return True


def run_tool(cmd: list[str], cwd: Path, env: dict) -> tuple[int, str]:
    """A subprocess in its own process group, killed with its children (pdflatex) if the build stops, and
    by the kernel if the build is killed (the parent-death signal)."""
    parent = os.getpid()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=lambda: die_with_parent(parent))
    try:
        output, _ = proc.communicate()
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return proc.returncode, output


def verify_in_worker(settings: compute.Settings):
    """Verification and the Fisher appendix, run in a forked worker beside theory and praxis (two cores).
    One torch thread: the cores are shared with the parent, and no thread pool is inherited through fork."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    results = compute.Results(settings)
    compute.run_verification(settings, results)
    if "appendix" in settings.sections:
        compute.run_extensions(settings, results)
    return results.checks, results.answers, results.extensions, time.perf_counter() - start


class Progress:
    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.times: dict[str, float] = {}

    @contextmanager
    def step(self, name: str):
        start = time.perf_counter()
        try:
            yield
        except Exception as exc:  # an interrupt (Ctrl-C, SIGTERM) is not a failed step: it passes through
            raise BuildError(name, exc) from exc
        self.times[name] = time.perf_counter() - start
        self.log(f"[{name:<9}] {self.times[name]:6.2f} s")


def check_request(settings: compute.Settings, formats) -> None:
    unknown = set(formats) - set(FORMATS)
    if unknown or not formats:
        raise InputError(f"--format must be a comma list of {', '.join(FORMATS)}, got {','.join(formats) or 'nothing'}")
    unknown_sections = set(settings.sections) - set(compute.SECTIONS)
    if unknown_sections:
        raise InputError(f"--only: unknown section {sorted(unknown_sections)[0]!r}; choose from {', '.join(compute.SECTIONS)}")


def build(settings: compute.Settings, out: Path, formats=FORMATS, log: Callable[[str], None] = print, fail_at: str | None = None) -> Path:
    """Build into a marked temporary sibling of out, under a lock on out, and swap it in at the end.
    fail_at names a step to fail on purpose (tests use it to show a failed build keeps the old report)."""
    check_request(settings, formats)
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
            into = _build_sheet_into if settings.sheet is not None else _build_into
            progress = into(tmp, settings, formats, log, fail_at)
            write_marker(tmp)
            swap_in(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    log(f"wrote {out} in {sum(progress.times.values()):.1f} s")
    return out


def _build_into(tmp: Path, settings: compute.Settings, formats, log: Callable[[str], None], fail_at: str | None) -> Progress:
    progress = Progress(log)
    results = compute.Results(settings)

    def maybe_fail(name):
        if fail_at == name:
            raise RuntimeError("failure requested with fail_at")

    with progress.step("derive"):
        compute.derive_all(settings)
        warm_torch_optim()
        maybe_fail("derive")
    # Forked after "derive", so the worker starts with every derivation already cached; the results are
    # seeded and the same whichever process computes them.
    worker = Worker(verify_in_worker, settings, fork=settings.jobs > 1)
    try:
        if "theory" in settings.sections:
            with progress.step("theory"):
                compute.run_theory(settings, results)
        if "praxis" in settings.sections:
            with progress.step("praxis"):
                compute.run_praxis(settings, results)
                maybe_fail("praxis")
        with progress.step("verify"):
            results.checks, results.answers, results.extensions, worker_seconds = worker.result()
            maybe_fail("verify")
    finally:
        worker.kill()
    log(f"            (verify and fisher ran {worker_seconds:.2f} s in a worker, alongside the steps above)")
    _write(tmp, results, formats, progress, log, maybe_fail)
    return progress


def _write(tmp: Path, results: compute.Results, formats, progress: Progress, log, maybe_fail) -> None:
    with progress.step("figures"):
        sections, plan = content.document(results)
        plan.render(tmp / "figures", processes=min(FIGURE_PROCESSES, results.settings.jobs))
        maybe_fail("figures")
    write_documents(tmp, sections, TITLE, subtitle(results.settings), content.answers_json(results), formats, progress, log, maybe_fail)


def subtitle(settings: compute.Settings) -> str:
    return f"seed {settings.seed}, n = {settings.n}; every number computed by mlemap"


def write_documents(tmp: Path, sections, title: str, sub: str, answer_rows: list[dict], formats, progress: Progress, log, maybe_fail) -> None:
    with progress.step("write"):
        if "md" in formats:
            (tmp / "report.md").write_text(render.markdown(sections, title, sub))
        if "tex" in formats or "pdf" in formats:
            (tmp / "report.tex").write_text(render.latex(sections, title, sub))
        (tmp / "answers.json").write_text(json.dumps(answer_rows, indent=2, sort_keys=True) + "\n")
        maybe_fail("write")
    if "pdf" in formats:
        with progress.step("latex"):
            latex_to_pdf(tmp, log)
            maybe_fail("latex")


def _build_sheet_into(tmp: Path, settings: compute.Settings, formats, log: Callable[[str], None], fail_at: str | None) -> Progress:
    """Any sheet other than the default: derive its models, answer its questions, verify, write."""
    progress = Progress(log)
    sheet = settings.sheet

    def maybe_fail(name):
        if fail_at == name:
            raise RuntimeError("failure requested with fail_at")

    with progress.step("derive"):
        derived = {m.name: derive(m) for m in sheet.models}
        found = answers(sheet, deriv=lambda m: derived[m.name])
        maybe_fail("derive")
    with progress.step("verify"):
        verifications = [verify(d, settings.seed) for d in derived.values()] + [answer_checks(sheet, found)]
        maybe_fail("verify")
    with progress.step("studies"):
        studies = {q.key: run_study(derived[q.model.name], settings.seed, q.fractions) for q in sheet.questions if isinstance(q, OptimizerStudy)}
    results = SheetResults(sheet, derived, found, verifications, studies)
    with progress.step("figures"):
        sections = sheet_sections(results)
        results.plan.render(tmp / "figures", processes=min(FIGURE_PROCESSES, settings.jobs))
        maybe_fail("figures")
    write_documents(tmp, sections, sheet.title, f"seed {settings.seed}; every number computed by mlemap", answer_rows(results), formats, progress, log, maybe_fail)
    return progress
