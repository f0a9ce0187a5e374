"""The reviewed worked steps of every catalogue and Exercise 4 model: tests/golden/steps.json.

Regenerate after a deliberate change of the steps' wording or form, then review the diff:

    python -m tests.golden_steps
"""

from __future__ import annotations

import json
import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "steps.json"


def current() -> dict[str, list[dict[str, str]]]:
    os.environ.setdefault("MLEMAP_NO_CACHE", "1")
    from mlemap.catalogue import MODELS, derivation
    from mlemap.derivations.engine import derive
    from mlemap.derivations.sheet import load_sheet
    from mlemap.reports.steps import worked_steps

    models = {
        **MODELS,
        **{m.name: m for m in load_sheet(Path(__file__).parents[1] / "mlemap" / "sheets" / "exercise4.py").models},
    }

    def derived(model):  # the catalogue's models from its per-process cache, as the other tests use them
        return derivation(model.name) if MODELS.get(model.name) is model else derive(model)

    return {
        name: [{"title": s.title, "latex": s.latex, "text": s.text} for s in worked_steps(derived(model))]
        for name, model in sorted(models.items())
    }


def text(steps: dict) -> str:
    return json.dumps(steps, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    GOLDEN.write_text(text(current()))
    print(f"wrote {GOLDEN}; review the diff before committing")
