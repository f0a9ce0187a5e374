"""nox sessions are mlemap's user interface: tests, verify, report, bench."""

from __future__ import annotations

import json
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_external_run = True

CONSTRAINTS = "constraints.txt"
PYPROJECT = nox.project.load_toml("pyproject.toml")


def install(session: nox.Session, *groups: str) -> None:
    session.install("-c", CONSTRAINTS, "-e", ".")
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
    """Check every derivation against independent numerics; exits non-zero on any FAIL."""
    install(session)
    session.run("python", "-m", "numerics.verify", *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """Build the worked-solution report (Markdown, LaTeX, PDF) into build/report/."""
    install(session)
    session.run("python", "-m", "reports", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Measure speedups, memory and scaling; writes build/bench.json."""
    install(session)
    session.run("python", "-m", "sheets.exercise3_demos.bench", *session.posargs)


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
