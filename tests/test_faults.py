"""Faults a real user meets, run as real processes: a planted or corrupted cache, a killed build, two builds
into one directory, an --out that holds the user's files, SIGINT and SIGTERM."""

from __future__ import annotations

import hmac
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from derivations import store

FAST = ["--only", "task1", "--format", "md"]


def env_with(cache: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MLEMAP_NO_CACHE", "MLEMAP_CACHE_DIR"}}
    if cache is None:
        env["MLEMAP_NO_CACHE"] = "1"
    else:
        env["MLEMAP_CACHE_DIR"] = str(cache)
    return env


def start(out: Path, cwd: Path, cache: Path | None = None, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "reports", "--out", str(out), *FAST, *extra]
    pythonpath = os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**env_with(cache), "PYTHONPATH": pythonpath},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it: a shell ignores SIGINT in what it starts with `&`, and the build
        # (its Python) would inherit that and never see the signal the test sends
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - the test is one thread
    )


def run(out: Path, cwd: Path, cache: Path | None = None) -> subprocess.CompletedProcess:
    proc = start(out, cwd, cache)
    stdout, stderr = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def wait_for_worker(proc: subprocess.Popen, timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = children(proc.pid)
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("the build never started its worker")


def signal_dispositions(pid: int) -> str:
    """The process's blocked, ignored and caught signal masks (/proc), for a failure message."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return "process gone"
    return " ".join(line for line in lines if line.startswith(("SigBlk", "SigIgn", "SigCgt")))


def temp_siblings(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".report."))


@pytest.fixture
def workdir(tmp_path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


def test_a_planted_cache_entry_is_never_executed(workdir, tmp_path):
    cache = tmp_path / "cache"
    first = run(workdir / "report", workdir, cache)
    assert first.returncode == 0, first.stderr
    before = (workdir / "report" / "report.md").read_bytes()
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps(Payload(str(marker)))
    entries = sorted(cache.glob("*.json"))
    assert entries, "the first build cached nothing"
    for path in entries:  # a bare pickle, and one dressed in the entry's header with a forged digest
        path.write_bytes(
            payload if path.name < entries[len(entries) // 2].name else store.FORMAT + b"0" * 64 + b"\n" + payload
        )
    second = run(workdir / "report", workdir, cache)
    assert second.returncode == 0, second.stderr
    assert not marker.exists(), "the planted payload ran"
    assert (workdir / "report" / "report.md").read_bytes() == before


class Payload:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_a_corrupted_cache_entry_is_recomputed_and_replaced(workdir, tmp_path):
    cache = tmp_path / "cache"
    assert run(workdir / "report", workdir, cache).returncode == 0
    before = (workdir / "report" / "report.md").read_bytes()
    for path in cache.glob("*.json"):
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0x20
        path.write_bytes(bytes(raw))
    again = run(workdir / "report", workdir, cache)
    assert again.returncode == 0, again.stderr
    assert (workdir / "report" / "report.md").read_bytes() == before
    key = (cache / store.SECRET_NAME).read_bytes()
    for path in cache.glob("*.json"):
        mac, _, payload = path.read_bytes()[len(store.FORMAT) :].partition(b"\n")
        assert hmac.compare_digest(mac, store.digest(key, path.name, payload)), path


def test_a_killed_build_leaves_no_process_and_the_next_build_no_temp_directory(workdir):
    assert run(workdir / "report", workdir).returncode == 0
    before = (workdir / "report" / "report.md").read_bytes()
    proc = start(workdir / "report", workdir)
    workers = wait_for_worker(proc)
    proc.kill()
    proc.communicate()
    deadline = time.monotonic() + 2.0
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(w) for w in workers), "a worker outlived the killed build"
    assert (workdir / "report" / "report.md").read_bytes() == before
    after = run(workdir / "report", workdir)
    assert after.returncode == 0, after.stderr
    assert "left by a build that did not finish" in after.stdout
    assert temp_siblings(workdir) == []


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signalled_build_exits_with_the_shells_code_and_no_traceback(workdir, signum, code):
    assert run(workdir / "report", workdir).returncode == 0
    before = (workdir / "report" / "report.md").read_bytes()
    proc = start(workdir / "report", workdir)
    workers = wait_for_worker(proc)
    dispositions = signal_dispositions(proc.pid)  # said if the signal is lost: blocked or ignored, and from where
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, (stderr, dispositions)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted; the previous report")
    assert not any(alive(w) for w in workers)
    assert (workdir / "report" / "report.md").read_bytes() == before
    assert temp_siblings(workdir) == []


def test_two_builds_into_one_directory_both_end_cleanly(workdir):
    first, second = start(workdir / "report", workdir), start(workdir / "report", workdir)
    outcomes = [p.communicate(timeout=300) for p in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), outcomes
    assert temp_siblings(workdir) == []
    assert (workdir / "report" / "report.md").exists()
    assert any("waiting for another build" in err for _, err in outcomes)


def test_out_with_the_users_files_is_refused_and_every_file_kept(workdir):
    mine = workdir / "thesis"
    (mine / "chapters").mkdir(parents=True)
    files = {mine / "main.tex": "\\documentclass{book}", mine / "chapters" / "one.tex": "text"}
    for path, text in files.items():
        path.write_text(text)
    for out in (mine, workdir, Path("")):
        proc = start(out, workdir)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 2, stderr
        assert len(stderr.strip().splitlines()) == 1 and "--out" in stderr
    assert {p: p.read_text() for p in files} == files
    assert sorted(p.name for p in workdir.iterdir()) == ["thesis"]


def test_the_swap_is_one_atomic_exchange_with_no_moment_without_a_report(tmp_path, monkeypatch):
    """On Linux the new report and the previous one change places in one renameat2 call: no rename ever leaves
    --out missing (the window a SIGTERM between two renames used to open)."""
    from reports import output

    if not sys.platform.startswith("linux"):
        pytest.skip("renameat2 is Linux's")
    out, new = tmp_path / "report", tmp_path / ".report.new-x"
    out.mkdir()
    (out / "report.md").write_text("previous")
    new.mkdir()
    (new / "report.md").write_text("new")
    monkeypatch.setattr(output, "check_replaceable", lambda path: None)

    def no_rename(*args):
        raise AssertionError("a plain rename: a window without a report")

    monkeypatch.setattr(output.os, "rename", no_rename)
    output.swap_in(new, out)
    assert (out / "report.md").read_text() == "new" and not new.exists()


def test_verify_writes_its_json_through_a_temporary_file_of_its_own(tmp_path):
    """A user's notes.tmp beside --json notes.json is not the temporary file: it is left as it was."""
    from numerics.verify import write_whole

    (tmp_path / "notes.tmp").write_text("mine")
    write_whole(tmp_path / "notes.json", b"{}\n")
    assert (tmp_path / "notes.tmp").read_text() == "mine"
    assert (tmp_path / "notes.json").read_text() == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.json", "notes.tmp"]
