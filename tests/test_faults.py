"""Faults a real user meets, run as real processes: a planted or corrupted cache, a killed build, two builds
into one directory, an --out that holds the user's files, SIGINT and SIGTERM, and SIGTERM or SIGKILL at each
phase of the swap. In this process, with the fault put in: a previous report that cannot be removed, a full
disk, and a removal killed at each of its steps."""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlemap.derivations import store
from tests.test_bad_inputs import snapshot
from tests.test_output_guard import finished_report  # a previous report with figures/, as a build leaves one

FAST = ["--only", "task1", "--format", "md"]


def env_with(cache: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MLEMAP_NO_CACHE", "MLEMAP_CACHE_DIR"}}
    if cache is None:
        env["MLEMAP_NO_CACHE"] = "1"
    else:
        env["MLEMAP_CACHE_DIR"] = str(cache)
    return env


def start(out: Path, cwd: Path, cache: Path | None = None, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mlemap.reports", "--out", str(out), *FAST, *extra]
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
    assert "left by a build that did not finish" in after.stderr  # a message: standard error
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
    from mlemap.reports import output

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
    from mlemap.numerics.verify import write_whole

    (tmp_path / "notes.tmp").write_text("mine")
    write_whole(tmp_path / "notes.json", b"{}\n")
    assert (tmp_path / "notes.tmp").read_text() == "mine"
    assert (tmp_path / "notes.json").read_text() == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.json", "notes.tmp"]


# The swap as a journal: a build stopped at any phase of the swap (reports/output.py, PAUSE_PHASES) leaves --out
# one whole report, and the next build ends cleanly. The build pauses there through the test hook
# MLEMAP_TEST_PAUSE_AT, so the signal lands at that exact moment.

QUESTIONS = ["--variant", "questions", "--format", "md", "--jobs", "1"]  # the quickest whole build: nothing derived


def start_questions(out: Path, cwd: Path, seed: int, pause: str | None = None) -> subprocess.Popen:
    """A build of the students' sheet in its own process group; with pause, stopping at that phase of the swap
    and creating cwd/../reached there."""
    hook = {} if pause is None else {"MLEMAP_TEST_PAUSE_AT": pause, "MLEMAP_TEST_REACHED": str(reached_file(cwd))}
    pythonpath = os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-m", "mlemap.reports", "--out", str(out), *QUESTIONS, "--seed", str(seed)],
        cwd=cwd,
        env={**env_with(None), "PYTHONPATH": pythonpath, **hook},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, which must be gone once it has ended
    )


def copies(directory: Path) -> list[str]:
    """The report's temporary siblings (not its lock file, which a killed build leaves for the next one)."""
    return [name for name in temp_siblings(directory) if name.startswith((".report.new-", ".report.old-"))]


def reached_file(cwd: Path) -> Path:
    return cwd.parent / "reached"  # outside --out's directory: no sibling of the report


def build_questions(out: Path, cwd: Path, seed: int) -> subprocess.CompletedProcess:
    proc = start_questions(out, cwd, seed)
    stdout, stderr = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def stop_at(proc: subprocess.Popen, reached: Path, signum: int) -> tuple[str, str]:
    """Wait until the build reaches its pause, send signum, and wait for it to end."""
    deadline = time.monotonic() + 240
    while not reached.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the build never reached its pause: {proc.communicate()}")
        time.sleep(0.02)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    reached.unlink()
    return stdout, stderr


def group_gone(pgid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def whole_report(directory: Path, identity_allowed: bool = False) -> dict[str, str | None]:
    """The report's manifest, after checking the directory holds exactly the files it lists, each with its
    recorded SHA-256. identity_allowed: a kill may leave the build's identity file in it (ignored, then removed
    by the next build)."""
    from mlemap.reports import output

    found = output.manifest(directory)
    assert found is not None, f"{directory} holds no valid manifest: {sorted(os.listdir(directory))}"
    present = output.listing(directory) - {output.MARKER} - ({output.OWNER} if identity_allowed else set())
    assert present == set(found), f"files {sorted(present ^ set(found))} differ from the manifest"
    for name, digest in found.items():
        if digest is not None:
            assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest, f"{name} was changed"
    return found


@pytest.fixture(scope="module")
def seeded_reports(tmp_path_factory) -> dict[int, Path]:
    """The students' sheet with seeds 1 (the previous report) and 2 (the new one), built once: their data
    differ, so which one --out holds shows in its manifest."""
    work = tmp_path_factory.mktemp("seeded") / "work"
    work.mkdir()
    for seed in (1, 2):
        done = build_questions(work / f"seed{seed}", work, seed)
        assert done.returncode == 0, done.stderr
    return {seed: work / f"seed{seed}" for seed in (1, 2)}


def follow_up_ends_cleanly(out: Path, new: dict) -> subprocess.CompletedProcess:
    """The next build into out: exit 0, the whole new report, no identity file, no sibling, no lock left."""
    after = build_questions(out, out.parent, 2)
    assert after.returncode == 0, after.stderr
    assert "Traceback" not in after.stderr
    assert whole_report(out) == new
    assert temp_siblings(out.parent) == []
    return after


SWAP_PHASES = [  # the phase, and the report --out holds when a build is killed there
    ("before-swap", "previous"),
    ("before-exchange", "previous"),
    ("after-exchange", "new"),
    ("removing-previous", "new"),
]


def test_every_phase_of_the_swap_is_tested():
    from mlemap.reports import output

    assert {phase for phase, _ in SWAP_PHASES} | {"removing-stale"} == set(output.PAUSE_PHASES)


@pytest.mark.build
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("phase, holds", SWAP_PHASES)
def test_a_build_stopped_at_any_phase_of_the_swap_leaves_one_whole_report(
    workdir, seeded_reports, phase, holds, signum
):
    """Before the exchange SIGTERM stops the build (143) and the previous report stays; from the exchange on it
    waits for the swap to finish (0). SIGKILL leaves whichever report was in place, and its leftovers in owned
    siblings that the next build removes."""
    out = workdir / "report"
    shutil.copytree(seeded_reports[1], out)
    previous, new = whole_report(out), whole_report(seeded_reports[2])
    assert previous != new
    proc = start_questions(out, workdir, 2, pause=phase)
    _, stderr = stop_at(proc, reached_file(workdir), signum)
    assert group_gone(proc.pid), "a process of the build's group outlived it"
    assert "Traceback" not in stderr, stderr
    if signum == signal.SIGTERM and holds == "previous":
        assert proc.returncode == 143 and stderr.strip().splitlines()[-1].startswith("interrupted; the previous")
    elif signum == signal.SIGTERM:
        assert proc.returncode == 0, stderr
        assert "SIGTERM came while the new report was being swapped in" in stderr and f"wrote {out}" in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    assert whole_report(out, identity_allowed=True) == (previous if holds == "previous" else new)
    follow_up_ends_cleanly(out, new)


@pytest.mark.build
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_build_stopped_while_removing_a_dead_builds_leftover_leaves_it_removable(workdir, seeded_reports, signum):
    """A build killed after the exchange leaves the previous report in an owned sibling; the next build, stopped
    half-way through removing it, leaves the rest still recognisable, and the build after that removes it."""
    out = workdir / "report"
    shutil.copytree(seeded_reports[1], out)
    previous, new = whole_report(out), whole_report(seeded_reports[2])
    stop_at(start_questions(out, workdir, 2, pause="after-exchange"), reached_file(workdir), signal.SIGKILL)
    (leftover,) = copies(workdir)
    assert whole_report(workdir / leftover, identity_allowed=True) == previous
    entries = len(os.listdir(workdir / leftover))
    proc = start_questions(out, workdir, 2, pause="removing-stale")
    _, stderr = stop_at(proc, reached_file(workdir), signum)
    assert group_gone(proc.pid)
    assert proc.returncode == (143 if signum == signal.SIGTERM else -signal.SIGKILL), stderr
    assert "Traceback" not in stderr
    assert copies(workdir) == [leftover], "the leftover was removed whole, or another copy was added"
    assert len(os.listdir(workdir / leftover)) < entries, "the pause came before anything was removed"
    assert whole_report(out) == new
    after = follow_up_ends_cleanly(out, new)
    assert f"removed {leftover}, left by a build that did not finish" in after.stderr


# One line, exit 2, the previous report kept as it was: a previous report that cannot be removed, and a full disk.
# We run as root, where chmod stops nothing, so the kernel's answers for a user who may not write a directory are
# simulated; the builds run in this process (reports.cli.main), where the faults can be put in.


@pytest.fixture
def in_process(monkeypatch):
    """cli.main installs its SIGTERM handler in this process: the test's own is put back afterwards."""
    handler = signal.getsignal(signal.SIGTERM)
    monkeypatch.delenv("MLEMAP_TEST_PAUSE_AT", raising=False)
    yield
    signal.signal(signal.SIGTERM, handler)


def build_in_process(out: Path, capsys) -> tuple[int, str]:
    from mlemap.reports.cli import main

    capsys.readouterr()
    code = main(["--out", str(out), *QUESTIONS, "--seed", "2", "--quiet"])  # standard error: errors and warnings only
    return code, capsys.readouterr().err


def inode(path) -> tuple[int, int] | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def deny_removal(monkeypatch, *directories: Path, ask_first: bool) -> None:
    """Removing an entry of these directories fails with EACCES wherever they are renamed to (the kernel checks
    the directory itself, not its name); with ask_first os.access also says they cannot be written, as it does for
    a user who may not write them."""
    denied = {inode(d) for d in directories}

    def parent(path, dir_fd) -> tuple[int, int] | None:
        if dir_fd is not None:
            info = os.fstat(dir_fd)
            return info.st_dev, info.st_ino
        return inode(os.path.dirname(os.path.abspath(path)))

    def refusing(real):
        def call(path, *, dir_fd=None):
            if parent(path, dir_fd) in denied:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
            return real(path, dir_fd=dir_fd)

        return call

    for name in ("unlink", "remove", "rmdir"):
        monkeypatch.setattr(os, name, refusing(getattr(os, name)))
    if ask_first:
        real_access = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda path, mode, **kw: not (mode & os.W_OK and inode(path) in denied) and real_access(path, mode, **kw),
        )


def one_line_error(code: int, stderr: str) -> str:
    assert code == 2, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, f"not one line: {stderr!r}"
    return stderr.strip()


@pytest.mark.build
@pytest.mark.parametrize("read_only", ["", "figures"], ids=["the report", "its figures"])
def test_a_read_only_previous_report_is_refused_in_one_line_before_anything_changes(
    workdir, in_process, monkeypatch, capsys, read_only
):
    out = workdir / "report"
    finished_report(out)
    before = snapshot(workdir)
    deny_removal(monkeypatch, out / read_only, ask_first=True)
    message = one_line_error(*build_in_process(out, capsys))
    assert message.startswith(f"error: --out {out}: {out / read_only} is read-only, so the previous report cannot"), (
        message
    )
    assert snapshot(workdir) == before


@pytest.mark.build
def test_a_previous_report_that_cannot_be_removed_after_all_is_exchanged_back(workdir, in_process, monkeypatch, capsys):
    """os.access said yes (as it does to root), yet removing its first file fails: the reports change places
    again, so the previous one is back, whole, and the new one is removed."""
    out = workdir / "report"
    finished_report(out)
    before = snapshot(workdir)
    deny_removal(monkeypatch, out / "figures", ask_first=False)
    message = one_line_error(*build_in_process(out, capsys))
    assert message == (
        f"error: --out {out}: cannot remove {out}/figures/a.png of the previous report (Permission denied); it is kept as it was"
    )
    assert snapshot(workdir) == before
    monkeypatch.undo()
    assert build_in_process(out, capsys)[0] == 0 and (out / "data").is_dir() and not (out / "figures").exists()


@pytest.mark.build
def test_a_previous_report_removed_half_way_leaves_the_new_one_and_a_removable_rest(
    workdir, in_process, monkeypatch, capsys
):
    """Its figures are gone when removing the figures/ directory itself fails: the new report stays in --out, one
    line names what is left where, and once this build is over the next one removes it."""
    from mlemap.reports import output

    out = workdir / "report"
    finished_report(out)
    deny_removal(monkeypatch, out, ask_first=False)
    code, stderr = build_in_process(out, capsys)
    assert code == 0 and "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    (rest,) = copies(workdir)
    assert stderr.startswith(
        f"cannot remove {out}/figures (Permission denied): the rest of the previous report is left in {workdir / rest}"
    )
    assert whole_report(out)["data"] is None and not (out / "figures").exists()
    monkeypatch.undo()
    owner = json.loads((workdir / rest / output.OWNER).read_text())
    (workdir / rest / output.OWNER).write_text(json.dumps({**owner, "pid": ended_pid()}))  # as once this build ends
    assert output.remove_stale_temps(out) == [workdir / rest] and copies(workdir) == []


def ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def full_disk_at(where: str, out: Path, monkeypatch) -> None:
    """ENOSPC where the build writes: its lock, its temporary sibling's identity, the report's manifest, or the
    identity it gives the previous report just before the exchange."""
    from mlemap.reports import output

    def no_space(path) -> OSError:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    if where == "lock":
        real_open = os.open
        lock = str(out.parent / f".{out.name}.lock")

        def open_but_the_lock(path, *args, **kwargs) -> int:
            if os.fspath(path) == lock:
                raise no_space(path)
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", open_but_the_lock)
    elif where in ("sibling", "previous"):
        real_write_owner = output._write_owner

        def write_owner(tmp: Path, target: Path) -> None:
            if (tmp == target) == (where == "previous"):
                raise no_space(tmp / output.OWNER)
            real_write_owner(tmp, target)

        monkeypatch.setattr(output, "_write_owner", write_owner)
    else:
        real_write_text = Path.write_text

        def write_text(self: Path, data: str, *args, **kwargs) -> int:
            if self.name == output.MARKER and '"report.md"' in data:
                raise no_space(self)
            return real_write_text(self, data, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", write_text)


@pytest.mark.build
@pytest.mark.parametrize(
    "where, expect",
    [
        (
            "lock",
            r"--out {out}: cannot take the lock \.report\.lock \(no space left on the device writing {parent}/\.report\.lock\)$",
        ),
        ("sibling", r"--out {out}: cannot write into {parent}/\.report\.new-\w+ \(no space left on the device writing"),
        ("manifest", r"cannot write the report's manifest {parent}/\.report\.new-\w+/\.mlemap-report \(no space left"),
        (
            "previous",
            r"--out {out}: cannot write \.mlemap-build into the previous report \(no space left on the device",
        ),
    ],
    ids=["lock", "sibling", "manifest", "previous"],
)
def test_a_full_disk_is_one_line_and_the_previous_report_stays(workdir, in_process, monkeypatch, capsys, where, expect):
    out = workdir / "report"
    finished_report(out)
    before = snapshot(workdir)
    full_disk_at(where, out, monkeypatch)
    message = one_line_error(*build_in_process(out, capsys))
    pattern = "^error: " + expect.format(out=re.escape(str(out)), parent=re.escape(str(workdir)))
    assert re.search(pattern, message), message
    assert snapshot(workdir) == before


def test_a_previous_report_left_aside_between_two_renames_is_put_back(workdir, seeded_reports):
    """Without the atomic exchange (another system, a filesystem without it) a build killed between its two
    renames leaves --out missing and the previous report whole in an owned `.NAME.old-*` sibling: the next build
    puts it back before anything else."""
    from mlemap.reports import output

    out = workdir / "report"
    aside = workdir / ".report.old-killed"
    shutil.copytree(seeded_reports[1], aside / "report")
    (aside / output.MARKER).write_text(output.MARKER_HEADER + "\n{}\n")
    owner = {"pid": ended_pid(), "start": None, "token": "t", "out": str(out)}
    (aside / output.OWNER).write_text(json.dumps(owner))
    assert output.remove_stale_temps(out) == [aside]
    assert whole_report(out) == whole_report(seeded_reports[1]) and copies(workdir) == []


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no `except Exception`, no clean-up that expects it)."""


def killed_after(monkeypatch, removals: int) -> None:
    """The next removals unlinks and rmdirs happen; the one after them is killed instead."""
    calls = iter(range(10**6))

    def counted(real):
        def call(path, *, dir_fd=None):
            if next(calls) == removals:
                raise Killed
            return real(path, dir_fd=dir_fd)

        return call

    for name in ("unlink", "remove", "rmdir"):
        monkeypatch.setattr(os, name, counted(getattr(os, name)))


def owned_copy(source: Path, sibling: Path, out: Path, pid: int) -> Path:
    """The previous report as a swap leaves it in a sibling: `.NAME.new-*` holds it directly, `.NAME.old-*` (the
    two-rename fallback) nests it; each carries the identity of a build that has ended."""
    inner = sibling / out.name if sibling.name.startswith(f".{out.name}.old-") else sibling
    shutil.copytree(source, inner)
    owner = json.dumps({"pid": pid, "start": None, "token": "t", "out": str(out)})
    for directory in {sibling, inner}:
        (directory / ".mlemap-build").write_text(owner)
    if inner != sibling:
        from mlemap.reports import output

        (sibling / output.MARKER).write_text(output.MARKER_HEADER + "\n{}\n")
    return sibling


@pytest.mark.parametrize("kind", ["new", "old"])
def test_a_copy_whose_removal_was_killed_at_any_step_is_removed_by_the_next_build(tmp_path, monkeypatch, kind):
    """remove_copy removes the files first and the manifest and the build's identity last, so whichever step a
    kill stops it at, the next build recognises what is left as a dead build's and removes it, and nothing else."""
    from mlemap.reports import output

    source = tmp_path / "source" / "report"
    source.parent.mkdir()
    finished_report(source)
    work = tmp_path / "work"
    work.mkdir()
    out = work / "report"
    shutil.copytree(source, out)
    mine = work / f".report.{kind}-mine"  # the user's, named like a sibling
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    before, ended = snapshot(work), ended_pid()
    for removals in range(100):
        sibling = owned_copy(source, work / f".report.{kind}-killed", out, ended)
        with monkeypatch.context() as patched:
            killed_after(patched, removals)
            try:
                output.remove_copy(sibling, "")
                break
            except Killed:
                pass
        left = sorted(output.listing(sibling))
        assert output.remove_stale_temps(out) == [sibling], f"killed after {removals} removals, left {left}"
        assert snapshot(work) == before
    assert removals >= 6 and not sibling.exists()
