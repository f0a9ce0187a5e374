"""The output directory belongs to the user: mlemap writes into it only when it is new, empty or a report of
its own, one build at a time, and swaps a finished report in with renames.

A report directory carries MARKER, the list of the files the build wrote. A directory is replaced only when
everything in it is on that list, so a file the user put there (or any other directory) is never removed.
Temporary siblings (`.NAME.new-*`, `.NAME.old-*`) carry the marker too; the next build into the same
directory removes those that a killed build left behind, under the lock, and nothing else.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
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


def resolve_out(text: str | os.PathLike) -> Path:
    """--out as an absolute path, refused (InputError) when it names something mlemap must never replace."""
    if str(text).strip() == "":
        raise InputError("--out must name a directory, got an empty string (it would be the working directory)")
    out = Path(os.path.abspath(text))  # '..' resolved as the shell does; a symlink's target is checked below
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
    foreign = sorted(present - written - {MARKER})
    if foreign:
        raise InputError(
            f"--out {out} holds {foreign[0]!r}, which the previous report did not write; move it out or choose another directory"
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


def marker_files(directory: Path) -> set[str] | None:
    """The files a report's marker lists, or None when there is no valid marker."""
    try:
        lines = (directory / MARKER).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if not lines or lines[0] != MARKER_HEADER:
        return None
    try:
        return set(json.loads("\n".join(lines[1:])))
    except (ValueError, TypeError):
        return None


def write_marker(directory: Path) -> None:
    """List what the build wrote (sorted, so two builds write the same bytes)."""
    names = sorted(listing(directory) - {MARKER})
    (directory / MARKER).write_text(MARKER_HEADER + "\n" + json.dumps(names, indent=0) + "\n")


def new_temp(out: Path, kind: str) -> Path:
    """A marked temporary sibling of out, `.NAME.KIND-*`, with ordinary permissions."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{kind}-", dir=out.parent))
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; the report should get ordinary permissions
    write_marker(tmp)
    return tmp


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temps(out: Path) -> list[Path]:
    """Temporary siblings of out left by builds that died; called under the lock, so none is in use."""
    removed = []
    for kind in ("new", "old"):
        for path in out.parent.glob(f".{out.name}.{kind}-*"):
            inner = path / out.name if kind == "old" else path
            if path.is_dir() and not path.is_symlink() and (marker_files(inner) is not None or not any(path.iterdir())):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


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
    if out.exists() and _exchange(new, out):
        shutil.rmtree(new)  # now the previous report
        return
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / out.name)
    os.rename(new, out)
    if old is not None:
        shutil.rmtree(old)


@contextmanager
def locked(out: Path, wait: float = 600.0) -> Iterator[None]:
    """Hold `.NAME.lock` beside out for the build; a second build waits (saying so once) and then goes on."""
    path = out.parent / f".{out.name}.lock"
    start, said = time.monotonic(), False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
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
