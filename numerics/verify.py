"""`nox -s verify`: every check of every registered model, a table, the exact answers, build/verify.json."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from derivations.registry import MODELS, derivation
from derivations.sheet import answers
from numerics.checks import CheckResult, rel_error, run_checks, tolerance
from numerics.montecarlo import run_monte_carlo
from numerics.peers import ANSWER_PEERS, ESTIMATE_PEERS


def answer_checks() -> tuple[list[CheckResult], list[dict]]:
    """Each numeric answer of the sheet against its peer computed with scipy alone."""
    results, table = [], []
    for ans in answers():
        row = {"key": ans.key, "question": ans.question, "exact": str(ans.expr), "latex": ans.latex, "value": ans.value}
        table.append(row)
        peer = ANSWER_PEERS.get(ans.key)
        if peer is not None:
            model = MODELS[ans.model]
            err = rel_error(ans.value, peer())
            tol = tolerance(model, "peer")
            results.append(CheckResult(ans.model, f"answer {ans.key}", err, tol, err <= tol, "vs scipy"))
    return results, table


def verify(models: list[str], seed: int) -> tuple[list[CheckResult], list[dict]]:
    results: list[CheckResult] = []
    for name in models:
        results += run_checks(derivation(name), seed=seed, peer=ESTIMATE_PEERS.get(name))
        results += run_monte_carlo(derivation(name), seed=seed)
    answer_results, table = answer_checks()
    return results + answer_results, table


def format_table(results: list[CheckResult]) -> str:
    lines = [f"{'model':<18} {'check':<28} {'error':>11} {'tolerance':>10}  result", "-" * 78]
    for r in results:
        verdict = "skip" if r.detail.startswith("skipped") else "PASS" if r.passed else "FAIL"
        lines.append(f"{r.model:<18} {r.check:<28} {r.error:>11.3e} {r.tolerance:>10.1e}  {verdict}")
    return "\n".join(lines)


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32 - 1], got {value}")
    return value


def json_target_problem(path: Path) -> str | None:
    """Why the results could not be written to path, found before any check runs; None when they can."""
    if path.is_dir():
        return f"{path} is a directory; name a file"
    parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
    if parent is None or not parent.is_dir():
        return f"{path}: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{path}: {parent} is not writable"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m numerics.verify", description=__doc__)
    parser.add_argument("--model", action="append", choices=sorted(MODELS), help="check only this model (repeatable)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the simulated samples and random points, 0 to 2**32 - 1")
    parser.add_argument("--json", type=Path, default=Path("build/verify.json"), help="where to write the results")
    args = parser.parse_args(argv)
    problem = json_target_problem(args.json)
    if problem:
        parser.error(f"argument --json: {problem}")
    results, table = verify(args.model or list(MODELS), args.seed)
    print(format_table(results))
    print("\nAnswers of the sheet (exact, then 15 digits):")
    for row in table:
        shown = f" = {row['value']:.15g}" if row["value"] is not None else ""
        print(f"  {row['key']:<26} {row['exact']}{shown}")
    legend = {s.symbol.name: str(s.expr) for m in args.model or list(MODELS) for s in derivation(m).statistics}
    print("  where " + ", ".join(f"{k} = sum_i {v}" for k, v in legend.items() if k != "n"))
    failed = [r for r in results if not r.passed]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"seed": args.seed, "passed": not failed, "checks": [r.as_dict() for r in results], "answers": table}
    tmp = args.json.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    tmp.replace(args.json)
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed; wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
