"""The numerical work of each question kind, one entry per kind: what a report computes for it beyond its
exact answers, and the checks that work adds to the verification. WORKER entries return results that pickle
(they run in the build's worker process); PARENT entries may hold compiled functions."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from mlemap.derivations import fisher
from mlemap.derivations.engine import Derivation, derive
from mlemap.derivations.model import InputError, Model
from mlemap.derivations.sheet import (
    Bias,
    Estimate,
    LogTheory,
    OptimizerStudy,
    PlugIn,
    Posterior,
    PosteriorPredictive,
    Precision,
    PriorStrength,
    Probability,
    Question,
    same_model,
)
from mlemap.derivations.theory import log_theory
from mlemap.numerics.bias import BiasCheck, bias_check
from mlemap.numerics.checks import check_data
from mlemap.numerics.estimate import estimate
from mlemap.numerics.predictive import check_plug_in, check_posterior, check_posterior_predictive
from mlemap.numerics.probability import check_probability
from mlemap.numerics.results import CheckResult
from mlemap.numerics.study import run_study

BYTES_PER_VALUE = 8 * 24  # a study holds each drawn value in about two dozen float64 arrays at its peak
DEFAULT_DRAWS = 500  # as the checks' simulated samples (numerics.checks.CHECK_N)
BIAS_Z = 4.0  # a Monte Carlo mean within 4 standard errors of the derived one agrees (as bias_mc)


@dataclass(frozen=True)
class Context:
    seed: int = 0
    n: int | None = None  # draws for every simulated study; None: each question's own n, else DEFAULT_DRAWS
    resolution: int = 100  # heatmap grid points per axis
    derived: dict[str, Derivation] = field(default_factory=dict)  # by model name: derived once, before the work

    def derive(self, model: Model) -> Derivation:
        """The model's derivation: the one derived before by its name where it is of this model (a Bias question's
        model without its observed data has the same name and is another model), else derived now."""
        found = self.derived.get(model.name)
        return found if found is not None and same_model(found.model, model) else derive(model)


@dataclass(frozen=True)
class BiasResult:
    found: tuple[fisher.EstimatorBias, ...]
    checks: tuple[BiasCheck, ...]


def bias_work(q: Bias, ctx: Context) -> BiasResult:
    d = ctx.derive(q.estimator_model)
    found = tuple(fisher.bias(d, p) for p in d.params if not q.params or p.name in q.params)
    checks: tuple[BiasCheck, ...] = ()
    if d.model.simulate is not None and d.model.truth:
        checks = tuple(bias_check(d, b, ctx.seed) for b in found if b.expectation is not None)
    return BiasResult(found, checks)


def precision_work(q: Precision, ctx: Context):
    from mlemap.numerics.precision import precision_at_data  # scipy.optimize's profile search, only where asked

    d = ctx.derive(q.model)
    return fisher.fisher(d), precision_at_data(d, q.level, ctx.seed)


def theory_work(q: LogTheory, ctx: Context):
    from mlemap.numerics.underflow import underflow

    return log_theory(q.model, q.example), underflow(ctx.derive(q.model), q.n, ctx.seed)


def prior_work(q: PriorStrength, ctx: Context):
    from mlemap.numerics.prior_strength import prior_study

    return prior_study(q, ctx.derive)


def study_work(q: OptimizerStudy, ctx: Context):
    """The exact study where the log-likelihood is quadratic, else the general one (rates from the Hessian at a
    numerical optimum, linearised predictions)."""
    from mlemap.derivations.gradient import step_size_theory
    from mlemap.numerics.exact_study import exact_study

    d = ctx.derive(q.model)
    n = ctx.n or q.n or DEFAULT_DRAWS
    if not d.model.observed:
        check_memory(n, len(d.model.data) + len(d.params))
    if step_size_theory(d) is not None:
        compare = ctx.derive(q.compare) if q.compare is not None else None
        return exact_study(q, d, compare, n, ctx.seed, ctx.resolution)
    parts = tuple(p for p in q.parts if p != "ascent")
    from mlemap.numerics.exact_study import draw

    return run_study(d, ctx.seed, q.fractions, data=draw(d, n, ctx.seed), parts=parts)


def check_memory(n: int, columns: int) -> None:
    """Refuse, before drawing anything, a sample whose study would need more than half of this machine's memory."""
    need = n * columns * BYTES_PER_VALUE
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return  # a system that does not say: nothing to compare with
    if need > total / 2:
        raise InputError(
            f"a study of n = {n:,} draws needs about {need / 2**30:.1f} GiB, more than half of "
            f"this machine's {total / 2**30:.1f} GiB; choose a smaller --n"
        )


def estimate_work(q: Estimate, ctx: Context):
    """No closed form: the estimate at the model's observed data, found numerically."""
    d = ctx.derive(q.model)
    if d.estimate is not None or not q.model.observed:
        return None
    return estimate(d, check_data(q.model, ctx.seed))


WORKER: dict[type[Question], Callable] = {Bias: bias_work, Precision: precision_work}
# each kind whose exact answer is recomputed in floats by verify.answer_checks (a sheet's peer takes its place)
ANSWER_CHECKS: dict[type[Question], Callable[..., CheckResult]] = {
    Probability: check_probability,
    PlugIn: check_plug_in,
    PosteriorPredictive: check_posterior_predictive,
    Posterior: check_posterior,
}
PARENT: dict[type[Question], Callable] = {
    Estimate: estimate_work,
    LogTheory: theory_work,
    PriorStrength: prior_work,
    OptimizerStudy: study_work,
}


def work(questions, table: dict, ctx: Context) -> dict[str, object]:
    """The table's work for each question of its kinds, by question key; a failure names the question."""
    done = {}
    for q in questions:
        fn = table.get(type(q))
        if fn is None:
            continue
        try:
            done[q.key] = fn(q, ctx)
        except InputError as exc:
            raise InputError(f"question {q.key}: {exc}") from None
    return done


def work_checks(questions, done: dict) -> list[CheckResult]:
    """The checks the work makes: a Bias question's derived expectation and unbiased correction against
    their Monte Carlo means."""
    checks = []
    for q in questions:
        result = done.get(q.key)
        if isinstance(q, PriorStrength) and result is not None:
            checks += _prior_checks(q, result)
        if not isinstance(result, BiasResult):
            continue
        for c in result.checks:
            z = abs(c.simulated_mean - c.derived_mean) / c.simulated_se
            checks.append(
                CheckResult(
                    q.model.name,
                    f"answer {q.key}.{c.param.replace('^', '')}_expectation",
                    z,
                    BIAS_Z,
                    z <= BIAS_Z,
                    "z-score",
                    _bias_words(c, False),
                )
            )
            if c.corrected_mean is not None and c.corrected_se:
                z = abs(c.corrected_mean - c.truth) / c.corrected_se
                checks.append(
                    CheckResult(
                        q.model.name,
                        f"answer {q.key}.{c.param.replace('^', '')}_unbiased",
                        z,
                        BIAS_Z,
                        z <= BIAS_Z,
                        "z-score",
                        _bias_words(c, True),
                    )
                )
    return checks


def _bias_words(c: BiasCheck, corrected: bool) -> str:
    """What a bias check compares, its parameter by its symbol ($\\sigma^{2}$), never its name in code (sigma^2)."""
    import sympy as sp

    what = "unbiased correction's mean vs the truth" if corrected else "derived expectation vs its mean"
    return f"${sp.latex(sp.Symbol(c.param))}$: {what} over {c.replications} samples of size {c.n} (z-score)"


def _prior_checks(q: PriorStrength, study) -> list[CheckResult]:
    """Each exact MAP against scipy's search of the same log-posterior, on any domain (numerics.prior_strength)."""
    from mlemap.numerics.prior_strength import prior_checks

    return prior_checks(q, study)
