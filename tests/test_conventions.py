"""Conventions a new user expects: observed data keyed by name as simulate and estimate() key theirs,
estimate() of a Model. The command line's conventions are in tests/test_cli.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sympy as sp

from mlemap.catalogue import EXPONENTIAL, POISSON
from mlemap.derivations import derive
from mlemap.derivations.model import InputError
from mlemap.numerics.estimate import estimate


def test_observed_data_keyed_by_name_are_the_data_symbols_columns():
    by_name = replace(EXPONENTIAL, observed={"x": [1, 2, 3]})
    by_symbol = replace(EXPONENTIAL, observed={EXPONENTIAL.data[0]: (1, 2, 3)})
    assert by_name.observed == by_symbol.observed
    assert derive(by_name).estimate == {EXPONENTIAL.param_symbols[0]: sp.Rational(1, 2)}


def test_observed_data_under_an_unknown_name_are_refused_naming_it():
    with pytest.raises(InputError, match=r"^exponential: observed data name 'y', which is not a data symbol"):
        derive(replace(EXPONENTIAL, observed={"y": [1, 2, 3]}))


def test_estimate_takes_a_model_and_refuses_anything_else_in_one_line():
    assert estimate(POISSON, {"x": [1, 2, 6]}).values == {"lambda": 3.0}
    with pytest.raises(InputError, match="takes a Model or a Derivation, got str"):
        estimate("poisson", {"x": [1]})  # type: ignore[arg-type]


def test_an_object_array_holding_text_is_refused_not_cast():
    import numpy as np

    with pytest.raises(InputError, match=r"^poisson: data 'x' must be real numbers, got '2' \(str\)$"):
        POISSON.validate({"x": np.array([1, "2", 3.0], dtype=object)})
    assert POISSON.validate({"x": np.array([1, 2.0, np.int64(3)], dtype=object)})["x"].tolist() == [1.0, 2.0, 3.0]


def test_exact_sympy_numbers_in_data_are_numbers():
    assert POISSON.validate({"x": [sp.Integer(2), sp.Rational(7, 1), 3]})["x"].tolist() == [2.0, 7.0, 3.0]
