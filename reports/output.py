"""The output directory belongs to the user: mlemap writes into it only when it is new, empty or a report of
its own, one build at a time, and swaps a finished report in with renames.

A report directory carries MARKER, the manifest of the files the build wrote with their SHA-256. A directory
is replaced only when it holds exactly those files with those contents, so a file the user put there or edited
(or any other directory) is never removed. Temporary siblings (`.NAME.new-*`, `.NAME.old-*`) carry OWNER: the
build's pid, its process start time, a random token and the --out it builds. The next build into the same
directory removes a sibling only when its owner names this --out, that process is gone, and the sibling holds
nothing but what its manifest lists; it never touches anything else.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from derivations.model import InputError

MARKER = ".mlemap-report"
MARKER_HEADER = (
    "mlemap report: the files this build wrote; mlemap replaces this directory only while it holds no others"
)
OWNER = ".mlemap-build"  # in a temporary sibling: which build made it
MAX_NAME = 200  # bytes of --out's last part: ".NAME.new-XXXXXXXX" must still fit the file system's 255


def resolve_out(text: str | os.PathLike) -> Path:
    """--out as an absolute path, refused (InputError) when it names something mlemap must never replace."""
    if str(text).strip() == "":
        raise InputError("--out must name a directory, got an empty string (it would be the working directory)")
    out = Path(os.path.abspath(text))  # '..' resolved as the shell does; a symlink's target is checked below
    if len(os.fsencode(out.name)) > MAX_NAME:
        raise InputError(
            f"--out's last part is {len(os.fsencode(out.name))} bytes long; at most {MAX_NAME} (the build needs room "
            "for its temporary siblings' and lock's suffixes)"
        )
    real = out.resolve()
    if real == Path(real.anchor) or os.path.ismount(real):
        raise InputError(f"--out {out} is a filesystem root or mount point; choose a new directory inside it")
    if real == Path.cwd().resolve() or real in Path.cwd().resolve().parents:
        raise InputError(f"--out {out} is the working directory or one of its parents; choose a new directory")
    if real == Path.home().resolve():
        raise InputError(f"--out {out} is the home directory; choose a new directory")
    if out.is_symlink():
        raise InputError(f"--out {out} is a symbolic link; name the directory itself")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; it must be a directory (or not exist yet)")
    check_replaceable(out)
    return out


def check_replaceable(out: Path) -> None:
    """out may be replaced: it does not exist, is empty, or holds exactly the files of an mlemap report."""
    if not out.exists():
        return
    try:
        present = listing(out)
    except OSError as exc:
        raise InputError(f"--out {out} cannot be read ({exc.strerror})") from None
    if not present:
        return
    written = marker_files(out)
    if written is None:
        raise InputError(
            f"--out {out} holds files that mlemap did not write (no {MARKER} marker); choose a new or empty directory"
        )
    foreign = sorted(present - written - {MARKER, OWNER})
    if foreign:
        raise InputError(
            f"--out {out} holds {foreign[0]!r}, which the previous report did not write; move it out or choose another directory"
        )
    edited = edited_files(out)
    if edited:
        raise InputError(
            f"--out {out}: {edited[0]} was edited since mlemap wrote it; move the report away or choose another directory"
        )


def listing(directory: Path) -> set[str]:
    """Every path under directory, relative, directories included (without following symlinks)."""
    found: set[str] = set()
    for root, dirs, files in os.walk(directory, onerror=_raise):
        rel = Path(root).relative_to(directory)
        found.update(str(rel / name) for name in dirs + files)
    return found


def _raise(exc: OSError) -> None:
    raise exc


def manifest(directory: Path) -> dict[str, str | None] | None:
    """The marker's manifest: each path the build wrote and its file's SHA-256 (None for a directory, and for
    every entry of a marker written before hashes were recorded); None when there is no valid marker."""
    try:
        lines = (directory / MARKER).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if not lines or lines[0] != MARKER_HEADER:
        return None
    try:
        found = json.loads("\n".join(lines[1:]))
    except (ValueError, TypeError):
        return None
    if isinstance(found, list) and all(isinstance(k, str) for k in found):
        return dict.fromkeys(found)
    if isinstance(found, dict) and all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in found.items()
    ):
        return found
    return None


def marker_files(directory: Path) -> set[str] | None:
    """The paths a report's marker lists, or None when there is no valid marker."""
    found = manifest(directory)
    return None if found is None else set(found)


def edited_files(directory: Path) -> list[str]:
    """The files whose content differs from the hash the marker recorded (sorted)."""
    found = manifest(directory) or {}
    return sorted(name for name, digest in found.items() if digest is not None and _digest(directory / name) != digest)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else None
    except OSError:
        return None


def write_marker(directory: Path) -> None:
    """The manifest of what the build wrote, with each file's SHA-256 (sorted: two builds write the same bytes)."""
    names = sorted(listing(directory) - {MARKER, OWNER})
    hashes = {name: _digest(directory / name) for name in names}
    (directory / MARKER).write_text(MARKER_HEADER + "\n" + json.dumps(hashes, indent=0, sort_keys=True) + "\n")


def new_temp(out: Path, kind: str) -> Path:
    """A marked temporary sibling of out, `.NAME.KIND-*`, with ordinary permissions and this build's identity."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{kind}-", dir=out.parent))
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; the report should get ordinary permissions
    _write_owner(tmp, out)
    (tmp / MARKER).write_text(MARKER_HEADER + "\n{}\n")
    return tmp


def _write_owner(tmp: Path, out: Path) -> None:
    owner = {"pid": os.getpid(), "start": _process_start(os.getpid()), "token": secrets.token_hex(8), "out": str(out)}
    (tmp / OWNER).write_text(json.dumps(owner, sort_keys=True) + "\n")


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), which tells a reused pid apart."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def _owner_gone(tmp: Path, out: Path) -> bool:
    """The sibling was made by a build into out that is no longer running (its pid is dead or now another
    process). Without a readable owner it is not ours to remove."""
    try:
        owner = json.loads((tmp / OWNER).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(owner, dict) or owner.get("out") != str(out) or not isinstance(owner.get("pid"), int):
        return False
    pid = owner["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return owner.get("start") is not None and _process_start(pid) != owner.get("start")


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temps(out: Path) -> list[Path]:
    """Temporary siblings of out left by builds into out that died: named `.NAME.new-*` or `.NAME.old-*` (compared
    as strings, never as a glob pattern), owned by a build of this --out that is gone, and holding only what
    their manifest lists. Called under the lock."""
    removed = []
    for path in sorted(out.parent.iterdir()):
        kind = next((k for k in ("new", "old") if path.name.startswith(f".{out.name}.{k}-")), None)
        if kind is None or not path.is_dir() or path.is_symlink() or not _owner_gone(path, out):
            continue
        inner = path / out.name if kind == "old" else path
        if _only_listed(path, inner):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _only_listed(path: Path, inner: Path) -> bool:
    """path holds its owner file and, in inner, nothing but the files its manifest lists, unedited."""
    try:
        present = listing(path)
    except OSError:
        return False
    listed = marker_files(inner)
    if listed is None:
        return False
    prefix = "" if inner == path else f"{inner.name}/"
    allowed = (
        {OWNER, MARKER, f"{prefix}{MARKER}", f"{prefix}{OWNER}"}
        | {f"{prefix}{name}" for name in listed}
        | ({inner.name} if prefix else set())
    )
    return present <= allowed and not edited_files(inner)


RENAME_EXCHANGE = 2  # renameat2's flag: swap two paths in one step


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux's renameat2 with RENAME_EXCHANGE); False where the system or the
    filesystem cannot, so the caller falls back to two renames."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap_in(new: Path, out: Path) -> None:
    """Replace out by new. Where the system can, in one atomic exchange: a kill at any moment leaves out either
    the previous report or the new one, never neither (the previous one then sits in new's place until it is
    removed). Elsewhere with two renames on one filesystem; the old report is removed only afterwards."""
    check_replaceable(out)  # again: the user may have added a file while the report was being built
    if out.exists():
        _write_owner(out, out)  # the previous report becomes a sibling: owned, so a killed build's is cleaned up
    if out.exists() and _exchange(new, out):
        (out / OWNER).unlink(missing_ok=True)  # the finished report carries no build identity
        shutil.rmtree(new)  # now the previous report
        return
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        _write_owner(old, out)
        (old / MARKER).write_text(MARKER_HEADER + "\n{}\n")
        os.rename(out, old / out.name)
    os.rename(new, out)
    (out / OWNER).unlink(missing_ok=True)
    if old is not None:
        shutil.rmtree(old)


@contextmanager
def locked(out: Path, wait: float = 600.0) -> Iterator[None]:
    """Hold `.NAME.lock` beside out for the build; a second build waits (saying so once) and then goes on."""
    path = out.parent / f".{out.name}.lock"
    start, said = time.monotonic(), False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:  # another user's lock file, a symlink planted there, a full or read-only disk
            raise InputError(f"--out {out}: cannot take the lock {path.name} ({describe_os_error(exc)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() - start > wait:
                raise InputError(
                    f"--out {out}: another build has held {path.name} for {wait:.0f} s; try again later"
                ) from None
            if not said:
                print(f"waiting for another build into {out} to finish", file=sys.stderr)
                said = True
            time.sleep(0.1)
            continue
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder removed it between our open and our lock: take the new one
    try:
        yield
    finally:
        path.unlink(missing_ok=True)  # still held: a waiter that opened it sees it is gone and retries
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (info.st_dev, info.st_ino) == (mine.st_dev, mine.st_ino)


def describe_os_error(exc: OSError) -> str:
    """One line for a failed write: a full disk names the path."""
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device writing {exc.filename or 'the report'}"
    return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
