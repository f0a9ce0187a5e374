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
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from mlemap.derivations.model import InputError

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
    try:
        (directory / MARKER).write_text(MARKER_HEADER + "\n" + json.dumps(hashes, indent=0, sort_keys=True) + "\n")
    except OSError as exc:  # a full disk: one line, and the caller removes the temporary directory
        raise InputError(
            f"cannot write the report's manifest {directory / MARKER} ({describe_os_error(exc)})"
        ) from None


def new_temp(out: Path, kind: str) -> Path:
    """A marked temporary sibling of out, `.NAME.KIND-*`, with ordinary permissions and this build's identity."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{kind}-", dir=out.parent))
    except OSError as exc:
        raise InputError(
            f"--out {out}: cannot create a temporary directory beside it ({describe_os_error(exc)})"
        ) from None
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; the report should get ordinary permissions
        _write_owner(tmp, out)
        (tmp / MARKER).write_text(MARKER_HEADER + "\n{}\n")
    except OSError as exc:  # a full disk: nothing of this build is left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"--out {out}: cannot write into {tmp} ({describe_os_error(exc)})") from None
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


def _owner_gone(tmp: Path, out: Path, unreadable: bool = False) -> bool:
    """The sibling was made by a build into out that is no longer running (its pid is dead or now another
    process). Without a readable owner, `unreadable`: such a sibling is not ours to remove unless nothing but
    mlemap's own bookkeeping is left in it."""
    try:
        owner = json.loads((tmp / OWNER).read_text())
    except (OSError, ValueError):
        return unreadable
    if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
        return unreadable
    if owner.get("out") != str(out):
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


# Test hook, inert unless MLEMAP_TEST_PAUSE_AT names one of PAUSE_PHASES: a build reaching that point of the
# swap creates the file MLEMAP_TEST_REACHED and waits there (at most a minute), so a test can kill it at exactly
# that moment (tests/test_faults.py).
PAUSE_PHASES = (
    "before-swap",  # the new report is whole in its sibling, under the lock; the previous one not yet touched
    "before-exchange",  # the previous report carries this build's identity; next comes the exchange
    "after-exchange",  # the new report is in --out, the previous one in the sibling; nothing removed yet
    "removing-previous",  # one entry of the previous report removed, the rest still there
    "removing-stale",  # one entry of a dead build's sibling removed (at the start of the next build)
)
DEFERRED = (signal.SIGTERM, signal.SIGINT)
_deferred: list[int] = []  # the signals that came while the reports were changing places


def pause_at(phase: str) -> None:
    reached = os.environ.get("MLEMAP_TEST_REACHED")
    if not phase or not reached or os.environ.get("MLEMAP_TEST_PAUSE_AT") != phase:
        return
    Path(reached).touch()
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline and not _deferred:  # a deferred signal: go on, as the build would have
        time.sleep(0.02)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGTERM and SIGINT wait while the reports change places: from the exchange on the new report is in --out,
    so a signal then is taken as coming after the build, which finishes (one line says so). The handlers are
    swapped, not the signal mask: a mask holds only in this thread, and torch's and BLAS's threads would take the
    signal instead, and Python would still run the handler in this one."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the CLI builds in it
        return
    _deferred.clear()
    before = {signum: signal.signal(signum, lambda signum, frame: _deferred.append(signum)) for signum in DEFERRED}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
    if _deferred:
        name = signal.Signals(_deferred[0]).name
        print(f"{name} came while the new report was being swapped in; the swap finished", file=sys.stderr)


def remove_stale_temps(out: Path) -> list[Path]:
    """Temporary siblings of out left by builds into out that died: named `.NAME.new-*` or `.NAME.old-*` (compared
    as strings, never as a glob pattern), owned by a build of this --out that is gone, and holding only what
    their manifest lists, or nothing but mlemap's bookkeeping (what a removal killed half-way leaves). Called
    under the lock; one that cannot be removed is named in one line and left."""
    removed = []
    for path in sorted(out.parent.iterdir()):
        kind = next((k for k in ("new", "old") if path.name.startswith(f".{out.name}.{k}-")), None)
        if kind is None or not path.is_dir() or path.is_symlink() or not _stale(path, out, kind):
            continue
        try:
            if kind == "old" and not out.exists() and _whole(path / out.name):
                _restore(path / out.name, out)
            remove_copy(path, "removing-stale")
        except OSError as exc:
            print(
                f"cannot remove {path}, left by a build that did not finish ({describe_os_error(exc)})", file=sys.stderr
            )
            continue
        removed.append(path)
    return removed


def _restore(previous: Path, out: Path) -> None:
    """A build without the atomic exchange was killed between its two renames: the previous report goes back."""
    os.rename(previous, out)
    (out / OWNER).unlink(missing_ok=True)
    print(f"put back the previous report {out}, left aside by a build that did not finish", file=sys.stderr)


def _stale(path: Path, out: Path, kind: str) -> bool:
    inner = path / out.name if kind == "old" else path
    nested = {out.name, f"{out.name}/{OWNER}", f"{out.name}/{MARKER}"} if kind == "old" else set()
    try:
        present = listing(path)
    except OSError:
        return False
    if present <= {OWNER, MARKER} | nested:  # no file of anybody's: a removal (or a creation) killed half-way
        return _owner_gone(path, out, unreadable=True)
    return _owner_gone(path, out) and _only_listed(path, inner)


def _only_listed(path: Path, inner: Path) -> bool:
    """path holds its owner file and, in inner, nothing but files its manifest lists, unedited (some may be gone
    already: a missing file holds nothing to lose)."""
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
    return present <= allowed and not _changed_files(inner)


def _changed_files(directory: Path) -> list[str]:
    """The files present whose content differs from the hash the marker recorded."""
    found = manifest(directory) or {}
    return sorted(
        name
        for name, digest in found.items()
        if digest is not None and os.path.lexists(directory / name) and _digest(directory / name) != digest
    )


def remove_copy(path: Path, phase: str) -> None:
    """Remove a report's copy (a temporary sibling) in the order that keeps what is left recognisable to
    remove_stale_temps if the build is killed half-way: its directories first (a report nested in a
    `.NAME.old-*` sibling the same way), then its files, then its manifest, and the build's identity last, just
    before the empty directory itself."""
    entries = sorted(path.iterdir(), key=lambda e: (e.name == OWNER, e.name == MARKER, not _real_dir(e), e.name))
    for index, entry in enumerate(entries):
        if _real_dir(entry) and ((entry / MARKER).exists() or (entry / OWNER).exists()):
            remove_copy(entry, "")
        elif _real_dir(entry):
            _remove_tree(entry)
        else:
            entry.unlink()
        if index == 0:
            pause_at(phase)
    path.rmdir()


def _real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _remove_tree(directory: Path) -> None:
    """shutil.rmtree, whose error names the whole path of what could not be removed (not just its name)."""

    def name_the_path(function, path, error) -> None:
        exc = error if isinstance(error, BaseException) else error[1]
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, path) from None
        raise exc

    if sys.version_info >= (3, 12):
        shutil.rmtree(directory, onexc=name_the_path)
    else:
        shutil.rmtree(directory, onerror=name_the_path)


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
    """Replace out by new, as a journal: at every moment out holds a whole report (the previous one, then the new
    one) and every other copy sits in a sibling that names its build, so a build killed at any point leaves out
    whole and the next build removes what is left over. Where the system can, in one atomic exchange; elsewhere
    with two renames on one filesystem. A previous report that cannot be removed is kept as it was."""
    pause_at("before-swap")
    check_replaceable(out)  # again: the user may have added a file while the report was being built
    replacing = out.exists()
    if replacing:
        check_removable(out)
        _own_previous(out)
    try:
        pause_at("before-exchange")
        with deferred_signals():
            if not replacing:
                os.rename(new, out)
            elif _exchange(new, out):
                _drop_previous(new, out)
            else:
                _rename_twice(new, out)
    except OSError as exc:
        raise InputError(
            f"--out {out}: cannot swap the new report in ({describe_os_error(exc)}); the previous report is kept"
        ) from None
    finally:
        with suppress(OSError):  # out is a whole report either way; only a sibling needs a build's identity
            (out / OWNER).unlink(missing_ok=True)


def check_removable(out: Path) -> None:
    """Each directory of the previous report lets its entries be removed; otherwise the swap would leave half of
    it behind, so it is refused before anything changes."""
    for root, _dirs, _files in os.walk(out):
        if not os.access(root, os.W_OK | os.X_OK):
            raise InputError(
                f"--out {out}: {root} is read-only, so the previous report cannot be replaced; make it writable or choose another directory"
            )


def _own_previous(out: Path) -> None:
    """The previous report is about to become a sibling: it carries this build's identity, so if the build is
    killed the next one knows whose it is."""
    try:
        _write_owner(out, out)
    except OSError as exc:
        with suppress(OSError):
            (out / OWNER).unlink(missing_ok=True)
        raise InputError(
            f"--out {out}: cannot write {OWNER} into the previous report ({describe_os_error(exc)}); it is kept as it was"
        ) from None


def _drop_previous(new: Path, out: Path) -> None:
    """After the exchange new holds the previous report. Remove it; if not one entry could be removed, exchange
    back and say why in one line, so the previous report stays as it was and no half of it is left anywhere."""
    with suppress(OSError):  # the finished report carries no build identity (and the next build removes it)
        (out / OWNER).unlink(missing_ok=True)
    pause_at("after-exchange")
    try:
        remove_copy(new, "removing-previous")
    except OSError as exc:
        failed = Path(exc.filename) if exc.filename else new
        where = out / failed.relative_to(new) if failed.is_relative_to(new) else failed
        reason = exc.strerror or str(exc)
        if _whole(new) and _exchange_back(new, out):
            with suppress(OSError):  # the new report, a sibling again until the caller removes it
                _write_owner(new, out)
            raise InputError(
                f"--out {out}: cannot remove {where} of the previous report ({reason}); it is kept as it was"
            ) from None
        print(f"cannot remove {where} ({reason}): the rest of the previous report is left in {new}", file=sys.stderr)


def _exchange_back(new: Path, out: Path) -> bool:
    try:
        return _exchange(new, out)
    except OSError:
        return False


def _whole(directory: Path) -> bool:
    """Every path the directory's manifest lists is there."""
    found = manifest(directory)
    return found is not None and all(os.path.lexists(directory / name) for name in found)


def _rename_twice(new: Path, out: Path) -> None:
    """Without an atomic exchange: the previous report moves into an owned `.NAME.old-*` sibling, the new one
    into its place. SIGTERM and SIGINT are deferred across both renames; SIGKILL between them leaves out
    missing and the previous report whole in the sibling, where the next build finds it and puts it back."""
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    _write_owner(old, out)
    (old / MARKER).write_text(MARKER_HEADER + "\n{}\n")
    os.rename(out, old / out.name)
    try:
        os.rename(new, out)
    except OSError:
        os.rename(old / out.name, out)  # the previous report back in its place
        raise
    try:
        remove_copy(old, "removing-previous")
    except OSError as exc:
        print(f"cannot remove the previous report in {old} ({describe_os_error(exc)})", file=sys.stderr)


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
