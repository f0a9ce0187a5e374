"""What a reader of the printed figures can check by eye, checked on the Figure objects: every text is at least
8 pt once LaTeX has scaled the figure to its print size (wherever on the page it lands), symbols are mathtext
(no "sigma^2", no "5e-05"), legends cover no data (no optimum marker), no two texts overlap, no marker hides
under another marker or a curve, no panel slot is left empty, a curve on a log axis is seen whole, and a heatmap
colours the objective minus its maximum, clipped near the optimum and labelled so. Each figure function is
drawn from small made-up inputs, with the labels the layouts give it."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path
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
from mlemap.reports.study_symbols import StudySymbols

RNG = np.random.default_rng(0)
SYM = StudySymbols(
    rate=r"\eta", eigen=r"\kappa", factor="q", curvature="C", score_covariance="V", batch="k", vector=r"\theta"
)
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
    curves, notes, steps = ascent_errors(rate_study(), SYM)
    return figures.error_panels(curves, notes, steps, r"$\|\theta_t - \hat\theta\|$")


def anisotropic_ascent_panels():
    curves, notes, steps = ascent_errors(rate_study((0.1, 0.5, 0.9, 1.1), (300.0, 40.0)), SYM)
    return figures.error_panels(curves, notes, steps, r"$\|\theta_t - \hat\theta\|$")


def rate_paths():
    m1, m2, values = quadratic_grid(curvature=((1.0, 0.0), (0.0, 1.0)))
    optimum = np.array([1.0, 1.0])
    paths = {bound_title(f * 0.001, 0.001): path_to(optimum, factor=1 - 2 * f) for f in (0.05, 0.25, 0.5, 0.95, 1.02)}
    return figures.path_panels(m1, m2, values, paths, optimum, (r"$\mu_1$", r"$\mu_2$", r"$\ell$"))


def rates_in_a_wide_box():
    """Exercise 3's box: the optimum at (1, 1), the box to 3.7 either side (a diverging run stays in it)."""
    m1, m2, values = quadratic_grid(span=((-2.7, 4.7), (-2.7, 4.7)), curvature=((1.0, 0.0), (0.0, 1.0)))
    optimum = np.array([1.0, 1.0])
    paths = {bound_title(f, 1.0): path_to(optimum, factor=1 - 2 * f) for f in (0.05, 0.25, 0.5, 0.75, 0.95, 1.02)}
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


def sgd_runs():
    """Noisy runs with a floor each, and the full data's run (k = n), which has none and falls to rounding."""
    runs = []
    for k in (1, 10, 100):
        errors = np.abs(RNG.normal(1 / np.sqrt(k), 0.1 / np.sqrt(k), 200)) + np.exp(-np.arange(200) / 20)
        runs.append(SimpleNamespace(k=k, errors=errors, samples_seen=k * np.arange(200)))
    exact = np.maximum(np.exp(-np.arange(200) / 4), 3e-16)
    runs.append(SimpleNamespace(k=1000, errors=exact, samples_seen=1000 * np.arange(200)))
    return runs


def sgd():
    return figures.sgd_convergence(sgd_runs(), {1: 1.0, 10: 0.3, 100: 0.1})


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
    "rates_in_a_wide_box": rates_in_a_wide_box,
    "optimizer_paths": optimizer_paths,
    "wide_paths": wide_paths,
    "optimizer_errors": optimizer_errors,
    "sample": sample,
    "sample_without_truth": lambda: figures.sample_scatter(RNG.normal(0, 1, (50, 2)), np.zeros(2), None),
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
    curves, notes, steps = ascent_errors(rate_study(), SYM)
    assert list(curves) == [bound_title(f, 1.0) for f in (0.05, 0.25, 0.5, 0.75, 0.95, 1.02)]
    assert notes[bound_title(0.05, 1.0)] == r"$q = {0.9}$" and notes[bound_title(0.95, 1.0)] == r"$q = {-0.9}$"
    assert notes[bound_title(0.5, 1.0)] == r"$q = {0}$"
    assert steps == int(1.15 * 59) + 1  # the diverging run is cut a little after the slowest converged one
    two = ascent_errors(rate_study((0.1,), (300.0, 40.0)), SYM)[1]
    assert two[bound_title(0.1, 1.0)] == r"$q = {0.8},\ {0.973}$"  # stiffest axis first


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


TEMPLATE = Path(figures.__file__).with_name("templates") / "report.tex.j2"


def test_the_print_size_is_computed_from_the_latex_that_includes_the_figure():
    """figures.py sizes text for the least room report.tex.j2's \\fittedfigure leaves: the two must agree."""
    tex = TEMPLATE.read_text()
    assert "margin=2cm" in tex and "max width=0.8\\linewidth,max height=\\figureroom" in tex
    least = re.search(r"\\ifdim\\figureroom<([\d.]+)\\textheight", tex)
    most = re.search(r"\\ifdim\\figureroom>([\d.]+)\\textheight", tex)
    assert least and most
    assert float(least.group(1)) * (29.7 - 4.0) / 2.54 == pytest.approx(figures.LEAST_ROOM)
    assert float(most.group(1)) * (29.7 - 4.0) / 2.54 == pytest.approx(figures.PRINT_HEIGHT)


def test_a_tall_figure_prints_its_text_smaller_than_8_pt():
    """The 8 pt check can fail: a figure as high as the most room, shrunk into the least, does."""
    with plt.rc_context(figures.STYLE):
        fig, ax = plt.subplots(figsize=(figures.WIDTH, figures.PRINT_HEIGHT))
        ax.plot([0, 1], [0, 1])
        try:
            assert figures.FONT_PT * figures.print_scale(fig) < 8
            assert figures.FONT_PT * figures.print_scale(fig, room=figures.PRINT_HEIGHT) >= 8
        finally:
            plt.close(fig)


def _is_colorbar(ax: Axes) -> bool:
    return getattr(ax, "_colorbar", None) is not None


def empty_axes(fig) -> list[Axes]:
    """Axes that show nothing: no data, no legend, no colour bar (a slot a grid left over)."""
    return [ax for ax in fig.axes if not (_with_data(ax) or ax.get_legend() is not None or _is_colorbar(ax))]


def test_no_panel_slot_is_left_empty(drawn):
    fig, _ = drawn
    assert not empty_axes(fig)


def test_an_empty_slot_is_found():
    fig, axes = plt.subplots(2, 3)
    for ax in axes.ravel()[:5]:
        ax.plot([0, 1], [0, 1])
    axes[1, 2].axis("off")  # what a 3 + 2 grid used to leave
    try:
        assert empty_axes(fig) == [axes[1, 2]]
    finally:
        plt.close(fig)


def test_a_short_last_row_is_centred_under_the_row_above():
    with plt.rc_context(figures.STYLE):
        fig = rate_paths()  # five square panels: three, then two
        try:
            fig.canvas.draw()
            panels = [ax for ax in fig.axes if not _is_colorbar(ax)]
            assert len(panels) == 5 and not empty_axes(fig)
            centres = [ax.get_position().x0 + ax.get_position().width / 2 for ax in panels]
            assert np.mean(centres[3:]) == pytest.approx(centres[1], abs=0.01)
            assert {round(ax.get_position().y0, 3) for ax in panels[3:]} != {round(panels[0].get_position().y0, 3)}
        finally:
            plt.close(fig)


def _distance_to_polyline(point: np.ndarray, vertices: np.ndarray) -> float:
    a, b = vertices[:-1], vertices[1:]
    ab = b - a
    t = np.clip(np.einsum("ij,ij->i", point - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12), 0, 1)
    return float(np.min(np.linalg.norm(a + t[:, None] * ab - point, axis=1))) if len(a) else np.inf


def _hollow(line) -> bool:
    return line.get_marker() in tuple("os^vD<>pdh8") and str(line.get_markerfacecolor()).lower() == "none"


def hidden_markers(fig) -> list[str]:
    """Single-point markers (an optimum, a true value, a MAP) a reader cannot see: under a curve drawn above
        them, or where another marker covers them. Two markers may meet only as a small one and a hollow ring (a
    ring covers nothing, and a marker well smaller than a ring cannot cover it)."""
    fig.canvas.draw()
    px = fig.dpi / 72
    found = []
    for ax in fig.axes:
        order = {id(a): k for k, a in enumerate(sorted(ax.get_children(), key=lambda a: a.get_zorder()))}
        points = [ln for ln in ax.lines if ln.get_marker() not in ("", " ", "None", None) and len(ln.get_xydata()) == 1]
        curves = [ln for ln in ax.lines if len(ln.get_xydata()) >= 2 and ln.get_linestyle() not in ("None", "", " ")]
        at = {id(p): p.get_transform().transform(p.get_xydata())[0] for p in points}
        for p in points:
            radius = p.get_markersize() * px / 2
            for c in curves:
                drawn = c.get_transform().transform(c.get_xydata())
                if order[id(c)] > order[id(p)] and _distance_to_polyline(at[id(p)], drawn) < radius:
                    found.append(f"{p.get_label()} under {c.get_label()}")
        for a, b in combinations(points, 2):
            small, big = sorted((a, b), key=lambda m: m.get_markersize())
            gap = float(np.linalg.norm(at[id(a)] - at[id(b)]))
            r_small, r_big = small.get_markersize() * px / 2, big.get_markersize() * px / 2
            if gap < r_small + r_big and not (_hollow(big) and r_small <= 0.7 * r_big):
                found.append(f"{a.get_label()} and {b.get_label()} cover each other")
    return found


def test_no_marker_is_hidden(drawn):
    fig, _ = drawn
    assert not hidden_markers(fig)


def test_a_marker_under_another_or_under_a_curve_is_found():
    fig, (stacked, covered, ringed) = plt.subplots(1, 3)
    stacked.plot(1, 1, "k+", ms=12, label="true value")
    stacked.plot(1.001, 1, "rx", ms=8, label="estimate")  # the old scatter's pair
    stacked.set(xlim=(0, 2), ylim=(0, 2))
    covered.plot(0.5, 0.5, "o", ms=4, label="MAP")
    covered.plot([0, 1], [0, 1], label="MLE")  # drawn after the dot, through it
    ringed.plot(1, 1, "o", mfc="none", ms=11, label="true value")
    ringed.plot(1, 1, "rx", ms=6, label="estimate", zorder=5)
    try:
        assert hidden_markers(fig) == ["true value and estimate cover each other", "MAP under MLE"]
    finally:
        plt.close(fig)


def curves_cut_by_the_axes(fig) -> list[str]:
    """Curves on a log y axis that leave their axes' view (a run that falls out of the bottom)."""
    cut = []
    for ax in fig.axes:
        if ax.get_yscale() != "log":
            continue
        lo, hi = sorted(ax.get_ylim())
        for line in ax.lines:
            y = line.get_ydata()
            if len(y) > 2 and (np.min(y) < lo * (1 - 1e-9) or np.max(y) > hi * (1 + 1e-9)):
                cut.append(line.get_label())
    return cut


def test_every_curve_on_a_log_axis_is_seen_whole(drawn):
    fig, _ = drawn
    assert not curves_cut_by_the_axes(fig)


def test_a_curve_below_the_axis_is_found():
    fig, ax = plt.subplots()
    ax.semilogy(np.arange(10), 10.0 ** -np.arange(10), label="k = n")
    ax.set_ylim(bottom=1e-3)  # what the noise floor axis used to do
    try:
        assert curves_cut_by_the_axes(fig) == ["k = n"]
    finally:
        plt.close(fig)


def test_the_full_data_run_without_a_floor_gets_a_panel_and_the_floors_keep_their_scale():
    with plt.rc_context(figures.STYLE):
        fig = sgd()
        try:
            fig.canvas.draw()
            steps, _, exact = fig.axes
            assert [ln.get_label() for ln in exact.lines] == ["$k = 1000$"]
            assert min(exact.get_ylim()) <= 3e-16
            assert min(steps.get_ylim()) > 1e-3  # the floors are not squashed by the exact run's 16 decades
            assert not curves_cut_by_the_axes(fig)
        finally:
            plt.close(fig)


def heatmaps(fig) -> list[tuple]:
    """Each image with its colour bar's label."""
    bars = {id(ax._colorbar.mappable.norm): ax._colorbar for ax in fig.axes if _is_colorbar(ax)}
    found = []
    for ax in fig.axes:
        for image in ax.images:
            bar = bars.get(id(image.norm))
            label = "" if bar is None else (bar.ax.get_ylabel() or bar.ax.get_xlabel())
            found.append((image, label))
    return found


def test_a_heatmap_colours_the_objective_minus_its_maximum_clipped_and_says_so(drawn):
    fig, _ = drawn
    deepest = []  # each image's lowest value, in units of its scale's lower limit
    for image, label in heatmaps(fig):
        norm, values = image.norm, np.asarray(image.get_array(), float)
        assert norm.vmax == 0 and norm.vmin < 0  # one sign in every figure: the maximum is 0 at the top
        assert np.nanmax(values) == pytest.approx(0)
        assert re.match(r"\$(.+) - \\max\\,\1\$, clipped at ", label), label
        assert f"clipped at ${figures.figure_number(norm.vmin)}$" in label
        deepest.append(float(np.min(values[np.isfinite(values)])) / norm.vmin)
    assert not deepest or max(deepest) > 1  # the far corners lie beyond the scale: it is clipped


def test_the_clip_level_follows_the_start_not_the_far_corner():
    m1, m2, values = quadratic_grid()
    optimum = np.array([1.0, 1.0])
    paths = {"SGD": path_to(optimum, (0.5, 0.5))}
    far = values.copy()
    far[-1, -1] -= 1e6  # a far corner a million units down
    with plt.rc_context(figures.STYLE):
        figs = [figures.path_panels(m1, m2, v, paths, optimum, ("$a$", "$b$", r"$\ell$")) for v in (values, far)]
    try:
        (near, _), (corner, _) = heatmaps(figs[0])[0], heatmaps(figs[1])[0]
        start_depth = -float(np.interp(0.5, m1[0], values[np.argmin(np.abs(m2[:, 0] - 0.5))]) - (-0.0))
        assert near.norm.vmin == corner.norm.vmin
        assert -near.norm.vmin >= start_depth * 0.99 and -near.norm.vmin <= 2 * start_depth  # the start in the scale
    finally:
        for fig in figs:
            plt.close(fig)
