"""The catalogue of bad inputs: each gets one line naming the input and the rule (InputError; exit code 2 for
CLI usage errors), or a reported outcome ("diverged", "no closed form", "did not converge"), and nothing the
user had is changed: every case ends with the files of its directory exactly as they were."""

from __future__ import annotations

import dataclasses
import datetime
import errno
import json
import os
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import sympy as sp
import torch

from mlemap.catalogue import (
    CAUCHY,
    COIN_MAP,
    COIN_UNIFORM,
    EXPONENTIAL,
    GAUSSIAN,
    LINEAR_REGRESSION,
    MODELS,
    POISSON,
    derivation,
    lam,
    mu,
    sigma2,
    theta,
    x,
)
from mlemap.catalogue import normal_prior as prior
from mlemap.derivations.designs import exact_covariance as exact_sigma
from mlemap.derivations.designs import gaussian_mean
from mlemap.derivations.distributions import Beta, Gamma, Normal
from mlemap.derivations.engine import derive
from mlemap.derivations.model import InputError, Model, Parameter
from mlemap.derivations.sheet import Estimate, OptimizerStudy
from mlemap.numerics import minibatch as mb
from mlemap.numerics import quadratic as qd
from mlemap.numerics.checks import check_data, run_checks
from mlemap.numerics.compile import compiled
from mlemap.numerics.estimate import estimate
from mlemap.numerics.exact_study import draw
from mlemap.numerics.study import run_study
from mlemap.numerics.verify import main as verify_main
from mlemap.reports import build as report_build
from mlemap.reports.cli import main
from tests.conftest import gamma_shape_model
from tests.test_textbook import binomial_model


@dataclass(frozen=True)
class Case:
    id: str
    action: Callable  # (tmp_path) -> anything; may raise
    expect: str  # regex the one-line outcome must match
    outcome: str = "error"  # "error" (InputError), "exit N" (CLI) or "reported"
    setup: Callable | None = None  # (tmp_path) -> None: the user's files, made before the snapshot
    builds: bool = False  # runs a real build (seconds): left out of the mutation runs (marker "build")


def validate(model: str, **data):
    return lambda tmp: MODELS[model].validate(data)


def validate_raw(model: str, data):
    return lambda tmp: MODELS[model].validate(data)


def declared(model: Model, **changes):
    return lambda tmp: derive(dataclasses.replace(model, **changes))


def reflected_exponential(scale) -> Model:
    """-lambda exp(-lambda x) for x < 0 and a negative rate, the density multiplied by `scale`."""
    x, rate = sp.Symbol("x", negative=True), sp.Symbol("lambda", negative=True)
    below = sp.Interval.open(-sp.oo, 0)
    density = -scale * rate * sp.exp(-rate * x)
    return Model("reflected", "Reflected exponential", (x,), (Parameter(rate, below),), density, support={x: below})


def pair_of_exponentials(scale) -> Model:
    """Two exponential responses with one rate, the density multiplied by `scale`."""
    x, y, rate = sp.symbols("x y lambda", positive=True)
    positive = sp.Interval.open(0, sp.oo)
    density = scale * rate**2 * sp.exp(-rate * (x + y))
    return Model(
        "pair", "Two exponentials", (x, y), (Parameter(rate, positive),), density, support={x: positive, y: positive}
    )


def hyperbolic_secant() -> Model:
    """sech(pi (x - mu) / 2) / 2: its location has no closed form (a second of solve time is enough to say so)."""
    x, mu = sp.symbols("x mu", real=True)
    density = sp.sech(sp.pi * (x - mu) / 2) / 2
    return Model("hyperbolic_secant", "Hyperbolic secant", (x,), (Parameter(mu),), density, solve_seconds=1)


def statistics(model: str, **data):
    return lambda tmp: compiled(derivation(model)).statistics({k: np.asarray(v, float) for k, v in data.items()})


_SMALL: list = []


START = (0.0, 0.0)


def small() -> qd.Sample:
    if not _SMALL:
        d = derive(gaussian_mean("praxis_small", ((5, 0), (0, 5)), (1, 1)))
        _SMALL.append(qd.sample(d, draw(d, 300, 1), 1))
    return _SMALL[0]


def praxis_model(sigma=((5, 0), (0, 5)), truth=(1, 1)):
    return lambda tmp: gaussian_mean("m", sigma, truth)


def study(**options):
    model = gaussian_mean("m", ((5, 0), (0, 5)), (1, 1))
    return lambda tmp: OptimizerStudy("q", "text", model, **options)


def on_small(fn: Callable, *args, **kwargs):
    return lambda tmp: fn(small(), *args, **kwargs)


def cli(*argv: str):
    return lambda tmp: main([*argv] + (["--out", str(tmp / "out")] if "--out" not in argv else []))


SHEET_HEAD = "from mlemap.derivations.sheet import Estimate, Sheet\nfrom mlemap.catalogue import EXPONENTIAL\n"


def a_sheet(tmp: Path, body: str) -> None:
    (tmp / "sheet.py").write_text(body)


def with_sheet(tmp: Path):
    return main(["--sheet", str(tmp / "sheet.py"), "--out", str(tmp / "out")])


def cli_out(relative: str, *argv: str):
    """--out relative to the case's directory, which also becomes the working directory."""

    def run(tmp):
        with chdir(tmp):
            return main(["--out", relative, "--only", "task1", "--format", "md", *argv])

    return run


class chdir:
    def __init__(self, path: Path):
        self.path, self.old = path, None

    def __enter__(self):
        self.old = Path.cwd()
        os.chdir(self.path)

    def __exit__(self, *exc):
        os.chdir(self.old)


def verify_cli(*argv: str):
    return lambda tmp: verify_main([*argv] + (["--json", str(tmp / "v.json")] if "--json" not in argv else []))


def user_files(tmp: Path) -> None:
    (tmp / "thesis").mkdir()
    (tmp / "thesis" / "main.tex").write_text("my thesis")
    (tmp / "notes.txt").write_text("keep")


def a_report_with_a_user_file(tmp: Path) -> None:
    assert main(["--out", str(tmp / "report"), "--only", "task1", "--format", "md"]) == 0
    (tmp / "report" / "my-notes.txt").write_text("mine")


def a_file(tmp: Path) -> None:
    (tmp / "f").write_text("x")


def a_symlink(tmp: Path) -> None:
    (tmp / "real").mkdir()
    (tmp / "link").symlink_to(tmp / "real")


def full_disk(tmp: Path):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp / "out" / "report.md"))

    with mock.patch.object(report_build.render, "markdown", no_space):
        return main(["--out", str(tmp / "out"), "--only", "task1", "--format", "md"])


def diverging(route: str):
    def run(tmp):
        p = small()
        if route == "ascent":
            (res,) = run_study(p.derivation, 0, (1.5,), data=p.columns()).ascent
            return f"{res.status} at step {res.steps + 1}, path finite: {np.all(np.isfinite(res.path))}"
        if route == "optimizer":
            res = qd.run_optimizer(p, "SGD", torch.optim.SGD, {"lr": 1e3}, START)
            return f"{res.status}, path finite: {np.all(np.isfinite(res.path))}"
        res = mb.sgd(p, 5, 100.0, 50, START, gradient=route)
        return f"{res.status} at step {res.diverged_at}, path finite: {np.all(np.isfinite(res.path))}"

    return run


def no_closed_form(tmp):
    d = derive(CAUCHY)
    assert all(r.passed for r in run_checks(d)), "numerics must still verify the numerical optimum"
    return f"no closed form: {d.no_closed_form}"


def gamma_shape(tmp):
    return f"no closed form: {derive(gamma_shape_model()).no_closed_form}"


def unbounded_posterior(tmp):
    """A posterior that rises without end: the optimizers stop somewhere, and that is not an answer."""
    rising = dataclasses.replace(
        EXPONENTIAL, prior=sp.exp(5 * lam), observed={x: (sp.Rational(1, 10), sp.Rational(1, 10))}
    )
    (result,) = [r for r in run_checks(derive(rising)) if r.check == "stationary"]
    assert not result.passed
    return result.detail


def given_statistics(tmp):
    est = compiled(derivation("coin_uniform")).estimate({"n": 3.0, "S_x": 3.0})
    return f"theta = {est['theta']}"


def float32_gradient(tmp):
    c = compiled(derivation("gaussian"))
    leaves = {k: torch.tensor(1.0, requires_grad=True) for k in c.names}  # float32, torch's default
    return c.objective_torch(leaves, {"x": torch.ones(3, dtype=torch.float64)})


def float32_data(tmp):
    c = compiled(derivation("gaussian"))
    leaves = {k: torch.tensor(1.0, dtype=torch.float64, requires_grad=True) for k in c.names}
    return c.objective_torch(leaves, {"x": torch.ones(3)})


def support_model(support: sp.Set) -> Model:
    count = sp.Symbol("x", integer=True)
    return Model(
        "counts",
        "counts",
        (count,),
        (Parameter(lam, sp.Interval.open(0, sp.oo)),),
        lam**count * sp.exp(-lam) / sp.factorial(count),
        support={count: support},
    )


def in_support(support: sp.Set, values):
    return lambda tmp: support_model(support).validate({"x": values})


def no_data_model(tmp):
    return Model("no_data", "no data", (), (Parameter(mu),), sp.exp(-(mu**2))).validate({})


def wrap(model: Model, **changes) -> Model:
    return dataclasses.replace(model, **changes)


NOT_NORMALISED = wrap(GAUSSIAN, density=2 * GAUSSIAN.density)
GAUSS = "gaussian"
K_RULE = r"batch size k must be a whole number in \[1, n = 300\], got "
LR_RULE = r"^learning rate must be a finite number > 0, got "
SIGMA_REAL = r"^Sigma must be a square matrix of real numbers, got "

DATA_CASES = [
    Case(
        "unused-parameter",
        lambda tmp: derive(Model("m", "m", (x,), (Parameter(mu),), sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi))),
        r"^m: the parameter 'mu' appears in neither the density nor a support",
    ),
    Case(
        "nan-in-prior",
        lambda tmp: derive(wrap(GAUSSIAN, prior=sp.exp(-((mu - sp.nan) ** 2)))),
        r"^gaussian: the prior contains nan or an infinity",
    ),
    Case(
        "finite-set-domain",
        lambda tmp: derive(wrap(GAUSSIAN, params=(Parameter(mu, sp.FiniteSet(1, 2)), GAUSSIAN.params[1]))),
        r"^gaussian: the domain of mu must be an interval of positive length \(or the reals\), got \{1, 2\}$",
    ),
    Case(
        "empty-domain",
        lambda tmp: derive(wrap(GAUSSIAN, params=(Parameter(mu, sp.EmptySet), GAUSSIAN.params[1]))),
        r"^gaussian: the domain of mu must be an interval of positive length",
    ),
    Case(
        "undefined-function",
        lambda tmp: derive(wrap(GAUSSIAN, density=sp.Function("f")(x - mu))),
        r"^gaussian: the density uses the undefined function 'f'; write it out$",
    ),
    Case("empty-data", validate(GAUSS, x=[]), r"^gaussian: needs at least 2 observations, got 0$"),
    Case("nan", validate(GAUSS, x=[1.0, np.nan, 2.0]), r"^gaussian: data 'x' must be finite, got nan at index 1$"),
    Case("inf", validate(GAUSS, x=[1.0, 2.0, -np.inf]), r"^gaussian: data 'x' must be finite, got -inf at index 2$"),
    Case("none-inside", validate(GAUSS, x=[1.0, None]), r"^gaussian: data 'x' must be finite, got nan at index 1$"),
    Case("one-observation-variance", validate(GAUSS, x=[1.0]), r"^gaussian: needs at least 2 observations, got 1$"),
    Case(
        "two-observations-regression",
        validate("linear_regression", x=[1, 2], y=[1, 2]),
        r"^linear_regression: needs at least 3 observations, got 2$",
    ),
    Case(
        "constant-covariate",
        validate("linear_regression", x=[2, 2, 2, 2], y=[1, 2, 3, 4]),
        r"^linear_regression: covariate 'x' must not be constant \(its slope is not identifiable\)$",
    ),
    Case(
        "non-binary-coin",
        validate("coin_map", x=[0, 1, 2]),
        r"^coin_map: data 'x' must lie in \{0, 1\}, got 2.0 at index 2$",
    ),
    Case(
        "negative-coin",
        validate("coin_uniform", x=[0, -1]),
        r"^coin_uniform: data 'x' must lie in \{0, 1\}, got -1.0 at index 1$",
    ),
    Case(
        "half-coin",
        validate("coin_map_sd", x=[0.5]),
        r"^coin_map_sd: data 'x' must lie in \{0, 1\}, got 0.5 at index 0$",
    ),
    Case(
        "fractional-poisson",
        validate("poisson", x=[1, 2.5]),
        r"^poisson: data 'x' must lie in Naturals0, got 2.5 at index 1$",
    ),
    Case(
        "negative-poisson",
        validate("poisson", x=[3, -1]),
        r"^poisson: data 'x' must lie in Naturals0, got -1.0 at index 1$",
    ),
    Case(
        "negative-exponential",
        validate("exponential", x=[1.0, -0.5]),
        r"^exponential: data 'x' must lie in Interval.open\(0, oo\), got -0.5 at index 1$",
    ),
    Case(
        "zero-exponential",
        validate("exponential", x=[0.0, 1.0]),
        r"^exponential: data 'x' must lie in Interval.open\(0, oo\), got 0.0 at index 0$",
    ),
    Case(
        "missing-column",
        validate("linear_regression", x=[1, 2, 3]),
        r"^linear_regression: data 'y' is missing \(the model needs \['x', 'y'\]\)$",
    ),
    Case(
        "unequal-columns",
        validate("linear_regression", x=[1, 2, 3], y=[1, 2]),
        r"^linear_regression: data columns must have equal length, got \{'x': 3, 'y': 2\}$",
    ),
    Case(
        "two-dimensional",
        validate(GAUSS, x=[[1.0, 2.0], [3.0, 4.0]]),
        r"^gaussian: data 'x' must be one-dimensional, got shape \(2, 2\)$",
    ),
    Case("scalar", validate(GAUSS, x=3.0), r"^gaussian: data 'x' must be one-dimensional, got shape \(\)$"),
    Case(
        "ragged",
        validate(GAUSS, x=[[1, 2], [3]]),
        r"^gaussian: data 'x' must be real numbers \(setting an array element with a sequence",
    ),
    Case(
        "strings",
        validate(GAUSS, x=["a", "b"]),
        r"^gaussian: data 'x' must be real numbers, got strings \(dtype <U1\)$",
    ),
    Case("numeric-strings", validate(GAUSS, x=["1.5", "2"]), r"^gaussian: data 'x' must be real numbers, got strings"),
    Case("bytes", validate(GAUSS, x=[b"1", b"2"]), r"^gaussian: data 'x' must be real numbers, got bytes"),
    Case(
        "complex",
        validate(GAUSS, x=[1 + 2j, 3.0]),
        r"^gaussian: data 'x' must be real numbers, got complex numbers \(dtype complex128\)$",
    ),
    Case(
        "datetime",
        validate(GAUSS, x=np.array(["2026-01-01", "2026-01-02"], dtype="datetime64[D]")),
        r"^gaussian: data 'x' must be real numbers, got dates",
    ),
    Case(
        "python-dates",
        validate(GAUSS, x=[datetime.date(2026, 1, 1), datetime.date(2026, 1, 2)]),
        r"^gaussian: data 'x' must be real numbers, got datetime.date\(2026, 1, 1\) \(date\)$",
    ),
    Case(
        "timedelta",
        validate(GAUSS, x=np.array([1, 2], dtype="timedelta64[s]")),
        r"^gaussian: data 'x' must be real numbers, got time spans",
    ),
    Case(
        "huge-integer",
        validate(GAUSS, x=[10**400, 1]),
        r"^gaussian: data 'x' must be real numbers within float64's range",
    ),
    Case(
        "column-none",
        validate(GAUSS, x=None),
        r"^gaussian: data 'x' must be a list or array of real numbers, got None$",
    ),
    Case(
        "validate-none",
        validate_raw(GAUSS, None),
        r"^gaussian: data must be a mapping of column name to values, got NoneType$",
    ),
    Case(
        "validate-list",
        validate_raw(GAUSS, [1.0, 2.0]),
        r"^gaussian: data must be a mapping of column name to values, got list$",
    ),
    Case(
        "validate-no-data-model", no_data_model, r"^no_data: declares no data symbols, so there is no data to validate$"
    ),
    Case(
        "support-naturals",
        in_support(sp.Naturals, [1, 0]),
        r"^counts: data 'x' must lie in Naturals, got 0.0 at index 1$",
    ),
    Case(
        "support-integers",
        in_support(sp.Integers, [-3, 1.5]),
        r"^counts: data 'x' must lie in Integers, got 1.5 at index 1$",
    ),
    Case(
        "support-range",
        in_support(sp.Range(1, sp.oo), [2, 0]),
        r"^counts: data 'x' must lie in Range\(1, oo, 1\), got 0.0 at index 1$",
    ),
    Case(
        "support-range-bounded",
        in_support(sp.Range(0, 5), [4, 5]),
        r"^counts: data 'x' must lie in Range\(0, 5, 1\), got 5.0 at index 1$",
    ),
    Case(
        "support-union",
        in_support(sp.Union(sp.Interval(0, 1), sp.Interval(2, 3)), [0.5, 1.5]),
        r"^counts: data 'x' must lie in Union\(Interval\(0, 1\), Interval\(2, 3\)\), got 1.5 at index 1$",
    ),
    Case(
        "overflowing-statistics",
        statistics(GAUSS, x=[1e200, 1e200 + 1e185]),
        r"^gaussian: data too large for float64: the statistic sum_i x\*\*2 is inf \(rescale the data\)$",
    ),
    Case(
        "covariate-spread-1e-15",
        validate("linear_regression", x=[1.0, 1.0 + 1e-15, 1.0], y=[1, 2, 3]),
        r"^linear_regression: covariate 'x' must vary by at least 1e-06 of its largest size 1 for float64 to tell it "
        r"from a constant, got a spread of 1.11e-15 \(centre or rescale it\)$",
    ),
    Case(  # the normal equations' denominator was 0.0 in float64: ZeroDivisionError at the data
        "covariate-spread-at-estimate",
        lambda tmp: estimate(LINEAR_REGRESSION, {"x": [1e9, 1e9 + 1e-6, 1e9], "y": [1, 2, 3]}),
        r"^linear_regression: covariate 'x' must vary by at least 1e-06 of its largest size 1e\+09 .* got a spread of "
        r"9.54e-07 \(centre or rescale it\)$",
    ),
    Case(
        "overflowing-regression",
        statistics("linear_regression", x=[1e160, 1.0, 2.0], y=[1e160, 0.0, 1.0]),
        r"^linear_regression: data too large for float64: the statistic sum_i x\*\*2 is inf",
    ),
]

PRIOR_CASES = [
    Case("prior-variance-zero", lambda tmp: prior(theta, 0.5, 0), r"^prior variance must be > 0, got 0$"),
    Case("prior-variance-negative", lambda tmp: prior(theta, 0.5, -0.1), r"^prior variance must be > 0, got -0.1$"),
    Case(
        "prior-variance-none", lambda tmp: prior(theta, 0.5, None), r"^prior variance must be a real number, got None$"
    ),
    Case(
        "prior-variance-string",
        lambda tmp: prior(theta, 0.5, "0.1"),
        r"^prior variance must be a real number, got '0.1'$",
    ),
    Case(
        "prior-variance-nan",
        lambda tmp: prior(theta, 0.5, float("nan")),
        r"^prior variance must be a finite number, got nan$",
    ),
    Case(
        "prior-variance-inf",
        lambda tmp: prior(theta, 0.5, float("inf")),
        r"^prior variance must be a finite number, got inf$",
    ),
    Case(
        "prior-variance-complex",
        lambda tmp: prior(theta, 0.5, 1 + 2j),
        r"^prior variance must be a finite real number, got \(1\+2j\)$",
    ),
    Case(
        "prior-variance-bool", lambda tmp: prior(theta, 0.5, True), r"^prior variance must be a real number, got True$"
    ),
    Case(
        "prior-mean-nan", lambda tmp: prior(theta, float("nan"), 0.1), r"^prior mean must be a finite number, got nan$"
    ),
    Case(
        "prior-mean-inf",
        lambda tmp: prior(theta, float("-inf"), 0.1),
        r"^prior mean must be a finite number, got -inf$",
    ),
    Case("prior-mean-none", lambda tmp: prior(theta, None, 0.1), r"^prior mean must be a real number, got None$"),
    Case("prior-mean-list", lambda tmp: prior(theta, [0.5], 0.1), r"^prior mean must be a real number, got \[0.5\]$"),
    Case(
        "prior-mean-symbol",
        lambda tmp: prior(theta, sp.Symbol("m"), 0.1),
        r"^prior mean must be a finite real number, got m$",
    ),
]

SIGMA_CASES = [
    Case(
        "singular-sigma",
        praxis_model(((1, 1), (1, 1))),
        r"^Sigma must be positive definite \(every leading minor > 0\), got \[\[1, 1\], \[1, 1\]\]$",
    ),
    Case("indefinite-sigma", praxis_model(((1, 2), (2, 1))), "^Sigma must be positive definite"),
    Case("negative-diagonal", praxis_model(((-1, 0), (0, -1))), "^Sigma must be positive definite"),
    Case(
        "asymmetric-sigma",
        praxis_model(((2, 1), (0, 2))),
        r"^Sigma must be symmetric, got \[\[2, 1\], \[0, 2\]\]$",
    ),
    Case("nearly-symmetric-float", lambda tmp: exact_sigma(((2, 0.1), (0.1 + 1e-12, 2))), "^Sigma must be symmetric"),
    Case(
        "sigma-not-numbers",
        praxis_model((("a", 0), (0, 1))),
        SIGMA_REAL + r"\[\['a', '0'\], \['0', '1'\]\]$",
    ),
    Case("sigma-nan", lambda tmp: exact_sigma(((float("nan"), 0), (0, 1))), SIGMA_REAL),
    Case("sigma-inf", lambda tmp: exact_sigma(((float("inf"), 0), (0, 1))), SIGMA_REAL),
    Case("sigma-none", lambda tmp: exact_sigma(None), SIGMA_REAL + "None$"),
    Case(
        "sigma-wrong-shape",
        praxis_model(((1, 0, 0), (0, 1, 0))),
        r"^Sigma must be square with 1 to 4 rows, got shape \(2, 3\)$",
    ),
    Case(
        "sigma-5x5",
        lambda tmp: exact_sigma(tuple(tuple(int(i == j) for j in range(5)) for i in range(5))),
        r"^Sigma must be square with 1 to 4 rows, got shape \(5, 5\)$",
    ),
    Case(
        "sigma-ragged",
        lambda tmp: exact_sigma(((1, 0), (0,))),
        r"^Sigma must be square with 1 to 4 rows, got shape ragged$",
    ),
    Case("sigma-vector", lambda tmp: exact_sigma((1, 2)), SIGMA_REAL + r"\(1, 2\)$"),
]

CONFIG_CASES = [
    Case("study-n-negative", study(n=-5), r"^question q: n must be a whole number in \[0, 10000000\], got -5$"),
    Case("study-n-float", study(n=2.5), r"^question q: n must be a whole number in \[0, 10000000\], got 2.5$"),
    Case("study-n-string", study(n="10"), r"^question q: n must be a whole number in \[0, 10000000\], got '10'$"),
    Case("study-n-huge", study(n=10**9), r"^question q: n must be a whole number in \[0, 10000000\], got 1000000000$"),
    Case(
        "study-batch-zero",
        study(batch_sizes=(0,)),
        r"^question q: a batch size must be a whole number in \[1, 10000000\], got 0$",
    ),
    Case("study-part-unknown", study(parts=("heatmap",)), r"^question q: parts must be among \('ascent', "),
    Case("study-parts-none", study(parts=()), r"^question q: parts must be among"),
    Case("study-compare-not-model", study(compare="aniso"), r"^question q: compare must be a Model, got 'aniso'$"),
    Case(
        "mean-strings", praxis_model(truth=("a", "b")), r"^m: the true mean must be 2 finite numbers, got \('a', 'b'\)$"
    ),
    Case("mean-none", praxis_model(truth=None), r"^m: the true mean must be 2 finite numbers, got None$"),
    Case("mean-short", praxis_model(truth=(1.0,)), r"^m: the true mean must be 2 finite numbers, got \(1.0,\)$"),
    Case("mean-nan", praxis_model(truth=(np.nan, 0)), r"^m: the true mean must be 2 finite numbers"),
    Case(
        "praxis-data-shape",
        lambda tmp: qd.Sample(small().derivation, np.zeros((4, 3))),
        r"^data must have shape \(n >= 2, 2\), got \(4, 3\)$",
    ),
    Case(
        "praxis-data-dtype",
        lambda tmp: qd.Sample(small().derivation, np.array([["a", "b"]])),
        r"^data must be numeric, got dtype <U1$",
    ),
    Case(
        "praxis-data-complex",
        lambda tmp: qd.Sample(small().derivation, np.ones((3, 2), dtype=complex)),
        r"^data must be numeric, got dtype complex128$",
    ),
    Case(
        "praxis-data-nan",
        lambda tmp: qd.Sample(small().derivation, np.array([[1.0, np.nan], [0.0, 1.0]])),
        r"^data must be finite \(no NaN or inf\)$",
    ),
]

RATE_CASES = [
    Case("lr-zero", on_small(mb.sgd, 5, 0.0, 3, START), LR_RULE + "0.0$"),
    Case("lr-negative", on_small(mb.sgd, 5, -1e-3, 3, START), LR_RULE + "-0.001$"),
    Case("lr-nan", on_small(mb.sgd, 5, float("nan"), 3, START), LR_RULE + "nan$"),
    Case("lr-inf", on_small(mb.sgd, 5, float("inf"), 3, START), LR_RULE + "inf$"),
    Case("lr-string", on_small(mb.sgd, 5, "0.01", 3, START), LR_RULE + "'0.01'$"),
    Case("lr-none", on_small(mb.sgd, 5, None, 3, START), LR_RULE + "None$"),
    Case("lr-bool", on_small(mb.sgd, 5, True, 3, START), LR_RULE + "True$"),
    Case("lr-predicted-zero", on_small(qd.predicted_steps, 0, START), LR_RULE + "0$"),
    Case("lr-past-bound", diverging("ascent"), r"^diverged at step \d+, path finite: True$", "reported"),
    Case("sgd-autograd-past-bound", diverging("autograd"), r"^diverged at step \d+, path finite: True$", "reported"),
    Case("sgd-derived-past-bound", diverging("derived"), r"^diverged at step \d+, path finite: True$", "reported"),
    Case("optimizer-past-bound", diverging("optimizer"), r"^diverged, path finite: True$", "reported"),
    Case(
        "noise-floor-at-bound",
        lambda tmp: mb.noise_floor(small(), 5, 2 * 5 / 5),
        r"^learning rate must be below the stability bound 2 of a batch of 5 for a noise floor to exist, got 2.0$",
    ),
    Case(
        "noise-floor-past-bound",
        lambda tmp: mb.noise_floor(small(), 5, 7.0),
        "^learning rate must be below the stability bound",
    ),
    Case("noise-floor-negative-rate", lambda tmp: mb.noise_floor(small(), 5, -0.1), LR_RULE + "-0.1$"),
    Case("noise-floor-batch-zero", lambda tmp: mb.noise_floor(small(), 0, 0.1), "^" + K_RULE + "0$"),
    Case(
        "gtol-zero", on_small(qd.predicted_steps, 1e-3, START, gtol=0.0), r"^gtol must be a finite number > 0, got 0.0$"
    ),
    Case("max-steps-zero", on_small(qd.predicted_steps, 1e-3, START, max_steps=0), r"^max_steps must be >= 1, got 0$"),
    Case("start-none", on_small(mb.sgd, 5, 1e-3, 3, None), r"^start must be 2 finite numbers, got None$"),
    Case(
        "fraction-negative",
        lambda tmp: run_study(small().derivation, 0, (0.5, -1)),
        r"^fraction of the bound must be a finite number > 0, got -1$",
    ),
    Case(
        "optimizer-tol-zero",
        on_small(qd.run_optimizer, "SGD", torch.optim.SGD, {"lr": 0.1}, START, tol=0),
        r"^tol must be a finite number > 0, got 0$",
    ),
]

BATCH_CASES = [
    Case("batch-zero", on_small(mb.sgd, 0, 1e-3, 3, START), "^" + K_RULE + "0$"),
    Case("batch-above-n", on_small(mb.sgd, 301, 1e-3, 3, START), "^" + K_RULE + "301$"),
    Case("batch-float", on_small(mb.sgd, 2.0, 1e-3, 3, START), "^" + K_RULE + "2.0$"),
    Case("batch-string", on_small(mb.sgd, "5", 1e-3, 3, START), "^" + K_RULE + "'5'$"),
    Case("steps-zero", on_small(mb.sgd, 5, 1e-3, 0, START), r"^steps must be in \[1, 100000000\], got 0$"),
    Case("steps-negative", on_small(mb.sgd, 5, 1e-3, -1, START), r"^steps must be in \[1, 100000000\], got -1$"),
    Case("steps-float", on_small(mb.sgd, 5, 1e-3, 2.5, START), r"^steps must be a whole number, got 2.5$"),
    Case(
        "unknown-schedule",
        on_small(mb.sgd, 5, 1e-3, 3, START, schedule="cosine"),
        r"^schedule must be 'constant' or 'inverse_t', got 'cosine'$",
    ),
    Case(
        "unknown-sampling",
        on_small(mb.sgd, 5, 1e-3, 3, START, sampling="bootstrap"),
        r"^sampling must be 'reshuffle' or 'independent', got 'bootstrap'$",
    ),
    Case(
        "unknown-gradient",
        on_small(mb.sgd, 5, 1e-3, 3, START, gradient="numeric"),
        r"^gradient must be 'autograd' or 'derived', got 'numeric'$",
    ),
    Case(
        "replications-one",
        on_small(mb.gradient_variance, 5, START, replications=1),
        r"^replications must be >= 2, got 1$",
    ),
    Case(
        "replications-float",
        on_small(mb.gradient_variance, 5, START, replications=2.5),
        r"^replications must be a whole number, got 2.5$",
    ),
    Case("variance-batch-above-n", on_small(mb.gradient_variance, 400, START), "^" + K_RULE + "400$"),
    Case("resolution-one", on_small(qd.heatmap, 1, (-5, 5)), r"^heatmap resolution must be in \[2, 4000\], got 1$"),
    Case(
        "resolution-float", on_small(qd.heatmap, 2.5, (-5, 5)), r"^heatmap resolution must be a whole number, got 2.5$"
    ),
    Case(
        "resolution-string",
        on_small(qd.heatmap, "100", (-5, 5)),
        r"^heatmap resolution must be a whole number, got '100'$",
    ),
    Case("subset-k-zero", on_small(mb.subset_landscapes, [0], 10, (-5, 5)), "^" + K_RULE + "0$"),
    Case("subset-k-float", on_small(mb.subset_landscapes, [2.5], 10, (-5, 5)), "^" + K_RULE + "2.5$"),
    Case(
        "subset-none",
        on_small(mb.subset_landscapes, [], 10, (-5, 5)),
        r"^subset sizes ks must name at least one batch size$",
    ),
    Case(
        "subset-resolution",
        on_small(mb.subset_landscapes, [5], 1.5, (-5, 5)),
        r"^heatmap resolution must be a whole number, got 1.5$",
    ),
]

DECLARATION_CASES = [
    Case(
        "undeclared-symbol",
        declared(GAUSSIAN, density=GAUSSIAN.density * sp.Symbol("k")),
        r"^gaussian: the density uses 'k', which is neither data, a parameter nor a constant$",
    ),
    Case(
        "undeclared-in-prior",
        declared(GAUSSIAN, prior=sp.exp(-sp.Symbol("tau") * mu**2)),
        r"^gaussian: the prior uses 'tau', which is neither data, a parameter nor a constant$",
    ),
    Case(
        "random-variable",
        declared(GAUSSIAN, density=__import__("sympy.stats").stats.Normal("X", mu, sp.sqrt(sigma2))),
        r"^gaussian: the density is a sympy.stats random variable; pass its density as an expression, density\(X\)\(x\)$",
    ),
    Case(
        "density-string",
        declared(GAUSSIAN, density="exp(-x**2)"),
        r"^gaussian: the density must be a SymPy expression, got str$",
    ),
    Case(
        "prior-not-expression",
        declared(GAUSSIAN, prior=0.5),
        r"^gaussian: the prior must be a SymPy expression, got float$",
    ),
    Case(
        "data-not-in-density",
        declared(GAUSSIAN, density=sp.exp(-(mu**2)) / sigma2),
        r"^gaussian: the data symbol 'x' does not appear in the density$",
    ),
    Case(
        "not-normalised",
        declared(NOT_NORMALISED),
        r"^gaussian: the density must integrate \(or sum\) to 1 over the support; at mu = -3/5, sigma\^2 = 7/10 it gives 2$",
    ),
    Case(
        "poisson-not-normalised",
        declared(POISSON, density=POISSON.density * sp.Rational(101, 100)),
        r"^poisson: the density must integrate \(or sum\) to 1 over the support; at lambda = 7/10 it gives 1.01$",
    ),
    Case(
        "coin-not-normalised",
        declared(COIN_UNIFORM, density=theta**x),
        r"^coin_uniform: the density must integrate \(or sum\) to 1 over the support",
    ),
    Case(
        "range-not-normalised",  # k in 0..10, summed to its end
        declared(binomial_model(sp.Range(0, 11)), density=2 * binomial_model(sp.Range(0, 11)).density),
        r"^binomial10: the density must integrate \(or sum\) to 1 over the support; at p = 3/10 it gives 2$",
    ),
    Case(
        "two-responses-not-normalised",  # integrated over both responses, one inside the other
        lambda tmp: derive(pair_of_exponentials(2)),
        r"^pair: the density must integrate \(or sum\) to 1 over the support; at lambda = 7/10 it gives 2$",
    ),
    Case(
        "overflowing-not-normalised",  # cosh overflows far out, sech is 0 there: numpy's warning is not a failure
        declared(hyperbolic_secant(), density=2 * hyperbolic_secant().density),
        r"^hyperbolic_secant: the density must integrate \(or sum\) to 1 over the support; at mu = -3/5 it gives 2$",
    ),
    Case(
        "bounded-above-not-normalised",  # a domain (-oo, 0) is sampled 7/10 and 21/10 below its end
        lambda tmp: derive(reflected_exponential(2)),
        r"^reflected: the density must integrate \(or sum\) to 1 over the support; at lambda = -7/10 it gives 2$",
    ),
    Case(
        "oscillating-not-normalised",  # (1 + cos 10x) e^(-x 7/10) takes quad past its default 50 subintervals
        declared(EXPONENTIAL, density=EXPONENTIAL.density * (1 + sp.cos(10 * EXPONENTIAL.data[0]))),
        r"^exponential: the density must integrate \(or sum\) to 1 over the support; at lambda = 7/10 it gives 1.0048761$",
    ),
    Case(
        "negative-density",
        declared(EXPONENTIAL, density=-EXPONENTIAL.density),
        r"^exponential: the density must be real and non-negative; at lambda = 7/10 it takes -0.3476\d*$",
    ),
    Case(
        "complex-density",
        declared(EXPONENTIAL, density=EXPONENTIAL.density * (1 + sp.I * EXPONENTIAL.data[0])),
        r"^exponential: the density must be real and non-negative; at lambda = 7/10 it takes 0\.3476\d*\+0\.3476\d*j$",
    ),
    Case(
        "negative-prior",
        declared(GAUSSIAN, prior=-sp.exp(mu)),
        r"^gaussian: the prior must be non-negative; at mu = -3/5, sigma\^2 = 7/10 it is -exp\(-3/5\)$",
    ),
    Case(
        "observed-outside-support",
        declared(POISSON, observed={x: (1, 2.5)}),
        r"^poisson: data 'x' must lie in Naturals0, got 2.5 at index 1$",
    ),
    Case(
        "observed-not-numbers",
        declared(COIN_UNIFORM, observed={x: ("h", "t")}),
        r"^coin_uniform: data 'x' must be real numbers, got strings",
    ),
    Case(
        "observed-column-missing",
        declared(wrap(COIN_UNIFORM, observed={sp.Symbol("z"): (1, 0)})),
        r"^coin_uniform: observed data name 'z', which is not a data symbol \(the model's are \['x'\]\)$",
    ),
]

M = sp.Symbol("m")

DECLARED_CASES = [  # refused where the model or question is written, before anything derives it
    Case(
        "no-parameter",  # sympy's ShapeError (`len(varlist)` must not be zero) when derived
        lambda tmp: Model("m", "m", (x,), (), sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)),
        r"^m: declares no parameter; a model needs at least one to estimate$",
    ),
    Case(
        "parameter-not-declared-as-one",  # AttributeError ('Symbol' has no attribute 'symbol') when derived
        lambda tmp: Model("m", "m", (x,), (mu,), sp.exp(-((x - mu) ** 2) / 2) / sp.sqrt(2 * sp.pi)),
        r"^m: params must be a tuple of Parameter, got mu \(Symbol\)$",
    ),
    Case(
        "prior-negative-between-checked-points",  # TypeError (complex to float) picking the MAP
        lambda tmp: wrap(COIN_MAP, prior=(theta - sp.Rational(1, 2)) ** 2 - sp.Rational(1, 100)),
        r"^coin_map: the prior must be non-negative; at theta = 0\.4\d* it is -0\.000\d+$",
    ),
    Case(
        "nan-prior-mean-as-constant",  # IndexError in LBFGS at the data
        lambda tmp: wrap(GAUSSIAN, prior=sp.exp(-((mu - M) ** 2)), constants={M: float("nan")}),
        r"^gaussian: the constant m must be a finite real number, got nan$",
    ),
    Case(
        "infinite-constant",
        lambda tmp: wrap(GAUSSIAN, prior=sp.exp(-((mu - M) ** 2)), constants={M: sp.oo}),
        r"^gaussian: the constant m must be a finite real number, got oo$",
    ),
    Case(
        "text-constant",
        lambda tmp: wrap(GAUSSIAN, prior=sp.exp(-((mu - M) ** 2)), constants={M: "0.5"}),
        r"^gaussian: the constant m must be a finite real number, got '0.5'$",
    ),
    Case(
        "nan-prior-at-declaration",
        lambda tmp: wrap(GAUSSIAN, prior=sp.exp(-((mu - float("nan")) ** 2))),
        r"^gaussian: the prior contains nan or an infinity: nan$",
    ),
    Case(
        "observed-object-array",  # never cast: '2' is text
        lambda tmp: derive(wrap(GAUSSIAN, observed={x: np.array([1, "2", 3.0], dtype=object)})),
        r"^gaussian: data 'x' must be real numbers, got '2' \(str\)$",
    ),
    Case(
        "question-text-none",  # the report printed "None"
        lambda tmp: Estimate("q", None, GAUSSIAN),
        r"^question q: its text: must be text \(a str\), got NoneType$",
    ),
    # keys by name: observed, truth and peers take names or symbols; anything else is one line (was AttributeError)
    Case(
        "observed-key-a-number",
        lambda tmp: wrap(COIN_UNIFORM, observed={3: (1, 0)}),
        r"^coin_uniform: observed data keys must be data names or symbols \(\['x'\]\), got 3 \(int\)$",
    ),
    Case(
        "observed-a-list",
        lambda tmp: wrap(COIN_UNIFORM, observed=[1, 0]),
        r"^coin_uniform: observed must map data names \(or symbols\) to values, got list$",
    ),
    Case(
        "observed-column-a-number",
        lambda tmp: wrap(COIN_UNIFORM, observed={"x": 1}),
        r"^coin_uniform: observed data 'x' must be a list or array of values, got 1$",
    ),
    Case(
        "observed-column-text",
        lambda tmp: wrap(COIN_UNIFORM, observed={"x": "1010"}),
        r"^coin_uniform: observed data 'x' must be a list or array of values, got '1010'$",
    ),
    Case(
        "observed-name-unknown",
        declared(wrap(COIN_UNIFORM, observed={"z": (1, 0)})),
        r"^coin_uniform: observed data name 'z', which is not a data symbol \(the model's are \['x'\]\)$",
    ),
    Case(
        "truth-key-a-number",
        lambda tmp: wrap(GAUSSIAN, truth={1: 2.0}),
        r"^gaussian: truth's keys must be parameter names or symbols, got 1 \(int\)$",
    ),
    Case(
        "truth-a-list",
        lambda tmp: wrap(GAUSSIAN, truth=[1.5, 4.0]),
        r"^gaussian: truth must map parameter names to values, got list$",
    ),
    Case(
        "peer-text",
        lambda tmp: wrap(GAUSSIAN, peer="scipy.stats.norm.fit"),
        r"^gaussian: peer must be a function of the data, got str$",
    ),
    Case(
        "peer-keys-numbers",
        lambda tmp: wrap(GAUSSIAN, peer=lambda d: {0: 1.0}).peer({"x": np.array([1.0])}),
        r"^gaussian: its peer's keys must be parameter names or symbols, got 0$",
    ),
    # priors by name
    Case(
        "named-prior-key-not-a-parameter",
        lambda tmp: wrap(GAUSSIAN, prior={"tau": Normal(0, 1)}),
        r"^gaussian: the prior's key 'tau' must name a parameter \(one of \['mu', 'sigma\^2'\]\), by its name or",
    ),
    Case(
        "named-prior-of-one-on-two-parameters",
        lambda tmp: wrap(GAUSSIAN, prior=Normal(0, 1)),
        r"^gaussian: the prior Normal\(0, 1\) is of one parameter, and the model has 2; give a mapping",
    ),
    Case(
        "named-prior-off-its-domain",
        lambda tmp: wrap(EXPONENTIAL, prior=Beta(2, 2)),
        r"^exponential: the prior Beta\(2, 2\) is a density on Interval\(0, 1\), but lambda ranges over",
    ),
    Case(
        "named-prior-text",
        lambda tmp: wrap(EXPONENTIAL, prior={"lambda": "gamma"}),
        r"^exponential: the prior of lambda must be Beta\(...\), Gamma\(...\), Normal\(...\) or a SymPy expression, got str$",
    ),
    Case("gamma-prior-negative-rate", lambda tmp: Gamma(2, -1), r"^Gamma's rate must be > 0, got -1$"),
    Case(
        "normal-prior-sd-text",
        lambda tmp: Normal(0, "1"),
        r"^Normal's standard deviation must be a real number, got '1'$",
    ),
    Case(
        "beta-prior-nan", lambda tmp: Beta(float("nan"), 1), r"^Beta's first shape a must be a finite number, got nan$"
    ),
    # models from distributions
    Case(
        "distribution-unknown",
        lambda tmp: Model.from_distribution("gama"),
        r"^from_distribution: unknown distribution 'gama'; known are \['bernoulli', 'beta',",
    ),
    Case(
        "distribution-a-number",
        lambda tmp: Model.from_distribution(3),
        r"^from_distribution: 3 is not a distribution it knows; give a name",
    ),
    Case(
        "distribution-parameter-misspelt",
        lambda tmp: Model.from_distribution("gamma", shpe=2),
        r"^from_distribution: gamma has no parameter 'shpe'; its parameters are \['shape', 'scale'\]",
    ),
    Case(
        "distribution-parameter-text",
        lambda tmp: Model.from_distribution("gamma", shape=2, scale="theta"),
        r"^from_distribution: gamma's scale must be a SymPy symbol \(estimated\) or a number \(known\), got the "
        r"text 'theta'$",
    ),
    Case(
        "distribution-parameter-expression",
        lambda tmp: Model.from_distribution("gamma", scale=2 * theta),
        r"^from_distribution: gamma's scale must be a SymPy symbol .* got the expression 2\*theta$",
    ),
    Case(
        "distribution-all-known",
        lambda tmp: Model.from_distribution("gamma", shape=2, scale=1),
        r"^from_distribution: every parameter of gamma is known; leave one to estimate$",
    ),
    Case(
        "distribution-binomial-n-unknown",
        lambda tmp: Model.from_distribution("binomial"),
        r"^from_distribution: binomial's n must be known, a positive integer, got n$",
    ),
    Case(
        "distribution-known-outside-domain",
        lambda tmp: Model.from_distribution("gamma", shape=-1),
        r"^from_distribution: gamma's shape must lie in Interval.open\(0, oo\), got -1$",
    ),
    Case(
        "distribution-known-a-list",
        lambda tmp: Model.from_distribution("gamma", known=[2]),
        r"^from_distribution: known must map parameter names to numbers, got list$",
    ),
    Case(
        "distribution-given-twice",
        lambda tmp: Model.from_distribution("gamma", 2, shape=2),
        r"^from_distribution: gamma's 'shape' is given twice$",
    ),
    Case(
        "distribution-data-a-number",
        lambda tmp: Model.from_distribution("gamma", data=3),
        r"^from_distribution: data must be the data symbol or its name, got 3$",
    ),
]

OUTCOME_CASES = [
    Case("no-closed-form", no_closed_form, "no closed form: the log-density does not separate", "reported"),
    Case(
        "separable-no-closed-form",
        gamma_shape,
        r"^no closed form: sympy.solve cannot solve the score equation: No algorithms are implemented",
        "reported",
    ),
    Case("unbounded-posterior", unbounded_posterior, r"^did not converge: ", "reported"),
    Case("statistics-given-are-used", given_statistics, r"^theta = 1.0$", "reported"),
    Case(
        "float32-parameters",
        float32_gradient,
        r"^parameter 'mu' must be float64 for gradient checks, got torch.float32$",
    ),
    Case("float32-data", float32_data, r"^data 'x' must be float64 for gradient checks, got torch.float32$"),
    Case(
        "check-data-no-source",
        lambda tmp: check_data(wrap(GAUSSIAN, simulate=None), 0),
        r"^gaussian: declares neither observed data nor a simulate hook$",
    ),
]

CLI_CASES = [
    Case(
        "cli-unknown-section",
        cli("--only", "task9"),
        r"--only: unknown section 'task9'; choose from theory, task1, task2, task3a, task3b, praxis, appendix$",
        "exit 2",
    ),
    Case("cli-bad-format", cli("--format", "md,docx"), r"choose from md,tex,pdf,html, got 'md,docx'", "exit 2"),
    Case("cli-empty-format", cli("--format", ","), r"choose from md,tex,pdf,html, got ','", "exit 2"),
    Case("cli-n-zero", cli("--n", "0"), r"argument --n: must be >= 1, got 0", "exit 2"),
    Case("cli-n-text", cli("--n", "ten"), r"argument --n: must be a whole number, got 'ten'", "exit 2"),
    Case(
        "cli-n-one-praxis",
        cli("--n", "1", "--only", "praxis"),
        r"argument --n: a study needs at least 2 draws, got 1",
        "exit 2",
    ),
    Case("cli-seed-negative", cli("--seed", "-1"), r"argument --seed: must be in \[0, 2\*\*32 - 1\], got -1", "exit 2"),
    Case("cli-seed-huge", cli("--seed", str(2**32)), r"argument --seed: must be in \[0, 2\*\*32 - 1\]", "exit 2"),
    Case("cli-seed-text", cli("--seed", "abc"), r"argument --seed: must be a whole number, got 'abc'", "exit 2"),
    Case(
        "cli-resolution-one",
        cli("--resolution", "1"),
        r"argument --resolution: must be a whole number >= 2 \(grid points per axis\), got 1",
        "exit 2",
    ),
    Case(
        "cli-resolution-float",
        cli("--resolution", "2.5"),
        r"argument --resolution: must be a whole number, got '2.5'",
        "exit 2",
    ),
    Case(
        "cli-out-is-file",
        lambda tmp: main(["--out", str(tmp / "f"), "--only", "task1"]),
        r"is a file; it must be a directory",
        "exit 2",
        a_file,
    ),
    Case(
        "cli-out-under-file",
        lambda tmp: main(["--out", str(tmp / "f" / "r"), "--only", "task1"]),
        "cannot create its parent directory",
        "exit 2",
        a_file,
    ),
    Case(
        "cli-out-empty",
        cli_out(""),
        r"--out must name a directory, got an empty string \(it would be the working directory\)$",
        "exit 2",
        user_files,
    ),
    Case(
        "cli-out-dot",
        cli_out("."),
        r"is the working directory or one of its parents; choose a new directory$",
        "exit 2",
        user_files,
    ),
    Case("cli-out-parent", cli_out(".."), r"is the working directory or one of its parents", "exit 2", user_files),
    Case("cli-out-root", cli_out("/"), r"--out / is a filesystem root or mount point", "exit 2", user_files),
    Case(
        "cli-out-user-files",
        cli_out("thesis"),
        r"holds files that mlemap did not write \(no .mlemap-report marker\); choose a new or empty directory$",
        "exit 2",
        user_files,
    ),
    Case(
        "cli-out-report-with-user-file",
        cli_out("report"),
        r"holds 'my-notes.txt', which the previous report did not write",
        "exit 2",
        a_report_with_a_user_file,
        builds=True,
    ),
    Case("cli-out-symlink", cli_out("link"), r"is a symbolic link; name the directory itself$", "exit 2", a_symlink),
    Case(
        "cli-out-home",
        lambda tmp: main(["--out", str(Path.home()), "--only", "task1"]),
        "home directory|working directory|holds files",
        "exit 2",
    ),
    Case(
        "cli-full-disk",
        full_disk,
        r"step 'write' failed: no space left on the device writing .*report.md; the previous report in .* is untouched$",
        "exit 1",
        builds=True,
    ),
    Case(
        "verify-seed-negative",
        verify_cli("--seed", "-1"),
        r"argument --seed: must be in \[0, 2\*\*32 - 1\], got -1",
        "exit 2",
    ),
    Case(
        "verify-json-directory",
        lambda tmp: verify_main(["--json", str(tmp)]),
        r"argument --json: .* is a directory; name a file",
        "exit 2",
    ),
    Case(
        "verify-json-under-file",
        lambda tmp: verify_main(["--json", str(tmp / "f" / "v.json")]),
        r"argument --json: .*f is not a directory",
        "exit 2",
        a_file,
    ),
    Case("verify-unknown-model", verify_cli("--model", "nope"), "invalid choice: 'nope'", "exit 2"),
    Case(  # root may write anywhere os.access looks, but not in /proc: found before any check runs
        "verify-json-in-proc",
        lambda tmp: verify_main(["--json", "/proc/x.json"]),
        r"argument --json: /proc/x\.json: (cannot make a file in /proc \(.*\)|/proc is not writable)$",
        "exit 2",
    ),
    Case(
        "verify-json-under-missing-unwritable",
        lambda tmp: verify_main(["--json", "/proc/missing/x.json"]),
        r"argument --json: /proc/missing/x\.json: (cannot make a file in /proc \(.*\)|/proc is not writable)$",
        "exit 2",
    ),
    Case(
        "verify-junit-in-proc",
        verify_cli("--junit", "/proc/x.xml"),
        r"argument --junit: /proc/x\.xml: (cannot make a file in /proc \(.*\)|/proc is not writable)$",
        "exit 2",
    ),
    Case(
        "verify-json-name-too-long",  # ENAMETOOLONG for its temporary file, after every check had run
        lambda tmp: verify_main(["--json", str(tmp / ("j" * 250 + ".json"))]),
        r"argument --json: .*: its name is 255 bytes long; at most 240$",
        "exit 2",
    ),
    Case(
        "cli-out-name-too-long",
        cli_out("r" * 250),
        r"--out's last part is 250 bytes long; at most 200",
        "exit 2",
        user_files,
    ),
    *[
        Case(f"cli-sheet-{name}", with_sheet, expect, "exit 2", lambda tmp, body=body: a_sheet(tmp, body))
        for name, body, expect in [
            (
                "base-exception",
                "class Boom(BaseException):\n    pass\nraise Boom('sheet blew up')\n",
                r"argument --sheet: .*/sheet\.py: Boom: sheet blew up$",
            ),
            (
                "exits-0",
                "import sys\nsys.exit(0)\n",
                r"argument --sheet: .*/sheet\.py: the file called sys\.exit\(0\) while loading; a sheet file only declares$",
            ),
            (
                "title-none",
                SHEET_HEAD + "SHEET = Sheet(title=None, questions=(Estimate('q1', 'What is lambda?', EXPONENTIAL),))\n",
                r"argument --sheet: .*/sheet\.py: the sheet's title: must be text \(a str\), got NoneType$",
            ),
            (
                "question-text-none",
                SHEET_HEAD + "SHEET = Sheet(title='Small', questions=(Estimate('q1', None, EXPONENTIAL),))\n",
                r"argument --sheet: .*/sheet\.py: question q1: its text: must be text \(a str\), got NoneType$",
            ),
        ]
    ],
]

CASES = (
    DATA_CASES
    + PRIOR_CASES
    + SIGMA_CASES
    + CONFIG_CASES
    + RATE_CASES
    + BATCH_CASES
    + DECLARATION_CASES
    + DECLARED_CASES
    + OUTCOME_CASES
    + CLI_CASES
)


def snapshot(directory: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else None) for p in sorted(directory.rglob("*"))
    }


def outcome_of(case: Case, tmp_path: Path, capsys) -> str:
    if case.outcome == "error":
        with pytest.raises(InputError) as exc:
            case.action(tmp_path)
        return str(exc.value)
    if case.outcome.startswith("exit"):
        try:
            code = case.action(tmp_path)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        assert f"exit {code}" == case.outcome
        return capsys.readouterr().err.strip().splitlines()[-1]  # argparse prints its usage above the error line
    return str(case.action(tmp_path))


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.id, marks=[pytest.mark.build] if c.builds else []) for c in CASES]
)
def test_bad_input(case, tmp_path, capsys):
    if case.setup is not None:
        case.setup(tmp_path)
    capsys.readouterr()
    before = snapshot(tmp_path)
    message = outcome_of(case, tmp_path, capsys)
    assert "\n" not in message.strip(), f"not one line: {message!r}"
    assert "Traceback" not in message
    assert re.search(case.expect, message), message
    assert snapshot(tmp_path) == before, "the user's files changed"


@pytest.mark.build
def test_interrupted_build_keeps_the_previous_report(tmp_path, monkeypatch, capsys):
    from mlemap.reports import sheet_document

    out = tmp_path / "report"
    assert main(["--out", str(out), "--only", "task1", "--format", "md"]) == 0
    before = snapshot(tmp_path)
    monkeypatch.setattr(sheet_document, "sheet_sections", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(["--out", str(out), "--only", "task1", "--format", "md"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"interrupted; the previous report in {out} is untouched"
    assert snapshot(tmp_path) == before


def test_a_float_sigma_is_taken_exactly():
    """1 + 1e-9 is not rounded to 1: the matrix is positive definite, and its entry is the float's exact value."""
    sigma = exact_sigma(((1 + 1e-9, 1), (1, 1)))
    assert sigma[0, 0] == sp.Rational(1 + 1e-9) != 1 and sigma.det() > 0


def test_catalogue_is_large_enough():
    assert len(CASES) >= 120
    assert len({c.id for c in CASES}) == len(CASES)


MODELS_FILE = """
import dataclasses
import sys

import mlemap.catalogue as c

GOOD = c.EXPONENTIAL


def fails(rng, n, truth):
    {fails}


BAD = dataclasses.replace(c.GAUSSIAN, name="bad", {change})
"""

BROKEN = {
    "simulate-raises": (
        "raise RuntimeError('no sample today')",
        "simulate=fails",
        "data",
        r"^error: bad: its simulate hook raised RuntimeError: no sample today$",
    ),
    "simulate-exits": (
        "sys.exit(0)",
        "simulate=fails",
        "data",
        r"^error: bad: its simulate hook raised SystemExit: 0$",
    ),
    "truth-missing-a-parameter": (
        "pass",
        "truth={'mu': 1.0}",
        "data",
        r"^error: bad: truth gives no value for 'sigma\^2'; the simulate hook draws at truth, which must name every "
        r"parameter$",
    ),
    "not-derivable": (
        "pass",
        "density=2 * c.GAUSSIAN.density",
        "derive",
        r"^error: bad: the density must integrate \(or sum\) to 1 over the support",
    ),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_verify_reports_a_model_it_cannot_check_in_one_line_and_checks_the_others(kind, tmp_path, capsys):
    """`verify --models FILE`: the broken model is one FAIL and one line on stderr; the file's other model is
    verified in full (it used to be a traceback, and nothing verified)."""
    body, change, check, message = BROKEN[kind]
    path = tmp_path / "models.py"
    path.write_text(MODELS_FILE.format(fails=body, change=change))
    capsys.readouterr()
    assert verify_main(["--models", str(path), "--json", str(tmp_path / "v.json")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert re.search(message, err.strip()), err
    rows = json.loads((tmp_path / "v.json").read_text())["checks"]
    assert [(r["check"], r["status"]) for r in rows if r["model"] == "bad"] == [(check, "FAIL")]
    good = [r["status"] for r in rows if r["model"] == "exponential"]
    assert good.count("PASS") > 5 and set(good) <= {"PASS", "SKIP"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.py", "v.json"]  # no __pycache__ beside it


PEER_SHEET = """
import sys

from mlemap.derivations.sheet import Estimate, Sheet
from mlemap.catalogue import COIN_MAP


def peer():
    {body}


SHEET = Sheet(title="Peer", questions=(Estimate("q1", "What is theta?", COIN_MAP),), peers={{"q1.theta_map": peer}})
"""


@pytest.mark.parametrize(
    ("body", "reason"),
    [("raise ValueError('scipy is down')", "ValueError: scipy is down"), ("sys.exit(0)", "SystemExit: 0")],
    ids=["raises", "exits"],
)
def test_a_sheet_peer_that_fails_is_its_answer_check_failing_in_one_line(body, reason, tmp_path, capsys):
    path = tmp_path / "sheet.py"
    path.write_text(PEER_SHEET.format(body=body))
    capsys.readouterr()
    assert verify_main(["--sheet", str(path), "--json", str(tmp_path / "v.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: the sheet's peer for q1.theta_map raised {reason}"
    rows = json.loads((tmp_path / "v.json").read_text())["checks"]
    assert [r["status"] for r in rows if r["check"] == "answer q1.theta_map"] == ["FAIL"]
    assert {r["status"] for r in rows if r["model"] == "coin_map" and not r["check"].startswith("answer")} <= {
        "PASS",
        "SKIP",
    }


def test_verify_writes_its_json_beside_directories_named_like_temporary_files(tmp_path, capsys):
    """results.tmp (or .results.json.tmp) a directory: the results are written through a temporary file of
    their own, and those directories are left as they were."""
    for name in ("results.tmp", ".results.json.tmp", "results.json.part"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "mine.txt").write_text("mine")
    path = tmp_path / "models.py"
    path.write_text("from mlemap.catalogue import EXPONENTIAL\n")
    before = snapshot(tmp_path)
    assert verify_main(["--models", str(path), "--json", str(tmp_path / "results.json")]) == 0
    assert json.loads((tmp_path / "results.json").read_text())["passed"] is True
    assert snapshot(tmp_path) == before | {"results.json": (tmp_path / "results.json").read_bytes()}
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.build
def test_a_sheet_file_runs_once_per_build(tmp_path):
    """The command line's check of --sheet and the build share one run of the file (its side effects happen once)."""
    counter = tmp_path / "runs.txt"
    sheet = tmp_path / "sheet.py"
    sheet.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            counter = Path({str(counter)!r})
            counter.write_text(counter.read_text() + "ran\\n" if counter.exists() else "ran\\n")
            {SHEET_HEAD.replace(chr(10), chr(10) + " " * 12)}
            SHEET = Sheet(title="Small", questions=(Estimate("q1", "What is lambda?", EXPONENTIAL),))
            """
        )
    )
    assert main(["--sheet", str(sheet), "--out", str(tmp_path / "out"), "--format", "md"]) == 0
    assert counter.read_text() == "ran\n"


STUDY_SHEET = """
import dataclasses
import sys

import mlemap.catalogue as c
from mlemap.derivations.sheet import OptimizerStudy, Sheet


def fails(rng, n, truth):
    {fails}


MODEL = dataclasses.replace(c.GAUSSIAN, name="bad", simulate=fails)
SHEET = Sheet("A study", (OptimizerStudy("study", "Ascend.", MODEL, n=50),))
"""


@pytest.mark.build
@pytest.mark.parametrize(
    "fails, said", [("raise ValueError('no sample')", "ValueError: no sample"), ("sys.exit(3)", "SystemExit: 3")]
)
def test_a_sheets_simulate_failing_during_the_build_is_one_line(fails, said, tmp_path, capsys):
    """The sheet's own code runs during the build too (a study draws its sample): whatever it raises, a
    sys.exit() included, is one line naming the model, exit 2, and nothing is written."""
    sheet = tmp_path / "study.py"
    sheet.write_text(STUDY_SHEET.format(fails=fails))
    out = tmp_path / "report"
    assert main(["--sheet", str(sheet), "--out", str(out), "--format", "md"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(f"bad: its simulate hook raised {said}") and "Traceback" not in "\n".join(err)
    assert err[-1].startswith("error: ")
    assert not out.exists()


@pytest.mark.parametrize("index", range(22))
def test_a_hostile_student_answer_is_one_line_from_the_command_line(index, capsys):
    """The students' answers' hostile payloads (tests/test_check.HOSTILE) as the check command gets them: one
    line, no traceback, an exit code by verdict, and nothing run."""
    from mlemap.numerics.check import main as check_main
    from tests.test_check import HOSTILE

    assert len(HOSTILE) == 22
    code = check_main(["task1.mu_mle", HOSTILE[index]])
    out, err = capsys.readouterr()
    assert code in (1, 2) and "Traceback" not in out + err
    assert len((out + err).strip().splitlines()) <= 3  # the verdict, and where a mistake is named its step and data
    assert not Path("/tmp/pwned").exists()
