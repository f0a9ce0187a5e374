"""`mlemap report` (python -m mlemap.reports): build the worked-solution report.

Progress lines and messages go to standard error (--quiet silences all but errors); the report is the output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlemap.derivations.model import InputError
from mlemap.derivations.sheet import load_sheet_module, sheet_option_help
from mlemap.numerics.verify import seed
from mlemap.reports.build import FORMATS, BuildError, PdfFailed, build
from mlemap.reports.plan import Settings
from mlemap.reports.workers import Interrupted, raise_on_sigterm
from mlemap.sheets import DEFAULT_SHEET  # the command line alone chooses the default sheet


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def formats(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in chosen if f not in FORMATS]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {','.join(FORMATS)}, got {text!r}")
    return chosen


def parser(prog: str = "python -m mlemap.reports") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="Derive, verify and write up a sheet's worked solutions: Markdown, LaTeX, PDF, HTML."
    )
    p.add_argument(
        "--out",
        default="build/report",
        help="output directory: new, empty, or an earlier mlemap report (default build/report)",
    )
    p.add_argument("--seed", type=seed, default=0, help="seed of every random sample, 0 to 2**32 - 1 (default 0)")
    p.add_argument(
        "--n",
        type=positive_int,
        default=None,
        help="draws for every optimizer study on simulated data (default: each question's own n, else 10000)",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="KEY",
        help="build only the questions whose key starts with KEY (its part before the first dot), repeatable",
    )
    p.add_argument("--format", type=formats, default=FORMATS, help="comma list of md,tex,pdf,html (default all)")
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=2,
        help="processes for verification and figures; 1 runs everything in one process (default 2)",
    )
    p.add_argument("--sheet", help=sheet_option_help())
    p.add_argument(
        "--variant",
        choices=("solutions", "questions", "companion"),
        default="solutions",
        help="solutions: the worked solutions (default); questions: the students' sheet, the questions and their "
        "data only; companion: for the course staff, the appendix and every numerical check",
    )
    p.add_argument("--resolution", type=positive_int, default=100, help="heatmap grid points per axis (default 100)")
    p.add_argument(
        "--student",
        metavar="ID",
        help="that student's sheet or key: the data the sheet draws per student, seeded by the sheet and the ID",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines; errors are still shown")
    return p


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def silent(line: str) -> None:
    """--quiet: progress lines go nowhere."""


def main(argv: list[str] | None = None, prog: str = "python -m mlemap.reports") -> int:
    args = parser(prog).parse_args(argv)
    if args.resolution < 2:
        parser(prog).error(
            f"argument --resolution: must be a whole number >= 2 (grid points per axis), got {args.resolution}"
        )
    sections = tuple(args.only) if args.only else None
    if args.n is not None and args.n < 2:
        parser(prog).error(f"argument --n: a study needs at least 2 draws, got {args.n}")
    if args.sheet is not None:
        try:
            load_sheet_module(args.sheet)
        except InputError as exc:
            parser(prog).error(f"argument --sheet: {exc}")
    sheet_path = Path(args.sheet) if args.sheet is not None else DEFAULT_SHEET
    settings = Settings(
        seed=args.seed,
        n=args.n,
        resolution=args.resolution,
        sections=sections,
        sheet_path=sheet_path,
        jobs=args.jobs,
        variant=args.variant,
        student=args.student,
    )
    raise_on_sigterm()
    try:
        build(settings, args.out, args.format, log=silent if args.quiet else to_stderr)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PdfFailed as exc:  # everything but the PDF was written and swapped in: say so, and fail
        print(f"error: {exc}; {exc.out} holds the new report without report.pdf (see its report.log)", file=sys.stderr)
        return 1
    except BuildError as exc:
        print(f"error: {exc}; the previous report in {args.out} is untouched", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"interrupted; the previous report in {args.out} is untouched", file=sys.stderr)
        return exc.code if isinstance(exc, Interrupted) else 130
    return 0
