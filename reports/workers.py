"""Forked workers that die with the build, and the signals that end a build.

A worker is a forked child with a one-way pipe back: it closes the parent's end, asks Linux to kill it when
the parent dies (PR_SET_PDEATHSIG), ignores SIGINT (Ctrl-C reaches the whole process group; the parent
decides), and exits through os._exit so it never runs the parent's exit handlers. The parent closes the
child's end, so a worker that dies shows as EOF instead of a read that never returns. Without fork
(or with jobs=1) the same calls run in the parent.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1
CAN_FORK = "fork" in multiprocessing.get_all_start_methods()


class Interrupted(BaseException):
    """The build was stopped by a signal; code is what a shell reports for it (128 + the signal's number)."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.code = 128 + signum


def raise_on_sigterm() -> None:
    """SIGTERM ends a build like Ctrl-C does: the temporary directory is removed, the workers are killed."""

    def handler(signum, frame):
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, handler)


def die_with_parent(parent: int) -> None:
    """In a forked child: SIGKILL when the parent dies (Linux), and leave at once if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the closed pipe ends still turn a dead parent into EOF
        pass
    if os.getppid() != parent:
        os._exit(1)


class Worker:
    """fn(*args) in a forked child; result() returns its value or raises what it raised."""

    def __init__(self, fn: Callable[..., Any], *args: Any, fork: bool = True):
        if not (fork and CAN_FORK):
            self._value: tuple = _call(fn, args)
            self.pid = None
            return
        parent = os.getpid()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read_fd)
            die_with_parent(parent)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _child(fn, args, write_fd)
        os.close(write_fd)
        self.pid, self._pipe = pid, os.fdopen(read_fd, "rb")

    def result(self) -> Any:
        if self.pid is None:
            outcome = self._value
        else:
            with self._pipe:
                data = self._pipe.read()
            _, status = os.waitpid(self.pid, 0)
            self.pid = None
            if not data:
                raise RuntimeError(f"a worker process died ({_describe(status)})")
            outcome = pickle.loads(data)  # written by our own forked child, through a pipe only it had
        ok, value = outcome
        if not ok:
            raise value
        return value

    def kill(self) -> None:
        """Stop a worker whose result is no longer wanted (the build failed or was interrupted)."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self._pipe.close()
            self.pid = None


def _call(fn: Callable[..., Any], args: tuple) -> tuple[bool, Any]:
    try:
        return True, fn(*args)
    except Exception as exc:  # noqa: BLE001 - whatever the call raised goes back to the parent
        return False, exc


def _child(fn: Callable[..., Any], args: tuple, write_fd: int) -> None:
    code = 0
    try:
        outcome = _call(fn, args)
        try:
            data = pickle.dumps(outcome)
        except Exception as exc:  # noqa: BLE001 - an exception that cannot be pickled still reaches the parent as one line
            data = pickle.dumps((False, RuntimeError(f"{type(outcome[1]).__name__}: {exc}")))
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)
    except BaseException:  # noqa: BLE001 - the parent went away (BrokenPipeError) or worse: leave quietly
        code = 1
        if os.environ.get("MLEMAP_DEBUG_WORKERS"):
            traceback.print_exc(file=sys.stderr)
    finally:
        os._exit(code)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.WEXITSTATUS(status)}"


def run_all(calls: list[tuple[Callable[..., Any], tuple]], jobs: int) -> list[Any]:
    """Run calls, at most `jobs` at a time in forked workers (in order, in this process when jobs <= 1)."""
    if jobs <= 1 or not CAN_FORK or len(calls) <= 1:
        return [fn(*args) for fn, args in calls]
    results: list[Any] = []
    for start in range(0, len(calls), jobs):
        batch = [Worker(fn, *args) for fn, args in calls[start : start + jobs]]
        try:
            results += [w.result() for w in batch]
        finally:
            for w in batch:
                w.kill()
    return results
