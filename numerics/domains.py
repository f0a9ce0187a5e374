"""Where the checks may evaluate a model: random points inside the parameter domains, step scales that stay
inside, and the unconstrained coordinates the optimizers search in. A parameter that bounds the data's support
(theta >= max x) is further limited by the data: its feasible interval starts at the order statistic."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import sympy as sp

from mlemap.derivations.engine import Derivation
from mlemap.derivations.model import Model
from mlemap.derivations.support import MAX
from mlemap.numerics.compile import Compiled, Data, Params

Limits = dict[str, tuple[float, float]]


def _bounds(domain: sp.Set) -> tuple[float, float]:
    if domain == sp.Reals:
        return -np.inf, np.inf
    return float(domain.start), float(domain.end)


def feasible_limits(d: Derivation, data: Data) -> Limits:
    """Each parameter's interval: its domain, narrowed by the data where it bounds their support."""
    limits = {p.name: _bounds(p.domain) for p in d.model.params}
    for b in d.bounds:
        lo, hi = limits[b.param.name]
        column = np.asarray(data[b.data.name], float)
        order = float(column.max()) if b.side == MAX else float(column.min())
        limit = (order - float(b.shift)) / float(b.scale)
        limits[b.param.name] = (max(lo, limit), hi) if b.below else (lo, min(hi, limit))
    return limits


def random_point(model: Model, rng: np.random.Generator) -> dict[str, float]:
    """Each parameter drawn inside its domain; a matrix parameter drawn positive definite (B B^T / d + I / 2)."""
    point = _independent_point(model, rng)
    for matrix in model.matrices:
        b = rng.normal(size=matrix.shape)
        value = b @ b.T / matrix.rows + 0.5 * np.eye(matrix.rows)
        point.update({matrix[i, j].name: float(value[i, j]) for i in range(matrix.rows) for j in range(i, matrix.cols)})
    return point


def _independent_point(model: Model, rng: np.random.Generator) -> dict[str, float]:
    point = {}
    for par in model.params:
        lo, hi = _bounds(par.domain)
        if np.isfinite(lo) and np.isfinite(hi):
            point[par.name] = lo + (hi - lo) * rng.uniform(0.15, 0.85)
        elif np.isfinite(lo):
            point[par.name] = lo + rng.uniform(0.5, 3.0)
        else:
            point[par.name] = rng.normal(0.0, 2.0)
    return point


def step_scales(model: Model, point: Params) -> np.ndarray:
    """Per-parameter step scale that keeps theta + h v inside the domain for h <= 1."""
    scales = []
    for par in model.params:
        lo, hi = _bounds(par.domain)
        v = point[par.name]
        room = min(v - lo, hi - v)
        scales.append(0.5 * room if np.isfinite(room) else 1.0)
    for matrix in model.matrices:  # a step of a tenth of the smallest eigenvalue keeps it positive definite
        at = {matrix[i, j].name for i in range(matrix.rows) for j in range(matrix.cols)}
        value = np.array([[point[matrix[i, j].name] for j in range(matrix.cols)] for i in range(matrix.rows)])
        room = 0.1 * float(np.min(np.linalg.eigvalsh(value))) / matrix.rows
        scales = [room if p.name in at else s for p, s in zip(model.params, scales)]
    return np.array(scales)


def from_free(model: Model, u, lib=np, limits: Limits | None = None):
    """Unconstrained coordinates to parameters inside their limits (the domains unless given): logistic on a
    bounded interval, exponential on a one-sided one."""
    out: dict = {}
    for par, ui in zip(model.params, u):
        lo, hi = (limits or {}).get(par.name) or _bounds(par.domain)
        if np.isfinite(lo) and np.isfinite(hi):
            out[par.name] = lo + (hi - lo) / (1 + lib.exp(-ui))
        elif np.isfinite(lo):
            out[par.name] = lo + lib.exp(ui)
        elif np.isfinite(hi):
            out[par.name] = hi - lib.exp(ui)
        else:
            out[par.name] = ui
    index = {p.name: k for k, p in enumerate(model.params)}
    for matrix in model.matrices:
        out.update(
            cholesky_entries(
                matrix, [u[index[matrix[i, j].name]] for i in range(matrix.rows) for j in range(i, matrix.cols)], lib
            )
        )
    return out


def cholesky_entries(matrix: sp.Matrix, free, lib=np) -> dict:
    """A positive-definite matrix from unconstrained numbers: L lower triangular with exp on its diagonal
    (the free numbers fill it column by column from the upper triangle's order), and Sigma = L L^T."""
    d, values = matrix.rows, iter(free)
    lower = [[0.0] * d for _ in range(d)]
    for i in range(d):
        for j in range(i, d):
            v = next(values)
            lower[j][i] = lib.exp(v) if i == j else v
    return {
        matrix[i, j].name: sum(lower[i][k] * lower[j][k] for k in range(min(i, j) + 1))
        for i in range(d)
        for j in range(i, d)
    }


def to_free(model: Model, point: Params, names) -> np.ndarray:
    """The inverse of from_free for the named parameters."""
    out = []
    for par in (p for p in model.params if p.name in names):
        lo, hi, v = *_bounds(par.domain), point[par.name]
        if np.isfinite(lo) and np.isfinite(hi):
            out.append(np.log((v - lo) / (hi - v)))
        elif np.isfinite(lo) or np.isfinite(hi):
            out.append(np.log(v - lo if np.isfinite(lo) else hi - v))
        else:
            out.append(v)
    return np.array(out, float)


def on_constraints(c: Compiled, point: Params) -> dict[str, float] | None:
    """The point with its eliminated parameters recomputed from the free ones (so it satisfies the
    constraints); None when they leave their domains."""
    free, gone, values = c.elimination
    out = {**point, **dict(zip(gone, (float(v) for v in values(*(point[k] for k in free)))))}
    inside = all(_bounds(p.domain)[0] < out[p.name] < _bounds(p.domain)[1] for p in c.model.params)
    return out if inside else None


def tangent_basis(c: Compiled, point: Params) -> np.ndarray:
    """Columns spanning the directions that keep the constraints (the null space of their Jacobian);
    the identity without constraints."""
    if not c.model.constraints:
        return np.eye(len(c.names))
    return scipy.linalg.null_space(np.atleast_2d(c.constraint_jacobian(*(point[k] for k in c.names))))
