"""The catalogue of bad inputs: each gets a one-line error naming the input and the rule (exit code 2
for CLI usage errors), or a reported outcome ("diverged", "no closed form"), and nothing is lost."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from derivations.engine import derive
from derivations.model import InputError
from derivations.models import CAUCHY, theta
from derivations.models import normal_prior as prior
from derivations.registry import MODELS, derivation
from numerics import praxis as px
from numerics.checks import run_checks
from numerics.compile import compiled
from reports import content
from reports.cli import main
from tests.conftest import gamma_shape_model


@dataclass(frozen=True)
class Case:
    id: str
    action: Callable  # (tmp_path) -> anything; may raise
    expect: str  # regex the one-line outcome must match
    outcome: str = "error"  # "error" (InputError), "exit N" (CLI) or "reported"


def validate(model: str, **data):
    return lambda tmp: MODELS[model].validate(data)


def small():
    return px.Praxis(px.PraxisConfig(n=300, seed=1))


def cli(*argv: str):
    return lambda tmp: main([*argv] + (["--out", str(tmp / "out")] if "--out" not in argv else []))


def out_is_file(tmp):
    (tmp / "f").write_text("x")
    return main(["--out", str(tmp / "f"), "--only", "task1", "--format", "md"])


def out_under_file(tmp):
    (tmp / "f").write_text("x")
    return main(["--out", str(tmp / "f" / "report"), "--only", "task1", "--format", "md"])


def interrupted_build(tmp, monkeypatch_document):
    out = tmp / "report"
    assert main(["--out", str(out), "--only", "task1", "--format", "md"]) == 0
    before = (out / "report.md").read_bytes()
    with monkeypatch_document():
        code = main(["--out", str(out), "--only", "task1", "--format", "md"])
    assert (out / "report.md").read_bytes() == before, "the previous report was touched"
    return code


def diverging_rate(tmp):
    p = small()
    bound = float(p.theory.bound.subs(px.n_sym, p.config.n))
    return px.gradient_ascent(p, 1.5 * bound).status


def no_closed_form(tmp):
    d = derive(CAUCHY)
    checks = run_checks(d)
    assert all(r.passed for r in checks), "numerics must still verify the numerical optimum"
    return f"no closed form: {d.no_closed_form}"


def gamma_shape(tmp):
    return f"no closed form: {derive(gamma_shape_model()).no_closed_form}"


def float32_gradient(tmp):
    c = compiled(derivation("gaussian"))
    leaves = {k: torch.tensor(1.0, requires_grad=True) for k in c.names}  # float32, torch's default
    return c.objective_torch(leaves, {"x": torch.ones(3, dtype=torch.float64)})


def float32_data(tmp):
    c = compiled(derivation("gaussian"))
    leaves = {k: torch.tensor(1.0, dtype=torch.float64, requires_grad=True) for k in c.names}
    return c.objective_torch(leaves, {"x": torch.ones(3)})


CASES = [
    # derivations: data and priors
    Case("empty-data", validate("gaussian", x=[]), r"^gaussian: needs at least 2 observations, got 0$"),
    Case("nan", validate("gaussian", x=[1.0, np.nan, 2.0]), r"^gaussian: data 'x' must be finite, got nan at index 1$"),
    Case("inf", validate("gaussian", x=[1.0, 2.0, -np.inf]), r"^gaussian: data 'x' must be finite, got -inf at index 2$"),
    Case("one-observation-variance", validate("gaussian", x=[1.0]), r"^gaussian: needs at least 2 observations, got 1$"),
    Case("constant-covariate", validate("linear_regression", x=[2, 2, 2, 2], y=[1, 2, 3, 4]), r"^linear_regression: covariate 'x' must not be constant \(its slope is not identifiable\)$"),
    Case("non-binary-coin", validate("coin_map", x=[0, 1, 2]), r"^coin_map: data 'x' must lie in \{0, 1\}, got 2.0 at index 2$"),
    Case("fractional-poisson", validate("poisson", x=[1, 2.5]), r"^poisson: data 'x' must lie in Naturals0, got 2.5 at index 1$"),
    Case("negative-exponential", validate("exponential", x=[1.0, -0.5]), r"^exponential: data 'x' must lie in Interval.open\(0, oo\), got -0.5 at index 1$"),
    Case("missing-column", validate("linear_regression", x=[1, 2, 3]), r"^linear_regression: data 'y' is missing \(the model needs \['x', 'y'\]\)$"),
    Case("unequal-columns", validate("linear_regression", x=[1, 2, 3], y=[1, 2]), r"^linear_regression: data columns must have equal length, got \{'x': 3, 'y': 2\}$"),
    Case("two-dimensional", validate("gaussian", x=[[1.0, 2.0], [3.0, 4.0]]), r"^gaussian: data 'x' must be one-dimensional, got shape \(2, 2\)$"),
    Case("strings", validate("gaussian", x=["a", "b"]), r"^gaussian: data 'x' must be numbers \(could not convert string to float: 'a'\)$"),
    Case("prior-variance-zero", lambda tmp: prior(theta, 0.5, 0), r"^prior variance must be > 0, got 0$"),
    Case("prior-variance-negative", lambda tmp: prior(theta, 0.5, -0.1), r"^prior variance must be > 0, got -1/10$"),
    Case("no-closed-form", no_closed_form, "no closed form: the log-density does not separate", "reported"),
    Case("separable-no-closed-form", gamma_shape, r"^no closed form: sympy.solve cannot solve the score equation: No algorithms are implemented", "reported"),
    # numerics
    Case("lr-zero", lambda tmp: px.gradient_ascent(small(), 0.0), "learning rate must be a finite number > 0, got 0.0"),
    Case("lr-negative", lambda tmp: px.sgd(small(), 5, -1e-3, 3), "learning rate must be a finite number > 0"),
    Case("lr-past-bound", diverging_rate, "^diverged$", "reported"),
    Case("batch-zero", lambda tmp: px.sgd(small(), 0, 1e-3, 3), r"batch size k must be an integer in \[1, n = 300\], got 0"),
    Case("batch-above-n", lambda tmp: px.sgd(small(), 301, 1e-3, 3), r"batch size k must be an integer in \[1, n = 300\], got 301"),
    Case("singular-sigma", lambda tmp: px.PraxisConfig(sigma=((1, 1), (1, 1))), "Sigma must be positive definite"),
    Case("indefinite-sigma", lambda tmp: px.PraxisConfig(sigma=((1, 2), (2, 1))), "Sigma must be positive definite"),
    Case("asymmetric-sigma", lambda tmp: px.PraxisConfig(sigma=((2, 1), (0, 2))), "Sigma must be symmetric"),
    Case("sigma-not-numbers", lambda tmp: px.PraxisConfig(sigma=(("a", 0), (0, 1))), r"^Sigma must be a 2x2 matrix of real numbers, got \[\[a, 0\], \[0, 1\]\]$"),
    Case("sigma-wrong-shape", lambda tmp: px.PraxisConfig(sigma=((1, 0, 0), (0, 1, 0))), r"Sigma must be 2x2, got shape \(2, 3\)"),
    Case("praxis-data-shape", lambda tmp: px.columns(np.zeros((4, 3))), r"data must have shape \(n, 2\), got \(4, 3\)"),
    Case("praxis-data-dtype", lambda tmp: px.columns(np.array([["a", "b"]])), "data must be numeric, got dtype <U1"),
    Case("praxis-n-zero", lambda tmp: px.PraxisConfig(n=0), "n must be a positive integer, got 0"),
    Case("float32-parameters", float32_gradient, "parameter 'mu' must be float64 for gradient checks, got torch.float32"),
    Case("float32-data", float32_data, "data 'x' must be float64 for gradient checks, got torch.float32"),
    Case("unknown-schedule", lambda tmp: px.sgd(small(), 5, 1e-3, 3, schedule="cosine"), "schedule must be 'constant' or 'inverse_t'"),
    # CLI
    Case("cli-unknown-section", cli("--only", "task9"), "invalid choice: 'task9'", "exit 2"),
    Case("cli-bad-format", cli("--format", "md,docx"), "choose from md,tex,pdf", "exit 2"),
    Case("cli-n-zero", cli("--n", "0"), "must be >= 1, got 0", "exit 2"),
    Case("cli-out-is-file", out_is_file, "is a file; it must be a directory", "exit 2"),
    Case("cli-out-unwritable", out_under_file, "cannot create its parent directory", "exit 2"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, capsys):
    if case.outcome == "error":
        with pytest.raises(InputError) as exc:
            case.action(tmp_path)
        message = str(exc.value)
    elif case.outcome.startswith("exit"):
        try:
            code = case.action(tmp_path)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        assert f"exit {code}" == case.outcome
        message = capsys.readouterr().err.strip().splitlines()[-1]  # argparse prints its usage above the error line
    else:
        message = str(case.action(tmp_path))
    assert "\n" not in message.strip(), f"not one line: {message!r}"
    assert "Traceback" not in message
    assert re.search(case.expect, message), message


def test_interrupted_build_keeps_the_previous_report(tmp_path, monkeypatch, capsys):
    from contextlib import contextmanager

    @contextmanager
    def failing_document():
        with monkeypatch.context() as m:
            m.setattr(content, "document", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
            yield

    assert interrupted_build(tmp_path, failing_document) == 1
    assert "step 'figures' failed: KeyboardInterrupt" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_catalogue_is_large_enough():
    assert len(CASES) >= 25

