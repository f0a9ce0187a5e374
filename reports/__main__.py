"""`python -m reports`: the CLI, leaving without the interpreter's teardown once the report is swapped in."""

import atexit
import os
import sys

exit_code = 1  # an exception escaping main() exits 1, as Python's own would


def _leave_without_teardown() -> None:
    # Freeing torch, SymPy's caches and every module costs about 0.9 s here and frees nothing the operating
    # system would not free at once. Registered before anything else is imported, this handler runs last
    # (atexit is last in, first out): every other exit handler has run, then the process leaves.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)


atexit.register(_leave_without_teardown)

from reports.cli import main  # noqa: E402  (imported after the registration, so its exit handlers run first)

try:
    exit_code = main()
except SystemExit as stop:  # argparse: 2 for a usage error, 0 for --help
    exit_code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    raise
except KeyboardInterrupt:  # Ctrl-C before the build started (while importing): no traceback
    exit_code = 130  # what a shell reports for SIGINT
    print("interrupted", file=sys.stderr)
sys.exit(exit_code)
