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

PRINT_WIDTH = 0.8 * (21.0 - 2 * 2.0) / 2.54  # inches: 0.8\linewidth of A4 with 2 cm margins
PRINT_HEIGHT = 0.34 * (29.7 - 2 * 2.0) / 2.54  # inches: 0.34\textheight
WIDTH = 5.4  # inches: a figure's width, about PRINT_WIDTH, so it prints near its own size
HEIGHT = 2.9  # inches: the most a figure is high, so that with TIGHT_PAD it stays within PRINT_HEIGHT
MIN_PRINTED_PT = 8.0  # no text smaller than this on paper
FONT_PT = 9.0  # every text of a figure; printed at PRINT_WIDTH / WIDTH of it, above MIN_PRINTED_PT
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


def print_scale(fig: plt.Figure) -> float:
    """How much LaTeX scales the saved figure: never up, and down to PRINT_WIDTH or PRINT_HEIGHT."""
    box = saved_box(fig)
    return min(1.0, PRINT_WIDTH / box.width, PRINT_HEIGHT / box.height)


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


def sample_scatter(data: np.ndarray, optimum: np.ndarray, truth, labels=("$x_1$", "$x_2$")) -> plt.Figure:
    """The two data columns, the point the sample was drawn at (where given) and the estimate."""
    fig, ax = plt.subplots(figsize=(WIDTH, 0.65 * HEIGHT), layout="constrained")
    ax.scatter(data[:, 0], data[:, 1], s=1, alpha=0.3, rasterized=True, label="data", color="C0")
    if truth is not None:
        ax.plot(*truth, "k+", ms=12, mew=1.5, label="true value")
    ax.plot(*optimum, "rx", ms=8, mew=1.5, label="estimate")
    ax.set(xlabel=labels[0], ylabel=labels[1], aspect="equal")
    # beside the square axes, not at the figure's edge: the saved box is cut to what is drawn
    ax.legend(loc="upper left", bbox_to_anchor=(1.03, 1.0), borderaxespad=0)
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
    return image


def _drop(values: np.ndarray) -> np.ndarray:
    """How far the objective lies below its largest value on the grid: 0 at the top (NaN kept)."""
    finite = values[np.isfinite(values)]
    return (finite.max() if finite.size else 0.0) - values


def _at(m1, m2, grid_values: np.ndarray, point) -> float:
    """grid_values at the grid point nearest to point."""
    i = int(np.argmin(np.abs(np.unique(m2) - point[1])))
    j = int(np.argmin(np.abs(np.unique(m1) - point[0])))
    return float(grid_values[i, j])


DECADES_BELOW_START = 3  # the colour scale runs from the start's drop to a thousandth of it, and beyond


def _drop_norm(drop: np.ndarray, start: float | None) -> matplotlib.colors.LogNorm:
    """Colours logarithmic in the drop below the maximum, from the largest drop shown down to a thousandth of
    the start's: each decade the paths cross gets the same share of the scale, however far the box's corner
    lies, and the drops nearer the optimum than that share one colour (the colour bar's arrow)."""
    finite = drop[np.isfinite(drop) & (drop > 0)]
    top = float(finite.max()) if finite.size else 1.0
    low = (start if start and start > 0 else top) / 10.0**DECADES_BELOW_START
    return matplotlib.colors.LogNorm(vmin=min(low, top / 10), vmax=top)


def _decade_contours(ax, m1, m2, drop, norm, color="white") -> None:
    """Contours where the drop below the maximum is a power of ten: the colour bar's ticks, as lines."""
    levels = 10.0 ** np.arange(np.ceil(np.log10(norm.vmin)), np.floor(np.log10(norm.vmax)) + 1)
    if levels.size:
        ax.contour(m1, m2, drop, levels=levels, colors=color, linewidths=0.5, linestyles="solid", alpha=0.7)


def _drop_label(objective: str) -> str:
    """The colour bar's label: the maximum minus the objective (mathtext, e.g. $\\ell$)."""
    inner = objective.strip("$")
    if objective.startswith("$") and objective.endswith("$"):
        return rf"$\max\,{inner} - {inner}$ (log scale)"
    return f"drop of the {objective} below its maximum (log scale)"


def _mark_optimum(ax, optimum, ms: float = 7) -> None:
    if optimum is not None:
        ax.plot(*optimum, "x", color="red", ms=ms, mew=2, label="optimum", zorder=5)


def path_panels(
    m1, m2, values, paths: dict[str, np.ndarray], optimum, labels=(r"$\mu_1$", r"$\mu_2$", r"$L(\mu)$")
) -> plt.Figure:
    """One panel per path (rates, optimizers) on the same heatmap and colour scale, the optimum marked: paths
    that share a line or cross each other all stay in view, and a diverging one hides nothing. The heatmap is
    the objective's drop below its maximum on a log scale (_drop_norm), labels name the axes and the
    objective."""
    rows, cols = _grid_shape(len(paths))
    panel = (WIDTH - 1.5) / cols - 0.05  # inches: the colour bar and the y axis's labels take the rest
    aspect = float(np.ptp(m2) / np.ptp(m1))
    # shared axes, tick labels on the outer panels only: one scale to read, and a third of the text to lay out
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(WIDTH, min(0.5 + rows * (panel * aspect + 0.45), HEIGHT)),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    drop = _drop(values)
    starts = [p[0] for p in paths.values() if len(p)]
    norm = _drop_norm(drop, _at(m1, m2, drop, starts[0]) if starts else None)
    assert norm.vmin is not None and norm.vmax is not None  # _drop_norm sets both
    shown_drop = np.clip(np.where(np.isfinite(drop), drop, norm.vmax), norm.vmin, norm.vmax)
    for ax, (label, path) in zip(axes.ravel(), paths.items()):
        image = _image(ax, m1, m2, shown_drop, norm=norm, cmap="viridis_r")
        _decade_contours(ax, m1, m2, drop, norm)
        # the whole path, cut by the axes: dropping the iterates outside would join ones that do not follow
        ax.plot(path[:, 0], path[:, 1], "o-", color="white", mfc="black", mew=0.5, ms=2.5, lw=0.8)
        _mark_optimum(ax, optimum)
        _title(ax, label, panel)
    for ax in axes.ravel()[len(paths) :]:
        ax.axis("off")
    _outer_labels(axes, len(paths), *labels[:2])
    fig.colorbar(image, ax=axes, label=_drop_label(labels[2]), extend="min")
    return fig


def _outer_labels(axes, used: int, xlabel: str, ylabel: str) -> None:
    """Axis labels on the outer panels; where the last row leaves a slot empty, the panel above it shows the
    x axis."""
    rows, cols = axes.shape
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    if rows > 1:
        for ax in axes[-2, used - (rows - 1) * cols :]:
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel(xlabel)


def error_curves(
    curves: dict[str, np.ndarray], xlabel: str = "step", x: dict | None = None, ylabel: str = r"$\|\mu_t - \hat\mu\|$"
) -> plt.Figure:
    """||mu_t - mu_hat|| against step (or samples seen), log scale, one colour, dash and marker per curve: two
    curves that meet stay told apart."""
    fig, ax = plt.subplots(figsize=(WIDTH, 2.8), layout="constrained")
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
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(WIDTH, min(0.55 + (1.2 + two_lines) * rows, HEIGHT)),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    shown = {label: np.maximum(err[: None if steps is None else steps + 1], 1e-16) for label, err in curves.items()}
    for ax, (label, err) in zip(axes.ravel(), shown.items()):
        for other, behind in shown.items():
            if other != label:
                ax.semilogy(np.arange(len(behind)), behind, color="0.8", lw=0.8)
        ax.semilogy(np.arange(len(err)), err, color="C0", lw=1.5)
        _title(ax, label if not notes else f"{label}\n{notes[label]}", (WIDTH - 0.6) / cols)
    for ax in axes.ravel()[len(curves) :]:
        ax.axis("off")
    _outer_labels(axes, len(curves), "step", ylabel)
    return fig


def sgd_convergence(
    runs, floors: dict[int, float] | None = None, ylabel: str = r"$\|\theta_t - \hat\theta\|$"
) -> plt.Figure:
    """Mini-batch SGD error against steps and against samples seen, one curve per batch size, with each batch
    size's predicted noise floor dashed in its colour; the y-axis stops a decade below the lowest floor."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 2.6), sharey=True, layout="constrained")
    floors = floors or {}
    for k, run in enumerate(runs):
        style = {"lw": 1, "color": COLORS[k % len(COLORS)], "label": f"$k = {run.k}$"}
        axes[0].loglog(np.arange(1, len(run.errors)), run.errors[1:], **style)
        axes[1].loglog(run.samples_seen[1:], run.errors[1:], **style)
        if run.k in floors:
            for ax in axes:
                ax.axhline(floors[run.k], color=style["color"], ls="--", lw=0.8)
    if floors:
        axes[0].set_ylim(bottom=min(floors.values()) / 10)
    axes[0].set(xlabel="step", ylabel=ylabel)
    axes[1].set(xlabel=r"samples seen (step $\times\ k$)")
    handles, _ = axes[0].get_legend_handles_labels()
    if floors:
        handles.append(Line2D([], [], color="0.4", ls="--", lw=0.8, label="noise floor"))
    _legend_outside(fig, handles)
    return fig


def subset_landscapes(m1, m2, landscapes, optimum, labels=(r"$\theta_1$", r"$\theta_2$")) -> plt.Figure:
    """The log-likelihood of random subsets of size k: the centre moves to the subset's optimum, the curvature
    grows with k."""
    rows, cols = _grid_shape(len(landscapes))
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(WIDTH, min(0.4 + 1.5 * rows, HEIGHT)),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    # One colour scale for every panel, logarithmic in the drop below the maximum: the flatter landscapes of
    # small subsets show as paler colour, and each still shows its shape.
    gaps = [land.values - np.nanmax(land.values) for land in landscapes]
    low = min(float(np.nanmin(gap)) for gap in gaps)
    norm = matplotlib.colors.SymLogNorm(linthresh=1.0, vmin=min(low, -1.0), vmax=0.0)
    for ax, land, gap in zip(axes.ravel(), landscapes, gaps):
        mesh = _image(ax, m1, m2, gap, norm=norm)
        _title(ax, f"$k = {land.k}$", (WIDTH - 1.3) / cols)
        ax.contour(m1, m2, gap, levels=[-2.0], colors="w", linewidths=0.8, linestyles="solid")
        ax.plot(*optimum, "rx", ms=6, mew=1.5)
        ax.plot(*land.subset_optimum, "w+", ms=8, mew=1.5)
    for ax in axes.ravel()[len(landscapes) :]:
        ax.axis("off")
    _outer_labels(axes, len(landscapes), *labels)
    fig.colorbar(mesh, ax=axes, label=r"$\hat\ell - \max\,\hat\ell$ (log scale)", shrink=0.8)
    return fig


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
    the MAP a dot, the likelihood normalised to a density (the posterior under a flat prior) grey and the MLE
    dotted. The posterior sits between the likelihood and the prior: the narrower the prior, the further it
    pulls."""
    rows, cols = _grid_shape(len(priors) + 1)  # a slot for the legend where the panels leave one
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(WIDTH, min(0.5 + 1.4 * rows, HEIGHT)),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    for ax, label in zip(axes.ravel(), priors):
        if likelihood is not None:
            ax.plot(grid, likelihood, color="0.6", lw=1.2, label="likelihood (normalised)")
        ax.plot(grid, priors[label], color="C1", ls="--", lw=1.4, label="prior")
        ax.plot(grid, posteriors[label], color="C0", lw=1.6, label="posterior")
        ax.plot([maps[label]], [np.interp(maps[label], grid, posteriors[label])], "o", color="C0", ms=4, label="MAP")
        ax.axvline(mle, ls=":", lw=1, color="0.2", label="MLE")
        _title(ax, mathtext(label), (WIDTH - 0.6) / cols)
    curves = [*priors.values(), *posteriors.values(), *([] if likelihood is None else [likelihood])]
    top = max(float(np.nanmax(np.where(np.isfinite(c), c, np.nan))) for c in curves)
    axes[0, 0].set_ylim(0, 1.05 * top)  # shared: every panel to the highest density of all
    handles, _ = axes[0, 0].get_legend_handles_labels()
    spare = axes.ravel()[len(priors) :]
    for ax in spare:
        ax.axis("off")
    spare[0].legend(handles=handles, loc="center")  # the empty slot: off every panel's data
    _outer_labels(axes, len(priors), xlabel, "density")
    return fig
