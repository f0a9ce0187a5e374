"""One registry of models: every generic check and test is parametrised over it."""

from __future__ import annotations

from functools import cache

from derivations.engine import Derivation, derive
from derivations.model import Model
from derivations.models import EXTRA_MODELS, SHEET_MODELS

MODELS: dict[str, Model] = {m.name: m for m in SHEET_MODELS + EXTRA_MODELS}


@cache
def derivation(name: str) -> Derivation:
    """Derive each registered model once per process (SymPy's solve is the slow part)."""
    return derive(MODELS[name])
