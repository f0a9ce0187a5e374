"""nox sessions are mlemap's user interface: tests, verify, report, bench."""

from __future__ import annotations

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
    session.run("python", "-m", "numerics.bench", *session.posargs)
