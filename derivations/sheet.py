"""An exercise sheet as a declaration: its title and its questions, each of a kind that applies to any model.

A sheet file (sheets/*.py) builds a `Sheet` from these objects; `answers(sheet)` derives every exact answer.
Nothing here knows any particular sheet.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from derivations import bayes
from derivations.engine import Derivation, derive
from derivations.model import InputError, Model, in_support
from derivations.text import check_key, check_text

NewData = tuple[Mapping[sp.Symbol, object], ...]


@dataclass(frozen=True)
class Question:
    """key: the answers' key prefix (answers.json); text: the question as the sheet words it."""

    key: str
    text: str
    if TYPE_CHECKING:
        model: Model  # every kind declares its model (a field of each subclass, after key and text)

    def __post_init__(self):
        check_key(self.key, "question key")
        check_text(self.text, f"question {self.key}: its text")
        for name, label in self.printed_texts().items():
            check_text(label, f"question {self.key}: the label of {name}")
        self.check()

    def printed_texts(self) -> dict[str, object]:
        """The texts, besides the question's own, that a report prints for it: a label, or labels by parameter."""
        label = getattr(self, "label", "")
        labels = getattr(self, "labels", {})
        return ({"the answer": label} if label else {}) | (dict(labels) if isinstance(labels, Mapping) else {})

    def check(self) -> None:
        """Raise InputError naming the question and the rule when it cannot apply."""


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

    @property
    def familiar_forms(self) -> dict[sp.Symbol, sp.Expr]:
        """The familiar forms by parameter symbol, as the worked steps take them."""
        return {p.symbol: sp.sympify(self.familiar[p.name]) for p in self.model.params if p.name in self.familiar}


@dataclass(frozen=True)
class PlugIn(Question):
    """P(new data | the model's MLE/MAP): the predictive probability at the point estimate."""

    model: Model = None  # type: ignore[assignment]
    new: NewData = ()
    label: str = ""

    def check(self) -> None:
        _needs_model(self)
        _check_new(self, self.new)
        _refuse_points(self, self.new)


@dataclass(frozen=True)
class PosteriorPredictive(PlugIn):
    """P(new data | D) under the model's prior, integrated exactly over its one parameter."""

    def check(self) -> None:
        _needs_model(self)
        _check_new(self, self.new)
        _needs_observed_one_parameter(self)
        _refuse_points(self, self.new)


@dataclass(frozen=True)
class Probability(Question):
    """P(event) for one new observation, the event a condition on one data symbol (x > 1, (x >= 1) & (x <= 3),
    k <= 2): at the model's MLE/MAP (predictive "plug-in"), or averaged over the posterior ("posterior", one
    parameter on an interval, observed data). A point event of a continuous variable is refused: its
    probability is 0."""

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


@dataclass(frozen=True)
class Posterior(Question):
    """p(theta | D): normalised exactly for a model with observed data and one parameter on an interval; for
    several parameters in which the log-posterior is quadratic (a linear model's weights under a Gaussian
    prior), the Gaussian N(m_N, S_N), its mean and covariance as answers (KEY.mean_P, KEY.cov_P_Q)."""

    model: Model = None  # type: ignore[assignment]
    label: str = ""

    def check(self) -> None:
        _needs_model(self)
        if len(self.model.params) > 1 and self.model.prior is not None:
            return  # a Gaussian posterior, where the log-posterior is quadratic: derived with the answers
        _needs_observed_one_parameter(self)


@dataclass(frozen=True)
class OptimizerStudy(Question):
    """Gradient ascent on the model's log-likelihood (or log-posterior) over learning rates, against its
    optimum: the stability bound from the Hessian there, predicted against measured steps, torch.optim
    optimizers, mini-batch gradients, and a heatmap with the paths when the model has two parameters.
    Runs on the model's observed data, else on a seeded sample of its simulate hook."""

    model: Model = None  # type: ignore[assignment]
    fractions: tuple[float, ...] = (0.1, 0.5, 0.9, 1.1)  # learning rates, as fractions of the stability bound

    def check(self) -> None:
        _needs_model(self)
        if not self.model.observed and self.model.simulate is None:
            raise InputError(
                f"question {self.key}: an optimizer study needs data; {self.model.name} has neither observed data nor a simulate hook"
            )
        if not self.fractions or any(
            not isinstance(f, (int, float)) or isinstance(f, bool) or not 0 < f < 10 for f in self.fractions
        ):
            raise InputError(
                f"question {self.key}: fractions of the bound must be numbers in (0, 10), got {self.fractions!r}"
            )


@dataclass(frozen=True)
class Sheet:
    title: str
    questions: tuple[Question, ...]
    peers: Mapping[str, Callable[[], float]] = field(default_factory=dict)  # answer key -> the same number by scipy
    extra_models: tuple[Model, ...] = ()  # verified too, though no question asks about them

    def __post_init__(self):
        check_text(self.title, "the sheet's title")
        for q in self.questions:
            if not isinstance(q, Question):
                raise InputError(f"sheet {self.title!r}: {q!r} is not a question")
        for model in self.models:  # their names and titles reach file names, LaTeX and HTML too
            if isinstance(model, Model):
                check_text(model.name, "a model's name")
                check_text(model.title, f"{model.name}: its title")

    @property
    def models(self) -> tuple[Model, ...]:
        """Each model a question uses, once, in question order."""
        seen: dict[str, Model] = {}
        for q in self.questions:
            model = getattr(q, "model", None)
            if model is not None:
                seen.setdefault(model.name, model)
        for model in self.extra_models:
            seen.setdefault(model.name, model)
        return tuple(seen.values())


def _needs_model(q: Question) -> None:
    if not isinstance(q.model, Model):
        raise InputError(f"question {q.key}: needs a model (a derivations.Model), got {q.model!r}")


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
    return q.labels.get(p.name, f"{d.kind} of ${sp.latex(p)}$ ({q.key})")


def answers_of(q: Question, deriv: Callable[[Model], Derivation] = derive) -> list[Answer]:
    """The exact answers of one question."""
    if isinstance(q, Estimate):
        d = deriv(q.model)
        if d.estimate is None:
            return []  # no exact answer: the estimate is numerical, at data (numerics.estimate)
        return [
            _answer(
                estimate_key(q, d, p),
                estimate_label(q, d, p),
                d.estimate[p],
                d,
                d.conditions,
            )
            for p in d.params
        ]
    if isinstance(q, PosteriorPredictive):  # before PlugIn, whose declaration it shares
        return [_answer(q.key, q.label or q.text, bayes.posterior_predictive(q.model, q.new), deriv(q.model))]
    if isinstance(q, PlugIn):
        d = deriv(q.model)
        if d.estimate is None:
            raise InputError(
                f"question {q.key}: {q.model.name} has no closed-form {d.kind} to plug in ({d.no_closed_form})"
            )
        return [_answer(q.key, q.label or q.text, bayes.plug_in_predictive(q.model, d.estimate, q.new), d)]
    if isinstance(q, Posterior):
        d = deriv(q.model)
        if len(q.model.params) > 1:
            return _gaussian_posterior_answers(q, d)
        return [_answer(q.key, q.label or q.text, bayes.posterior(q.model), d)]
    if isinstance(q, Probability):
        d = deriv(q.model)
        if q.predictive == "posterior":
            value = bayes.posterior_probability(q.model, q.event)
        elif d.estimate is None:
            raise InputError(
                f"question {q.key}: {q.model.name} has no closed-form {d.kind} to plug in ({d.no_closed_form})"
            )
        else:
            value = bayes.event_probability(q.model, q.event, d.estimate)
        return [_answer(q.key, q.label or q.text, value, d)]
    return []


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


def load_sheet_module(path):
    """The module of a sheet file, checked to define SHEET (a Sheet); it may define more (a REPORT)."""
    module = load_python_file(path, "sheet")
    if not isinstance(getattr(module, "SHEET", None), Sheet):
        raise InputError(f"{path} defines no SHEET (a derivations.sheet.Sheet)")
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
    try:
        spec.loader.exec_module(module)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the sheet's own code failed: say where, in one line
        raise InputError(f"{path}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    return module
