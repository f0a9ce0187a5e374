"""What a reader of the printed figures can check by eye, checked on the Figure objects: every text is at least
8 pt once LaTeX has scaled the figure to its print size, symbols are mathtext (no "sigma^2", no "5e-05"),
legends cover no data (no optimum marker), no two texts overlap. Each figure function is drawn from small
made-up inputs, with the labels the layouts give it."""

from __future__ import annotations

import re
from itertools import combinations
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
import sympy as sp
from matplotlib.axes import Axes
from matplotlib.text import Text
from mlemap.numerics.exact_study import off_axes
from mlemap.reports import figures
from mlemap.reports.exact_study import ascent_errors, bound_title

RNG = np.random.default_rng(0)
PLAIN_SYMBOLS = re.compile(r"sigma|Sigma|\^|_|\\|\d[eE][-+]?\d|\blr\s*=")
MATH = re.compile(r"\$[^$]*\$")


def quadratic_grid(centre=(1.0, 1.0), span=((-0.5, 2.5), (-0.5, 2.5)), curvature=((4.0, 0.0), (0.0, 1.0))):
    x = np.linspace(*span[0], 40)
    y = np.linspace(*span[1], 30)
    m1, m2 = np.meshgrid(x, y)
    e = np.stack([m1 - centre[0], m2 - centre[1]], axis=-1)
    values = -50.0 * np.einsum("...i,ij,...j->...", e, np.array(curvature), e)
    return m1, m2, values


def path_to(optimum, start=(0.0, 0.0), steps=30, factor=-0.8) -> np.ndarray:
    """An iteration that overshoots the optimum at every step, as gradient ascent past half the bound does."""
    e = np.asarray(start, float) - optimum
    return np.array([optimum + factor**t * e for t in range(steps)])


def rate_study(fractions=(0.05, 0.25, 0.5, 0.75, 0.95, 1.02), curvatures=(2000.0, 2000.0)):
    """A stand-in for numerics.study.Study: gradient ascent at fractions of the bound 2 / c_max."""
    bound = 2 / max(curvatures)
    runs = []
    for f in fractions:
        rho = max(abs(1 - f * bound * c) for c in curvatures)
        errors = 1.4 * rho ** np.arange(60 if rho < 1 else 120)
        converged = rho < 1
        runs.append(
            SimpleNamespace(lr=f * bound, errors=errors, status="converged" if converged else "diverged", steps=59)
        )
    return SimpleNamespace(ascent=tuple(runs), bound=bound, curvatures=curvatures)


def ascent_panels():
    curves, notes, steps = ascent_errors(rate_study())
    return figures.error_panels(curves, notes, steps, r"$\|\theta_t - \hat\theta\|$")


def anisotropic_ascent_panels():
    curves, notes, steps = ascent_errors(rate_study((0.1, 0.5, 0.9, 1.1), (300.0, 40.0)))
    return figures.error_panels(curves, notes, steps, r"$\|\theta_t - \hat\theta\|$")


def rate_paths():
    m1, m2, values = quadratic_grid(curvature=((1.0, 0.0), (0.0, 1.0)))
    optimum = np.array([1.0, 1.0])
    paths = {bound_title(f * 0.001, 0.001): path_to(optimum, factor=1 - 2 * f) for f in (0.05, 0.25, 0.5, 0.95, 1.02)}
    return figures.path_panels(m1, m2, values, paths, optimum, (r"$\mu_1$", r"$\mu_2$", r"$\ell$"))


OPTIMIZERS = ("SGD", "SGD, optimal rate", "SGD + momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "LBFGS")


def optimizer_paths():
    m1, m2, values = quadratic_grid()
    optimum = np.array([1.0, 1.0])
    paths = {name: path_to(optimum, (1.0, -0.4), factor=-0.5 + 0.15 * k) for k, name in enumerate(OPTIMIZERS)}
    return figures.path_panels(m1, m2, values, paths, optimum, (r"$\mu_1$", r"$\mu_2$", r"$\ell$"))


def wide_paths():
    """Exercise 4's kind: parameters in different units, a box wider than high, a label of its own."""
    m1, m2, values = quadratic_grid((1.0, 0.3), ((-0.3, 1.3), (0.05, 1.2)))
    optimum = np.array([1.0, 0.3])
    names = ("SGD", "SGD + momentum 0.9", "Adam", "LBFGS", f"gradient ascent, {bound_title(0.1, 1.0)}")
    paths = {name: path_to(optimum, (0.0, 1.0), factor=0.7) for name in names}
    return figures.path_panels(m1, m2, values, paths, optimum, ("$m$", "$v$", r"$\ell$"))


def optimizer_errors():
    curves = {name: 1.4 * (0.5 + 0.05 * k) ** np.arange(40 + 20 * k) for k, name in enumerate(OPTIMIZERS)}
    return figures.error_curves(curves, ylabel=r"$\|\theta_t - \hat\theta\|$")


def sample():
    data = RNG.normal(1.0, 2.0, (300, 2))
    return figures.sample_scatter(data, data.mean(axis=0), (1.0, 1.0), ("$x_1$", "$x_2$"))


def sgd():
    runs = []
    for k in (1, 10, 100, 1000):
        errors = np.abs(RNG.normal(1 / np.sqrt(k), 0.1 / np.sqrt(k), 200)) + np.exp(-np.arange(200) / 20)
        runs.append(SimpleNamespace(k=k, errors=errors, samples_seen=k * np.arange(200)))
    return figures.sgd_convergence(runs, {1: 1.0, 10: 0.3, 100: 0.1})


def subsets():
    m1, m2, _ = quadratic_grid()
    lands = [
        SimpleNamespace(
            k=k, values=quadratic_grid((1.2, 0.9), curvature=((k, 0), (0, k)))[2], subset_optimum=(1.2, 0.9)
        )
        for k in (1, 5, 10, 100, 1000, 10000)
    ]
    return figures.subset_landscapes(m1, m2, lands, (1.0, 1.0), (r"$\mu_1$", r"$\mu_2$"))


SHEET_VARIANCES = (1, sp.Rational(3, 10), sp.Rational(1, 10), sp.Rational(3, 100), sp.Rational(1, 100))  # Exercise 3's


def coin(variances=SHEET_VARIANCES):
    """The PriorStrength kind's figure with Exercise 3's labels (sympy's fractions in them)."""
    grid = np.linspace(0.0025, 0.9975, 397)
    likelihood = grid**3 * (1 - grid) ** 4 * 280
    priors, posteriors, maps = {}, {}, {}
    for v in variances:
        label = f"$N(0.5, {sp.latex(v)})$"
        priors[label] = np.exp(-((grid - 0.5) ** 2) / (2 * float(v)))
        priors[label] /= np.trapezoid(priors[label], grid)
        posteriors[label] = likelihood * priors[label] / np.trapezoid(likelihood * priors[label], grid)
        maps[label] = float(grid[np.argmax(posteriors[label])])
    return figures.prior_panels(grid, priors, posteriors, maps, 3 / 7, likelihood, r"$\theta$")


FIGURES = {
    "ascent_panels": ascent_panels,
    "anisotropic_ascent_panels": anisotropic_ascent_panels,
    "rate_paths": rate_paths,
    "optimizer_paths": optimizer_paths,
    "wide_paths": wide_paths,
    "optimizer_errors": optimizer_errors,
    "sample": sample,
    "sgd": sgd,
    "subsets": subsets,
    "coin": coin,
    "coin_two_priors": lambda: coin((1, sp.Rational(1, 100))),
}


@pytest.fixture(params=sorted(FIGURES), scope="module")
def drawn(request):
    """The figure laid out as it is saved, and the scale LaTeX prints it at."""
    with plt.rc_context(figures.STYLE):
        fig = FIGURES[request.param]()
        scale = figures.print_scale(fig)  # lays the figure out, as saving does
        fig.canvas.draw()
    yield fig, scale
    plt.close(fig)


def texts(fig) -> list[Text]:
    """The texts drawn: visible, not empty, and no label of a tick outside its axis's view (matplotlib keeps
    those, but does not draw them)."""
    unseen = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo <= tick.get_loc() <= hi and not np.isclose(tick.get_loc(), [lo, hi], rtol=1e-9, atol=0).any():
                    unseen |= {tick.label1, tick.label2}
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t not in unseen]


def test_every_text_prints_at_8_pt_or_more(drawn):
    fig, scale = drawn
    small = [(t.get_text(), t.get_fontsize() * scale) for t in texts(fig) if t.get_fontsize() * scale < 8]
    assert not small, f"printed at {scale:.3f} of its size: {small}"


def test_symbols_are_mathtext_and_numbers_have_no_e_notation(drawn):
    fig, _ = drawn
    plain = [t.get_text() for t in texts(fig) if PLAIN_SYMBOLS.search(MATH.sub("", t.get_text()))]
    assert not plain


def _with_data(ax: Axes) -> bool:
    return bool(ax.lines or ax.images or ax.collections)


def test_legends_cover_no_data_and_no_optimum(drawn):
    fig, _ = drawn
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    optima = [
        line.get_transform().transform(line.get_xydata()[0])
        for ax in fig.axes
        for line in ax.lines
        if line.get_label() in ("optimum", "estimate") or (line.get_marker() == "x" and line.get_color() == "red")
    ]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes if _with_data(ax))
        assert not any(box.contains(*point) for point in optima)


def test_no_two_texts_overlap(drawn):
    """Titles of neighbouring panels, tick labels and colour bar labels each keep their own room."""
    fig, _ = drawn
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer).shrunk(0.98, 0.9)) for t in texts(fig)]
    clashes = [(a, b) for (a, box_a), (b, box_b) in combinations(boxes, 2) if box_a.overlaps(box_b)]
    assert not clashes


@pytest.mark.parametrize(
    ("x", "shown"),
    [
        (5.278e-05, r"5.28 \times 10^{-5}"),
        (0.05, "0.05"),
        (-1.04, "-1.04"),
        (-1.1e-16, r"-1.1 \times 10^{-16}"),
        (1e-16, "10^{-16}"),
        (0.0, "0"),
        (-0.0004, r"-4 \times 10^{-4}"),
        (0.9999999, "1"),
        (2500.0, "2500"),
        (9.9996e5, "10^{6}"),
    ],
)
def test_figure_numbers_have_at_most_the_digits_asked_and_no_e_notation(x, shown):
    assert figures.figure_number(x) == shown


def test_a_fraction_in_a_label_is_drawn_at_full_size():
    assert figures.mathtext(r"$N(0.5, \frac{3}{100})$") == "$N(0.5, 3/100)$"


def test_rates_with_one_contraction_size_get_factors_of_opposite_sign_and_panels_of_their_own():
    curves, notes, steps = ascent_errors(rate_study())
    assert list(curves) == [bound_title(f, 1.0) for f in (0.05, 0.25, 0.5, 0.75, 0.95, 1.02)]
    assert notes[bound_title(0.05, 1.0)] == r"$\rho = {0.9}$" and notes[bound_title(0.95, 1.0)] == r"$\rho = {-0.9}$"
    assert notes[bound_title(0.5, 1.0)] == r"$\rho = {0}$"
    assert steps == int(1.15 * 59) + 1  # the diverging run is cut a little after the slowest converged one
    two = ascent_errors(rate_study((0.1,), (300.0, 40.0)))[1]
    assert two[bound_title(0.1, 1.0)] == r"$\rho = {0.8},\ {0.973}$"  # stiffest axis first


def test_a_start_on_a_principal_axis_is_turned_off_it_at_its_distance():
    along = np.array([1.0, 1.0]) / np.sqrt(2)  # the flat axis of the curvature below
    curvature = 0.2 * np.outer(along, along) + 4.0 * np.outer([along[0], -along[1]], [along[0], -along[1]])
    s = SimpleNamespace(curvature=curvature, optimum=np.array([1.0, 1.0]))
    start = off_axes(s, np.zeros(2))
    error = start - s.optimum
    assert np.linalg.norm(error) == pytest.approx(np.sqrt(2))
    cosines = np.abs(np.linalg.eigh(curvature)[1].T @ error) / np.linalg.norm(error)
    assert cosines == pytest.approx([np.sqrt(0.5)] * 2)
    assert error @ along < 0  # still on the start's side of the optimum along the flat axis
    off = np.array([0.0, 0.6])
    assert np.array_equal(off_axes(s, off), off)  # off the axes already: kept
    round_ = SimpleNamespace(curvature=np.eye(2), optimum=np.array([1.0, 1.0]))
    assert np.array_equal(off_axes(round_, np.zeros(2)), np.zeros(2))  # every direction an axis: kept


def test_a_figure_is_the_same_bytes_drawn_twice(tmp_path):
    plan = figures.FigurePlan()
    plan.add("paths", figures.path_panels, *quadratic_grid(), {"SGD": path_to(np.array([1.0, 1.0]))}, (1.0, 1.0))
    plan.render(tmp_path / "a", processes=1)
    plan.render(tmp_path / "b", processes=1)
    for ext in ("png", "pdf"):
        assert (tmp_path / "a" / f"paths.{ext}").read_bytes() == (tmp_path / "b" / f"paths.{ext}").read_bytes()
