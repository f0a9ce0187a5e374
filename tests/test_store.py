"""The disk cache of exact results: a hit returns what was computed, any change of input misses it."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import sympy as sp

from derivations import store
from derivations.engine import derive, model_key
from derivations.fisher import fisher
from derivations.models import COIN_MAP, GAUSSIAN, coin_model, normal_prior, theta
from tests.conftest import cache_in

KEY = "0123456789abcdef" * 4


def test_a_cached_derivation_and_fisher_equal_the_computed_ones(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path)
    first = derive(COIN_MAP)
    assert len(list(tmp_path.glob("derivation-*.pickle"))) == 1
    again = derive(COIN_MAP)
    assert again is not first and again.model is COIN_MAP
    assert again.estimate == first.estimate and again.loglik == first.loglik
    assert [s.latex for s in again.steps] == [s.latex for s in first.steps]
    assert fisher(again).expected == fisher(first).expected
    assert len(list(tmp_path.glob("fisher-*.pickle"))) == 1


def test_the_key_changes_with_any_symbolic_input():
    other_prior = coin_model("coin_map", COIN_MAP.title, normal_prior(theta, sp.Rational(1, 2), sp.Rational(1, 5)))
    assert model_key(other_prior) != model_key(COIN_MAP)
    renamed = coin_model("renamed", "another title", COIN_MAP.prior)
    assert model_key(renamed) == model_key(COIN_MAP)  # the name and title do not change the derivation
    assert model_key(GAUSSIAN) != model_key(COIN_MAP)


def test_the_key_holds_support_observed_data_constants_and_domains_in_any_order():
    import dataclasses

    from derivations.models import LINEAR_REGRESSION, x, y

    assert model_key(dataclasses.replace(GAUSSIAN, support={x: sp.Interval(0, sp.oo)})) != model_key(GAUSSIAN)
    assert model_key(dataclasses.replace(COIN_MAP, observed={x: (1, 1, 0)})) != model_key(COIN_MAP)
    positive = sp.Interval.open(0, sp.oo)
    forward = dataclasses.replace(LINEAR_REGRESSION, support={x: positive, y: sp.Reals})
    backward = dataclasses.replace(LINEAR_REGRESSION, support={y: sp.Reals, x: positive})
    assert model_key(forward) == model_key(backward) != model_key(LINEAR_REGRESSION)
    mu = GAUSSIAN.params[0].symbol
    assert model_key(dataclasses.replace(GAUSSIAN, constants={mu: 0})) != model_key(GAUSSIAN)
    narrower = dataclasses.replace(GAUSSIAN.params[0], domain=sp.Interval(0, 1))
    assert model_key(dataclasses.replace(GAUSSIAN, params=(narrower, *GAUSSIAN.params[1:]))) != model_key(GAUSSIAN)


def test_a_corrupt_cache_file_is_recomputed_and_replaced(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path)
    derive(GAUSSIAN)
    (path,) = tmp_path.glob("derivation-*.pickle")
    path.write_bytes(b"not a pickle")
    d = derive(GAUSSIAN)
    assert d.estimate is not None
    assert pickle.loads(path.read_bytes())["estimate"] == d.estimate


def test_without_a_cache_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("MLEMAP_CACHE_DIR", str(tmp_path))
    assert store.cache_dir() is None  # the tests set MLEMAP_NO_CACHE
    derive(GAUSSIAN)
    assert not list(tmp_path.iterdir())


def test_the_cache_directory_follows_the_xdg_convention(tmp_path, monkeypatch):
    monkeypatch.delenv("MLEMAP_NO_CACHE")
    monkeypatch.delenv("MLEMAP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store.cache_dir() == tmp_path / "xdg" / "mlemap"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # set but empty means unset, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.cache_dir() == tmp_path / "home" / ".cache" / "mlemap"
    monkeypatch.setenv("MLEMAP_CACHE_DIR", str(tmp_path / "mine"))
    assert store.cache_dir() == tmp_path / "mine"


def test_the_cache_directory_is_made_with_its_parents_and_read_back(tmp_path, monkeypatch):
    nested = tmp_path / "a" / "b"
    cache_in(monkeypatch, nested)
    assert store.load_or_compute("test", KEY, lambda: 42) == 42
    assert [p.name for p in nested.iterdir()] == [f"test-{KEY[:32]}.pickle"]
    assert store.load_or_compute("test", KEY, lambda: 0) == 42


def test_a_cache_file_is_renamed_into_place_from_a_hidden_file_beside_it(tmp_path, monkeypatch):
    """A rename within one directory is atomic; a temporary file elsewhere may sit on another filesystem."""
    cache_in(monkeypatch, tmp_path)
    renames = []
    real_replace = os.replace

    def recording_replace(src, dst):
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", recording_replace)
    store.load_or_compute("test", KEY, lambda: 42)
    ((src, dst),) = renames
    assert src.parent == dst.parent == tmp_path
    assert src.name.startswith(f".{dst.name}.")


def unpicklable():
    return lambda: None  # a lambda cannot be pickled


def test_a_value_that_cannot_be_pickled_is_returned_and_leaves_no_file(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path)
    value = store.load_or_compute("test", KEY, unpicklable)
    assert callable(value)
    assert list(tmp_path.iterdir()) == []


def test_a_cache_directory_that_cannot_be_made_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache_in(monkeypatch, blocker / "cache")
    assert store.load_or_compute("test", KEY, lambda: 42) == 42
    assert blocker.read_text() == ""


def test_step_size_theory_is_cached_once_per_sigma(tmp_path, monkeypatch):
    from derivations.praxis import step_size_theory

    cache_in(monkeypatch, tmp_path)
    first = step_size_theory(((5, 0), (0, 5)))
    assert len(list(tmp_path.glob("step_size-*.pickle"))) == 1
    assert step_size_theory(((5, 0), (0, 5))) == first
    assert step_size_theory(((2, 1), (1, 2))).bound != first.bound
    assert len(list(tmp_path.glob("step_size-*.pickle"))) == 2
