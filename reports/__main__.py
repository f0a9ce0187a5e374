"""`python -m mlemap.reports`: the CLI, leaving without the interpreter's teardown once the report is swapped in."""

import atexit
import os
import sys

from mlemap.numerics.torch_optional import INSTALL_TORCH  # light: no torch, no SymPy

# torch is an optional dependency (mlemap[torch]): the commands run without it, its own checks SKIPped
# (numerics.torch_optional); anything else that reaches for it says so in this one line, not a traceback
TORCH_MISSING = f"torch is not installed, and this needs it: {INSTALL_TORCH}"


def run(main) -> None:
    """sys.exit(main()), then leave at once: freeing torch, SymPy's caches and every module costs about 0.9 s
    and frees nothing the operating system would not free at once. The handler is registered before main's
    modules register theirs, so it runs last (atexit is last in, first out), after all of them."""
    exit_code = 1  # an exception escaping main() exits 1, as Python's own would

    def leave_without_teardown() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exit_code)

    atexit.register(leave_without_teardown)
    try:
        exit_code = main()
    except SystemExit as stop:  # argparse: 2 for a usage error, 0 for --help
        exit_code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
        raise
    except KeyboardInterrupt:  # Ctrl-C before the build started (while importing): no traceback
        exit_code = 130  # what a shell reports for SIGINT
        print("interrupted", file=sys.stderr)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "torch":
            raise
        exit_code = 2  # as for any input the command cannot work with: one line, no traceback
        print(f"error: {TORCH_MISSING}", file=sys.stderr)
    sys.exit(exit_code)


if __name__ == "__main__":

    def main() -> int:
        from mlemap.reports.cli import main as build  # imported after run() registered its handler

        return build()

    run(main)
