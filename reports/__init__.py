"""The worked-solution report: Markdown, HTML, LaTeX and PDF with figures.

    from mlemap.reports import build_report
    build_report("exercise4", out="build/ex4", formats="md,html")

Kept free of heavy imports: `python -m mlemap.reports` registers its exit handler before torch and SymPy load.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

# the command line's options and the names build_report gives them: a rule the build words for `mlemap report`
# is reworded for a caller who never typed a flag
API_NAMES = {
    "format": "formats",
    "only": "sections",
    "out": "out",
    "sheet": "sheet",
    "n": "n",
    "seed": "seed",
    "jobs": "jobs",
    "resolution": "resolution",
    "variant": "variant",
    "student": "student",
}
_FLAG = re.compile(rf"(?<![\w-])--({'|'.join(API_NAMES)})\b")


def build_report(
    sheet: str | Path | None = None,
    out: str | Path = "build/report",
    formats: str | Iterable[str] = ("md", "tex", "pdf", "html"),
    log: Callable[[str], None] = print,
    **options,
) -> Path:
    """Build a sheet's report into out. sheet: a sheet file, or the name of a shipped sheet (exercise3,
    exercise4); formats: "md", "md,html" or an iterable of md, tex, pdf, html; options are the fields of
    reports.plan.Settings (seed, n, jobs, sections: "task1" or "task1,task2" or an iterable, variant, ...); log
    takes each progress line. Returns the report directory. A bad argument is an InputError of one line naming
    the argument as this function does."""
    from mlemap.derivations.model import InputError
    from mlemap.derivations.sheet import shipped_sheets
    from mlemap.reports.build import FORMATS, build
    from mlemap.reports.plan import Settings

    if sheet is None:
        shipped = ", ".join(shipped_sheets())
        raise InputError(f"build_report: no sheet given; name a sheet file or a shipped sheet ({shipped})")
    chosen = names("formats", formats, FORMATS)
    known = [name for name in Settings.__dataclass_fields__ if name != "sheet_path"]  # sheet_path is sheet
    unknown = [name for name in options if name not in known]
    if unknown:
        raise InputError(f"build_report: no option {unknown[0]!r}; the options are {', '.join(known)}")
    if options.get("sections") is not None:  # a string is one key or a comma list, never its letters
        options["sections"] = names("sections", options["sections"])
    settings = Settings(sheet_path=Path(sheet), **options)
    try:
        return build(settings, Path(out), chosen, log=log)
    except InputError as exc:
        raise InputError(f"build_report: {api_words(str(exc))}") from None


def names(argument: str, value: str | Iterable[str], allowed: Collection[str] | None = None) -> tuple[str, ...]:
    """A list of names as a caller gives it: a string ("md" or "md,html", never read letter by letter) or an
    iterable of strings, at least one, each among allowed where that is given."""
    from mlemap.derivations.model import InputError

    among = f" among {', '.join(allowed)}" if allowed is not None else ""
    rule = f"build_report: {argument} must be one or more names{among} (a string such as 'a,b', or a list)"
    if isinstance(value, str):
        chosen = tuple(f.strip() for f in value.split(",") if f.strip())
    else:
        try:
            chosen = tuple(value)
        except TypeError:
            raise InputError(f"{rule}, got {value!r}") from None
    if not chosen or any(not isinstance(f, str) or (allowed is not None and f not in allowed) for f in chosen):
        raise InputError(f"{rule}, got {value!r}")
    return chosen


def api_words(message: str) -> str:
    """A build's one-line rule with each command-line flag (--out, --only) named as build_report's argument."""
    return _FLAG.sub(lambda flag: API_NAMES[flag[1]], message)


__all__ = ["build_report"]
