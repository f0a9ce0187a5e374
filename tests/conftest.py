"""Shared fixtures: derivations are computed once per test session (SymPy's solve is the slow part)."""

from __future__ import annotations

import copy
import os

import pytest

from derivations.engine import Derivation
from derivations.registry import MODELS, derivation


def mutate(d: Derivation, **changes) -> Derivation:
    """A copy of a derivation with some parts replaced by wrong ones, to show a checker can fail."""
    wrong = copy.copy(d)
    wrong.__dict__.update(changes)
    return wrong


@pytest.fixture(autouse=True)
def _fresh_derivations_under_mutmut():
    """Under mutmut, derive afresh in every test: a derivation cached from an earlier test (or inherited
    through fork) would hide the mutant, and mutmut maps each function to the tests that call it."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        derivation.cache_clear()


@pytest.fixture(params=sorted(MODELS), ids=sorted(MODELS))
def model_derivation(request) -> Derivation:
    return derivation(request.param)
