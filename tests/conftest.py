"""Shared fixtures: derivations are computed once per test session (SymPy's solve is the slow part)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

# Tests derive everything afresh: a result from the disk cache (derivations/store.py) would not test the code.
os.environ["MLEMAP_NO_CACHE"] = "1"

from mlemap.catalogue import MODELS, derivation
from mlemap.derivations.engine import Derivation


def gamma_shape_model():
    """Separable, but the score involves the digamma function, which sympy.solve cannot invert."""
    import sympy as sp

    from mlemap.derivations.model import Model, Parameter

    k, x = sp.Symbol("k", positive=True), sp.Symbol("x", positive=True)
    positive = sp.Interval.open(0, sp.oo)
    return Model(
        "gamma_shape",
        "Gamma shape",
        (x,),
        (Parameter(k, positive, "shape"),),
        x ** (k - 1) * sp.exp(-x) / sp.gamma(k),
        support={x: positive},
    )


def mutate(d: Derivation, **changes) -> Derivation:
    """A copy of a derivation with some parts replaced by wrong ones, to show a checker can fail."""
    wrong = copy.copy(d)
    wrong.__dict__.update(changes)
    return wrong


def cache_in(monkeypatch, directory) -> None:
    """Switch the disk cache on, in `directory`, for one test (the session runs with it off)."""
    monkeypatch.delenv("MLEMAP_NO_CACHE")
    monkeypatch.setenv("MLEMAP_CACHE_DIR", str(directory))


def under_mutmut(stage: str | None = None) -> bool:
    """mutmut names what it runs in MUTANT_UNDER_TEST: "stats" while it maps functions to tests, else a mutant."""
    value = os.environ.get("MUTANT_UNDER_TEST", "")
    return bool(value) and (stage is None or value == stage)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Against a mutant, the quickest tests first: pytest stops at the first failure (mutmut passes -x), so a
    killed mutant costs its quickest failing test, not the slow ones collected before it. The times are mutmut's
    own, from mapping functions to tests (mutmut-stats.json, JSON, in the directory mutmut runs from)."""
    stats = Path("mutmut-stats.json")
    if under_mutmut() and not under_mutmut("stats") and stats.is_file():
        seconds = json.loads(stats.read_text())["duration_by_test"]
        items.sort(key=lambda item: seconds.get(item.nodeid, 0.0))


@pytest.fixture(autouse=True, scope="session")
def _fresh_derivations_per_mutant():
    """A derivation cached before the mutant was switched on (inherited through fork) would hide it."""
    if under_mutmut():
        derivation.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_derivations_per_test_while_mutmut_maps():
    """mutmut maps each function to the tests that call it: a derivation cached by an earlier test would leave
    the later tests off the map, and they would never run against the mutants."""
    if under_mutmut("stats"):
        derivation.cache_clear()


@pytest.fixture(params=sorted(MODELS), ids=sorted(MODELS))
def model_derivation(request) -> Derivation:
    return derivation(request.param)
