"""The output guard: a report edited by its user is never replaced, and a temporary sibling is removed only when
the build that made it into this --out is gone and it holds nothing but that build's files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlemap.derivations.model import InputError
from mlemap.reports import output


def finished_report(out: Path) -> None:
    tmp = output.new_temp(out, "new")
    (tmp / "report.md").write_text("# report\n")
    (tmp / "figures").mkdir()
    (tmp / "figures" / "a.png").write_bytes(b"\x89PNG fake")
    output.write_marker(tmp)
    output.swap_in(tmp, out)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def own(sibling: Path, out: Path, pid: int) -> None:
    owner = {"pid": pid, "start": None, "token": "t", "out": str(out)}
    (sibling / output.OWNER).write_text(json.dumps(owner))


def test_a_finished_report_has_a_hashed_manifest_and_no_build_identity(tmp_path):
    out = tmp_path / "r"
    finished_report(out)
    found = output.manifest(out)
    assert set(found) == {"report.md", "figures", "figures/a.png"} and found["figures"] is None
    assert len(found["report.md"]) == 64 and not (out / output.OWNER).exists()
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
    output.check_replaceable(out)  # unchanged: replaceable


@pytest.mark.parametrize("edit", ["report.md", "figures/a.png"])
def test_an_edited_file_makes_the_report_the_users(tmp_path, edit):
    out = tmp_path / "r"
    finished_report(out)
    (out / edit).write_bytes(b"my notes")
    with pytest.raises(InputError, match=rf"^--out {out}: {edit} was edited since mlemap wrote it"):
        output.check_replaceable(out)


def test_a_marker_without_hashes_is_still_read(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.md").write_text("x")
    (out / output.MARKER).write_text(output.MARKER_HEADER + "\n" + json.dumps(["report.md"]) + "\n")
    assert output.marker_files(out) == {"report.md"}
    output.check_replaceable(out)


def test_a_dead_builds_sibling_is_removed_and_nothing_else(tmp_path):
    out = tmp_path / "r"
    finished_report(out)
    stale = output.new_temp(out, "new")
    own(stale, out, dead_pid())
    (stale / "report.md").write_text("half")
    output.write_marker(stale)
    live = output.new_temp(out, "new")  # this process's own, still running
    users = tmp_path / ".r.old-mine"  # a user's directory with a matching name
    users.mkdir()
    (users / "notes.txt").write_text("keep")
    other = tmp_path / "r.new-x"  # a report whose name starts like a sibling of r
    finished_report(other)
    foreign = output.new_temp(other, "new")
    own(foreign, other, dead_pid())
    assert output.remove_stale_temps(out) == [stale]
    assert live.exists() and (users / "notes.txt").read_text() == "keep" and foreign.exists()


def test_a_dead_builds_sibling_with_a_user_file_is_kept(tmp_path):
    out = tmp_path / "r"
    finished_report(out)
    stale = output.new_temp(out, "new")
    own(stale, out, dead_pid())
    output.write_marker(stale)
    (stale / "mine.txt").write_text("keep")
    assert output.remove_stale_temps(out) == [] and (stale / "mine.txt").exists()


def test_an_out_name_with_glob_characters_matches_only_itself(tmp_path):
    live = output.new_temp(tmp_path / "rA", "new")
    own(live, tmp_path / "rA", dead_pid())  # even a dead build's, of another --out
    assert output.remove_stale_temps(tmp_path / "r*") == [] and live.exists()


def test_a_pid_reused_by_another_process_counts_as_gone(tmp_path):
    out = tmp_path / "r"
    stale = output.new_temp(out, "new")
    owner = json.loads((stale / output.OWNER).read_text())
    owner["start"] = "0"  # this pid (ours) started at another time: the build that wrote it is gone
    (stale / output.OWNER).write_text(json.dumps(owner))
    output.write_marker(stale)
    assert output.remove_stale_temps(out) == [stale]


def test_the_previous_report_left_beside_a_killed_swap_is_cleaned_up_next_time(tmp_path, monkeypatch):
    """A kill after the exchange and before removing the previous report leaves it as an owned sibling."""
    out = tmp_path / "r"
    finished_report(out)
    new = output.new_temp(out, "new")
    (new / "report.md").write_text("# new\n")
    output.write_marker(new)
    monkeypatch.setattr(output.shutil, "rmtree", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        output.swap_in(new, out)
    monkeypatch.undo()
    assert (out / "report.md").read_text() == "# new\n"  # the new report is in place
    leftover = [p for p in tmp_path.iterdir() if p.name.startswith(".r.")]
    assert len(leftover) == 1 and (leftover[0] / "report.md").read_text() == "# report\n"
    own(leftover[0], out, dead_pid())  # the killed build's process is gone
    assert output.remove_stale_temps(out) == leftover
    assert os.listdir(tmp_path) == ["r"]


def test_a_lock_file_planted_as_a_symlink_is_refused_in_one_line(tmp_path):
    (tmp_path / ".r.lock").symlink_to("/etc/passwd")
    with (
        pytest.raises(InputError, match=r"^--out .*/r: cannot take the lock \.r\.lock \("),
        output.locked(tmp_path / "r"),
    ):
        pass


def test_an_out_name_too_long_for_its_siblings_is_refused_up_front(tmp_path):
    with pytest.raises(InputError, match=r"^--out's last part is 250 bytes long; at most 200"):
        output.resolve_out(tmp_path / ("a" * 250))
