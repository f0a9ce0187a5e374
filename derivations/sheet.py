"""An exercise sheet as a declaration: its title and its questions, each of a kind that applies to any model.

A sheet file (sheets/*.py) builds a `Sheet` from these objects; `answers(sheet)` derives every exact answer.
Nothing here knows any particular sheet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import sympy as sp

from mlemap.derivations import bayes, fisher
from mlemap.derivations.distributions import Prior
from mlemap.derivations.engine import Derivation, derive
from mlemap.derivations.model import InputError, Model, in_support
from mlemap.derivations.text import check_key, check_text

NewData = tuple[Mapping[sp.Symbol, object], ...]


@dataclass(frozen=True)
class Question:
    """key: the answers' key prefix (answers.json); text: the question as the sheet words it."""

    key: str
    text: str
    remark: str = field(default="", kw_only=True)  # what the report says beyond the derivation, after the answer
    title: str = field(default="", kw_only=True)  # the section's heading ("" : Question 1, Question 2, ...)
    # What the students' sheet (--variant questions) prints for the question besides its text: paragraphs before
    # it that define what it uses (one written $$...$$ is a displayed formula), helper code ($seed and $n stand
    # for the build's seed and the question's sample size) and its sub-steps, numbered.
    setup: tuple[str, ...] = field(default=(), kw_only=True)
    code: str = field(default="", kw_only=True)
    steps: tuple[str, ...] = field(default=(), kw_only=True)
    if TYPE_CHECKING:
        model: Model  # every kind declares its model (a field of each subclass, after key and text)

    # what an untitled question is about, after its number: "Question 4: the posterior"
    SUBJECT: ClassVar[str] = ""

    def heading(self, number: int, word: str = "Question") -> str:
        """The section's heading: the sheet's title for the question, else its number and what it asks, the
        model's title where the kind names nothing more specific."""
        if self.title:
            return self.title
        model = getattr(self, "model", None)
        subject = self.SUBJECT or (model.title if model is not None else "")
        return f"{word} {number}: {subject}" if subject else f"{word} {number}"

    def __post_init__(self):
        check_key(self.key, "question key")
        check_text(self.text, f"question {self.key}: its text")
        for name, label in self.printed_texts().items():
            check_text(label, f"question {self.key}: the label of {name}")
        for kind in ("setup", "steps"):
            texts = getattr(self, kind)
            if not isinstance(texts, tuple):
                raise InputError(
                    f"question {self.key}: its {kind} must be a tuple of texts, got {type(texts).__name__}"
                )
            for k, text in enumerate(texts, 1):
                check_text(text, f"question {self.key}: its {kind}, item {k}")
        _check_code(self.code, f"question {self.key}: its code")
        self.check()

    def printed_texts(self) -> dict[str, object]:
        """The texts, besides the question's own, that a report prints for it: a label, or labels by parameter."""
        label = getattr(self, "label", "")
        labels = getattr(self, "labels", {})
        return (
            ({"the answer": label} if label else {})
            | (dict(labels) if isinstance(labels, Mapping) else {})
            | ({"the remark": self.remark} if self.remark else {})
            | ({"the title": self.title} if self.title else {})
        )

    def check(self) -> None:
        """Raise InputError naming the question and the rule when it cannot apply."""

    def answers(self, deriv: Callable[[Model], Derivation]) -> list[Answer]:
        """The question's exact answers, derived (deriv: the derivation of a model, cached by the caller)."""
        return []


@dataclass(frozen=True)
class Estimate(Question):
    """The MLE (no prior) or MAP of every parameter of model, with its worked derivation. Answer keys are
    KEY.PARAM_mle or KEY.PARAM_map, then suffix; labels gives an answer's wording by parameter name."""

    model: Model = None  # type: ignore[assignment]
    suffix: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    familiar: Mapping[str, sp.Expr] = field(
        default_factory=dict
    )  # parameter name -> the textbook's form of its estimate
    where: Mapping[sp.Symbol, sp.Expr] = field(default_factory=dict)  # the named quantities those forms use (x_bar)

    def check(self) -> None:
        _needs_model(self)
        unknown = sorted((set(self.labels) | set(self.familiar)) - {p.name for p in self.model.params})
        if unknown:
            raise InputError(f"question {self.key}: {self.model.name} has no parameter {unknown[0]!r}")
        for name, form in self.familiar.items():  # never text: a string would be parsed as code
            if not isinstance(form, sp.Basic):
                raise InputError(
                    f"question {self.key}: the familiar form of {name} must be a SymPy expression, got {type(form).__name__}"
                )

    @property
    def familiar_forms(self) -> dict[sp.Symbol, sp.Expr]:
        """The familiar forms by parameter symbol, as the worked steps take them."""
        return {
            p.symbol: sp.sympify(self.familiar[p.name], strict=True)
            for p in self.model.params
            if p.name in self.familiar
        }

    def answers(self, deriv):
        d = deriv(self.model)
        if d.estimate is None:
            return []  # no exact answer: the estimate is numerical, at data (numerics.estimate)
        return [
            _answer(estimate_key(self, d, p), estimate_label(self, d, p), d.estimate[p], d, d.conditions)
            for p in d.params
        ]


@dataclass(frozen=True)
class PlugIn(Question):
    """P(new data | the model's MLE/MAP): the predictive probability at the point estimate."""

    SUBJECT: ClassVar[str] = "the probability at the estimate"

    model: Model = None  # type: ignore[assignment]
    new: NewData = ()
    label: str = ""

    def check(self) -> None:
        _needs_model(self)
        _check_new(self, self.new)
        _refuse_points(self, self.new)

    def answers(self, deriv):
        d = deriv(self.model)
        if d.estimate is None:
            raise InputError(
                f"question {self.key}: {self.model.name} has no closed-form {d.kind} to plug in ({d.no_closed_form})"
            )
        return [
            _answer(self.key, self.label or self.text, bayes.plug_in_predictive(self.model, d.estimate, self.new), d)
        ]


@dataclass(frozen=True)
class PosteriorPredictive(PlugIn):
    """P(new data | D) under the model's prior, integrated exactly over its one parameter."""

    SUBJECT: ClassVar[str] = "the posterior predictive"

    def check(self) -> None:
        _needs_model(self)
        _check_new(self, self.new)
        _needs_observed_one_parameter(self)
        _refuse_points(self, self.new)

    def answers(self, deriv):
        value = bayes.posterior_predictive(self.model, self.new)
        return [_answer(self.key, self.label or self.text, value, deriv(self.model))]


@dataclass(frozen=True)
class Probability(Question):
    """P(event) for one new observation, the event a condition on one data symbol (x > 1, (x >= 1) & (x <= 3),
    k <= 2): at the model's MLE/MAP (predictive "plug-in"), or averaged over the posterior ("posterior", one
    parameter on an interval, observed data). A point event of a continuous variable is refused: its
    probability is 0."""

    SUBJECT: ClassVar[str] = "a probability"

    model: Model = None  # type: ignore[assignment]
    event: sp.Basic = None
    predictive: str = "plug-in"
    label: str = ""

    def check(self) -> None:
        _needs_model(self)
        bayes.event_set(self.model, self.event, f"question {self.key}")
        if self.predictive not in ("plug-in", "posterior"):
            raise InputError(
                f"question {self.key}: predictive must be 'plug-in' or 'posterior', got {self.predictive!r}"
            )
        if self.predictive == "posterior":
            _needs_observed_one_parameter(self)

    def answers(self, deriv):
        d = deriv(self.model)
        if self.predictive == "posterior":
            value = bayes.posterior_probability(self.model, self.event)
        elif d.estimate is None:
            raise InputError(
                f"question {self.key}: {self.model.name} has no closed-form {d.kind} to plug in ({d.no_closed_form})"
            )
        else:
            value = bayes.event_probability(self.model, self.event, d.estimate)
        return [_answer(self.key, self.label or self.text, value, d)]


@dataclass(frozen=True)
class Posterior(Question):
    """p(theta | D): normalised exactly for a model with observed data and one parameter on an interval; for
    several parameters in which the log-posterior is quadratic (a linear model's weights under a Gaussian
    prior), the Gaussian N(m_N, S_N), its mean and covariance as answers (KEY.mean_P, KEY.cov_P_Q)."""

    SUBJECT: ClassVar[str] = "the posterior"

    model: Model = None  # type: ignore[assignment]
    label: str = ""

    def check(self) -> None:
        _needs_model(self)
        if len(self.model.params) > 1 and self.model.prior is not None:
            return  # a Gaussian posterior, where the log-posterior is quadratic: derived with the answers
        _needs_observed_one_parameter(self)

    def answers(self, deriv):
        d = deriv(self.model)
        if len(self.model.params) > 1:
            return _gaussian_posterior_answers(self, d)
        return [_answer(self.key, self.label or self.text, bayes.posterior(self.model), d)]


STUDY_PARTS = ("ascent", "optimizers", "batches", "grid")


@dataclass(frozen=True)
class OptimizerStudy(Question):
    """Gradient methods on the model's log-likelihood (or log-posterior) against its optimum. parts picks:
    "ascent", gradient ascent over learning rates (fractions of the stability bound from the Hessian there,
    predicted against measured steps; its answers are the bound, the best rate and the optimum); "optimizers",
    torch.optim's optimizers (also on compare, a second model, when given); "batches", mini-batch gradients over
    batch_sizes; "grid", a heatmap with the paths for two parameters. A quadratic log-likelihood gets the exact
    analysis: rates and step counts in closed form, the mini-batch noise floor and gradient covariance.
    Runs on the model's observed data, else on n seeded draws of its simulate hook. labels words the answers
    (keys lr_bound, lr_optimal and the parameters' names)."""

    SUBJECT: ClassVar[str] = "gradient ascent and optimizers"

    model: Model = None  # type: ignore[assignment]
    fractions: tuple[float, ...] = (0.1, 0.5, 0.9, 1.1)  # learning rates, as fractions of the stability bound
    parts: tuple[str, ...] = STUDY_PARTS
    n: int = 0  # draws of the simulate hook (0: the build's --n); unused with observed data
    compare: Model | None = None
    batch_sizes: tuple[int, ...] = ()  # () : 1, n/50, n/5 and n
    labels: Mapping[str, str] = field(default_factory=dict)

    def check(self) -> None:
        _needs_model(self)
        if self.compare is not None and not isinstance(self.compare, Model):
            raise InputError(f"question {self.key}: compare must be a Model, got {self.compare!r}")
        for model in (self.model, self.compare):
            if model is not None and not model.observed and model.simulate is None:
                raise InputError(
                    f"question {self.key}: an optimizer study needs data; {model.name} has neither observed data nor a simulate hook"
                )
        if not self.fractions or any(
            not isinstance(f, (int, float)) or isinstance(f, bool) or not 0 < f < 10 for f in self.fractions
        ):
            raise InputError(
                f"question {self.key}: fractions of the bound must be numbers in (0, 10), got {self.fractions!r}"
            )
        unknown = [p for p in self.parts if p not in STUDY_PARTS]
        if unknown or not self.parts:
            raise InputError(f"question {self.key}: parts must be among {STUDY_PARTS}, got {self.parts!r}")
        _whole(self, "n", self.n, 0, MAX_DRAWS)
        drawn = [m for m in (self.model, self.compare) if m is not None and not m.observed]
        if self.n and not drawn:  # the study runs on the observed data: n draws would be silently ignored
            raise InputError(
                f"question {self.key}: n = {self.n} draws, but the study runs on {self.model.name}'s observed data; "
                "declare n only for a model without observed data (n is how many its simulate hook draws)"
            )
        for k in self.batch_sizes:
            _whole(self, "a batch size", k, 1, MAX_DRAWS)

    def redrawn(self, **models: Model) -> OptimizerStudy:
        """The study on a student's drawn data (Sheet.for_student): n counts draws of a simulate hook, so it is
        dropped where no model is left without observed data, as a declaration must."""
        after = {"model": self.model, "compare": self.compare} | models
        drawing = any(m is not None and not m.observed for m in after.values())
        return dataclasses.replace(self, n=self.n if drawing else 0, **models)  # type: ignore[arg-type]


MAX_DRAWS = 10_000_000


def _whole(q: Question, name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise InputError(f"question {q.key}: {name} must be a whole number in [{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class LogTheory(Question):
    """Why take the log of a likelihood: the product becomes a sum with a far smaller derivative (model's
    density), the product of n simulated densities underflows float64 while the log-likelihood does not, and on
    example's observed data (one parameter) L and log L share their maximiser but not their curvature."""

    model: Model = None  # type: ignore[assignment]
    example: Model | None = None
    n: int = 10_000

    def check(self) -> None:
        _needs_model(self)
        if self.model.simulate is None:
            raise InputError(f"question {self.key}: {self.model.name} needs a simulate hook for the underflow sample")
        _whole(self, "n", self.n, 2, MAX_DRAWS)
        if self.example is not None and (
            not isinstance(self.example, Model) or len(self.example.params) != 1 or not self.example.observed
        ):
            raise InputError(f"question {self.key}: the example must be a model with one parameter and observed data")


@dataclass(frozen=True)
class Bias(Question):
    """E[estimator] at the parameters, the bias, and the unbiased correction c(n) * estimator where one exists,
    for each parameter (or those named), checked by Monte Carlo. The estimator is a function of the data, so a
    model's observed data are not used. Answers KEY.P_expectation, KEY.P_bias, KEY.P_unbiased."""

    model: Model = None  # type: ignore[assignment]
    params: tuple[str, ...] = ()

    def check(self) -> None:
        _needs_model(self)
        unknown = sorted(set(self.params) - {p.name for p in self.model.params})
        if unknown:
            raise InputError(f"question {self.key}: {self.model.name} has no parameter {unknown[0]!r}")

    @property
    def estimator_model(self) -> Model:
        """The model without its observed data: the estimator as a function of a sample."""
        return dataclasses.replace(self.model, observed={}) if self.model.observed else self.model

    def answers(self, deriv):
        d = deriv(self.estimator_model)
        rows = []
        for p in d.params:
            if self.params and p.name not in self.params:
                continue
            found = fisher.bias(d, p)
            name = f"{self.key}.{p.name.replace('^', '')}"
            theta = sp.latex(p)
            for part, label in (
                ("expectation", rf"$E[\hat{{{theta}}}]$"),
                ("bias", rf"bias of $\hat{{{theta}}}$"),
                ("correction", rf"unbiased estimator of ${theta}$"),
            ):
                value = getattr(found, part)
                if value is not None:
                    key = f"{name}_{'unbiased' if part == 'correction' else part}"
                    rows.append(_answer(key, f"{label} ({self.key})", value, d, _conditions(found.condition)))
        return rows


@dataclass(frozen=True)
class Precision(Question):
    """How precise the estimate is: the expected Fisher information and the Cramer-Rao bound (exact, answers
    KEY.information_P_Q and KEY.cramer_rao_P_Q), and at the data (observed, else a seeded sample) the standard
    errors and the Wald and likelihood-ratio confidence intervals at level."""

    model: Model = None  # type: ignore[assignment]
    level: float = 0.95

    def check(self) -> None:
        _needs_model(self)
        if isinstance(self.level, bool) or not isinstance(self.level, (int, float)) or not 0.5 <= self.level < 1:
            raise InputError(f"question {self.key}: level must be a number in [0.5, 1), got {self.level!r}")

    def answers(self, deriv):
        d = deriv(self.model)
        info = fisher.fisher(d)
        rows = []
        for name, matrix, label in (
            ("information", info.expected, "expected information"),
            ("cramer_rao", info.cramer_rao, "Cramer-Rao bound"),
        ):
            if matrix is None:
                continue
            for i, p in enumerate(d.params):
                for j in range(i, len(d.params)):
                    q = d.params[j]
                    key = f"{self.key}.{name}_{p.name.replace('^', '')}" + (
                        "" if i == j else f"_{q.name.replace('^', '')}"
                    )
                    entry = f"${sp.latex(p)}$" + ("" if i == j else f", ${sp.latex(q)}$")
                    rows.append(_answer(key, f"{label}, {entry} ({self.key})", matrix[i, j], d))
        return rows


@dataclass(frozen=True)
class PriorStrength(Question):
    """How much the prior matters: on the model's observed data (one parameter on an interval, bounded or not) the
    MLE, and under each prior of priors (its label -> its density in the parameter, or a prior by name: Beta(a, b),
    Gamma(shape, rate), Normal(mean, sd), read as from_distribution's prior=, from weak to strong) the MAP, exact,
    and the posterior mean, by quadrature. Answers KEY.map_1, KEY.map_2, ... in the priors' order."""

    model: Model = None  # type: ignore[assignment]
    priors: Mapping[str, sp.Expr | Prior] = field(default_factory=dict)

    def check(self) -> None:
        _needs_model(self)
        _needs_observed_one_parameter(self)
        if not isinstance(self.priors, Mapping) or not self.priors:
            raise InputError(f"question {self.key}: priors must map a label to a prior; it names no priors to compare")
        for label, prior in self.priors.items():
            check_text(label, f"question {self.key}: a prior's label")
            _check_prior_of(self, label, prior)

    def prior_models(self) -> dict[str, Model]:
        """The model under each prior, and (label "") without one."""
        base = self.model
        return {"": dataclasses.replace(base, name=f"{base.name}_no_prior", prior=None)} | {
            label: dataclasses.replace(base, name=f"{base.name}_prior_{i}", prior=prior)
            for i, (label, prior) in enumerate(self.priors.items(), 1)
        }

    def answers(self, deriv):
        rows = []
        for i, (label, model) in enumerate(list(self.prior_models().items())[1:], 1):
            d = deriv(model)
            if d.estimate is not None:
                (value,) = d.estimate.values()
                rows.append(_answer(f"{self.key}.map_{i}", f"MAP under the prior {label} ({self.key})", value, d))
        return rows


def _check_prior_of(q: PriorStrength, label: str, prior: object) -> None:
    """A prior of a PriorStrength question: a SymPy expression in the parameter alone, or a prior by name whose
    density is a density where the parameter ranges; else one line naming the question, the prior and the rule."""
    par = q.model.params[0]
    where = f"question {q.key}: the prior {label}"
    if isinstance(prior, Prior):
        if not par.domain.is_subset(prior.domain):
            raise InputError(
                f"{where} is {prior}, a density on {_shown_set(prior.domain)}, but {par.symbol} ranges over "
                f"{_shown_set(par.domain)}"
            )
        return
    if not isinstance(prior, sp.Expr):
        raise InputError(
            f"{where} must be a density in {par.symbol} (a SymPy expression) or Beta(...), Gamma(...), Normal(...); "
            f"got {type(prior).__name__}"
        )
    extra = prior.free_symbols - {par.symbol} - set(q.model.constants)
    if extra:
        names = ", ".join(sorted(str(s) for s in extra))
        raise InputError(f"{where} must be a density in {par.symbol} alone; it also has {names}")


def _shown_set(domain: sp.Set) -> str:
    """An interval as a reader writes it, (0, oo) or [0, 1], not its repr; another set as SymPy prints it."""
    if not isinstance(domain, sp.Interval):
        return str(domain)
    return f"{'(' if domain.left_open else '['}{domain.start}, {domain.end}{')' if domain.right_open else ']'}"


def _conditions(condition: sp.Basic) -> tuple[sp.Basic, ...]:
    return () if condition is sp.true else (condition,)


@dataclass(frozen=True)
class Sheet:
    title: str
    questions: tuple[Question, ...]
    peers: Mapping[str, Callable[[], float]] = field(default_factory=dict)  # answer key -> the same number by scipy
    extra_models: tuple[Model, ...] = ()  # verified too, though no question asks about them
    appendix: tuple[Question, ...] = ()  # worked after the questions for the reader; not answers of the sheet
    names: Mapping[str, sp.Expr] = field(default_factory=dict)  # names a student's answer may use (h: the heads)
    points: Mapping[str, float] = field(default_factory=dict)  # an answer key's points when grading (default 1)
    # Each student's own data: model name -> draw(rng) -> {data name: values}, the model's observed data for one
    # student; rng is seeded from the sheet's title, the model and the student's ID (for_student).
    per_student: Mapping[str, Callable[[np.random.Generator], Mapping[str, object]]] = field(default_factory=dict)

    def __post_init__(self):
        check_text(self.title, "the sheet's title")
        names = {m.name for m in self.models if isinstance(m, Model)}
        for name, draw in self.per_student.items():
            if name not in names or not callable(draw):
                raise InputError(f"sheet {self.title!r}: per_student maps a model's name to a draw(rng); got {name!r}")
        for q in self.questions + self.appendix:
            if not isinstance(q, Question):
                raise InputError(f"sheet {self.title!r}: {q!r} is not a question")
        for model in self.models:  # their names and titles reach file names, LaTeX and HTML too
            if isinstance(model, Model):
                check_text(model.name, "a model's name")
                check_text(model.title, f"{model.name}: its title")
        _check_model_names(self)

    def for_student(self, student: str) -> Sheet:
        """The sheet with each per_student model's data drawn for this student: the same ID gets the same data on
        any machine. Peers computed from the shared data no longer apply to the redrawn models' answers."""
        student = check_student(student)
        if not self.per_student:
            return self
        drawn = {
            name: _drawn(self, self.models_by_name[name], draw, student) for name, draw in self.per_student.items()
        }

        def swapped(q: Question) -> Question:
            changes: dict[str, object] = {
                a: drawn[m.name] for a in ("model", "compare") for m in [getattr(q, a, None)] if m and m.name in drawn
            }
            if changes and isinstance(q, OptimizerStudy):
                return q.redrawn(**changes)  # type: ignore[arg-type]
            return dataclasses.replace(q, **changes) if changes else q  # type: ignore[arg-type]

        redrawn = {q.key.split(".")[0] for q in self.questions if swapped(q) is not q}
        return dataclasses.replace(
            self,
            questions=tuple(map(swapped, self.questions)),
            appendix=tuple(map(swapped, self.appendix)),
            extra_models=tuple(drawn.get(m.name, m) for m in self.extra_models),
            peers={k: v for k, v in self.peers.items() if k.split(".")[0] not in redrawn},
        )

    @property
    def models_by_name(self) -> dict[str, Model]:
        return {m.name: m for m in self.models}

    @property
    def models(self) -> tuple[Model, ...]:
        """Each model a question uses, once, in question order."""
        seen: dict[str, Model] = {}
        for q in self.questions + self.appendix:
            for model in (getattr(q, "model", None), getattr(q, "compare", None)):
                if model is not None:
                    seen.setdefault(model.name, model)
        for model in self.extra_models:
            seen.setdefault(model.name, model)
        return tuple(seen.values())


def _check_model_names(sheet: Sheet) -> None:
    """One name, one model: answers, checks and reports find a model's derivation by its name, so two different
    models under one name would silently share the first one's (an MLE answered for a MAP question)."""
    first: dict[str, tuple[str, Model]] = {}
    for where, model in _model_uses(sheet):
        seen_where, seen = first.setdefault(model.name, (where, model))
        if not same_model(seen, model):
            raise InputError(
                f"sheet {sheet.title!r}: {seen_where} and {where} use two different models both named "
                f"{model.name!r}, which would share one derivation; pass name= to give each its own name"
            )


def _model_uses(sheet: Sheet):
    """(where, model) for each model the sheet declares: a question's model or compare, or an extra model."""
    for q in sheet.questions + sheet.appendix:
        for field_name, where in (("model", f"question {q.key}"), ("compare", f"question {q.key} (its compare)")):
            model = getattr(q, field_name, None)
            if isinstance(model, Model):
                yield where, model
    for model in sheet.extra_models:
        if isinstance(model, Model):
            yield "extra_models", model


def same_model(a: Model, b: Model) -> bool:
    """The same object, or equal in every field (Model's dataclass equality), the observed data compared value
    by value: an array column's == is elementwise, no truth value. Two from_distribution calls differ in their
    sampler and peer (each call makes its own), so they are not the same model; a name tells them apart."""
    if a is b:
        return True
    try:
        return bool(_fields(a) == _fields(b))
    except (TypeError, ValueError):  # a field whose == gives no single truth value: not shown to be equal
        return False


def _fields(model: Model) -> tuple:
    observed = None if model.observed is None else {s: tuple(v) for s, v in model.observed.items()}
    return tuple(observed if f.name == "observed" else getattr(model, f.name) for f in dataclasses.fields(model))


MAX_STUDENT_ID = 100


def check_student(student: object) -> str:
    """A student's ID: 1 to 100 printable characters (it names files and seeds draws, never a path)."""
    if not isinstance(student, str) or not 0 < len(student) <= MAX_STUDENT_ID or not student.isprintable():
        raise InputError(f"student ID {student!r}: 1 to {MAX_STUDENT_ID} printable characters")
    return student


def student_seed(title: str, model: str, student: str) -> int:
    """A seed from the sheet, the model and the ID: stable across machines and Python versions (not hash())."""
    return int.from_bytes(hashlib.sha256(f"{title}\0{model}\0{student}".encode()).digest()[:8], "big")


def _drawn(sheet: Sheet, model: Model, draw: Callable, student: str) -> Model:
    rng = np.random.default_rng(student_seed(sheet.title, model.name, student))
    try:
        values = draw(rng)
        observed = {str(k): tuple(v) for k, v in dict(values).items()}
    except Exception as exc:  # noqa: BLE001 - the sheet's own draw failed: say which, in one line
        raise InputError(f"{model.name}: its per-student draw failed: {type(exc).__name__}: {exc}") from None
    return dataclasses.replace(model, observed=observed)


def _check_code(code: object, where: str) -> None:
    """Helper code is printed verbatim: printable ASCII lines (pdflatex's listings reads no other), and nothing that
    would end the verbatim block early in LaTeX (an end macro) or in Markdown (a code fence)."""
    if not isinstance(code, str):
        raise InputError(f"{where}: must be text (a str), got {type(code).__name__}")
    odd = next((c for c in code if not (" " <= c <= "~" or c == "\n")), None)
    if odd is not None:
        raise InputError(f"{where}: only printable ASCII characters and line breaks are allowed, got {odd!r}")
    for closing in ("\\end", "```"):
        if closing in code:
            raise InputError(f"{where}: {closing!r} is not allowed (it would end the code block early)")


def _needs_model(q: Question) -> None:
    if not isinstance(q.model, Model):
        raise InputError(f"question {q.key}: needs a model (a mlemap.Model), got {q.model!r}")


def _check_new(q: Question, new: NewData) -> None:
    if not new:
        raise InputError(f"question {q.key}: names no future data")
    for row in new:
        unknown = [str(s) for s in row if s not in q.model.data]
        if unknown:
            raise InputError(f"question {q.key}: {unknown[0]!r} is not a data symbol of {q.model.name}")
        for symbol, value in row.items():
            support = q.model.support.get(symbol, sp.Reals)
            try:
                number = float(value)  # type: ignore[arg-type]  # the sheet's value, whatever it is: float() decides
            except (TypeError, ValueError):
                raise InputError(f"question {q.key}: the future {symbol} = {value!r} is not a number") from None
            if not in_support(np.array([number]), support)[0]:
                raise InputError(f"question {q.key}: the future {symbol} = {value} lies outside its support {support}")


def _refuse_points(q: Question, new: NewData) -> None:
    """A single value of a continuous variable has probability 0: a density at it is not a probability."""
    for row in new:
        for symbol, value in row.items():
            if not bayes.discrete(q.model, symbol):
                raise InputError(
                    f"question {q.key}: {symbol} = {value} is a single point of a continuous variable, whose "
                    f"probability is 0 (a density is not a probability); ask a Probability of an event such as "
                    f"{symbol} > {value}"
                )


def _needs_observed_one_parameter(q: Question) -> None:
    model = q.model
    if not model.observed:
        raise InputError(f"question {q.key}: a posterior needs observed data; {model.name} has none")
    if len(model.params) != 1 or not isinstance(model.params[0].domain, sp.Interval):
        raise InputError(
            f"question {q.key}: a posterior integral needs one parameter on an interval; {model.name} has {len(model.params)}"
        )


@dataclass(frozen=True)
class Answer:
    key: str
    question: str
    expr: sp.Expr
    latex: str
    model: str
    conditions: tuple[sp.Basic, ...] = ()  # where the closed form holds, when not for every data set
    conditions_latex: str = ""

    @property
    def value(self) -> float | None:
        """A float for display and checks; None for answers that are expressions in the data."""
        return float(self.expr) if self.expr.is_number else None

    def as_dict(self) -> dict:
        """The row of answers.json and verify.json."""
        return {
            "key": self.key,
            "question": self.question,
            "exact": str(self.expr),
            "latex": self.latex,
            "value": self.value,
        } | (
            {"conditions": [str(c) for c in self.conditions], "conditions_latex": self.conditions_latex}
            if self.conditions
            else {}
        )


def _answer(key, question, expr, deriv: Derivation, conditions: tuple = ()) -> Answer:
    shown = r",\ ".join(deriv.latex(c) for c in conditions)
    return Answer(key, question, expr, deriv.latex(expr), deriv.model.name, tuple(conditions), shown)


def _gaussian_posterior_answers(q: Posterior, d: Derivation) -> list[Answer]:
    """The mean and covariance entries of a Gaussian posterior, each an answer."""
    found = bayes.gaussian_posterior(d)
    if found is None:
        raise InputError(
            f"question {q.key}: the posterior of several parameters is derived where the log-posterior is quadratic "
            f"in them (a Gaussian posterior); that of {q.model.name} is not"
        )
    mean, covariance = found
    params = d.params
    answers = [
        _answer(f"{q.key}.mean_{p.name}", f"posterior mean of ${sp.latex(p)}$ ({q.key})", m, d)
        for p, m in zip(params, mean)
    ]
    for i, p in enumerate(params):
        for j in range(i, len(params)):
            label = (
                f"posterior {'variance' if i == j else 'covariance'} of ${sp.latex(p)}$"
                + ("" if i == j else f" and ${sp.latex(params[j])}$")
                + f" ({q.key})"
            )
            answers.append(_answer(f"{q.key}.cov_{p.name}_{params[j].name}", label, covariance[i, j], d))
    return answers


def estimate_key(q: Estimate, d: Derivation, p: sp.Symbol) -> str:
    return f"{q.key}.{p.name.replace('^', '')}_{d.kind.lower()}{q.suffix}"


def estimate_label(q: Estimate, d: Derivation, p: sp.Symbol) -> str:
    # named for a reader by the question's title or the model's, never by the key (the key is for machines)
    return q.labels.get(p.name, f"{d.kind} of ${sp.latex(p)}$: {q.title or d.model.title}")


def answers_of(q: Question, deriv: Callable[[Model], Derivation] = derive) -> list[Answer]:
    """The exact answers of one question: each kind says its own."""
    return q.answers(deriv)


class Answers(list):
    """A sheet's answers (a list of Answer) that a notebook shows as a table: question, exact form, value."""

    def _repr_markdown_(self) -> str:
        rows = ["| question | answer | value |", "|---|---|---|"]
        for a in self:
            value = "" if a.value is None else f"{a.value:.6g}"
            rows.append(f"| {a.question} | ${a.latex}$ | {value} |")
        return "\n".join(rows) + "\n"


def answers(sheet: Sheet, deriv: Callable[[Model], Derivation] = derive) -> Answers:
    """Every exact answer of the sheet, in question order, derived, never typed in."""
    found = Answers(a for q in sheet.questions for a in answers_of(q, deriv))
    keys = [a.key for a in found]
    repeated = [k for k in keys if keys.count(k) > 1]
    if repeated:
        raise InputError(f"question {repeated[0]}: two answers share this key (give one a suffix)")
    return found


def load_sheet(path) -> Sheet:
    """The SHEET a sheet file defines. The file is the user's own Python, run as given (like a conftest.py)."""
    return load_sheet_module(path).SHEET


_LOADED: dict[tuple[str, str], object] = {}  # (resolved path, content hash) -> module: a sheet runs once


def shipped_sheets() -> dict[str, Path]:
    """The sheets shipped with mlemap by name (exercise3: its file), wherever pip installed the package."""
    from mlemap.sheets import DEFAULT_SHEET

    return {f.stem: f for f in sorted(DEFAULT_SHEET.parent.glob("*.py")) if not f.name.startswith("_")}


def sheet_file(path) -> Path:
    """The file a sheet argument names: the path itself where it exists; else a bare name of a shipped sheet
    (exercise3 or exercise3.py) is that sheet, so an installed user needs no path into the package. A file of
    that name in the working directory wins: exercise3 is ./exercise3.py where that exists (a course's own copy,
    never silently replaced by the shipped one)."""
    path = Path(path)
    if path.exists() or len(path.parts) != 1:
        return path
    name = path.name.removesuffix(".py")
    shipped = shipped_sheets().get(name)
    if shipped is None:
        return path
    own = path.with_name(name + ".py")
    return own if own.exists() else shipped


def sheet_option_help() -> str:
    """--sheet's help, the same for every command that takes it."""
    from mlemap.sheets import DEFAULT_SHEET

    return (
        "a Python file defining SHEET, or the name of a sheet shipped with mlemap where no such file exists here: "
        f"{', '.join(shipped_sheets())} (default: {DEFAULT_SHEET.stem}, the example sheet shipped with mlemap)"
    )


def load_sheet_module(path):
    """The module of a sheet file (or a shipped sheet's name, sheet_file), checked to define SHEET (a Sheet).
    The file runs once per process and content: the command line's check and the build share it."""
    named, path = path, sheet_file(path)
    if not path.is_file():
        raise InputError(f"{named} is not a sheet file (no such file; shipped sheets: {', '.join(shipped_sheets())})")
    try:
        key = (str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest())
    except OSError as exc:
        raise InputError(f"{path}: cannot read the sheet file ({exc.strerror})") from None
    if key in _LOADED:
        return _LOADED[key]
    module = load_python_file(path, "sheet")
    if not isinstance(getattr(module, "SHEET", None), Sheet):
        raise InputError(f"{path} defines no SHEET (a mlemap.Sheet)")
    _LOADED[key] = module
    return module


def load_python_file(path, kind: str = "Python"):
    """Run the user's Python file (a sheet, or models) as a module; its errors become one InputError line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} is not a {kind} file (no such file)")
    name = "mlemap_sheet_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ beside the user's file
    try:
        spec.loader.exec_module(module)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:  # a declaration file that exits: refused, not an empty success
        raise InputError(
            f"{path}: the file called sys.exit({exc.code!r}) while loading; a {kind} file only declares"
        ) from None
    except BaseException as exc:  # noqa: BLE001 - the file's own code failed (any exception class): say where, in one line
        raise InputError(f"{path}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return module
