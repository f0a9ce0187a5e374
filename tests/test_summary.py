"""estimate(...).summary(): standard errors, Wald and likelihood-ratio intervals, log-likelihood, AIC and BIC, each
against a hand computation that shares nothing with the code (no Hessian, no scipy.stats): the textbook formulas
sqrt(lambda/n), sigma/sqrt(n), lambda/sqrt(n), and the likelihood-ratio set found on a brute-force grid."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
import sympy as sp

from mlemap.catalogue import MODELS, derivation
from mlemap.derivations.model import InputError
from mlemap.numerics.estimate import estimate
from tests.conftest import mutate

POISSON_DATA = [1, 2, 3, 6, 2, 4, 0, 5, 3, 3, 2, 1]
Z95 = NormalDist().inv_cdf(0.975)
CHI2_95 = Z95**2  # the chi-square(1) quantile is the squared normal one


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def poisson_standard_error_agrees(summary, data) -> bool:
    """SE(lambda_hat) = sqrt(lambda_hat / n), from the observed and from the expected information."""
    n, mean = len(data), sum(data) / len(data)
    (row,) = summary.rows
    return close(row.se_observed, math.sqrt(mean / n)) and close(row.se_expected, math.sqrt(mean / n))


def grid_interval(loglik, grid: np.ndarray, best: float) -> tuple[float, float]:
    """The ends of {theta on the grid : 2 (best - l(theta)) <= chi2_1(95%)}, and the grid's step."""
    inside = grid[2 * (best - loglik(grid)) <= CHI2_95]
    return float(inside.min()), float(inside.max())


def test_poisson_errors_and_wald_interval_are_the_textbook_ones():
    found = estimate(derivation("poisson"), {"x": POISSON_DATA})
    summary = found.summary()
    n, mean = len(POISSON_DATA), sum(POISSON_DATA) / len(POISSON_DATA)
    (row,) = summary.rows
    assert close(row.estimate, mean) and poisson_standard_error_agrees(summary, POISSON_DATA)
    se = math.sqrt(mean / n)
    assert close(row.wald[0], mean - Z95 * se) and close(row.wald[1], mean + Z95 * se)
    assert row.exact == sp.Rational(sum(POISSON_DATA), n)  # the closed form at the data, exactly


def test_a_wrong_hessian_gives_standard_errors_that_disagree():
    d = derivation("poisson")
    right = estimate(d, {"x": POISSON_DATA}).summary()
    wrong = estimate(mutate(d, hessian=2 * d.hessian), {"x": POISSON_DATA}).summary()
    assert poisson_standard_error_agrees(right, POISSON_DATA)
    assert not poisson_standard_error_agrees(wrong, POISSON_DATA)
    assert close(wrong.rows[0].se_observed, right.rows[0].se_observed / math.sqrt(2))


def test_poisson_likelihood_ratio_interval_matches_a_brute_force_grid():
    summary = estimate(derivation("poisson"), {"x": POISSON_DATA}).summary()
    n, total = len(POISSON_DATA), sum(POISSON_DATA)
    mean = total / n

    def loglik(lam):  # up to the data's constant, which the ratio cancels
        return total * np.log(lam) - n * lam

    grid = np.linspace(mean / 4, 3 * mean, 400_001)
    lower, upper = grid_interval(loglik, grid, loglik(mean))
    step = grid[1] - grid[0]
    found = summary.rows[0].likelihood_ratio
    assert abs(found[0] - lower) <= step and abs(found[1] - upper) <= step
    assert abs(found[0] - summary.rows[0].wald[0]) > 100 * step  # not the Wald interval by another name


def test_poisson_log_likelihood_aic_and_bic_are_the_textbook_ones():
    summary = estimate(derivation("poisson"), {"x": POISSON_DATA}).summary()
    n, total = len(POISSON_DATA), sum(POISSON_DATA)
    mean = total / n
    loglik = total * math.log(mean) - n * mean - sum(math.lgamma(x + 1) for x in POISSON_DATA)
    assert close(summary.loglik, loglik) and summary.n == n and summary.k == 1
    assert close(summary.aic, 2 - 2 * loglik) and close(summary.bic, math.log(n) - 2 * loglik)


def gaussian_sample() -> list[float]:
    return [float(v) for v in np.random.default_rng(7).normal(1.5, 2.0, 40)]


def test_gaussian_errors_are_sigma_over_root_n_and_sigma2_root_two_over_n():
    data = gaussian_sample()
    summary = estimate(derivation("gaussian"), {"x": data}).summary()
    n = len(data)
    mu = sum(data) / n
    s2 = sum((v - mu) ** 2 for v in data) / n
    rows = {r.name: r for r in summary.rows}
    assert close(rows["mu"].estimate, mu) and close(rows["sigma^2"].estimate, s2)
    for which in ("se_observed", "se_expected"):
        assert close(getattr(rows["mu"], which), math.sqrt(s2 / n))
        assert close(getattr(rows["sigma^2"], which), s2 * math.sqrt(2 / n))
    assert close(rows["mu"].wald[1], mu + Z95 * math.sqrt(s2 / n))


def test_gaussian_profile_interval_of_mu_matches_a_two_dimensional_grid():
    """The profile over sigma^2 taken by brute force: the largest log-likelihood over a grid of sigma^2 values."""
    data = np.array(gaussian_sample())
    summary = estimate(derivation("gaussian"), {"x": data}).summary()
    n, s1, s2sum = len(data), data.sum(), (data**2).sum()
    mu_hat, var_hat = s1 / n, s2sum / n - (s1 / n) ** 2
    mus = np.linspace(mu_hat - 2, mu_hat + 2, 4001)[:, None]
    variances = np.linspace(0.5 * var_hat, 2.5 * var_hat, 4001)[None, :]
    ll = -n / 2 * np.log(variances) - (s2sum - 2 * mus * s1 + n * mus**2) / (2 * variances)
    profile = ll.max(axis=1)
    best = -n / 2 * np.log(var_hat) - n / 2
    inside = mus[:, 0][2 * (best - profile) <= CHI2_95]
    step = float(mus[1, 0] - mus[0, 0])
    found = next(r for r in summary.rows if r.name == "mu").likelihood_ratio
    assert abs(found[0] - inside.min()) <= 2 * step and abs(found[1] - inside.max()) <= 2 * step


def test_exponential_error_is_lambda_over_root_n_at_the_level_asked():
    data = [0.3, 1.2, 0.05, 0.8, 2.4, 0.6, 0.9, 0.15]
    summary = estimate(derivation("exponential"), {"x": data}).summary(alpha=0.1)
    n = len(data)
    lam = n / sum(data)
    (row,) = summary.rows
    assert close(row.se_observed, lam / math.sqrt(n)) and close(row.se_expected, lam / math.sqrt(n))
    z90 = NormalDist().inv_cdf(0.95)
    assert close(row.wald[0], lam - z90 * lam / math.sqrt(n))
    assert "90%" in summary.text() and "95%" not in summary.text()


def test_a_model_and_symbol_keys_give_the_same_summary_as_a_derivation_and_names():
    by_name = estimate(derivation("poisson"), {"x": POISSON_DATA}).summary()
    (x,) = MODELS["poisson"].data
    by_symbol = estimate(MODELS["poisson"], {x: POISSON_DATA}).summary()
    assert by_symbol.rows == by_name.rows and by_symbol.text() == by_name.text()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({1: [1, 2]}, "data keys must be data names (str) or SymPy symbols, got 1 (int)"),
        ({"x": [1, 2], sp.Symbol("x"): [3]}, "data 'x' is given twice"),
        ([1, 2, 3], "data must be a mapping of data name to values, got list"),
    ],
)
def test_data_keyed_by_anything_else_is_one_line(data, message):
    with pytest.raises(InputError) as caught:
        estimate(derivation("poisson"), data)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1, "0.05", True])
def test_a_level_outside_zero_one_is_one_line(alpha):
    found = estimate(derivation("poisson"), {"x": POISSON_DATA})
    with pytest.raises(InputError, match=r"alpha must be a number in \(0, 1\)"):
        found.summary(alpha)


def test_a_support_bound_and_a_missing_maximum_say_why_instead_of_numbers():
    from tests.textbook_catalogue import uniform_0_theta

    bounded = estimate(uniform_0_theta(), {"x": [0.5, 2.0, 1.25]}).summary()
    (row,) = bounded.rows
    assert row.estimate == 2.0 and math.isnan(row.se_observed) and row.likelihood_ratio is None
    assert "SKIP" in bounded.text() and any("the support depends on it" in note for note in bounded.notes)
    no_maximum = estimate(MODELS["coin_uniform"], {"x": [1, 1, 1]}).summary()
    assert no_maximum.rows == () and "no estimate: no maximum in the domain" in no_maximum.text()


def test_a_map_summary_says_whose_curvature_it_uses():
    summary = estimate(MODELS["coin_map"], {"x": [1, 0, 1, 1, 0, 1, 1, 1]}).summary()
    assert summary.kind == "MAP" and any("log-posterior" in note for note in summary.notes)
    (row,) = summary.rows
    assert row.se_observed != row.se_expected  # the prior's curvature is in one and not the other


def test_the_terminal_table_has_fixed_columns():
    text = estimate(derivation("gaussian"), {"x": gaussian_sample()}).summary().text()
    lines = text.splitlines()
    rule = next(line for line in lines if set(line) == {"="})
    table = lines[lines.index("-" * len(rule)) + 1 : lines.index("Notes:") - 1]
    assert [line.split()[0] for line in table] == ["mu", "sigma^2"]
    assert all(len(line) == len(rule) for line in table)
    assert all(len(line) <= len(rule) for line in lines)


def test_the_notebook_reprs_escape_text_and_need_no_mathjax():
    found = estimate(derivation("poisson"), {"x": POISSON_DATA})
    html = found._repr_html_()
    assert "<math" in html and "$" not in html and "<mover" in html  # the estimate's name wears a hat
    assert html.count("<tr>") == 4 + 1 + 1  # four header pairs, the column titles, one parameter
    assert r"\hat{\lambda}" in found._repr_latex_() and r"$\hat{\lambda}$" in found._repr_markdown_()
    from mlemap.numerics.summary import title_html

    assert title_html("a <b> & $\\mu$").startswith("a &lt;b&gt; &amp; <math")


def test_a_variance_s_profile_interval_closes_before_zero_at_small_n():
    """n = 6: the estimate minus two standard errors is below 0, yet the profile of sigma^2 falls to -oo at 0, so
    the interval's lower end lies inside the domain. Independently: with t = s^2 / sigma^2 the profile drop is
    n/2 (t - 1 - log t), set equal to chi2_1(95%)/2 and solved by bisection on each side of t = 1."""
    data = [1.2, 0.4, 2.2, 1.9, 0.7, 1.1]
    n, var_hat = len(data), float(np.var(data))

    def root(low: float, high: float) -> float:
        drop = lambda t: n / 2 * (t - 1 - math.log(t)) - CHI2_95 / 2  # noqa: E731
        for _ in range(200):
            middle = (low + high) / 2
            low, high = (middle, high) if (drop(middle) > 0) == (drop(low) > 0) else (low, middle)
        return (low + high) / 2

    row = next(r for r in estimate(derivation("gaussian"), {"x": data}).summary().rows if r.name == "sigma^2")
    assert row.wald[0] < 0  # the case: the first doubling step passes the domain's edge
    assert close(row.likelihood_ratio[0], var_hat / root(1.0, 50.0), rel=1e-7)
    assert close(row.likelihood_ratio[1], var_hat / root(1e-9, 1.0), rel=1e-7)
