"""The typical wrong answers of a question, derived from its own derivation: the answer a student reaches by a
known slip (n - 1 for n, the prior forgotten, the prior's variance read as its standard deviation, a lost factor
2, sigma for sigma^2, the posterior mean for its mode, the plug-in for the posterior predictive, the square of the
sum for the sum of squares). Each names the slip in a student's words and the step of the worked derivation
where it happens."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from mlemap.derivations import bayes
from mlemap.derivations.engine import Derivation, n_obs
from mlemap.derivations.model import Model
from mlemap.derivations.sheet import Estimate, PlugIn, Posterior, PosteriorPredictive, Question
from mlemap.derivations.why import family, family_density


@dataclass(frozen=True)
class Mistake:
    name: str  # for programs: "n_minus_1"
    words: str  # for the student
    step: str  # the worked derivation's step where it goes wrong
    expr: sp.Basic
    shown: str = ""  # LaTeX a handout writes for the wrong answer where the expression itself reads badly


def typical_mistakes(q: Question, d: Derivation, key: str, right: sp.Basic, deriv: Callable) -> list[Mistake]:
    """The question's typical wrong answers for the answer under key; those equal to the right one are left out."""
    found: list[Mistake] = []
    if isinstance(q, Estimate):
        found += _estimate_mistakes(q, d, key, right, deriv)
    if isinstance(q, PosteriorPredictive):
        found += _predictive_mistakes(q, deriv)
    elif isinstance(q, PlugIn):
        found += _plug_in_mistakes(q, deriv)
    if isinstance(q, Posterior) and len(q.model.params) == 1:
        found += _posterior_mistakes(q.model, right)
    found += _arithmetic_mistakes(right)
    distinct, seen = [], [right]
    for m in found:
        if any(_same(m.expr, s) for s in seen):
            continue
        seen.append(m.expr)
        distinct.append(m)
    return distinct


def _same(a: sp.Basic, b: sp.Basic) -> bool:
    """Equal as expressions: first at a fixed rational point of their symbols (cheap, and decisive when they
    differ), then by cancel or simplify."""
    symbols = sorted((a.free_symbols | b.free_symbols), key=str)
    point = {s: sp.Rational(7 + 3 * k, 5 + k) for k, s in enumerate(symbols)}
    try:
        gap = sp.N(a.subs(point) - b.subs(point), 30)
        if gap.is_number and abs(gap) > 1e-20:
            return False
        return bool(sp.cancel(sp.together(a - b)) == 0 or sp.simplify(a - b) == 0)
    except (TypeError, ValueError):
        return False


def _is_variance(d: Derivation, param: sp.Symbol) -> bool:
    """Whether the model declares the parameter a variance ("variance", "noise variance"): a squared scale (a
    Rayleigh's s^2) is not one, and n - 1 is no unbiased correction for it."""
    return any(p.symbol == param and "variance" in p.description for p in d.model.params)


def _param_of(q: Estimate, d: Derivation, key: str) -> sp.Symbol | None:
    from mlemap.derivations.sheet import estimate_key

    return next((p for p in d.params if estimate_key(q, d, p) == key), None)


def _estimate_mistakes(q: Estimate, d: Derivation, key: str, right: sp.Basic, deriv: Callable) -> list[Mistake]:
    out = []
    param = _param_of(q, d, key)
    variance = param is not None and _is_variance(d, param)
    if right.has(n_obs):
        out.append(
            Mistake(
                "n_minus_1",
                f"you divided by $n - 1$ where the {'maximum-likelihood' if d.kind == 'MLE' else 'MAP'} estimate "
                "divides by $n$"
                + (" (an unbiased estimator divides by the degrees of freedom left)" if variance else ""),
                f"{d.kind} (score = 0)",
                sp.simplify(right * n_obs / (n_obs - 1)),
            )
        )
        out.append(
            Mistake(
                "n_for_n_minus_1",
                "you divided by $n$ where the answer divides by $n - 1$",
                f"{d.kind} (score = 0)",
                sp.simplify(right * (n_obs - 1) / n_obs),
            )
        )
    if param is not None and param.name.endswith("^2"):
        what = "the variance" if variance else f"${sp.latex(param)}$"
        out.append(
            Mistake(
                "sigma_for_sigma2",
                ("you gave the standard deviation, " if variance else "you gave ")
                + f"the square root of ${sp.latex(param)}$; the question asks for {what} itself",
                f"{d.kind} (score = 0)",
                sp.sqrt(right),
            )
        )
    if q.model.prior is not None and param is not None:
        out += _prior_mistakes(q.model, param, deriv)
        out += _posterior_mean_mistake(q.model, d)
    if right.free_symbols and param is not None:
        out += _statistic_mistakes(d, right)
    if param is not None:
        out += _count_from_zero(q.model, param, deriv)
    return out


def _count_from_zero(model: Model, param: sp.Symbol, deriv: Callable) -> list[Mistake]:
    """A count from 1 (trials up to the first success) modelled with the law of the same count from 0 (the
    failures before it), p (1 - p)^k for p (1 - p)^(k - 1): the density at k + 1, on the data as they are."""
    if len(model.data) != 1 or model.support.get(model.data[0]) != sp.Naturals or model.prior is not None:
        return []
    (k,) = model.data
    shifted = model.density.subs(k, k + 1)
    other = dataclasses.replace(model, name=f"{model.name}_count_from_zero", density=shifted, support={k: sp.Naturals0})
    try:
        d = deriv(other)
    except Exception:  # noqa: BLE001 - a shifted law SymPy cannot solve is no candidate
        return []
    if d.estimate is None or param not in d.estimate:
        return []
    words = (
        f"you used ${sp.latex(shifted)}$, the law of a count that starts at 0, for ${sp.latex(k)}_i$, "
        f"which counts from 1 (its law is ${sp.latex(model.density)}$)"
    )
    return [Mistake("count_from_zero", words, "Joint log-likelihood", d.estimate[param])]


def _plug_in_mistakes(q: PlugIn, deriv: Callable) -> list[Mistake]:
    """The probability at the MLE where the MAP is asked (the prior forgotten), and one new observation's
    probability where several independent ones are asked (their probabilities multiply)."""
    d = deriv(q.model)
    if d.estimate is None:
        return []
    out = []
    if q.model.prior is not None:
        plain = deriv(dataclasses.replace(q.model, name=f"{q.model.name}_likelihood_only", prior=None))
        if plain.estimate is not None:
            words = f"you put in the MLE, leaving out the prior, where the {d.kind} belongs"
            mle = bayes.plug_in_predictive(q.model, plain.estimate, q.new)
            out.append(Mistake("plug_in_mle", words, "Plug-in", mle))
    if len(q.new) > 1:
        one = bayes.plug_in_predictive(q.model, d.estimate, q.new[:1])
        words = (
            f"you gave the probability of one new observation; the {len(q.new)} are independent given the "
            "parameter, so their probabilities multiply"
        )
        out.append(Mistake("one_observation", words, "Plug-in", one))
    return out


def _posterior_mistakes(model: Model, right: sp.Basic) -> list[Mistake]:
    """For a posterior of a named family: its kernel's exponents read as the family's parameters (Beta(3, 4) for
    theta^3 (1 - theta)^4), and the prior left out (the likelihood alone, normalised)."""
    par = model.params[0]
    p, domain = par.symbol, par.domain
    named = family(right, p, domain) if isinstance(right, sp.Expr) else None
    if named is None or named.name == "Normal":
        return []
    out = []
    shape = (named.args[0] - 1, named.args[1] - 1) if named.name == "Beta" else (named.args[0] - 1, named.args[1])
    if all(a.is_positive for a in shape):
        kernel = sp.latex(named.kernel)
        t = sp.latex(p)
        form = rf"{t}^{{a-1}} (1 - {t})^{{b-1}}" if named.name == "Beta" else rf"{t}^{{a-1}} e^{{-b {t}}}"
        words = (
            f"you read the exponents of ${kernel}$ as the {named.name} parameters; "
            rf"$\operatorname{{{named.name}}}(a, b)$ has the kernel ${form}$"
        )
        shown = rf"$\operatorname{{{named.name}}}({sp.latex(shape[0])}, {sp.latex(shape[1])})$"
        out.append(Mistake("exponents_as_parameters", words, "Posterior", family_density(named.name, shape, p), shown))
    if model.prior is not None and model.prior.has(p):
        alone = family(bayes.posterior(dataclasses.replace(model, name=f"{model.name}_flat", prior=None)), p, domain)
        if alone is not None:
            words = "you left out the prior: this is the likelihood alone, normalised"
            shown = rf"$\operatorname{{{alone.name}}}({', '.join(sp.latex(a) for a in alone.args)})$"
            out.append(Mistake("posterior_prior_forgotten", words, "Posterior", alone.normaliser * alone.kernel, shown))
    return out


def _posterior_mean_mistake(model: Model, d: Derivation) -> list[Mistake]:
    """The posterior mean given for the MAP, the posterior's mode, where a conjugate prior makes the posterior a
    named family at the observed data (Beta, Gamma: their means are exact; a Normal's mean is its mode)."""
    if len(model.params) != 1 or not model.observed or not isinstance(model.params[0].domain, sp.Interval):
        return []
    p, domain = model.params[0].symbol, model.params[0].domain
    if family(model.prior, p, domain) is None:  # not conjugate-shaped: the posterior's integral may not close
        return []
    named = family(bayes.posterior(model), p, domain)
    if named is None:
        return []
    words = (
        f"you gave the posterior mean; the MAP is the posterior's mode, where the "
        f"{named.name}({', '.join(sp.latex(a) for a in named.args)}) posterior density is highest"
    )
    return [Mistake("posterior_mean_for_mode", words, f"{d.kind} (score = 0)", named.mean)]


def _prior_mistakes(model: Model, param: sp.Symbol, deriv: Callable) -> list[Mistake]:
    """The MLE (the prior forgotten), and the MAP under the prior with its variance read as its standard
    deviation or the other way round."""
    out = []
    variants = [
        (
            "prior_forgotten",
            "you left out the prior: this is the maximum-likelihood estimate, and the "
            "question asks for the MAP, which maximises likelihood times prior",
            "Log-posterior",
            None,
        )
    ]
    variance = _normal_prior_variance(model.prior, param)
    if variance is not None:
        variants.append(
            (
                "prior_variance_as_sd",
                f"you read the prior's {variance} as its standard deviation; "
                f"$N(m, s^2)$ writes the variance, so {variance} is the variance",
                "Log-prior",
                variance**2,
            )
        )
        variants.append(
            (
                "prior_sd_as_variance",
                f"you read the prior's {variance} as its variance; here it is the standard deviation",
                "Log-prior",
                sp.sqrt(variance),
            )
        )
    for name, words, step, new_variance in variants:
        prior = None if new_variance is None else _normal_prior_with(model.prior, param, new_variance)
        if new_variance is not None and prior is None:
            continue
        other = dataclasses.replace(model, name=f"{model.name}_{name}", prior=prior)
        try:
            d = deriv(other)
        except Exception:  # noqa: BLE001 - a variant SymPy cannot solve (an irrational variance) is no candidate
            continue
        if d.estimate is not None and param in d.estimate:
            out.append(Mistake(name, words, step, d.estimate[param]))
    return out


def _normal_prior_variance(prior, param: sp.Symbol) -> sp.Expr | None:
    """v in a prior proportional to exp(-(theta - m)^2 / (2 v)), v a number; None otherwise."""
    if not isinstance(prior, sp.Expr):
        return None
    exponent = sp.expand(sp.log(prior).expand(force=True))  # a declared SymPy expression, checked when derived
    quadratic = exponent.coeff(param, 2)
    if quadratic.free_symbols or not quadratic.is_number or not quadratic.is_negative:
        return None
    return sp.nsimplify(-1 / (2 * quadratic))


def _normal_prior_with(prior, param: sp.Symbol, variance: sp.Expr):
    old = _normal_prior_variance(prior, param)
    exponent = sp.expand(sp.log(prior).expand(force=True))  # a declared SymPy expression, checked when derived
    mean = sp.nsimplify(exponent.coeff(param, 1) * old)
    return sp.exp(-((param - mean) ** 2) / (2 * variance)) / sp.sqrt(2 * sp.pi * variance)


def _statistic_mistakes(d: Derivation, right: sp.Basic) -> list[Mistake]:
    """The sum of squares taken as the square of the sum (and the like): each statistic of a square replaced by the
    square of its root's statistic."""
    out = []
    by_expr = {s.expr: s.symbol for s in d.statistics if s.reduce == "sum"}
    for expr, symbol in by_expr.items():
        root = sp.sqrt(expr)
        if root in by_expr and right.has(symbol):
            wrong = right.subs(symbol, by_expr[root] ** 2)
            out.append(
                Mistake(
                    "wrong_statistic",
                    f"you used the square of the sum, $(\\sum_i {sp.latex(root)}_i)^2$, where the "
                    f"sum of squares $\\sum_i {sp.latex(root)}_i^2$ belongs",
                    "Joint log-likelihood in sample statistics",
                    wrong,
                )
            )
    return out


def _predictive_mistakes(q: PosteriorPredictive, deriv: Callable) -> list[Mistake]:
    d = deriv(q.model)
    if d.estimate is None:
        return []
    plug = bayes.plug_in_predictive(q.model, d.estimate, q.new)
    return [
        Mistake(
            "plug_in_for_predictive",
            f"you plugged the {d.kind} into the likelihood; the posterior "
            "predictive averages over the whole posterior instead of using one value",
            "Posterior predictive",
            plug,
        )
    ]


def _arithmetic_mistakes(right: sp.Basic) -> list[Mistake]:
    if isinstance(right, sp.Tuple) or right == 0:
        return []
    return [
        Mistake(
            "factor_2",
            "your answer is twice the right one: a factor 1/2 was lost (the 2 in a Gaussian's "
            "exponent, or in the derivative of a square)",
            "Score",
            2 * right,
        ),
        Mistake(
            "half",
            "your answer is half the right one: a factor 2 was lost (the derivative of a square)",
            "Score",
            right / 2,
        ),
        Mistake("sign", "your answer has the wrong sign: check the sign of each term of the score", "Score", -right),
    ]
