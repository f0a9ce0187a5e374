"""One function per figure, each drawing data computed by numerics/; a FigurePlan saves them as PNG
(Markdown) and PDF (LaTeX), across processes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from reports import reuse
from reports.workers import run_all

# Fixed metadata and hash salt: two builds give the same bytes.
plt.rcParams.update(
    {"svg.hashsalt": "mlemap", "figure.dpi": 100, "savefig.dpi": 110, "font.size": 9, "axes.titlesize": 9}
)
PNG_META = {"Software": None}
PNG_WIDTH = 1250  # pixels across a PNG figure (readers zoom; the handout asks for at least 1200)
PDF_META = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None}
TIGHT_PAD = 0.1  # inches around the tight bounding box, matplotlib's own default


@dataclass(frozen=True)
class FigureJob:
    name: str
    draw: Callable[..., plt.Figure]
    args: tuple
    kwargs: dict

    def render(self, directory: Path) -> str:
        fig = self.draw(*self.args, **self.kwargs)
        # The tight bounding box once, in inches, for both files (bbox_inches="tight" would draw the figure an
        # extra time per file); PNG_WIDTH pixels across it, whatever the figure's size: no more pixels than that
        # (drawing them is most of a figure's time).
        if fig.get_layout_engine() is not None:
            # Lay out once, as saving would, and keep it: otherwise each save lays out again.
            fig.draw_without_rendering()
            fig.set_layout_engine("none")
        box = fig.get_tightbbox().padded(TIGHT_PAD)
        fig.savefig(directory / f"{self.name}.png", metadata=PNG_META, bbox_inches=box, dpi=PNG_WIDTH / box.width)
        fig.savefig(directory / f"{self.name}.pdf", metadata=PDF_META, bbox_inches=box)
        plt.close(fig)
        return self.name


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


def log_posteriors(
    grid: np.ndarray, curves: dict[str, np.ndarray], maps: dict[str, float], mle: float, xlabel: str
) -> plt.Figure:
    """Log-posteriors (each shifted to max 0) under several priors, each MAP a dot on its curve, the MLE dotted."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for label, values in curves.items():
        shifted = values - np.nanmax(values)
        (line,) = ax.plot(grid, shifted, lw=1.2, label=_plain(label))
        ax.plot([maps[label]], [0.0], "o", ms=4, color=line.get_color())
    ax.axvline(mle, ls=":", lw=1, color="0.3", label="MLE")
    ax.set(xlabel=xlabel, ylabel="log-posterior (max = 0)", ylim=(-6, 0.5))
    ax.legend(fontsize=7, loc="lower center", ncol=2)
    return fig


def _plain(label: str) -> str:
    """A LaTeX label as matplotlib's mathtext reads it ($...$ kept; the rest is text)."""
    return label


def sample_scatter(data: np.ndarray, optimum: np.ndarray, truth, labels=("$x_1$", "$x_2$")) -> plt.Figure:
    """The two data columns, the point the sample was drawn at (where given) and the estimate."""
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(data[:, 0], data[:, 1], s=1, alpha=0.3, rasterized=True)
    if truth is not None:
        ax.plot(*truth, "k+", ms=12, label="true value")
    ax.plot(*optimum, "rx", ms=8, label="estimate")
    ax.set(xlabel=labels[0], ylabel=labels[1], aspect="equal")
    ax.legend(fontsize=7)
    return fig


def _image(ax, m1, m2, values, **style):
    """values on the regular "xy" grid (m1, m2) as an image, each cell centred on its grid point: what
    pcolormesh draws, at a fraction of its cost."""
    x, y = np.unique(m1), np.unique(m2)
    half_x, half_y = (x[-1] - x[0]) / (len(x) - 1) / 2, (y[-1] - y[0]) / (len(y) - 1) / 2
    extent = (x[0] - half_x, x[-1] + half_x, y[0] - half_y, y[-1] + half_y)
    image = ax.imshow(values, origin="lower", extent=extent, interpolation="nearest", cmap="viridis", **style)
    ax.set(xlim=(m1.min(), m1.max()), ylim=(m2.min(), m2.max()), aspect="equal")
    return image


def _heat(ax, m1, m2, values, title=""):
    image = _image(ax, m1, m2, values)
    ax.set_title(title)
    return image


def _mark_optimum(ax, optimum) -> None:
    if optimum is not None:
        ax.plot(*optimum, "x", color="red", ms=9, mew=2, label="optimum", zorder=5)


def _inside(path: np.ndarray, m1, m2) -> np.ndarray:
    keep = (path[:, 0] >= m1.min()) & (path[:, 0] <= m1.max()) & (path[:, 1] >= m2.min()) & (path[:, 1] <= m2.max())
    return path[keep]


def path_panels(
    m1, m2, values, paths: dict[str, np.ndarray], optimum, labels=(r"$\mu_1$", r"$\mu_2$", r"$L(\mu)$")
) -> plt.Figure:
    """One panel per path on the same heatmap and colour scale, the optimum marked: paths that share a line
    (a start and an optimum on the diagonal) stay apart, and a diverging one hides nothing."""
    cols = min(3, len(paths))
    rows = int(np.ceil(len(paths) / cols))
    # shared axes, tick labels on the outer panels only: one scale to read, and a third of the text to lay out
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.0 * cols, 2.9 * rows), squeeze=False, sharex=True, sharey=True, constrained_layout=True
    )
    for ax, (label, path) in zip(axes.ravel(), paths.items()):
        mesh = _heat(ax, m1, m2, values, label)
        shown = _inside(path, m1, m2)
        ax.plot(shown[:, 0], shown[:, 1], "o-", color="white", mfc="black", ms=3, lw=0.8)
        _mark_optimum(ax, optimum)
        ax.title.set_fontsize(8)
    for ax in axes.ravel()[len(paths) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel(labels[0])
    for ax in axes[:, 0]:
        ax.set_ylabel(labels[1])
    fig.colorbar(mesh, ax=axes, label=labels[2], shrink=0.8)
    return fig


def heatmap_paths(
    m1, m2, values, paths: dict[str, np.ndarray], title: str, labels=(r"$\mu_1$", r"$\mu_2$", r"$L(\mu)$"), optimum=None
) -> plt.Figure:
    """The log-likelihood heatmap with optimisation paths drawn on it and the optimum marked; labels name the
    axes and the colour bar."""
    fig, ax = plt.subplots(figsize=(5, 4.6))
    # the far corner of the box would take the whole colour scale: it stops at the lower third of the values
    finite = values[np.isfinite(values)]
    floor = float(np.percentile(finite, 33)) if finite.size else None
    fig.colorbar(_image(ax, m1, m2, np.maximum(values, floor) if floor is not None else values), ax=ax, label=labels[2])
    ax.set_title(title)
    # The heat scale is dominated by far-away values; log-spaced contours show the ellipses near the top.
    drop = values.max() - values
    ax.contour(
        m1,
        m2,
        drop,
        levels=np.geomspace(max(drop.max(), 10.0) / 1e4, drop.max(), 8),
        colors="w",
        linewidths=0.5,
        alpha=0.7,
    )
    for label, path in paths.items():
        shown = _inside(path, m1, m2)
        ax.plot(shown[:, 0], shown[:, 1], ".-", ms=3, lw=1, label=label)
    _mark_optimum(ax, optimum)
    ax.set(xlabel=labels[0], ylabel=labels[1])
    # below the axes, where it covers neither the paths nor the optimum
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, frameon=False)
    fig.subplots_adjust(bottom=0.28)
    return fig


def error_curves(
    curves: dict[str, np.ndarray], xlabel: str = "step", x: dict | None = None, ylabel: str = r"$\|\mu_t - \hat\mu\|$"
) -> plt.Figure:
    """||mu_t - mu_hat|| against step (or samples seen), log scale."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    # Rates symmetric about half the bound contract alike: line styles keep coinciding curves both visible.
    styles = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 3)), (0, (3, 1, 3, 5)))
    for k, (label, err) in enumerate(curves.items()):
        xs = x[label] if x else np.arange(len(err))
        ax.semilogy(xs, np.maximum(err, 1e-16), lw=1.2, ls=styles[k % len(styles)], label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=6)
    return fig


def sgd_convergence(
    runs, floors: dict[int, float] | None = None, ylabel: str = r"$\|\theta_t - \hat\theta\|$"
) -> plt.Figure:
    """Mini-batch SGD error against steps and against samples seen, one curve per batch size, with each batch
    size's predicted noise floor dashed in its colour; the y-axis stops a decade below the lowest floor."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    floors = floors or {}
    for run in runs:
        label = f"k = {run.k}"
        (line,) = axes[0].loglog(np.arange(1, len(run.errors)), run.errors[1:], lw=1, label=label)
        axes[1].loglog(run.samples_seen[1:], run.errors[1:], lw=1, label=label, color=line.get_color())
        if run.k in floors:
            for ax in axes:
                ax.axhline(floors[run.k], color=line.get_color(), ls="--", lw=0.8)
    if floors:
        axes[0].set_ylim(bottom=min(floors.values()) / 10)
    axes[0].set(xlabel="step", ylabel=ylabel)
    axes[1].set(xlabel="samples seen (step x k)")
    axes[0].legend(fontsize=6)
    return fig


def subset_landscapes(m1, m2, landscapes, optimum, labels=(r"$\theta_1$", r"$\theta_2$")) -> plt.Figure:
    """The log-likelihood of random subsets of size k: the centre moves to the subset's optimum, the curvature
    grows with k."""
    cols = 3
    rows = int(np.ceil(len(landscapes) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(8, 2.8 * rows), squeeze=False, sharex=True, sharey=True, constrained_layout=True
    )
    # One colour scale for every panel, logarithmic in the drop below the maximum: the flatter landscapes of
    # small subsets show as paler colour, and each still shows its shape.
    low = min(float((land.values - land.values.max()).min()) for land in landscapes)
    norm = matplotlib.colors.SymLogNorm(linthresh=1.0, vmin=low, vmax=0.0)
    for ax, land in zip(axes.ravel(), landscapes):
        mesh = _image(ax, m1, m2, land.values - land.values.max(), norm=norm)
        ax.set_title(f"k = {land.k}")
        ax.contour(m1, m2, land.values - land.values.max(), levels=[-2.0], colors="w", linewidths=0.8)
        ax.plot(*optimum, "rx", ms=6)
        ax.plot(*land.subset_optimum, "w+", ms=8)
    for ax in axes.ravel()[len(landscapes) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel(labels[0])
    for ax in axes[:, 0]:
        ax.set_ylabel(labels[1])
    fig.colorbar(mesh, ax=axes, label=r"$\hat\ell - \max \hat\ell$ (log scale)", shrink=0.8)
    return fig
