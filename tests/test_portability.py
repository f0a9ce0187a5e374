"""Where fork is missing (macOS's spawn, Windows) the build runs in one process, and SymPy's time limit uses
a timer thread instead of SIGALRM: forced here on Linux, the report's bytes are the same."""

from __future__ import annotations

import pytest

import mlemap.derivations.solve
import mlemap.reports.workers
from mlemap.catalogue import derivation
from mlemap.reports.cli import main

pytestmark = pytest.mark.build
OUTPUTS = ("report.md", "report.tex", "report.html", "answers.json", "steps.json")
ARGS = ["--only", "task1", "--only", "task3a", "--format", "md,tex,html"]


def test_without_fork_or_sigalrm_the_build_writes_the_same_bytes(tmp_path, monkeypatch):
    assert mlemap.reports.workers.CAN_FORK  # the usual path first, on this Linux machine
    assert main(["--out", str(tmp_path / "forked"), *ARGS]) == 0
    monkeypatch.setattr(mlemap.reports.workers, "CAN_FORK", False)
    monkeypatch.setattr(mlemap.derivations.solve, "_signal_limit_available", lambda: False)
    calls = []
    monkeypatch.setattr(mlemap.reports.workers.os, "fork", lambda: calls.append("fork") or pytest.fail("forked"))
    thread_limit = mlemap.derivations.solve._thread_limit
    limits = []
    monkeypatch.setattr(mlemap.derivations.solve, "_thread_limit", lambda *a: limits.append(a) or thread_limit(*a))
    derivation.cache_clear()  # derive again, under the portable time limit
    assert main(["--out", str(tmp_path / "serial"), *ARGS]) == 0
    assert calls == [] and limits  # nothing forked; SymPy ran under the timer thread's limit
    for name in OUTPUTS:
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "forked" / name).read_bytes(), name
    figures = sorted(p.name for p in (tmp_path / "forked" / "figures").iterdir())
    assert figures and figures == sorted(p.name for p in (tmp_path / "serial" / "figures").iterdir())
    for name in figures:
        assert (tmp_path / "serial" / "figures" / name).read_bytes() == (
            tmp_path / "forked" / "figures" / name
        ).read_bytes(), name
