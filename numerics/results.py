"""A numerical check's result: its error, its tolerance, and what it compared, in words a report can print."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np

from mlemap.derivations.model import Model

# error = max |computed - reference| / max(|reference|, 1) unless the check says otherwise.
DEFAULT_TOLERANCES: dict[str, float] = {
    "stats_rewrite": 1e-10,
    "autograd": 1e-9,
    "taylor_slope": 0.1,
    "finite_difference": 1e-6,
    "hessian_autograd": 1e-8,
    "scipy_optimize": 1e-5,
    "torch_optim": 1e-6,
    "stationary": 1e-6,
    "negative_definite": 0.0,
    "peer": 1e-6,
    "regimes": 1e-9,
    "newton": 1e-6,
}
# What each check compares, in words a report can print (its id is for programs).
COMPARES: dict[str, str] = {
    "stats_rewrite": "log-likelihood in statistics vs the sum of log-densities",
    "autograd": "derived score vs automatic differentiation",
    "taylor_slope": "first-order Taylor remainder shrinks quadratically",
    "finite_difference": "derived score vs central finite differences",
    "hessian_autograd": "derived Hessian vs automatic differentiation",
    "scipy_optimize": "closed form vs scipy.optimize's optimum",
    "torch_optim": "closed form vs torch.optim's optimum",
    "stationary": "score at the closed form is zero",
    "negative_definite": "Hessian at the estimate is negative definite",
    "peer": "closed form vs an independent fit (scipy.stats or least squares)",
    "regimes": "closed form vs a numerical search, in every regime of its pieces",
    "newton": "Newton's method with the derived score and Hessian vs torch.optim's optimum",
    "cramer_rao_mc": "estimator variance vs the Cramer-Rao bound (Monte Carlo)",
    "bias_mc": "derived bias vs the Monte Carlo mean",
}
# The same, for a model with no closed form: the reference is then a numerical optimum.
COMPARES_NUMERICAL: dict[str, str] = {
    "scipy_optimize": "scipy.optimize's optimum vs torch.optim's (no closed form)",
    "torch_optim": "torch.optim's optimum vs scipy.optimize's (no closed form)",
    "stationary": "score at the numerical optimum is zero",
    "peer": "numerical optimum vs an independent fit (scipy.stats or least squares)",
}


def compares(check: str) -> str:
    """What a check compares, in words; an answer check compares a sheet's answer with its peer."""
    return COMPARES.get(
        check,
        f"{check.removeprefix('answer ')} vs an independent scipy computation"
        if check.startswith("answer ")
        else check,
    )


class Status(StrEnum):
    """A check's verdict: PASS and FAIL compare within a tolerance; SKIP did not apply (its detail says why)."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class CheckResult:
    model: str
    check: str
    error: float
    tolerance: float
    passed: bool
    detail: str = ""
    versus: str = ""  # what was compared, where it is not the check's usual pair (COMPARES)
    skipped: bool = False  # the check did not apply: SKIP, never FAIL

    @property
    def compares(self) -> str:
        """What this check compared, in words a report can print."""
        return self.versus or compares(self.check)

    @property
    def status(self) -> Status:
        """PASS, FAIL, or SKIP for a check that does not apply (its detail says why)."""
        if self.skipped:
            return Status.SKIP
        return Status.PASS if self.passed else Status.FAIL

    def as_dict(self) -> dict:
        """For JSON: an error that is not a number (a SKIP's NaN, a crash's infinity) is null, never the NaN or
        Infinity strict JSON has no word for; the status and detail say why."""
        fields = {k: v for k, v in asdict(self).items() if k != "skipped"}
        fields["error"] = self.error if np.isfinite(self.error) else None
        return {**fields, "status": self.status.value}

    @property
    def shown_error(self) -> str:
        """The error for a table: n/a where the check measured none (a SKIP), else in 3 digits."""
        return "n/a" if self.skipped and not np.isfinite(self.error) else f"{self.error:.3e}"


def tolerance(model: Model, check: str) -> float:
    return float(model.tolerances.get(check, DEFAULT_TOLERANCES[check]))


def rel_error(computed, reference) -> float:
    computed, reference = np.asarray(computed, float), np.asarray(reference, float)
    if computed.shape != reference.shape or not np.all(np.isfinite(computed)):
        return float("inf")
    return float(np.max(np.abs(computed - reference) / np.maximum(np.abs(reference), 1.0)))


def result(model: Model, check: str, error: float, detail: str = "", closed_form: bool = True) -> CheckResult:
    """A check's result: passed when its error is finite and within the model's tolerance for the check."""
    tol = tolerance(model, check)
    versus = "" if closed_form else COMPARES_NUMERICAL[check]
    return CheckResult(model.name, check, float(error), tol, bool(np.isfinite(error) and error <= tol), detail, versus)
