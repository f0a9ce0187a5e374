"""A content-addressed disk cache for exact SymPy results (derivations, Fisher information).

SymPy's solve and integrate dominate a report build, and their results depend only on their symbolic
inputs and on the code that derives them. The key hashes both: the inputs' srepr (symbols with their
assumptions, densities, domains, data) and the bytes of every module in derivations/, plus the SymPy and
Python versions. Any change to either misses the cache. MLEMAP_NO_CACHE=1 turns it off (the tests do);
MLEMAP_CACHE_DIR moves it (default: $XDG_CACHE_HOME/mlemap, else ~/.cache/mlemap).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TypeVar

import sympy as sp

T = TypeVar("T")
# What pickling a value it cannot take raises: a lambda (PicklingError), a local object (AttributeError),
# a lock or an open file (TypeError). The value is then returned but not cached.
PICKLE_ERRORS = (pickle.PicklingError, AttributeError, TypeError)
# What a stale or foreign cache file can raise on load; it is then recomputed and overwritten.
LOAD_ERRORS = (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, TypeError, ValueError)


@cache
def code_key() -> str:
    digest = hashlib.sha256(f"{sp.__version__}|{sys.version}".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def content_key(parts: Iterable[object]) -> str:
    """sha256 of the parts' srepr: exact, and includes every symbol's assumptions."""
    digest = hashlib.sha256(code_key().encode())
    for part in parts:
        digest.update(b"\0" + sp.srepr(part).encode())
    return digest.hexdigest()


def cache_dir() -> Path | None:
    if os.environ.get("MLEMAP_NO_CACHE"):
        return None
    if os.environ.get("MLEMAP_CACHE_DIR"):
        return Path(os.environ["MLEMAP_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlemap"


def load_or_compute(kind: str, key: str, compute: Callable[[], T], keep: Callable[[T], bool] = lambda value: True) -> T:
    """compute(), or its pickled result from an earlier run with the same key; an unusable cache is ignored.
    keep(value) false leaves a result out of the cache (one that depends on the machine, such as a timeout)."""
    directory = cache_dir()
    if directory is None:
        return compute()
    path = directory / f"{kind}-{key[:32]}.pickle"
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except LOAD_ERRORS:
        pass
    value = compute()
    if keep(value):
        _write(path, value)
    return value


def _write(path: Path, value: object) -> None:
    """Atomic (temporary file, then rename): a concurrent build never reads a half-written file."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as fh:
            tmp = fh.name
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except (OSError, RecursionError, *PICKLE_ERRORS):
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
