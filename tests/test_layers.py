"""The layers import one way: derivations (SymPy) never imports torch, and neither do the sheets' models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_derivation_layer_and_the_catalogue_never_import_torch():
    code = (
        "import sys, derivations, derivations.engine, derivations.sheet, derivations.proof, derivations.fisher, "
        "derivations.show, sheets.catalogue, sheets.exercise3, sheets.exercise4; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'numerics', 'reports', 'matplotlib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
