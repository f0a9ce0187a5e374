"""estimate(derivation, data): the MLE/MAP at a data set, with how it was found and whether to trust it, and its
summary (standard errors, Wald and likelihood-ratio intervals, log-likelihood, AIC, BIC: numerics/summary.py)."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from mlemap.derivations.engine import Derivation, derive
from mlemap.derivations.model import InputError, Model
from mlemap.numerics.checks import maximiser_interval, numerical_optimum
from mlemap.numerics.compile import compiled

if TYPE_CHECKING:
    from mlemap.numerics.summary import Summary


@dataclass(frozen=True)
class PointEstimate:
    """values by parameter name (None when nothing converged); method "closed form", "numerical", or "set" (a flat
    likelihood: every point of an interval maximises it, and the reason names the interval). It keeps the
    derivation and the data it was found at, for summary()."""

    values: dict[str, float] | None
    method: str
    converged: bool
    reason: str
    derivation: Derivation | None = field(default=None, repr=False, compare=False)
    data: Mapping[str, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def summary(self, alpha: float = 0.05) -> Summary:
        """Estimates, standard errors (observed and expected information), Wald and likelihood-ratio intervals at
        level 1 - alpha, the log-likelihood, AIC and BIC: print() it in a terminal, show it in a notebook."""
        from mlemap.numerics.summary import summarize  # scipy's profile search and the Fisher information

        if self.derivation is None or self.data is None:
            raise InputError("summary() needs an estimate made by estimate(derivation, data)")
        found = self.__dict__.setdefault("_summaries", {})  # a frozen dataclass: the cache sits beside its fields
        if alpha not in found:
            found[alpha] = summarize(self, self.derivation, self.data, alpha)
        return found[alpha]

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def _repr_latex_(self) -> str:
        return self.summary()._repr_latex_()

    def _repr_markdown_(self) -> str:
        return self.summary()._repr_markdown_()


def data_by_name(model: Model, data: object) -> dict[str, object]:
    """The data keyed by data names: a key may be the name or the SymPy symbol; anything else is refused in one line."""
    if not isinstance(data, Mapping):
        raise InputError(f"{model.name}: data must be a mapping of data name to values, got {type(data).__name__}")
    out: dict[str, object] = {}
    for key, values in data.items():
        if isinstance(key, sp.Symbol):
            name = key.name
        elif isinstance(key, str):
            name = key
        else:
            raise InputError(
                f"{model.name}: data keys must be data names (str) or SymPy symbols, got {key!r} ({type(key).__name__})"
            )
        if name in out:
            raise InputError(f"{model.name}: data '{name}' is given twice (by its name and by its symbol)")
        out[name] = values
    return out


def estimate(derivation: Derivation | Model, data: Mapping[str, object] | Mapping[sp.Symbol, object]) -> PointEstimate:
    """The closed form at the data's statistics where there is one (solved anew for a model whose closed
    form was derived at its observed data), else LBFGS from three starts, reported only when it converged.
    A Model is derived first; data are keyed by data names or their SymPy symbols."""
    if isinstance(derivation, Model):
        derivation = derive(derivation)
    if not isinstance(derivation, Derivation):
        raise InputError(f"estimate() takes a Model or a Derivation, got {type(derivation).__name__}")
    checked = derivation.model.validate(data_by_name(derivation.model, data))
    found = point_estimate(derivation, checked)
    return PointEstimate(found.values, found.method, found.converged, found.reason, derivation, checked)


def point_estimate(derivation: Derivation, checked: Mapping[str, np.ndarray]) -> PointEstimate:
    c = compiled(derivation)
    if derivation.maximiser_set:
        lo, hi = maximiser_interval(derivation, checked)
        name = derivation.maximiser_set[0].name
        return PointEstimate(
            None, "set", False, f"every {name} in [{lo:.6g}, {hi:.6g}] maximises the likelihood: the maximiser is a set"
        )
    if derivation.separable or derivation.order_form:
        stats = c.statistics(checked)
        # the formula itself at these data (one derived at observed data is a number for those data only)
        general = derivation.estimate is not None and not derivation.observed_statistics
        raw = dict(zip(c.names, (float(v) for v in c.raw_estimate(stats)))) if general else {}
        unattained = no_maximum_inside(derivation, raw)
        if unattained is not None:
            return PointEstimate(None, "closed form", False, unattained)
        values = c.estimate(stats)
        if values is not None:
            unattained = no_maximum_inside(derivation, values)
            if unattained is not None:
                return PointEstimate(None, "closed form", False, unattained)
            return PointEstimate(values, "closed form", True, "the derived closed form at the data's statistics")
    found = numerical_optimum(derivation, checked)
    return PointEstimate(found.values, "numerical", found.converged, found.reason)


def no_maximum_inside(d: Derivation, values: Mapping[str, float]) -> str | None:
    """Why the likelihood has no maximum in the declared domain at these data, where the closed form shows it:
    a value that is infinite, one on an open end of its domain (the likelihood keeps rising towards it:
    sigma^2 = 0 when every observation is the same), or an order statistic's bound outside the domain (no
    value of the domain gives the data positive likelihood). None otherwise."""
    bounded = {b.param.name for b in d.bounds}
    for par in d.model.params:
        value = values.get(par.name)
        if value is None or np.isnan(value):
            continue
        if np.isinf(value):
            return f"no maximum: the closed form gives {par.name} = {value}; the likelihood grows without bound"
        domain = par.domain
        inside = bool(domain.contains(sp.Float(value)) == sp.true)
        if not inside and value in (float(domain.inf), float(domain.sup)):
            return (
                f"no maximum in the domain: the likelihood keeps rising as {par.name} -> {value:g}, an open "
                f"end of {interval(domain)}"
                + (" (every observation is the same, or their spread underflows float64)" if value == 0 else "")
            )
        if not inside and par.name in bounded:
            return (
                f"no {par.name} in its domain {interval(domain)} gives these data a positive likelihood: they need "
                f"{par.name} = {value:g} or beyond"
            )
    return None


def interval(domain: sp.Set) -> str:
    """(0, oo), [3/2, oo): an interval as a reader writes it."""
    if not isinstance(domain, sp.Interval):
        return str(domain)
    return f"{'(' if domain.left_open else '['}{domain.start}, {domain.end}{')' if domain.right_open else ']'}"


def read_csv_columns(path: str | Path) -> dict[str, list[float]]:
    """A CSV file's columns by their header names, as floats: data for estimate(). A missing file, a ragged row or
    a cell that is not a number is one line naming the file and the cell."""
    return read_csv_table(path)[0]


def read_csv_table(path: str | Path) -> tuple[dict[str, list[float]], list[int]]:
    """A CSV file's columns by their header names, as floats, and the file's line number of each row (blank lines
    carry no observation and are skipped, so row i is not always line i + 2)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            numbered = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the data file ({getattr(exc, 'strerror', None) or exc})") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a CSV file ({exc})") from None
    if len(numbered) < 2:
        raise InputError(f"{path}: a CSV file needs a header row of data names and at least one row of values")
    header = numbered[0][1]
    names = [name.strip() for name in header]
    if len(set(names)) != len(names) or not all(names):
        raise InputError(f"{path}: the header must name each column once, got {header}")
    columns: dict[str, list[float]] = {name: [] for name in names}
    for line, row in numbered[1:]:
        if len(row) != len(names):
            raise InputError(f"{path}: line {line} has {len(row)} values, the header names {len(names)} columns")
        for name, cell in zip(names, row):
            try:
                columns[name].append(float(cell))
            except ValueError:
                raise InputError(f"{path}: line {line}, column '{name}': {cell!r} is not a number") from None
    return columns, [line for line, _ in numbered[1:]]


_AT_INDEX = re.compile(r"\bat index (\d+)\b")  # where Model.validate says which value breaks a rule


def estimate_csv(derivation: Derivation | Model, path: str | Path) -> PointEstimate:
    """estimate() at a CSV file's columns, as `mlemap derive --data` fits them: a rule the data break is one line
    naming the file, and the line of the value where the rule names one."""
    columns, lines = read_csv_table(path)
    try:
        return estimate(derivation, columns)
    except InputError as exc:
        raise InputError(f"{path}: {_AT_INDEX.sub(lambda at: on_line(at, lines), str(exc))}") from None


def on_line(at: re.Match, lines: list[int]) -> str:
    """'at index 3' as the file's line of row 3."""
    row = int(at[1])
    return f"on line {lines[row]}" if row < len(lines) else at[0]
