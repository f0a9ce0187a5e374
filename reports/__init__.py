"""The worked-solution report: Markdown, HTML, LaTeX and PDF with figures.

    from mlemap.reports import build_report
    build_report("mlemap/sheets/exercise4.py", out="build/ex4", formats=("md", "html"))

Kept free of heavy imports: `python -m mlemap.reports` registers its exit handler before torch and SymPy load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path


def build_report(
    sheet: str | Path | None = None,
    out: str | Path = "build/report",
    formats: Iterable[str] = ("md", "tex", "pdf", "html"),
    log: Callable[[str], None] = print,
    **options,
) -> Path:
    """Build a sheet's report into out (None: Exercise 3, the default sheet); options are the fields of
    reports.plan.Settings (seed, n, jobs, sections, variant, ...); log takes each progress line. Returns the
    report directory."""
    from mlemap.reports.build import build
    from mlemap.reports.plan import Settings

    settings = Settings(sheet_path=None if sheet is None else Path(sheet), **options)
    return build(settings, Path(out), tuple(formats), log=log)


__all__ = ["build_report"]
