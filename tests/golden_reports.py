"""The reviewed Markdown reports of the shipped sheets: tests/golden/<sheet>-report.md, the prose and LaTeX of
every section as built with the default settings (seed 0, n = 10000).

Regenerate after a deliberate change of a template, a wording or a number's form, then review the diff:

    python -m tests.golden_reports
"""

from __future__ import annotations

import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
GOLDEN = Path(__file__).parent / "golden"
SHEETS = ("exercise3", "exercise4")


def golden(sheet: str) -> Path:
    return GOLDEN / f"{sheet}-report.md"


def build_markdown(sheet: str, out: Path) -> str:
    """report.md of the shipped sheet, built into out (which must not exist yet)."""
    from mlemap.reports.cli import main

    if main(["--sheet", str(ROOT / "mlemap" / "sheets" / f"{sheet}.py"), "--out", str(out), "--format", "md"]) != 0:
        raise SystemExit(f"the {sheet} report did not build")
    return (out / "report.md").read_text()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        for name in SHEETS:
            golden(name).write_text(build_markdown(name, Path(tmp) / name))
            print(f"wrote {golden(name)}; review the diff before committing")
