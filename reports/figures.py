"""One function per figure, each drawing data computed by numerics/; a FigurePlan saves them as PNG
(Markdown) and PDF (LaTeX), across processes.

Every figure is drawn at about the size it is printed at, so its text keeps the size STYLE gives it: the LaTeX
report includes a figure at 0.8\\linewidth and at most 0.34\\textheight (A4 with 2 cm margins), scaled to the
smaller of the two. Legends stand outside the axes, where they cover no data; symbols are mathtext."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox

from mlemap.reports import reuse
from mlemap.reports.workers import run_all

TEXT_HEIGHT = (29.7 - 2 * 2.0) / 2.54  # inches: A4 with 2 cm margins (report.tex.j2's geometry)
PRINT_WIDTH = 0.8 * (21.0 - 2 * 2.0) / 2.54  # inches: 0.8\linewidth
# report.tex.j2's \fittedfigure draws a figure at most \figureroom high, the room left on the page: between
# 0.22\textheight (less moves the figure on) and 0.34\textheight. Text is sized for the least of them.
LEAST_ROOM = 0.22 * TEXT_HEIGHT  # inches
PRINT_HEIGHT = 0.34 * TEXT_HEIGHT  # inches
WIDTH = 5.4  # inches: a figure's width, about PRINT_WIDTH, so it prints near its own size
MIN_PRINTED_PT = 8.0  # no text smaller than this on paper
FONT_PT = 9.0  # every text of a figure; printed at least at MIN_PRINTED_PT / FONT_PT of it
HEIGHT = 2.3  # inches: the most a figure is high; saved with TIGHT_PAD, LEAST_ROOM prints it at 8/9 or more
STYLE: dict = {
    # fixed metadata and hash salt: two builds give the same bytes
    "svg.hashsalt": "mlemap",
    "figure.dpi": 100,
    "savefig.dpi": 110,
    **dict.fromkeys(
        (
            "font.size",
            "axes.titlesize",
            "axes.labelsize",
            "xtick.labelsize",
            "ytick.labelsize",
            "legend.fontsize",
            "legend.title_fontsize",
            "figure.titlesize",
        ),
        FONT_PT,
    ),
    "legend.frameon": False,
}
plt.rcParams.update(STYLE)  # also for a figure function called directly (tests, notebooks)
PNG_META = {"Software": None}
PNG_WIDTH = 1250  # pixels across a PNG figure (readers zoom; the handout asks for at least 1200)
PDF_META = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None}
TIGHT_PAD = 0.1  # inches around the tight bounding box, matplotlib's own default
COLORS = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C9", "C8", "C7")  # tab10, the grey last
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
DASHES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (3, 1, 3, 5)), (0, (1, 1)))


@dataclass(frozen=True)
class FigureJob:
    name: str
    draw: Callable[..., plt.Figure]
    args: tuple
    kwargs: dict

    def render(self, directory: Path) -> str:
        # In STYLE whatever the process's rcParams: the files do not depend on what ran before.
        with plt.rc_context(STYLE):
            fig = self.draw(*self.args, **self.kwargs)
            # The tight bounding box once, in inches, for both files (bbox_inches="tight" would draw the figure
            # an extra time per file); PNG_WIDTH pixels across it, whatever the figure's size: no more pixels
            # than that (drawing them is most of a figure's time).
            box = saved_box(fig)
            fig.savefig(directory / f"{self.name}.png", metadata=PNG_META, bbox_inches=box, dpi=PNG_WIDTH / box.width)
            fig.savefig(directory / f"{self.name}.pdf", metadata=PDF_META, bbox_inches=box)
        plt.close(fig)
        return self.name


def saved_box(fig: plt.Figure) -> Bbox:
    """The box, in inches, both files are cut to. A figure with a layout engine is laid out once, as saving
    would, and keeps that layout: otherwise each save lays it out again."""
    if fig.get_layout_engine() is not None:
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    return fig.get_tightbbox().padded(TIGHT_PAD)


def print_scale(fig: plt.Figure, room: float = LEAST_ROOM) -> float:
    """How much LaTeX scales the saved figure: never up, and down to PRINT_WIDTH or the room left on the page
    (by default the least \\fittedfigure allows: the scale wherever the figure lands)."""
    box = saved_box(fig)
    return min(1.0, PRINT_WIDTH / box.width, room / box.height)


@dataclass
class FigurePlan:
    """The report's figures, recorded while its text is written and drawn afterwards, all at once."""

    jobs: list[FigureJob] = field(default_factory=list)

    def add(self, name: str, draw: Callable[..., plt.Figure], *args, **kwargs) -> str:
        if any(job.name == name for job in self.jobs):
            raise ValueError(f"figure name {name!r} is used twice")
        self.jobs.append(FigureJob(name, draw, args, kwargs))
        return name

    def render(self, directory: Path, processes: int = 2, previous: Path | None = None) -> list[str]:
        """Draw and save every figure; with processes > 1 in forked workers (reports/workers.py), which
        inherit the jobs (their arrays are never pickled). Each figure is drawn in a fresh figure, so the
        files do not depend on which process drew them. A figure whose key is unchanged since the report in
        previous (a figures directory an earlier build wrote) is copied from there (reports/reuse.py)."""
        directory.mkdir(parents=True, exist_ok=True)
        keys = {job.name: reuse.job_key(job) for job in self.jobs}
        old = reuse.previous_keys(previous)
        drawn = [job for job in self.jobs if not reuse.carry_over(job.name, keys[job.name], old, previous, directory)]
        reuse.write_keys(directory, keys)
        chunks = [drawn[i::processes] for i in range(max(processes, 1))]
        run_all([(_render_chunk, (chunk, directory)) for chunk in chunks if chunk], processes)
        return [job.name for job in self.jobs]


def _render_chunk(jobs: list[FigureJob], directory: Path) -> list[str]:
    return [job.render(directory) for job in jobs]


def figure_number(x: float, digits: int = 3) -> str:
    """x as mathtext (without the dollars) with at most `digits` significant digits: 0.05, -1.04, 2500, and
    5 \\times 10^{-5} outside 10^-3 to 10^5; never Python's e-notation."""
    if x == 0 or not np.isfinite(x):
        return "0" if x == 0 else str(x)
    exponent = int(np.floor(np.log10(abs(x))))
    if -3 <= exponent < 5:
        decimals = max(digits - 1 - exponent, 0)
        text = f"{round(x, decimals):.{decimals}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
        return "0" if text in ("-0", "0") else text
    mantissa = figure_number(x / 10.0**exponent, digits)
    if mantissa in ("10", "-10"):  # 9.9996 rounded up: one more power of ten
        mantissa, exponent = mantissa[:-1], exponent + 1
    power = f"10^{{{exponent}}}"
    return power if mantissa == "1" else (f"-{power}" if mantissa == "-1" else rf"{mantissa} \times {power}")


def mathtext(label: str) -> str:
    """A LaTeX label as matplotlib's mathtext draws it at full size: a fraction of plain numbers or letters as a
    slash (mathtext's \\frac shrinks them to a third of the text's size)."""
    return re.sub(r"\\[dt]?frac\{(\w+)\}\{(\w+)\}", r"\1/\2", label)


def _legend_outside(fig: plt.Figure, handles=None, ncols: int = 1) -> None:
    """The legend to the right of every axes (constrained layout makes room): it covers no data."""
    if handles is None:
        fig.legend(loc="outside right upper", ncols=ncols)
    else:
        fig.legend(handles=handles, loc="outside right upper", ncols=ncols)


def _title(ax, label: str, panel_width: float) -> None:
    """A panel's title, in lines that fit the panel (about 0.6 em a character), never broken inside $...$
    math: side by side, long titles would run into each other."""
    chars = max(int(panel_width * 72 / (0.6 * FONT_PT)), 8)
    protected = re.sub(r"\$[^$]*\$", lambda m: m.group(0).replace(" ", "\0"), label)
    lines = [
        textwrap.fill(line, chars, break_long_words=False, break_on_hyphens=False) for line in protected.split("\n")
    ]
    ax.set_title("\n".join(lines).replace("\0", " "))


def _grid_shape(count: int) -> tuple[int, int]:
    """Rows and columns for count panels: up to three in a row, four in a square, seven or eight in two rows."""
    rows = 2 if count == 4 else int(np.ceil(count / 4)) if count > 6 else int(np.ceil(count / 3))
    return rows, int(np.ceil(count / rows))


@dataclass(frozen=True)
class Panels:
    """Panels in rows of `cols`, a short last row centred: no slot is left empty."""

    fig: plt.Figure
    axes: list
    cols: int

    def in_last_row(self, i: int) -> bool:
        """Only the last row shows the shared x axis: where a centred short row leaves half a slot below a panel,
        the panels beside it show the same axis."""
        return i // self.cols == (len(self.axes) - 1) // self.cols


def _panels(count: int, height: float, spare: int = 0, cols: int | None = None, width: float = WIDTH) -> Panels:
    """count panels on one figure with shared axes; spare: slots for the caller (a legend) after them, not
    shared; cols: panels in a row (else _grid_shape's). Each panel spans two columns of a grid twice as fine, so
    a short last row is centred."""
    slots = count + spare
    cols = cols or _grid_shape(slots)[1]
    rows = -(-slots // cols)
    fig = plt.figure(figsize=(width, height), layout="constrained")
    grid = fig.add_gridspec(rows, 2 * cols)
    axes: list = []
    for i in range(slots):
        row, col = divmod(i, cols)
        start = (cols - min(cols, slots - row * cols)) + 2 * col
        first = axes[0] if axes and i < count else None
        axes.append(fig.add_subplot(grid[row, start : start + 2], sharex=first, sharey=first))
    return Panels(fig, axes, cols)


def _outer_labels(panels: Panels, used: int, xlabel: str, ylabel: str) -> None:
    """Axis labels and tick labels on the outer panels of the first `used`: the y axis on the first panel of each
    row, the x axis on the last row."""
    for i, ax in enumerate(panels.axes[:used]):
        if i % panels.cols == 0:
            ax.set_ylabel(ylabel)
        else:
            ax.tick_params(labelleft=False)
        if panels.in_last_row(i):
            ax.set_xlabel(xlabel)
        else:
            ax.tick_params(labelbottom=False)


def _truth_and_estimate(ax, truth, estimate) -> None:
    """The true value a black ring, the estimate a red x inside it where they meet: both stay in view."""
    if truth is not None:
        ax.plot(*truth, "o", mfc="none", mec="black", ms=11, mew=1.3, label="true value", zorder=4)
    ax.plot(*estimate, "x", color="red", ms=6, mew=1.6, label="estimate", zorder=5)


def sample_scatter(data: np.ndarray, optimum: np.ndarray, truth, labels=("$x_1$", "$x_2$")) -> plt.Figure:
    """The two data columns, the point the sample was drawn at (where given) and the estimate; beside them the
    same zoomed in on the two, until they stand apart (five times their distance across)."""
    fig, axes = plt.subplots(
        1, 1 if truth is None else 2, figsize=(WIDTH, 0.75 * HEIGHT), squeeze=False, layout="constrained"
    )
    for ax in axes[0]:
        ax.scatter(data[:, 0], data[:, 1], s=1, alpha=0.3, rasterized=True, label="data", color="C0")
        _truth_and_estimate(ax, truth, optimum)
        ax.set(xlabel=labels[0], aspect="equal")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    axes[0, 0].set(ylabel=labels[1], title="the data")
    if truth is not None:
        zoom = axes[0, 1]
        centre = (np.asarray(truth, float) + np.asarray(optimum, float)) / 2
        half = 2.5 * max(float(np.max(np.abs(np.subtract(truth, optimum)))), 1e-12)
        zoom.set(xlim=(centre[0] - half, centre[0] + half), ylim=(centre[1] - half, centre[1] + half))
        zoom.set_title("zoomed in on the two")
    # beside the square axes, not at the figure's edge: the saved box is cut to what is drawn
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.05, 1.0), borderaxespad=0, markerscale=0.8)
    return fig


def _image(ax, m1, m2, values, **style):
    """values on the regular "xy" grid (m1, m2) as an image, each cell centred on its grid point: what
    pcolormesh draws, at a fraction of its cost."""
    x, y = np.unique(m1), np.unique(m2)
    half_x, half_y = (x[-1] - x[0]) / (len(x) - 1) / 2, (y[-1] - y[0]) / (len(y) - 1) / 2
    extent = (x[0] - half_x, x[-1] + half_x, y[0] - half_y, y[-1] + half_y)
    style = {"cmap": "viridis", **style}
    image = ax.imshow(values, origin="lower", extent=extent, interpolation="nearest", **style)
    ax.set(xlim=(m1.min(), m1.max()), ylim=(m2.min(), m2.max()), aspect="equal")
    for axis in (ax.xaxis, ax.yaxis):  # small panels: few ticks keep 8 pt labels apart
        axis.set_major_locator(matplotlib.ticker.MaxNLocator(3, steps=[1, 2, 5, 10], min_n_ticks=2))
    return image


def _relative(values: np.ndarray) -> np.ndarray:
    """The objective minus its largest value on the grid: 0 at the top, negative elsewhere (NaN kept)."""
    finite = values[np.isfinite(values)]
    return values - (finite.max() if finite.size else 0.0)


def _at(m1, m2, grid_values: np.ndarray, point) -> float:
    """grid_values at the grid point nearest to point."""
    i = int(np.argmin(np.abs(np.unique(m2) - point[1])))
    j = int(np.argmin(np.abs(np.unique(m1) - point[0])))
    return float(grid_values[i, j])


LINEAR_UNITS = 1.0  # the colour scale is linear within this many log-likelihood units of the maximum, log beyond
CLIP_QUANTILE = 0.5  # without a start, the scale stops at the depth half the grid lies above


def _nice_above(x: float) -> float:
    """The least of 1, 1.5, 2, 3, 5, 7 times a power of ten at or above x (x > 0): a round clip level."""
    power = 10.0 ** np.floor(np.log10(x))
    return next(float(m * power) for m in (1, 1.5, 2, 3, 5, 7, 10) if m * power >= x * (1 - 1e-12))


def _clip_depth(relative: np.ndarray, start_depth: float | None) -> float:
    """How far below the maximum the colour scale reaches: a round level at or below the start's depth where
    paths start (every converging iterate lies above it), else above CLIP_QUANTILE of the grid; the far corner
    never sets it. At least a decade beyond LINEAR_UNITS."""
    depths = -relative[np.isfinite(relative)]
    reference = start_depth if start_depth and start_depth > 0 else float(np.quantile(depths, CLIP_QUANTILE))
    return _nice_above(max(reference, 10 * LINEAR_UNITS))


def _root_scale(x):
    # -sqrt(-x): on a quadratic bowl the colour then changes evenly with the distance from the optimum
    return -np.sqrt(np.maximum(-np.asarray(x, float), 0.0))


def _square_scale(y):
    return -np.square(np.asarray(y, float))


SCALES = {"sqrt": "square-root scale", "log": "log scale below $-1$"}


def _relative_norm(depth: float, scale: str) -> matplotlib.colors.Normalize:
    """Colour of the objective minus its maximum, from -depth (and below: the colour bar's arrow) to 0. "sqrt":
    the square root of the depth, even in the distance from the optimum of a quadratic; "log": linear within
    LINEAR_UNITS of 0, each decade beyond with the same share of the scale (landscapes of unlike curvature)."""
    if scale == "sqrt":
        return matplotlib.colors.FuncNorm((_root_scale, _square_scale), vmin=-depth, vmax=0.0)
    return matplotlib.colors.SymLogNorm(linthresh=LINEAR_UNITS, linscale=1.0, vmin=-depth, vmax=0.0, base=10)


def _decade_contours(ax, m1, m2, relative, depth: float, color="white") -> None:
    """Contours where the objective lies a power of ten below its maximum: the colour bar's ticks, as lines."""
    levels = -(10.0 ** np.arange(np.floor(np.log10(depth)), np.log10(LINEAR_UNITS) - 0.5, -1))
    if levels.size:
        ax.contour(m1, m2, relative, levels=levels, colors=color, linewidths=0.5, linestyles="solid", alpha=0.7)


def relative_label(objective: str, depth: float, scale: str) -> str:
    """A colour bar's label: the objective minus its maximum (mathtext, e.g. $\\ell$), where it is clipped, and
    where its scale turns logarithmic."""
    inner = objective.strip("$")
    shown = rf"${inner} - \max\,{inner}$" if objective.startswith("$") else f"{objective} minus its maximum"
    return f"{shown}, clipped at ${figure_number(-depth)}$\n({SCALES[scale]})"


def _relative_colours(fig, axes, image, objective: str, depth: float, scale: str, below: bool = False) -> None:
    """The colour bar beside the panels, or below one row of them (which leaves the row the width)."""
    label = relative_label(objective, depth, scale)
    if below:
        label = label.replace("\n", " ")
    bar = fig.colorbar(
        image,
        ax=axes,
        label=label,
        extend="min",
        shrink=0.9 if not below else 0.6,
        location="bottom" if below else "right",
    )
    if scale == "sqrt":  # about evenly apart on the square-root scale: 0, a ninth, four ninths and all of the depth
        ticks = [0.0, *(-_nice_above(depth * f) for f in (1 / 9, 4 / 9)), -depth]
        bar.set_ticks(ticks, labels=[f"${figure_number(t)}$" for t in ticks])


def _mark_optimum(ax, optimum, ms: float = 7) -> None:
    if optimum is not None:
        ax.plot(*optimum, "x", color="red", ms=ms, mew=2, label="optimum", zorder=5)


SINGLE_PANEL_TEXT = (1.9, 0.85)  # inches beside (y labels, colour bar) and above and below (title, x labels) a panel


def path_panels(
    m1, m2, values, paths: dict[str, np.ndarray], optimum, labels=(r"$\mu_1$", r"$\mu_2$", r"$L(\mu)$")
) -> plt.Figure:
    """One panel per path (rates, optimizers) on the same heatmap and colour scale, the optimum marked: paths
    that share a line or cross each other all stay in view, and a diverging one hides nothing. The heatmap is
    the objective minus its maximum, clipped at a round level below the paths' start (_clip_depth); labels name
    the axes and the objective."""
    aspect = float(np.ptp(m2) / np.ptp(m1))
    rows, cols = _grid_shape(len(paths))
    if aspect < 0.85 and len(paths) <= 5:  # panels wider than high: one row uses the width
        rows, cols = 1, len(paths)
    single = len(paths) == 1
    panel = (WIDTH - (0.6 if rows == 1 else 1.6)) / cols - 0.05  # inches: the colour bar and the y labels take the rest
    height = min(0.5 + rows * (panel * aspect + 0.45) + (0.6 if rows == 1 else 0), HEIGHT)
    if single:  # the colour bar beside it, the figure as wide as panel and bar: the bar stays by the panel
        panel = min((HEIGHT - SINGLE_PANEL_TEXT[1]) / aspect, WIDTH - SINGLE_PANEL_TEXT[0])
        height = min(panel * aspect + SINGLE_PANEL_TEXT[1], HEIGHT)
    # shared axes, tick labels on the outer panels only: one scale to read, and a third of the text to lay out
    panels = _panels(len(paths), height, cols=cols, width=panel + SINGLE_PANEL_TEXT[0] if single else WIDTH)
    relative = _relative(values)
    starts = [p[0] for p in paths.values() if len(p)]
    depth = _clip_depth(relative, -_at(m1, m2, relative, starts[0]) if starts else None)
    shown = np.where(np.isfinite(relative), relative, -np.inf)  # outside the domain: the clip colour
    image, norm = None, _relative_norm(depth, "sqrt")  # one norm: one colour bar reads every panel
    for ax, (label, path) in zip(panels.axes, paths.items()):
        image = _image(ax, m1, m2, shown, norm=norm)
        _decade_contours(ax, m1, m2, relative, depth)
        # the whole path, cut by the axes: dropping the iterates outside would join ones that do not follow
        ax.plot(path[:, 0], path[:, 1], "o-", color="white", mfc="black", mew=0.5, ms=2.5, lw=0.8)
        _mark_optimum(ax, optimum)
        _title(ax, label, panel)
    _outer_labels(panels, len(paths), *labels[:2])
    _relative_colours(panels.fig, panels.axes, image, labels[2], depth, "sqrt", below=rows == 1 and not single)
    if single:
        _as_wide_as_a_figure(panels.fig)
    return panels.fig


def _as_wide_as_a_figure(fig: plt.Figure) -> None:
    """Widen the saved box of a figure narrower than WIDTH to WIDTH, the figure centred in it: every figure is then
    printed, and shown across a page, at one scale (a lone narrow panel stretched to the width would have text
    several times the others'). An invisible line marks the box; constrained layout ignores it."""
    width = fig.get_figwidth()
    margin = (WIDTH - 2 * TIGHT_PAD - width) / 2  # the saved box pads the line too
    if margin <= 0:
        return
    fig.add_artist(Line2D([-margin, width + margin], [0, 0], transform=fig.dpi_scale_trans, color="none"))


def error_curves(
    curves: dict[str, np.ndarray], xlabel: str = "step", x: dict | None = None, ylabel: str = r"$\|\mu_t - \hat\mu\|$"
) -> plt.Figure:
    """||mu_t - mu_hat|| against step (or samples seen), log scale, one colour, dash and marker per curve: two
    curves that meet stay told apart."""
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT), layout="constrained")
    for k, (label, err) in enumerate(curves.items()):
        xs = x[label] if x else np.arange(len(err))
        ax.semilogy(
            xs,
            np.maximum(err, 1e-16),
            lw=1.2,
            ls=DASHES[k % len(DASHES)],
            color=COLORS[k % len(COLORS)],
            marker=MARKERS[k % len(MARKERS)],
            markevery=(k % 5, max(1, len(err) // 8)),  # offset: markers of curves that meet do not stack
            ms=4,
            label=label,
        )
    ax.set(xlabel=xlabel, ylabel=ylabel)
    _legend_outside(fig)
    return fig


def error_panels(
    curves: dict[str, np.ndarray],
    notes: dict[str, str] | None = None,
    steps: int | None = None,
    ylabel: str = r"$\|\theta_t - \hat\theta\|$",
) -> plt.Figure:
    """||theta_t - theta_hat|| against step, log scale, a panel per curve with the others grey behind it: curves
    that coincide (rates whose contraction factors have one size) each keep a panel. notes: a second title line
    per panel; steps: where the step axis ends (a diverging run beyond it only grows)."""
    rows, cols = _grid_shape(len(curves))
    two_lines = 0.16 if notes else 0.0
    panels = _panels(len(curves), min(0.55 + (1.2 + two_lines) * rows, HEIGHT))
    shown = {label: np.maximum(err[: None if steps is None else steps + 1], 1e-16) for label, err in curves.items()}
    for ax, (label, err) in zip(panels.axes, shown.items()):
        for other, behind in shown.items():
            if other != label:
                ax.semilogy(np.arange(len(behind)), behind, color="0.8", lw=0.8)
        ax.semilogy(np.arange(len(err)), err, color="C0", lw=1.5)
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=3))
        _title(ax, label if not notes else f"{label}\n{notes[label]}", (WIDTH - 0.6) / cols)
    _outer_labels(panels, len(curves), "step", ylabel)
    return panels.fig


def _runs_on(ax, runs, floors: dict[int, float], x_of, batch: str) -> None:
    """Runs on one axes, log-log, a colour each, with its noise floor dashed in its colour where it has one."""
    for k, run in runs:
        color = COLORS[k % len(COLORS)]
        ax.loglog(x_of(run)[1:], run.errors[1:], lw=1, color=color, label=f"${batch} = {run.k}$")
        if run.k in floors:
            ax.axhline(floors[run.k], color=color, ls="--", lw=0.8)


def sgd_convergence(
    runs, floors: dict[int, float] | None = None, ylabel: str = r"$\|\theta_t - \hat\theta\|$", batch: str = "k"
) -> plt.Figure:
    """Mini-batch SGD error against steps and against samples seen, one curve per batch size, each batch size's
    predicted noise floor dashed in its colour. Where floors are given, a run without one (the full data: plain
    gradient ascent, down to rounding) has a third panel of its own: every curve is seen whole, on axes that
    still show the floors. batch: the batch size's symbol."""
    floors = floors or {}
    noisy = [(k, r) for k, r in enumerate(runs) if r.k in floors or not floors]
    exact = [(k, r) for k, r in enumerate(runs) if floors and r.k not in floors]
    ratios = [1.0, 1.0] + ([0.7] if exact else [])
    fig, grid = plt.subplots(
        1, len(ratios), figsize=(WIDTH, HEIGHT), width_ratios=ratios, squeeze=False, layout="constrained"
    )
    axes = list(grid[0])
    axes[1].sharey(axes[0])
    _runs_on(axes[0], noisy, floors, lambda r: np.arange(len(r.errors)), batch)
    _runs_on(axes[1], noisy, floors, lambda r: r.samples_seen, batch)
    axes[1].tick_params(labelleft=False)
    axes[0].set(xlabel="step", ylabel=ylabel)
    axes[1].set(xlabel=rf"samples seen (step $\times\ {batch}$)")
    if exact:
        _runs_on(axes[2], exact, floors, lambda r: r.samples_seen, batch)
        axes[2].set(xlabel="samples seen", title="no noise floor")
        axes[2].yaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=5))
    handles = [h for ax in (axes[0], *axes[2:]) for h in ax.get_legend_handles_labels()[0]]
    if floors:
        handles.append(Line2D([], [], color="0.4", ls="--", lw=0.8, label="noise floor"))
    _legend_outside(fig, handles)
    return fig


def subset_landscapes(
    m1, m2, landscapes, optimum, labels=(r"$\theta_1$", r"$\theta_2$"), batch: str = "k"
) -> plt.Figure:
    """The log-likelihood of random subsets of size k: the centre moves to the subset's optimum, the curvature
    grows with k. The full data's optimum a red ring, the subset's a white + inside it where they meet."""
    rows, cols = _grid_shape(len(landscapes))
    panels = _panels(len(landscapes), min(0.4 + 1.5 * rows, HEIGHT))
    # One colour scale for every panel, the log-likelihood minus its maximum, clipped where the most curved
    # subset's far corners begin: the flatter landscapes of small subsets show as paler colour.
    relatives = [_relative(land.values) for land in landscapes]
    steepest = max(range(len(landscapes)), key=lambda i: landscapes[i].k)
    depth = _clip_depth(relatives[steepest], None)
    image, norm = None, _relative_norm(depth, "log")  # one norm: one colour bar reads every panel
    for ax, land, relative in zip(panels.axes, landscapes, relatives):
        image = _image(ax, m1, m2, np.where(np.isfinite(relative), relative, -np.inf), norm=norm)
        _title(ax, f"${batch} = {land.k}$", (WIDTH - 1.3) / cols)
        ax.contour(m1, m2, relative, levels=[-2.0], colors="w", linewidths=0.8, linestyles="solid")
        ax.plot(*optimum, "o", mfc="none", mec="red", ms=10, mew=1.5, zorder=4, label="full data's optimum")
        ax.plot(*land.subset_optimum, "+", color="white", ms=6, mew=1.5, zorder=5, label="subset's optimum")
    _outer_labels(panels, len(landscapes), *labels)
    _relative_colours(panels.fig, panels.axes, image, r"$\hat\ell$", depth, "log")
    return panels.fig


def prior_panels(
    grid: np.ndarray,
    priors: dict[str, np.ndarray],
    posteriors: dict[str, np.ndarray],
    maps: dict[str, float],
    mle: float,
    likelihood: np.ndarray | None,
    xlabel: str,
) -> plt.Figure:
    """A panel per prior, on shared axes: the prior's density dashed, the posterior density it gives solid with
    the MAP a dot, the likelihood normalised to a density (the posterior under a flat prior) a wide grey band
    behind it, and the MLE dotted. The posterior sits between the likelihood and the prior: the narrower the
    prior, the further it pulls; where it barely pulls, the band shows round the posterior."""
    rows, _ = _grid_shape(len(priors) + 1)
    panels = _panels(len(priors), min(0.5 + 1.4 * rows, HEIGHT), spare=1)  # the spare slot holds the legend
    for ax, label in zip(panels.axes, priors):
        if likelihood is not None:
            ax.plot(grid, likelihood, color="0.75", lw=4, solid_capstyle="butt", label="likelihood (normalised)")
        ax.axvline(mle, ls=":", lw=1, color="0.2", label="MLE")
        ax.plot(grid, priors[label], color="C1", ls="--", lw=1.4, label="prior")
        ax.plot(grid, posteriors[label], color="C0", lw=1.4, label="posterior")
        peak = np.interp(maps[label], grid, posteriors[label])
        ax.plot([maps[label]], [peak], "o", color="C0", mec="white", mew=0.8, ms=5, label="MAP", zorder=4)
        _title(ax, mathtext(label), (WIDTH - 0.6) / panels.cols)
    curves = [*priors.values(), *posteriors.values(), *([] if likelihood is None else [likelihood])]
    top = max(float(np.nanmax(np.where(np.isfinite(c), c, np.nan))) for c in curves)
    panels.axes[0].set_ylim(0, 1.05 * top)  # shared: every panel to the highest density of all
    handles, _ = panels.axes[0].get_legend_handles_labels()
    slot = panels.axes[-1]
    slot.axis("off")
    slot.legend(handles=handles, loc="center")  # the spare slot: off every panel's data
    _outer_labels(panels, len(priors), xlabel, "density")
    return panels.fig
