"""A symmetric positive-definite matrix parameter (a covariance Sigma), solved by matrix calculus written out in
its entries. The objective is c log det Sigma + Q / det Sigma with Q a polynomial; the score is then a
polynomial over det^2, and Sigma (d l / d Sigma) Sigma, divided exactly by det^2, is linear in the entries
(Sigma is invertible on the positive-definite domain, so it has the same roots). The other parameters (a mean)
are solved first, their score multiplied by Sigma in the same way. Polynomial arithmetic throughout: SymPy's
cancellation of a 3x3 inverse takes minutes, exact division a second."""

from __future__ import annotations

import sympy as sp

from mlemap.derivations.model import InputError, Model
from mlemap.derivations.solve import NoClosedForm, time_limit


def entries(matrix: sp.Matrix) -> list[sp.Symbol]:
    """The distinct entries of a symmetric matrix: its upper triangle, row by row."""
    return [matrix[i, j] for i in range(matrix.rows) for j in range(i, matrix.cols)]


def check_matrices(model: Model) -> None:
    """Each declared matrix square, symmetric, its entries parameters, its diagonal positive."""
    params = {p.symbol: p.domain for p in model.params}
    if len(model.matrices) > 1:
        raise InputError(f"{model.name}: one matrix parameter at most, got {len(model.matrices)}")
    for m in model.matrices:
        if not isinstance(m, sp.MatrixBase) or m.rows != m.cols or m != m.T:
            shown = " ".join(repr(m).split())  # a Matrix prints over several lines
            raise InputError(f"{model.name}: a matrix parameter must be a symmetric square sympy.Matrix, got {shown}")
        outside = [e for e in entries(m) if e not in params]
        if outside:
            raise InputError(f"{model.name}: the matrix entry {outside[0]} is not a declared parameter")
        if not all(params[m[i, i]].is_subset(sp.Interval.open(0, sp.oo)) for i in range(m.rows)):
            raise InputError(f"{model.name}: the diagonal of a positive-definite matrix must have domain (0, oo)")


def log_det_form(objective: sp.Expr, det: sp.Expr, gens: list[sp.Symbol]) -> tuple[sp.Expr, sp.Expr]:
    """(c, Q) with objective = c log det + Q / det + terms free of the parameters; NoClosedForm otherwise."""
    c, rational = sp.Integer(0), sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(objective)):
        if not term.free_symbols & set(gens):
            continue
        logs = [a for a in term.atoms(sp.log) if a.free_symbols & set(gens)]
        if logs:
            factor, (log,) = term.as_independent(*gens)[0], logs
            if sp.expand(log.args[0] - det) != 0 or term != factor * log:
                raise NoClosedForm("the objective is not c log det Sigma + Q / det Sigma")
            c += factor
        else:
            rational += term
    q = sp.cancel(sp.together(rational * det))
    if sp.denom(q).free_symbols & set(gens):
        raise NoClosedForm("the objective is not c log det Sigma + Q / det Sigma")
    return c, sp.expand(q)


def _exact(poly: sp.Poly, divisor: sp.Poly) -> sp.Expr:
    quotient, remainder = poly.div(divisor)
    if not remainder.is_zero:
        raise NoClosedForm("the score does not clear to a linear equation in the matrix entries")
    return quotient.as_expr()


def _mean_first(q: sp.Expr, matrix: sp.Matrix, det: sp.Expr, others: list[sp.Symbol], gens) -> dict:
    """The other parameters from Sigma (dQ / d theta) / det = 0 (det Sigma does not depend on them)."""
    if not others:
        return {}
    grad = [sp.diff(q, p) for p in others]
    if len(others) == matrix.rows:
        polys = [sp.Poly(g, *gens) for g in grad]
        dom = polys[0].domain
        grad = [
            _exact(
                sum(sp.Poly(matrix[i, k], *gens, domain=dom) * polys[k] for k in range(len(polys))),
                sp.Poly(det, *gens, domain=dom),
            )
            for i in range(matrix.rows)
        ]
    solutions = sp.solve(grad, others, dict=True)
    if len(solutions) != 1:
        raise NoClosedForm(f"{len(solutions)} solutions for {others} given the matrix")
    return solutions[0]


def matrix_stationary(objective: sp.Expr, model: Model, seconds: float) -> list[dict[sp.Symbol, sp.Expr]]:
    """The stationary point of a model with one positive-definite matrix parameter, in closed form."""
    (matrix,) = model.matrices
    gens = entries(matrix)
    det = sp.expand(matrix.det())
    with time_limit(seconds, "the matrix route"):
        c, q = log_det_form(objective, det, gens)
        others = [p for p in model.param_symbols if p not in gens]
        first = _mean_first(q, matrix, det, others, gens)
        q = sp.expand(q.subs(first))
        scale = [[1 if i == j else sp.Rational(1, 2) for j in range(matrix.cols)] for i in range(matrix.rows)]
        numer = [
            [
                sp.Poly(
                    (
                        c * sp.diff(det, matrix[i, j]) * det
                        + sp.diff(q, matrix[i, j]) * det
                        - q * sp.diff(det, matrix[i, j])
                    )
                    * scale[i][j],
                    *gens,
                )
                for j in range(matrix.cols)
            ]
            for i in range(matrix.rows)
        ]
        dom = numer[0][0].domain
        m = [[sp.Poly(matrix[i, j], *gens, domain=dom) for j in range(matrix.cols)] for i in range(matrix.rows)]
        det2, d = sp.Poly(det**2, *gens, domain=dom), matrix.rows
        linear = [
            _exact(
                sum(
                    (m[i][a] * numer[a][b] * m[b][j] for a in range(d) for b in range(d)), sp.Poly(0, *gens, domain=dom)
                ),
                det2,
            )
            for i in range(d)
            for j in range(i, d)
        ]
        solutions = sp.solve(linear, gens, dict=True)
    return [{**{p: sp.factor(v.subs(s)) for p, v in first.items()}, **s} for s in solutions if set(s) == set(gens)]


def quotient_derivatives(objective: sp.Expr, model: Model) -> tuple[sp.Matrix, sp.Matrix]:
    """Score and Hessian of c log D + Q / D by the quotient rule on the polynomials D and Q: exact, and compact
    where differentiating the written-out inverse takes SymPy minutes."""
    (matrix,) = model.matrices
    params = list(model.param_symbols)
    det = sp.expand(matrix.det())
    c, q = log_det_form(objective.subs(model.constants), det, params)
    dd = [sp.diff(det, p) for p in params]
    dq = [sp.diff(q, p) for p in params]
    score = sp.Matrix([c * dd[a] / det + (dq[a] * det - q * dd[a]) / det**2 for a in range(len(params))])

    def second(a: int, b: int) -> sp.Expr:
        ddab, dqab = sp.diff(dd[a], params[b]), sp.diff(dq[a], params[b])
        log_part = c * (ddab * det - dd[a] * dd[b]) / det**2
        top = dq[a] * det - q * dd[a]
        top_b = dqab * det + dq[a] * dd[b] - dq[b] * dd[a] - q * ddab
        return log_part + (top_b * det - 2 * top * dd[b]) / det**3

    return score, sp.Matrix(len(params), len(params), second)
