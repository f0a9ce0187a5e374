import atexit
import os
import sys

from reports.cli import main

code = main()
# The build is complete and swapped in. Run the exit handlers, flush, and leave without the interpreter's
# teardown: freeing torch, SymPy's caches and every module costs about 0.9 s here, and frees nothing
# the operating system would not free at once.
atexit._run_exitfuncs()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
