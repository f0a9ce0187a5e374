"""`mlemap verify`: every check of every model of a sheet, as a table, and the sheet's exact answers.

The table and the answers are the output (standard output); messages go to standard error. Nothing is written
to a file unless asked: --json PATH and --junit PATH ('-' for standard output).

The public API: verify(model or derivation, seed) -> Verification, and verify_sheet(sheet, seed).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlemap.derivations.engine import Derivation, derive
from mlemap.derivations.model import InputError, Model
from mlemap.derivations.sheet import (
    Answer,
    Estimate,
    Posterior,
    Precision,
    PriorStrength,
    Probability,
    Sheet,
    answers,
    load_python_file,
    load_sheet,
)
from mlemap.numerics.checks import CheckResult, check_data, guarded, rel_error, run_checks
from mlemap.numerics.kinds import ANSWER_CHECKS, Context
from mlemap.numerics.montecarlo import run_monte_carlo
from mlemap.numerics.newton import check_newton
from mlemap.numerics.posterior import check_gaussian_posterior
from mlemap.numerics.torch_optional import INSTALL_TORCH, TORCH_MISSING

ANSWER_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Verification:
    """Every check of one model (or of a sheet's answers), each PASS, FAIL or SKIP with error, tolerance, reason."""

    name: str
    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.status != "FAIL" for c in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status == "FAIL")

    def table(self) -> str:
        return format_table(self.checks)

    def _repr_markdown_(self) -> str:
        """In a notebook: the check table, then the verdict."""
        rows = ["| check | error | tolerance | result |", "|---|---:|---:|---|"]
        cell = str.maketrans({"|": "\\|"})  # a detail's own bars (|l|) would end its cell
        rows += [
            f"| {c.check} | {c.shown_error} | {c.tolerance:.1e} | {c.status} {c.detail.translate(cell)} |"
            for c in self.checks
        ]
        return f"**{self.name}**: {self.verdict}\n\n" + "\n".join(rows) + "\n"

    @property
    def verdict(self) -> str:
        """'every check passed', or with the skipped ones counted: a check that did not apply is no pass."""
        skipped = sum(c.status == "SKIP" for c in self.checks)
        if not self.passed:
            return f"{len(self.failures)} check(s) FAILED"
        return f"{len(self.checks) - skipped} passed, {skipped} skipped" if skipped else "every check passed"

    def _repr_html_(self) -> str:
        """In a notebook and its offline HTML: the check table, every text escaped."""
        from html import escape

        cells = [
            f"<tr><td>{escape(c.check)}</td><td>{c.shown_error}</td><td>{c.tolerance:.1e}</td>"
            f"<td>{escape(c.status)} {escape(c.detail)}</td></tr>"
            for c in self.checks
        ]
        head = "<tr><th>check</th><th>error</th><th>tolerance</th><th>result</th></tr>"
        return (
            f"<p><strong>{escape(self.name)}</strong>: {escape(self.verdict)}</p>\n"
            f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(cells) + "\n</tbody>\n</table>\n"
        )

    def _repr_latex_(self) -> str:
        """In nbconvert's PDF: the check table as a LaTeX tabular, every text escaped."""
        from mlemap.derivations.show import latex_text

        rows = [
            rf"{latex_text(c.check)} & {c.shown_error} & {c.tolerance:.1e} & {latex_text(f'{c.status} {c.detail}')} \\"
            for c in self.checks
        ]
        return (
            rf"\textbf{{{latex_text(self.name)}}}: {latex_text(self.verdict)}"
            "\n\n\\begin{tabular}{lrrl}\ncheck & error & tolerance & result \\\\ \\hline\n"
            + "\n".join(rows)
            + "\n\\end{tabular}\n"
        )


def verify(model_or_derivation: Model | Derivation, seed: int = 0) -> Verification:
    """Derive the model if need be, then run every numerical check and the Monte Carlo checks on it."""
    d = model_or_derivation if isinstance(model_or_derivation, Derivation) else derive(model_or_derivation)
    if d.model.simulate is None and not d.model.observed:  # nothing to evaluate at: every check skips, saying why
        reason = (
            "skipped: the model declares neither observed data nor a simulate hook, so there are no data to check at"
        )
        return Verification(
            d.model.name, (CheckResult(d.model.name, "numerics", float("nan"), 0.0, True, reason, skipped=True),)
        )
    problem = data_problem(d.model, seed)
    if problem is not None:  # no data to check at: one FAIL with the reason, and the sheet's other models go on
        return Verification(d.model.name, (failure(d.model.name, "data", problem),))
    checks = run_checks(d, seed=seed, peer=d.model.peer)
    if d.estimate is None and not d.maximiser_set:  # no closed form: the Newton update derived for it is checked
        checks.append(guarded(d.model, "newton", lambda: check_newton(d, check_data(d.model, seed))))
    checks += run_monte_carlo(d, seed=seed)
    return Verification(d.model.name, tuple(checks))


MODEL_FAILURES = ("derive", "data")  # a model that could not be checked at all: its one FAIL, said on stderr too
PEER_FAILED = "the sheet's peer for"


def failure(model: str, check: str, reason: str) -> CheckResult:
    return CheckResult(model, check, float("inf"), 0.0, False, reason)


def one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def data_problem(model: Model, seed: int) -> str | None:
    """Why the model's check data cannot be had, in one line naming the model and the rule, or None: the truth its
    simulate hook draws at must name every parameter, and the hook must run and return data the model accepts."""
    if model.observed:
        return None  # checked when the model was derived
    missing = [p.name for p in model.params if p.name not in model.truth]
    if missing:
        return (
            f"{model.name}: truth gives no value for {missing[0]!r}; the simulate hook draws at truth, which must "
            "name every parameter"
        )
    try:
        check_data(model, seed)
    except InputError as exc:
        return str(exc)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's hook failed, whatever it raised: say so
        return f"{model.name}: its simulate hook raised {one_line(exc)}"
    return None


def answer_checks(sheet: Sheet, found: list[Answer], derived: dict | None = None) -> Verification:
    """Each numeric answer of the sheet against the sheet's peer, computed with scipy alone; a Probability
    answer also against its float recomputation by quad."""
    results = []
    deriv = Context(derived=derived or {}).derive  # a derivation by name only where it is of this very model
    for q in sheet.questions:
        if isinstance(q, Posterior) and len(q.model.params) > 1:
            d = deriv(q.model)
            mine = [a for a in found if a.key.startswith(f"{q.key}.")]
            check = functools.partial(check_gaussian_posterior, q, d, mine)
            results.append(guarded(q.model, f"answer {q.key}", check, 1e-5))
        recompute = ANSWER_CHECKS.get(type(q))
        if recompute is not None and not (isinstance(q, Posterior) and len(q.model.params) > 1):
            ans = next((a for a in found if a.key == q.key), None)
            if ans is not None and (q.key not in sheet.peers or isinstance(q, Probability)):
                d = deriv(q.model)
                check = functools.partial(recompute, q, d, ans.expr)
                results.append(guarded(q.model, f"answer {q.key}", check, 1e-7))
    for ans in found:
        peer = sheet.peers.get(ans.key)
        if peer is not None:
            results.append(peer_check(ans, peer))
    return Verification("answers", tuple(results))


def peer_check(ans: Answer, peer) -> CheckResult:
    """The answer against the sheet's peer; a peer that raises (or exits) is a FAIL saying so, in one line."""
    try:
        err = rel_error(ans.value, peer())
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the sheet's own code failed: its check fails, the rest run
        return failure(ans.model, f"answer {ans.key}", f"{PEER_FAILED} {ans.key} raised {one_line(exc)}")
    return CheckResult(ans.model, f"answer {ans.key}", err, ANSWER_TOLERANCE, err <= ANSWER_TOLERANCE, "vs scipy")


def unchecked_answers(sheet: Sheet, found: list[Answer], verifications: list[Verification]) -> list[tuple[str, str]]:
    """(key, why) of each answer no check compared numerically: its own check (by its key or its question's), or
    for an estimate its model's comparison of the closed form with an optimizer, for an information matrix the
    Monte Carlo variance of the estimator."""
    ran = [c for v in verifications for c in v.checks if c.status != "SKIP"]
    by_key = {c.check.split(" ", 1)[1] for c in ran if " " in c.check}
    by_model = {(c.model, c.check) for c in ran}
    out = []
    for q in sheet.questions:
        mine = [a for a in found if a.key == q.key or a.key.startswith(f"{q.key}.")]
        for a in mine:
            if a.key in by_key or any(a.key.startswith(f"{k}.") or k.startswith(f"{a.key}.") for k in by_key):
                continue
            if a.key.endswith("_bias") and a.key.removesuffix("_bias") + "_expectation" in by_key:
                continue  # the bias is the checked expectation minus the parameter
            if isinstance(q, Estimate) and {(a.model, "scipy_optimize"), (a.model, "torch_optim")} & by_model:
                continue
            if isinstance(q, Precision) and (a.model, "cramer_rao_mc") in by_model:
                continue
            out.append((a.key, _why_unchecked(q)))
    return out


def _why_unchecked(q) -> str:
    if isinstance(q, Estimate):
        return "the model's data-free checks could not run (no data, or every optimizer comparison skipped)"
    return "no independent float computation of this kind of answer is implemented"


def verify_sheet(
    sheet: Sheet, seed: int = 0, models: list[str] | None = None
) -> tuple[list[Verification], list[Answer]]:
    """verify() of each model of the sheet (or those named), and the answers against their peers. In a sheet
    without questions (a file of models) a model that cannot be derived is one FAIL and the others are verified;
    a question's model that cannot be derived is an InputError."""
    derived, failed = derive_each(sheet)
    # the report's path to the answers: a question's derivation by its model's name only where it is of that
    # model; a Bias question asks of its model without the observed data (same name), derived on its own
    found = answers(sheet, deriv=Context(derived=derived).derive)
    chosen = [m.name for m in sheet.models if models is None or m.name in models]
    checked = [failed[name] if name in failed else verify(derived[name], seed) for name in chosen]
    work = prior_map_checks(sheet, chosen, Context(derived=derived).derive)  # as a report's work checks them
    return checked + [answer_checks(sheet, found, derived)] + ([Verification("work", work)] if work else []), found


def prior_map_checks(sheet: Sheet, chosen: list[str], deriv) -> tuple[CheckResult, ...]:
    """Each PriorStrength question's exact MAPs against scipy's search of the log-posterior."""
    from mlemap.numerics.prior_strength import map_checks

    return tuple(
        c
        for q in sheet.questions
        if isinstance(q, PriorStrength) and q.model.name in chosen
        for c in map_checks(q, deriv)
    )


def derive_each(sheet: Sheet) -> tuple[dict[str, Derivation], dict[str, Verification]]:
    """Each model's derivation, and for each model that cannot be derived its one FAIL, the reason in one line."""
    derived: dict[str, Derivation] = {}
    failed: dict[str, Verification] = {}
    for model in sheet.models:
        try:
            derived[model.name] = derive(model)
            continue
        except InputError as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - a declaration the engine fails on is that model's failure
            reason = f"{model.name}: cannot be derived ({one_line(exc)})"
        if sheet.questions:  # every answer needs its model derived
            raise InputError(reason)
        failed[model.name] = Verification(model.name, (failure(model.name, "derive", reason),))
    return derived, failed


def format_table(results) -> str:
    """A row per check; a SKIP or FAIL row ends with its reason."""
    lines = [f"{'model':<18} {'check':<28} {'error':>11} {'tolerance':>10}  result", "-" * 78]
    for r in results:
        reason = f"  {r.detail.removeprefix('skipped: ')}" if r.status != "PASS" and r.detail else ""
        lines.append(f"{r.model:<18} {r.check:<28} {r.shown_error:>11} {r.tolerance:>10.1e}  {r.status}{reason}")
    return "\n".join(lines)


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32 - 1], got {value}")
    return value


NAME_BYTES = 240  # of --json's (--junit's) name: its temporary file ".NAME.XXXXXXXX.part" must fit in 255


def json_target_problem(path: Path) -> str | None:
    """Why the results could not be written to path, found before any check runs; None when they can. The first
    directory of its that exists must be one this process can make a file in, tried (and removed) at once."""
    if path.is_dir():
        return f"{path} is a directory; name a file"
    if len(os.fsencode(path.name)) > NAME_BYTES:
        return f"{path}: its name is {len(os.fsencode(path.name))} bytes long; at most {NAME_BYTES}"
    parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
    if parent is None or not parent.is_dir():
        return f"{path}: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{path}: {parent} is not writable"
    try:  # root passes os.access everywhere; /proc, a read-only mount or a full disk still refuse a new file
        os.rmdir(tempfile.mkdtemp(prefix=".mlemap-probe-", dir=parent))
    except OSError as exc:
        return f"{path}: cannot make a file in {parent} ({exc.strerror})"
    return None


def write_whole(target: Path, content: bytes) -> None:
    """Write through a temporary file of our own (created exclusively, a unique name beside the target), then
    rename it over the target: a reader never sees half a file, and no other file is touched."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def models_in_file(path: Path) -> Sheet:
    """Every Model a user's Python file holds (its own and those it imports), in order, as a sheet without
    questions."""
    module = load_python_file(path)
    found = [value for value in vars(module).values() if isinstance(value, Model)]
    if not found:
        raise InputError(f"{path} defines no Model")
    return Sheet(title=f"the models of {path.name}", questions=(), extra_models=tuple(found))


STDOUT = Path("-")  # --json - and --junit -: standard output


def parse(argv: list[str] | None, prog: str = "python -m mlemap.numerics.verify") -> tuple[argparse.Namespace, Sheet]:
    from mlemap.derivations.sheet import sheet_option_help
    from mlemap.sheets import DEFAULT_SHEET  # the command line alone chooses the default sheet

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Check every model of a sheet against independent numerics (autograd, finite differences, "
        "optimizers, scipy) and print the table and the sheet's exact answers; exits 1 on any FAIL.",
    )
    parser.add_argument("--sheet", type=Path, default=DEFAULT_SHEET, help=sheet_option_help())
    parser.add_argument(
        "--models", type=Path, help="instead of a sheet: derive and verify every Model this file defines"
    )
    parser.add_argument("--model", action="append", help="check only this model of the sheet (repeatable)")
    parser.add_argument(
        "--seed", type=seed, default=0, help="seed of the simulated samples and random points, 0 to 2**32 - 1"
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH ('-': standard output only)"
    )
    parser.add_argument(
        "--junit", type=Path, metavar="PATH", help="also write the checks as JUnit XML, for CI ('-': standard output)"
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="print only the checks that failed and the count (and errors)"
    )
    args = parser.parse_args(argv)
    if args.json == STDOUT and args.junit == STDOUT:
        parser.error("argument --junit: --json already writes to standard output ('-'); name a file for one of them")
    for option, target in (("--json", args.json), ("--junit", args.junit)):
        problem = target and target != STDOUT and json_target_problem(target)
        if problem:
            parser.error(f"argument {option}: {problem}")
    option = "--models" if args.models else "--sheet"
    try:
        sheet = models_in_file(args.models) if args.models else load_sheet(args.sheet)
    except InputError as exc:
        parser.error(f"argument {option}: {exc}")
    names = [m.name for m in sheet.models]
    unknown = [m for m in args.model or [] if m not in names]
    if unknown:
        parser.error(f"argument --model: invalid choice: {unknown[0]!r} (choose from {', '.join(names)})")
    return args, sheet


def main(argv: list[str] | None = None, prog: str = "python -m mlemap.numerics.verify") -> int:
    args, sheet = parse(argv, prog)
    try:
        verifications, found = verify_sheet(sheet, args.seed, args.model)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = [c for v in verifications for c in v.checks]
    if STDOUT not in (args.json, args.junit):  # else standard output is the JSON or the XML, and nothing else
        print_results(sheet, results, found, args.quiet)
    failed = [r for r in results if r.status == "FAIL"]
    try:
        write_results(args, sheet, results, found)
    except OSError as exc:  # found free before the checks ran; taken since
        where = exc.filename or args.json
        print(f"error: cannot write {where} ({exc.strerror}); {len(failed)} check(s) failed", file=sys.stderr)
        return 2
    for r in failed:  # a model that could not be checked, a peer that failed: one line each, last, the rest ran
        if r.check in MODEL_FAILURES or r.detail.startswith(PEER_FAILED):
            print(f"error: {r.detail}", file=sys.stderr)
    without_torch = sum(r.skipped and TORCH_MISSING in r.detail for r in results)
    if without_torch and not args.quiet:  # a message: --quiet silences it
        print(f"note: {without_torch} check(s) skipped: {TORCH_MISSING}; to run them: {INSTALL_TORCH}", file=sys.stderr)
    return 1 if failed else 0


def print_results(sheet: Sheet, results: list[CheckResult], found: list[Answer], quiet: bool = False) -> None:
    """The table of checks and the exact answers, then the count, on standard output; quiet: the failed checks
    and the count only."""
    failed = [r for r in results if r.status == "FAIL"]
    if not quiet:
        print(format_table(results))
        if found:
            print(f"\nAnswers of {sheet.title} (exact, then 15 digits):")
        for a in found:
            shown = f" = {a.value:.15g}" if a.value is not None else ""
            print(f"  {a.key:<26} {a.expr}{shown}")
        print()
    elif failed:
        print(format_table(failed))
    skipped = sum(r.status == "SKIP" for r in results)
    also = f"{skipped} skipped, " if skipped else ""  # as pytest counts: a check that did not apply is no pass
    print(f"{len(results) - len(failed) - skipped} passed, {also}{len(failed)} failed")


def write_results(args: argparse.Namespace, sheet: Sheet, results: list[CheckResult], found: list[Answer]) -> None:
    """--json and --junit, each when asked: a file written whole (write_whole), or '-' standard output."""
    if args.json is not None:
        payload = {
            "seed": args.seed,
            "sheet": sheet.title,
            "passed": all(r.status != "FAIL" for r in results),
            "checks": [r.as_dict() for r in results],
            "answers": [a.as_dict() for a in found],
        }
        emit(args.json, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())
    if args.junit is not None:
        from mlemap.numerics.testing import junit_xml  # testing imports this module

        emit(args.junit, junit_xml(results, sheet.title))


def emit(target: Path, content: bytes) -> None:
    """content to standard output ('-') or whole into the file target."""
    if target == STDOUT:
        sys.stdout.write(content.decode())
        sys.stdout.flush()
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    write_whole(target, content)


if __name__ == "__main__":
    sys.exit(main())
