"""A content-addressed disk cache for exact SymPy results (derivations, Fisher information), that trusts only
what its own user wrote.

SymPy's solve and integrate dominate a report build, and their results depend only on their symbolic
inputs and on the code that derives them. The key hashes both: the inputs' srepr (symbols with their
assumptions, densities, domains, data) and the bytes of every module in derivations/, plus the SymPy and
Python versions. Any change to either misses the cache. MLEMAP_NO_CACHE=1 turns it off (the tests do);
MLEMAP_CACHE_DIR moves it (default: $XDG_CACHE_HOME/mlemap, else ~/.cache/mlemap).

What it trusts: a directory it creates 0700, or one that belongs to the current user and group and that group
and others cannot write; otherwise it warns once, in one line, and runs without a cache (so too when its key file
is anything but a private 32-byte file: a directory, a symlink, another's). Entries are data, never code
(derivations/codec.py: JSON with SymPy trees), and each carries an HMAC-SHA256 under a secret kept 0600 in
the directory; the digest is checked before anything is decoded. A mismatch, an entry not owned by the
user and group or writable by others (a directory in its place included), or anything at all going wrong while
loading is a miss: recomputed and, where it can be, replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TypeVar

import sympy as sp

from mlemap.derivations import codec

T = TypeVar("T")
FORMAT = b"mlemap-cache 2\n"
SECRET_NAME = "secret.key"
SECRET_BYTES = 32
MAX_ENTRY_BYTES = 64 * 2**20  # an entry is tens of kB; anything this large is not one of ours


@cache
def code_key() -> str:
    digest = hashlib.sha256(f"{sp.__version__}|{sys.version}".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def content_key(parts: Iterable[object]) -> str:
    """sha256 of the parts' srepr: exact, and includes every symbol's assumptions."""
    return hashlib.sha256(code_key().encode() + sp.srepr(list(parts)).encode()).hexdigest()


def cache_dir() -> Path | None:
    """Where the cache lives (not yet checked); None when MLEMAP_NO_CACHE is set."""
    if os.environ.get("MLEMAP_NO_CACHE"):
        return None
    if os.environ.get("MLEMAP_CACHE_DIR"):
        return Path(os.environ["MLEMAP_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlemap"


@cache
def warn(message: str) -> None:
    """One line on stderr, once per process for each message."""
    print(f"mlemap: {message}", file=sys.stderr)


def private(info: os.stat_result) -> bool:
    """Owned by the current user and group, and neither group nor others may write it."""
    return (
        info.st_uid == os.getuid()
        and info.st_gid in {os.getgid(), os.getegid()}
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def owner(info: os.stat_result) -> str:
    """Whose it is and its mode, as the warnings name them."""
    return f"uid {info.st_uid}, gid {info.st_gid}, mode {stat.filemode(info.st_mode)}"


def trusted_dir(directory: Path) -> bool:
    """Create the directory 0700, or accept an existing one only if it is private; warn otherwise."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.stat(directory, follow_symlinks=False)
    except OSError as exc:
        warn(f"cache directory {directory} cannot be used ({exc.strerror}); running without a cache")
        return False
    if not stat.S_ISDIR(info.st_mode) or not private(info):
        warn(
            f"cache directory {directory} is not private (it must be a directory of uid {os.getuid()} and gid "
            f"{os.getgid()} that group and others cannot write; it is {owner(info)}); running without a cache"
        )
        return False
    return True


def read_private(path: Path, limit: int, mode_mask: int = 0) -> bytes | str | None:
    """The bytes of path if it is a private regular file of at most limit bytes with no bit of mode_mask set; None
    when there is no file; otherwise why it is not used, in words. Symlinks are not followed; a FIFO never blocks."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:  # a symlink (ELOOP), no permission...
        return f"cannot be opened ({exc.strerror})"
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):  # checked on the descriptor, before a file object refuses a directory
            return "is a directory"
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file"
        if not private(info) or info.st_mode & mode_mask:
            return f"is not a private file of this user ({owner(info)})"
        if info.st_size > limit:
            return f"is larger than {limit} bytes"
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(limit + 1)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    finally:
        os.close(fd)


def secret(directory: Path) -> bytes | None:
    """The cache's HMAC key: 32 random bytes in a 0600 file, made on first use; None (after one warning line)
    when it cannot be made or read, or is anything but a private 32-byte file."""
    path = directory / SECRET_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        warn(f"cache key {path} cannot be made ({exc.strerror}); running without a cache")
        return None
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(SECRET_BYTES))
    key = read_private(path, SECRET_BYTES, mode_mask=0o077)
    if not isinstance(key, bytes) or len(key) != SECRET_BYTES:
        why = key if isinstance(key, str) else f"holds {len(key or b'')} bytes"
        warn(f"cache key {path} {why}; it must be a private 32-byte file; running without a cache")
        return None
    return key


def digest(key: bytes, name: str, payload: bytes) -> bytes:
    """HMAC-SHA256 of the entry's file name and payload: an entry copied to another name does not check out."""
    return hmac.new(key, name.encode() + b"\0" + payload, hashlib.sha256).hexdigest().encode()


def load_or_compute(kind: str, key: str, compute: Callable[[], T], keep: Callable[[T], bool] = lambda value: True) -> T:
    """compute(), or its result from an earlier run with the same key; an unusable cache is ignored.
    keep(value) false leaves a result out of the cache (one that depends on the machine, such as a timeout)."""
    directory = cache_dir()
    if directory is None or not trusted_dir(directory):
        return compute()
    hmac_key = secret(directory)
    if hmac_key is None:
        return compute()
    path = directory / f"{kind}-{key}.json"
    found = _load(path, hmac_key)
    if found is not None:
        return found[0]  # type: ignore[return-value]  # an entry under this key holds what compute returned
    value = compute()
    if keep(value):
        _write(path, value, hmac_key)
    return value


def _load(path: Path, hmac_key: bytes) -> tuple[object] | None:
    """(value,) when the entry is ours and intact, else None. Nothing is decoded before its digest checks out."""
    raw = read_private(path, MAX_ENTRY_BYTES)
    if isinstance(raw, str):
        warn(f"cache entry {path} {raw}; it is ignored and recomputed")
        return None
    if raw is None or not raw.startswith(FORMAT):
        return None
    mac, _, payload = raw[len(FORMAT) :].partition(b"\n")
    if not hmac.compare_digest(mac, digest(hmac_key, path.name, payload)):
        return None
    try:
        return (codec.loads(payload),)
    except Exception:  # noqa: BLE001 - an entry this code cannot rebuild, whatever the reason, is recomputed
        return None


def _write(path: Path, value: object, hmac_key: bytes) -> None:
    """Atomic (a 0600 temporary file, then rename): a concurrent build never reads a half-written file."""
    try:
        payload = codec.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return  # not data the codec stores: returned, not cached
    tmp = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as fh:
            tmp = fh.name
            fh.write(FORMAT + digest(hmac_key, path.name, payload) + b"\n" + payload)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
