"""python -m reports: build the worked-solution report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from derivations.model import InputError
from reports.build import FORMATS, BuildError, build
from reports.compute import SECTIONS, Settings


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m reports", description="Derive, verify and write the worked-solution report.")
    p.add_argument("--out", type=Path, default=Path("build/report"), help="output directory (default build/report)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random sample (default 0)")
    p.add_argument("--n", type=positive_int, default=10_000, help="praxis sample size (default 10000)")
    p.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION", help=f"build only this section, repeatable: {', '.join(SECTIONS)}")
    p.add_argument("--format", type=formats, default=FORMATS, help="comma list of md,tex,pdf (default all)")
    p.add_argument("--resolution", type=positive_int, default=100, help="heatmap grid points per axis (default 100)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.resolution < 2:
        parser().error(f"argument --resolution: must be >= 2, got {args.resolution}")
    settings = Settings(seed=args.seed, n=args.n, resolution=args.resolution, sections=tuple(args.only or SECTIONS))
    try:
        build(settings, args.out, args.format)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BuildError as exc:
        print(f"error: {exc}\nthe previous report in {args.out} is untouched", file=sys.stderr)
        return 1
    return 0
