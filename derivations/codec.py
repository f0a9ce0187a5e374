"""A data-only format for exact results: JSON in which a SymPy expression is its tree of class names and args.

Decoding never runs stored code: nodes are rebuilt from SymPy's own classes, numbers and symbols from
their values, and records only from the dataclasses registered here. Anything else is refused
(DecodeError), which the disk cache treats as a miss. (srepr is not used: it prints -n/4 as
Mul(Integer(-1), Rational(1, 4), n), which does not rebuild the same tree, and parsing it means eval.)
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import sympy as sp


class DecodeError(ValueError):
    """The text is not a value this codec writes."""


DATACLASSES: dict[str, type] = {}


def register(cls: type) -> type:
    """Allow a dataclass of exact results to be stored (by name); usable as a decorator."""
    DATACLASSES[cls.__name__] = cls
    return cls


def _sympy_classes() -> dict[str, type]:
    """Every class of SymPy's own modules that derives from Basic, by name (what srepr would print)."""
    classes: dict[str, type] = {}
    pending = [sp.Basic]
    while pending:
        cls = pending.pop()
        if (cls.__module__ or "").startswith(
            "sympy."
        ) and cls.__name__ not in classes:  # a made class may have no module
            classes[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return classes


CLASSES = _sympy_classes()
UNEVALUATED = (sp.Add, sp.Mul, sp.Pow)  # rebuilt as stored: factor() keeps 5*(sqrt(5) + 13)/2 unexpanded


def expr_to_data(e: sp.Basic) -> Any:
    """A tree that rebuilds e exactly: every node is its class name and its args (expr.func(*expr.args) == expr)."""
    if isinstance(e, sp.Integer):
        return {"int": str(e.p)}
    if isinstance(e, sp.Rational):
        return {"rat": [str(e.p), str(e.q)]}
    if isinstance(e, sp.Float):
        sign, man, exp, bc = e._mpf_
        return {"float": [sign, hex(man), exp, bc, e._prec]}
    if isinstance(e, sp.Dummy):
        return {"dummy": [e.name, e.dummy_index, _assumptions(e)]}
    if isinstance(e, sp.Symbol):
        return {"symbol": [e.name, _assumptions(e)]}
    if isinstance(e, sp.core.symbol.Str):
        return {"str": e.name}
    if CLASSES.get(type(e).__name__) is not type(e):
        raise TypeError(f"cannot store a {type(e).__name__}")  # pragma: no mutate (reason)
    return {"node": type(e).__name__, "args": [expr_to_data(a) for a in e.args]}  # type: ignore[attr-defined]


def _assumptions(symbol: sp.Symbol) -> list[list]:
    """In declaration order, which srepr (and so every cache key) keeps."""
    return [[k, bool(v)] for k, v in symbol._assumptions_orig.items()]


def expr_from_data(tree: Any) -> Any:
    if not isinstance(tree, dict) or len(tree) not in (1, 2):
        raise DecodeError("unexpected expression structure")  # pragma: no mutate (reason)
    try:
        return _build(tree)
    except DecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - a constructor refusing its arguments: not data this codec wrote
        reason = f"cannot rebuild an expression ({type(exc).__name__})"  # pragma: no mutate (reason)
        raise DecodeError(reason) from None  # pragma: no mutate (reason)


def _build(tree: dict) -> Any:
    kind, value = ("node", tree["node"]) if "node" in tree else next(iter(tree.items()))
    if kind == "int":
        return sp.Integer(int(value))
    if kind == "rat":
        return sp.Rational(int(value[0]), int(value[1]))
    if kind == "float":
        sign, man, exp, bc, prec = value
        return sp.Float._new((int(sign), int(man, 16), int(exp), int(bc)), int(prec))
    if kind == "dummy":
        return sp.Dummy(str(value[0]), dummy_index=int(value[1]), **_flags(value[2]))
    if kind == "symbol":
        return sp.Symbol(str(value[0]), **_flags(value[1]))
    if kind == "str":
        return sp.core.symbol.Str(str(value))
    if kind == "node" and tree.get("node") in CLASSES and isinstance(tree.get("args"), list):
        cls = CLASSES[tree["node"]]
        args = [_build(a) if isinstance(a, dict) else _refuse(a) for a in tree["args"]]
        return cls(*args, evaluate=False) if cls in UNEVALUATED else cls(*args)
    raise DecodeError(f"unexpected expression node {kind!r}")  # pragma: no mutate (reason)


def _flags(assumptions: Any) -> dict[str, bool]:
    if not isinstance(assumptions, list) or not all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], bool) for p in assumptions
    ):
        raise DecodeError("symbol assumptions are not flags")  # pragma: no mutate (reason)
    return dict(assumptions)


def _refuse(arg: Any) -> Any:
    raise DecodeError(f"unexpected expression argument {type(arg).__name__}")  # pragma: no mutate (reason)


def to_data(value: Any) -> Any:
    """A JSON-able tree of the value; TypeError for a value this codec does not store."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, sp.MatrixBase) and not isinstance(value, sp.Basic):
        return {"matrix": [value.rows, value.cols, [expr_to_data(v) for v in value]]}
    if isinstance(value, sp.Basic):
        return {"sympy": expr_to_data(value)}
    if dataclasses.is_dataclass(value) and DATACLASSES.get(type(value).__name__) is type(value):
        fields = {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"dataclass": type(value).__name__, "fields": fields}
    if isinstance(value, dict):
        return {"dict": [[to_data(k), to_data(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"tuple": [to_data(v) for v in value]}
    if isinstance(value, list):
        return [to_data(v) for v in value]
    raise TypeError(f"cannot store a {type(value).__name__}")  # pragma: no mutate (reason)


def from_data(tree: Any) -> Any:
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [from_data(v) for v in tree]
    if not isinstance(tree, dict) or len(tree) not in (1, 2):
        raise DecodeError("unexpected structure")  # pragma: no mutate (reason)
    if "sympy" in tree:
        return expr_from_data(tree["sympy"])
    if "matrix" in tree and isinstance(tree["matrix"], list) and len(tree["matrix"]) == 3:
        rows, cols, entries = tree["matrix"]
        if not (
            isinstance(rows, int)
            and isinstance(cols, int)
            and isinstance(entries, list)
            and len(entries) == rows * cols
        ):
            raise DecodeError("a matrix's shape does not match its entries")  # pragma: no mutate (reason)
        return sp.Matrix(rows, cols, [expr_from_data(v) for v in entries])
    if "tuple" in tree and isinstance(tree["tuple"], list):
        return tuple(from_data(v) for v in tree["tuple"])
    if "dict" in tree and isinstance(tree["dict"], list):
        return {_hashable(from_data(k)): from_data(v) for k, v in _pairs(tree["dict"])}
    if tree.get("dataclass") in DATACLASSES and isinstance(tree.get("fields"), dict):
        cls = DATACLASSES[tree["dataclass"]]
        try:
            return cls(**{k: from_data(v) for k, v in tree["fields"].items()})
        except TypeError as exc:
            raise DecodeError(f"{cls.__name__}: {exc}") from None  # pragma: no mutate (reason)
    raise DecodeError("unexpected structure")  # pragma: no mutate (reason)


def _pairs(items: list) -> list:
    if not all(isinstance(p, list) and len(p) == 2 for p in items):
        raise DecodeError("a dict entry is not a pair")  # pragma: no mutate (reason)
    return items


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        raise DecodeError("a dict key is a list")  # pragma: no mutate (reason)
    return key


def dumps(value: Any) -> bytes:
    return json.dumps(to_data(value), sort_keys=True, separators=(",", ":")).encode()


def loads(data: bytes) -> Any:
    try:
        tree = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"not JSON ({type(exc).__name__})") from None  # pragma: no mutate (reason)
    return from_data(tree)
