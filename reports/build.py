"""Build the report into a temporary directory, one timed step at a time, and swap it in at the end.

A failed or interrupted build names the step that failed and leaves the previous report untouched.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import torch

from derivations.model import InputError
from numerics.compile import warm_torch_optim
from reports import compute, content, render

FORMATS = ("md", "tex", "pdf")
TITLE = "Exercise 3: maximum likelihood and MAP, worked solutions"
FIGURE_PROCESSES = min(2, os.cpu_count() or 1)  # drawing is about a quarter of a build's CPU time
TEX_PACKAGES = "texlive-latex-base texlive-latex-recommended latexmk lmodern"


class BuildError(RuntimeError):
    def __init__(self, step: str, cause: BaseException):
        super().__init__(f"step '{step}' failed: {type(cause).__name__}: {cause}")
        self.step = step


def check_output_dir(out: Path) -> Path:
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; it must be a directory (or not exist yet)")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create its parent directory ({exc.strerror})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: the directory {parent} is not writable")
    return out


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def swap_in(new: Path, out: Path) -> None:
    """Replace out by new with renames on one filesystem; the old report is removed only afterwards."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / out.name)
    os.rename(new, out)
    if old is not None:
        shutil.rmtree(old)


def latex_to_pdf(directory: Path, log: Callable[[str], None]) -> bool:
    if shutil.which("latexmk") is None or shutil.which("pdflatex") is None:
        log(f"pdf: skipped, no latexmk/pdflatex on PATH (apt-get install {TEX_PACKAGES})")
        return False
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-quiet", "report.tex"]
    proc = subprocess.run(cmd, cwd=directory, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        raise RuntimeError(f"latexmk exited {proc.returncode}:\n{tail}")
    subprocess.run(["latexmk", "-c", "report.tex"], cwd=directory, env=env, capture_output=True)
    return True


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
        except BaseException as exc:
            raise BuildError(name, exc) from exc
        self.times[name] = time.perf_counter() - start
        self.log(f"[{name:<9}] {self.times[name]:6.2f} s")


def build(settings: compute.Settings, out: Path, formats=FORMATS, log: Callable[[str], None] = print, fail_at: str | None = None) -> Path:
    """fail_at names a step to fail on purpose (tests use it to show a failed build keeps the old report)."""
    unknown = set(formats) - set(FORMATS)
    if unknown or not formats:
        raise InputError(f"--format must be a comma list of {', '.join(FORMATS)}, got {','.join(formats) or 'nothing'}")
    unknown_sections = set(settings.sections) - set(compute.SECTIONS)
    if unknown_sections:
        raise InputError(f"--only: unknown section {sorted(unknown_sections)[0]!r}; choose from {', '.join(compute.SECTIONS)}")
    out = check_output_dir(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; the report should get ordinary permissions
    progress = Progress(log)
    results = compute.Results(settings)

    def maybe_fail(name):
        if fail_at == name:
            raise RuntimeError("failure requested with fail_at")

    subtitle = f"seed {settings.seed}, n = {settings.n}; every number computed by mlemap"
    try:
        with progress.step("derive"):
            compute.derive_all(settings)
            warm_torch_optim()
            maybe_fail("derive")
        # Forked after "derive", so the worker starts with every derivation already cached; the results are
        # seeded and the same whichever process computes them.
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
            pending = pool.submit(verify_in_worker, settings)
            if "theory" in settings.sections:
                with progress.step("theory"):
                    compute.run_theory(settings, results)
            if "praxis" in settings.sections:
                with progress.step("praxis"):
                    compute.run_praxis(settings, results)
                    maybe_fail("praxis")
            with progress.step("verify"):
                results.checks, results.answers, results.extensions, worker_seconds = pending.result()
                maybe_fail("verify")
            log(f"            (verify and fisher ran {worker_seconds:.2f} s in a worker, alongside the steps above)")
        with progress.step("figures"):
            sections, plan = content.document(results)
            plan.render(tmp / "figures", processes=FIGURE_PROCESSES)
            maybe_fail("figures")
        with progress.step("write"):
            if "md" in formats:
                (tmp / "report.md").write_text(render.markdown(sections, TITLE, subtitle))
            if "tex" in formats or "pdf" in formats:
                (tmp / "report.tex").write_text(render.latex(sections, TITLE, subtitle))
            (tmp / "answers.json").write_text(json.dumps(content.answers_json(results), indent=2, sort_keys=True) + "\n")
            maybe_fail("write")
        if "pdf" in formats:
            with progress.step("latex"):
                latex_to_pdf(tmp, log)
                maybe_fail("latex")
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"wrote {out} in {sum(progress.times.values()):.1f} s")
    return out
