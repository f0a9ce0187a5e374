"""Validation of numerical settings: each check names the input and the rule in one line (InputError)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from mlemap.derivations.model import InputError


def whole(name: str, value, low: int = 1, high: int | None = None) -> int:
    """A whole number (not a bool, not a float) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        rule = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise InputError(f"{name} must be {rule}, got {value}")
    return value


def batch_size(k, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (numbers.Integral, np.integer)) or not 1 <= int(k) <= n:
        raise InputError(f"batch size k must be a whole number in [1, n = {n}], got {k!r}")
    return int(k)


def finite(name: str, value) -> float:
    """A real finite number (not a string, not None, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    if not math.isfinite(float(value)):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def positive(name: str, value) -> float:
    number = finite(name, value)
    if number <= 0:
        raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def learning_rate(lr) -> float:
    try:
        return positive("learning rate", lr)
    except InputError:
        raise InputError(f"learning rate must be a finite number > 0, got {lr!r}") from None


def point(name: str, value, size: int) -> tuple[float, ...]:
    """size finite numbers, e.g. a starting point mu0 or a mean."""
    try:
        items = tuple(value)
    except TypeError:
        raise InputError(f"{name} must be {size} finite numbers, got {value!r}") from None
    if len(items) != size:
        raise InputError(f"{name} must be {size} finite numbers, got {value!r}")
    try:
        return tuple(finite(name, v) for v in items)
    except InputError:
        raise InputError(f"{name} must be {size} finite numbers, got {value!r}") from None
