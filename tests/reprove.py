"""An independent check of a proved step (a record of steps.json): not SymPy's simplification, but exact
evaluation at a random data set of n = 5 observations and random parameter values, to 50 digits. A claim
that holds as an identity holds there; a false one fails there with probability 1."""

from __future__ import annotations

import random

import sympy as sp

N = 5
DIGITS = 50


def parse(text: str):
    return sp.sympify(text)  # srepr is SymPy source; the records are the build's own output


def _sample(record: dict, rng: random.Random) -> dict:
    """Values for n, the data's indexed observations, the statistics and the parameters."""
    n = sp.Symbol("n", positive=True, integer=True)
    data = [parse(s) for s in record["data"]]
    values = {s: [sp.Integer(rng.randint(1, 4)) for _ in range(N)] for s in data}
    subs = {n: N}
    for s in data:
        subs[s] = values[s][0]  # a claim about one observation's density, at the first
        for k in range(N):
            subs[sp.IndexedBase(s.name)[k + 1]] = values[s][k]
    for stat in record["statistics"]:
        g = parse(stat["g"])
        subs[parse(stat["symbol"])] = sp.Add(*[g.subs({s: values[s][k] for s in data}) for k in range(N)])
    for p in record["params"]:
        subs[parse(p)] = sp.Rational(rng.randint(2, 8), 10)
    subs.update({parse(c["symbol"]): parse(c["value"]) for c in record["constants"]})
    return subs


def _value(expr, definitions: dict, subs: dict):
    expr = sp.Matrix(expr) if isinstance(expr, sp.MatrixBase) else sp.Matrix([expr])
    for _ in range(4):
        expr = expr.xreplace(definitions)
    i = sp.Idx("i")
    expr = expr.xreplace({sp.Symbol("n", positive=True, integer=True): N}).replace(
        sp.Sum, lambda f, limits: sp.Add(*[f.xreplace({limits[0]: k}) for k in range(limits[1], limits[2] + 1)])
    )
    return (
        expr.xreplace({k: v for k, v in subs.items() if not isinstance(k, sp.Symbol) or k != i})
        .subs(subs)
        .evalf(DIGITS)
    )


def reproved(record: dict, seed: int = 0) -> bool:
    rng = random.Random(seed)
    definitions = {parse(d["symbol"]): parse(d["value"]) for d in record["definitions"]}
    for claim in record["claims"]:
        lhs, rhs = parse(claim["lhs"]), parse(claim["rhs"])
        points = [_sample(record, rng)]
        if claim["relation"] != "equal":  # up to a constant in the parameters: the same difference at two points
            second = dict(points[0])
            second.update({parse(p): sp.Rational(rng.randint(2, 8), 10) for p in record["params"]})
            points.append(second)
        differences = [_value(lhs, definitions, s) - _value(rhs, definitions, s) for s in points]
        if claim["relation"] == "equal" and any(
            abs(complex(e)) > 1e-30 * (1 + abs(complex(v)))
            for e, v in zip(differences[0], _value(lhs, definitions, points[0]))
        ):
            return False
        if claim["relation"] != "equal" and any(abs(complex(a - b)) > 1e-30 for a, b in zip(*differences)):
            return False
    return True
