"""`python -m mlemap`: the `mlemap` command."""

from mlemap.reports.console import entry

entry()
