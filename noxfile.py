"""nox sessions are mlemap's user interface: tests, verify, report, bench, lint, mutants.

MLEMAP_TORCH_INDEX names a package index for torch, e.g. PyTorch's CPU wheels
(https://download.pytorch.org/whl/cpu) on a machine without a GPU; it is added with --extra-index-url, so
every other package still comes from the default index. Unset, pip resolves torch as usual.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_external_run = True

CONSTRAINTS = "constraints.txt"
PYPROJECT = nox.project.load_toml("pyproject.toml")


def index_options() -> list[str]:
    """pip's options for MLEMAP_TORCH_INDEX, with a short timeout: an unreachable index fails fast."""
    index = os.environ.get("MLEMAP_TORCH_INDEX", "").strip()
    return ["--extra-index-url", index, "--timeout", "15", "--retries", "1"] if index else []


def install(session: nox.Session, *groups: str) -> None:
    session.install(*index_options(), "-c", CONSTRAINTS, "-e", ".[torch]")
    requirements = nox.project.dependency_groups(PYPROJECT, *groups) if groups else ()
    if requirements:
        session.install("-c", CONSTRAINTS, *requirements)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pytest strict, warnings as errors); posargs go to pytest."""
    install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def verify(session: nox.Session) -> None:
    """Check every derivation against independent numerics; exits non-zero on any FAIL. Writes no file unless
    asked: `nox -s verify -- --json build/verify.json --junit build/junit.xml` (CI does)."""
    install(session)
    session.run("python", "-m", "mlemap.numerics.verify", *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """Build the worked-solution report (Markdown, LaTeX, PDF) into build/report/."""
    install(session)
    session.run("python", "-m", "mlemap.reports", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Measure speedups, memory and scaling; writes build/bench.json. The derivation timings cover the textbook
    catalogue of the tests (tests/textbook_catalogue.py, which imports pytest): the test group is installed."""
    install(session, "test")
    session.run("python", "-m", "tests.bench", *session.posargs)


@nox.session(default=False)
def mutants(session: nox.Session) -> None:
    """Mutation-test derivations/ with mutmut; ends with the score line and writes build/mutants.json."""
    install(session, "mutants")
    session.run("mutmut", "run", "--max-children", "2", *session.posargs)
    session.run("mutmut", "export-cicd-stats")
    stats = json.loads(Path("mutants/mutmut-cicd-stats.json").read_text())
    tested = stats["total"] - stats.get("skipped", 0)
    killed = stats["killed"] + stats.get("timeout", 0)
    score = killed / tested if tested else 0.0
    Path("build").mkdir(exist_ok=True)
    Path("build/mutants.json").write_text(
        json.dumps({**stats, "killed": killed, "total": tested, "score": score}, indent=2, sort_keys=True) + "\n"
    )
    print(f"mutation score: {killed}/{tested} killed ({100 * score:.1f}%)")


LINT_PATHS = ["derivations", "numerics", "reports", "mlemap", "tests", "noxfile.py"]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check and mypy on the three packages; all must be clean."""
    install(session, "lint")
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)
    session.run("mypy", "-p", "mlemap", env={"MYPYPATH": str(installed_layout(Path(session.create_tmp())))})


def installed_layout(tmp: Path) -> Path:
    """A tree of links laid out as the wheel installs the package (mlemap/derivations, ...), so that mypy
    resolves mlemap.derivations as Python does; returns the directory holding mlemap/."""
    root = (tmp / "typecheck").resolve()
    package = root / "mlemap"
    package.mkdir(parents=True, exist_ok=True)
    sources = {p.name: p for p in Path("mlemap").iterdir() if p.name != "__pycache__"}
    sources |= {layer: Path(layer) for layer in ("derivations", "numerics", "reports")}
    for name, source in sources.items():
        link = package / name
        if not link.is_symlink():
            link.symlink_to(source.resolve())
    return root


@nox.session(python=["3.12", "3.13"], default=False)
def derivations(session: nox.Session) -> None:
    """The SymPy-only layer on newer Pythons, without torch (it is on disk for 3.11 only): its tests and the
    derivation of every catalogue model."""
    session.install("sympy>=1.13", "numpy>=1.26", "scipy>=1.11", "jinja2>=3.1", "pytest>=8")  # no torch
    tests = ["tests/test_layers.py", "tests/test_derivations.py", "tests/test_codec.py"]
    session.run(
        "python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        *tests,
        *session.posargs,
        env={"PYTHONPATH": str(Path.cwd())},
    )


@nox.session(default=False)
def installed(session: nox.Session) -> None:
    """pip install . into a fresh virtual environment, then `mlemap --version`, `import mlemap` and `mlemap report`
    from outside the repository: the package, its sheets and templates work once installed."""
    tmp = Path(session.create_tmp()).resolve()
    venv, out = tmp / "venv", tmp / "R"
    session.run("python", "-m", "venv", "--clear", str(venv))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *index_options()]
    session.run(*pip, "-c", str(Path(CONSTRAINTS).resolve()), ".[torch]", external=True)
    mlemap = str(venv / "bin" / "mlemap")
    session.chdir(tmp)
    session.run(mlemap, "--version", external=True)
    session.run(mlemap, "--help", external=True)
    session.run(
        str(venv / "bin" / "python"),
        "-c",
        "import mlemap, sys; from mlemap import derive, verify, estimate, Model; from mlemap.catalogue import POISSON; "
        "assert mlemap.__file__.startswith(sys.prefix), mlemap.__file__; "
        "assert verify(derive(POISSON)).passed; print('import mlemap: ok from', mlemap.__file__)",
        external=True,
    )
    session.run(mlemap, "report", "--out", str(out), "--format", "md,html", external=True)
    missing = [
        name for name in ("report.md", "report.html", "answers.json", "steps.json") if not (out / name).is_file()
    ]
    if missing:
        session.error(f"mlemap report wrote no {', '.join(missing)}")
    without_torch(session, tmp)


def without_torch(session: nox.Session, tmp: Path) -> None:
    """pip install . without the torch extra: Exercise 4's Markdown report builds and its sheet verifies, the
    checks that are torch's own skipped."""
    venv, out = tmp / "venv-cpu", tmp / "R-cpu"
    session.run("python", "-m", "venv", "--clear", str(venv))
    python = str(venv / "bin" / "python")
    root = Path(__file__).resolve().parent
    session.run(python, "-m", "pip", "install", "--quiet", "-c", str(root / CONSTRAINTS), str(root), external=True)
    where = "import importlib.util as u, pathlib; assert u.find_spec('torch') is None, 'torch is installed'; "
    where += "print(pathlib.Path(u.find_spec('mlemap.sheets').origin).parent / 'exercise4.py')"
    sheet = str(session.run(python, "-c", where, external=True, silent=True)).strip()
    mlemap = str(venv / "bin" / "mlemap")
    session.run(mlemap, "report", "--sheet", sheet, "--out", str(out), "--format", "md", external=True)
    if not (out / "report.md").is_file():
        session.error("mlemap report without torch wrote no report.md")
    session.run(mlemap, "verify", "--sheet", sheet, "--quiet", external=True)
