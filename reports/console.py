"""`mlemap`: the console command. Each subcommand is one of the package's modules, with the same options.

mlemap report [--out DIR] [--format md,tex,pdf,html] ...   the worked-solution report (python -m mlemap.reports)
mlemap verify [--sheet FILE] [--json PATH] [--junit PATH]  every check of a sheet's models (python -m mlemap.numerics.verify)
mlemap derive FILE.py:NAME                                  a model's derivation, stage by stage, in the terminal
mlemap check [--sheet FILE] QUESTION 'ANSWER' [--json -]    a student's answer: correct, incorrect (and why), ...
mlemap grade [--sheet FILE] SUBMISSIONS.csv [--out DIR]     a class: grades.csv, feedback pages, a summary

Every command: results on standard output, messages (progress, "wrote ...") on standard error, errors in one
line; --quiet silences the messages but not the errors; a file is written only where an option asks for it
(--out, --json PATH, --junit PATH), and '-' for --json or --junit means standard output.
"""

from __future__ import annotations

import argparse
import sys

COMMANDS = {
    "report": "build the worked-solution report (mlemap report --help for its options)",
    "verify": "check every model of a sheet against independent numerics; exits 1 on any FAIL",
    "derive": "print a model's derivation: FILE.py:NAME names a Model (or Derivation) defined in a Python file",
    "check": "check a student's answer to one question; exits 0 correct, 1 incorrect, 2 unreadable or undecided",
    "grade": "grade a class's answers (a CSV of student,question,answer): grades.csv, feedback pages, a summary",
}


def installed_version() -> str:
    """The distribution's version, as pip installed it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlemap")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="mlemap",
        description="Exact MLE/MAP derivations, verified by independent numerics, written up as a handout.",
        epilog="Results go to standard output, messages to standard error (--quiet silences them, not errors); "
        "'--json -' writes JSON to standard output; nothing is written to a file unless an option names it.",
    )
    top.add_argument("--version", action="version", version=f"mlemap {installed_version()}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in COMMANDS.items():
        commands.add_parser(name, help=text, add_help=False)
    return top


def derive_command(argv: list[str]) -> int:
    # imported here, as every command's modules are: after entry() registered its exit handler
    from mlemap.derivations.engine import Derivation, derive
    from mlemap.derivations.model import InputError, Model
    from mlemap.derivations.sheet import load_python_file
    from mlemap.derivations.show import as_text

    usage = argparse.ArgumentParser(prog="mlemap derive", description=COMMANDS["derive"])
    usage.add_argument("target", metavar="FILE.py:NAME")
    usage.add_argument(
        "--data",
        metavar="DATA.csv",
        help="then fit the model to these data (a CSV file whose header names the model's data) and print the "
        "summary: estimates, standard errors, Wald and likelihood-ratio intervals, log-likelihood, AIC, BIC",
    )
    usage.add_argument("--alpha", type=float, default=0.05, help="the intervals' level is 1 - ALPHA (default 0.05)")
    args = usage.parse_args(argv)
    target = args.target
    path, colon, name = target.rpartition(":")
    if not colon or not path or not name.isidentifier():
        usage.error(f"argument FILE.py:NAME: must be a Python file and the name of a model in it, got {target!r}")
    if not 0 < args.alpha < 1:
        usage.error(f"argument --alpha: must lie in (0, 1) (0.05 gives 95% intervals), got {args.alpha}")
    try:
        value = getattr(load_python_file(path), name, None)
        if not isinstance(value, (Model, Derivation)):
            raise InputError(f"{path} defines no Model or Derivation named {name}")
        d = value if isinstance(value, Derivation) else derive(value)
        print(as_text(d), end="")
        if args.data is not None:
            from mlemap.numerics.estimate import estimate_csv  # numerics only when data are given

            print()
            print(estimate_csv(d, args.data).summary(args.alpha), end="")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        parser().parse_args(argv)  # --help, or a usage error naming the commands (both exit)
    command, rest = argv[0], argv[1:]  # the rest goes to the command's own parser, --help included
    if command == "report":
        from mlemap.reports.cli import main as report

        return report(rest, prog="mlemap report")
    if command == "verify":
        from mlemap.numerics.verify import main as verify

        return verify(rest, prog="mlemap verify")
    if command == "check":
        from mlemap.numerics.check import main as check

        return check(rest, prog="mlemap check")
    if command == "grade":
        from mlemap.reports.grade import main as grade

        return grade(rest, prog="mlemap grade")
    return derive_command(rest)


def entry() -> None:
    """The installed `mlemap` script; like `python -m mlemap.reports`, it leaves without the interpreter's teardown."""
    from mlemap.reports.__main__ import run

    run(main)


if __name__ == "__main__":
    entry()
