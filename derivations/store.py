"""A content-addressed disk cache for exact SymPy results (derivations, Fisher information), that trusts only
what its own user wrote.

SymPy's solve and integrate dominate a report build, and their results depend only on their symbolic
inputs and on the code that derives them. The key hashes both: the inputs' srepr (symbols with their
assumptions, densities, domains, data) and the bytes of every module in derivations/, plus the SymPy and
Python versions. Any change to either misses the cache. MLEMAP_NO_CACHE=1 turns it off (the tests do);
MLEMAP_CACHE_DIR moves it (default: $XDG_CACHE_HOME/mlemap, else ~/.cache/mlemap).

What it trusts: a directory it creates 0700, or one that belongs to the current user and that group and
others cannot write; otherwise it warns once and runs without a cache. Entries are data, never code
(derivations/codec.py: JSON with SymPy trees), and each carries an HMAC-SHA256 under a secret kept 0600 in
the directory; the digest is checked before anything is decoded. A mismatch, an entry not owned by the
user or writable by others, or anything at all going wrong while loading is a miss: recomputed and replaced.
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

from derivations import codec

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
    """Owned by the current user, and neither group nor others may write it."""
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


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
            f"cache directory {directory} is not private (it must be a directory of uid {os.getuid()} that group "
            f"and others cannot write; it is uid {info.st_uid}, mode {stat.filemode(info.st_mode)}); running without a cache"
        )
        return False
    return True


def read_private(path: Path, limit: int) -> bytes | None:
    """The file's bytes if it is a regular file of the current user that others cannot write, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not private(info) or info.st_size > limit:
            warn(f"cache entry {path} is not a private file of this user; it is ignored and replaced")
            return None
        return fh.read(limit + 1)


def secret(directory: Path) -> bytes | None:
    """The cache's HMAC key: 32 random bytes in a 0600 file, made on first use."""
    path = directory / SECRET_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    except OSError:
        return None
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(SECRET_BYTES))
    key = read_private(path, SECRET_BYTES)
    if key is None or len(key) != SECRET_BYTES or os.stat(path).st_mode & 0o077:
        warn(f"cache key {path} is not a private 32-byte file; running without a cache")
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
