"""Shared fixtures: derivations are computed once per test session (SymPy's solve is the slow part)."""

from __future__ import annotations

import copy

import pytest

from derivations.engine import Derivation
from derivations.registry import MODELS, derivation


def mutate(d: Derivation, **changes) -> Derivation:
    """A copy of a derivation with some parts replaced by wrong ones, to show a checker can fail."""
    wrong = copy.copy(d)
    wrong.__dict__.update(changes)
    return wrong


@pytest.fixture(params=sorted(MODELS), ids=sorted(MODELS))
def model_derivation(request) -> Derivation:
    return derivation(request.param)
