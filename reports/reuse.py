"""Figures carried over from the previous report when nothing that draws them has changed.

Each figure's key hashes the source file of its drawing function, this module's and figures.py's sources, the
matplotlib version and the pickled arguments; the keys are written beside the figures (KEYS). A figure is
copied from the previous report, byte for byte, only when its key is listed there unchanged and both of its
files are plain files: the drawing is deterministic, so the copy is what drawing it again would write. Only
JSON is read from the previous report, and only from a directory an earlier build marked as its own.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import sys
from pathlib import Path

import matplotlib

KEYS = "figures.json"
SUFFIXES = (".png", ".pdf")


def job_key(job) -> str | None:
    """The figure's key, or None when its arguments do not pickle (then it is always drawn)."""
    try:
        arguments = pickle.dumps((job.draw.__module__, job.draw.__qualname__, job.args, job.kwargs), protocol=5)
    except Exception:  # noqa: BLE001 - any argument pickle refuses: no key, the figure is drawn
        return None
    digest = hashlib.sha256(matplotlib.__version__.encode())
    for module in sorted({job.draw.__module__, "mlemap.reports.figures", __name__}):
        source = sys.modules[module].__file__
        if source is None:  # a drawing function without a source file: its figure is always drawn
            return None
        digest.update(Path(source).read_bytes())
    digest.update(arguments)
    return digest.hexdigest()


def previous_keys(previous: Path | None) -> dict[str, str]:
    """name -> key of the previous report's figures; empty when there are none or the file is not ours."""
    if previous is None:
        return {}
    try:
        keys = json.loads((previous / KEYS).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        return {}
    return keys


def carry_over(name: str, key: str | None, old: dict[str, str], previous: Path | None, directory: Path) -> bool:
    """Copy the figure's files from the previous report when its key is unchanged; False when it must be drawn."""
    if key is None or previous is None or old.get(name) != key:
        return False
    sources = [previous / f"{name}{suffix}" for suffix in SUFFIXES]
    if not all(path.is_file() and not path.is_symlink() for path in sources):
        return False
    for path in sources:
        shutil.copyfile(path, directory / path.name)
    return True


def write_keys(directory: Path, keys: dict[str, str | None]) -> None:
    known = {name: key for name, key in sorted(keys.items()) if key is not None}
    (directory / KEYS).write_text(json.dumps(known, indent=1) + "\n")
