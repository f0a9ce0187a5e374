"""An OptimizerStudy of a quadratic log-likelihood, where the theory is exact: gradient ascent's measured
against predicted step counts, torch.optim's optimizers (also on a second model to compare), and mini-batch
SGD with its derived noise floor, gradient covariance and subset landscapes. Returns data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlemap.derivations.engine import Derivation
from mlemap.derivations.sheet import OptimizerStudy
from mlemap.numerics import minibatch as mb
from mlemap.numerics.quadratic import OptimizerRun, Sample, compare_optimizers, heatmap, sample, view
from mlemap.numerics.study import Study, run_study
from mlemap.numerics.torch_optional import TORCH_MISSING, has_torch

SGD_STEPS = 400
FLOOR_STEPS = 2000
SGD_FRACTION_OF_BOUND = 0.1  # of each batch's own stability bound
ON_AXIS_DEGREES = 10.0  # a start this close in angle to a principal axis through the optimum is on it


@dataclass(frozen=True)
class Floor:
    k: int
    predicted: float
    measured: float


@dataclass(frozen=True)
class Batches:
    runs: tuple[mb.SGDRun, ...]
    floors: tuple[Floor, ...]
    variances: tuple[mb.VarianceCheck, ...]
    landscapes: tuple | None  # (grid axis 1, grid axis 2, [SubsetLandscape]) for two parameters
    running_mean_error: float | None  # k = 1 with the rate 1/(c t): the running mean, where C is isotropic


@dataclass(frozen=True)
class ExactStudy:
    sample: Sample
    truth: dict[str, float] | None  # the simulate hook's parameters, when the data were drawn
    start: np.ndarray
    rates: Study | None  # gradient ascent over the fractions of the bound
    grid: tuple | None  # (axis 1, axis 2, objective) around the start and the optimum
    optimizers: tuple[OptimizerRun, ...]
    compare: tuple[Sample, tuple[OptimizerRun, ...], tuple | None] | None
    batches: Batches | None
    compare_start: np.ndarray | None = None  # where the second model's optimizers start (off_axes)
    without_torch: str = ""  # why torch.optim's optimizers did not run, if they did not


def draw(d: Derivation, n: int, seed: int) -> dict[str, np.ndarray]:
    """The model's observed data, else n draws of its simulate hook at its truth."""
    model = d.model
    if model.observed:
        return {s.name: np.asarray(model.observed[s], float) for s in model.data}
    assert model.simulate is not None  # OptimizerStudy's declaration requires data or a simulate hook
    return model.draw(np.random.default_rng(seed), n)


def exact_study(q: OptimizerStudy, d: Derivation, compare: Derivation | None, n: int, seed: int, resolution: int):
    s = sample(d, draw(d, n, seed), seed)
    start = np.zeros(len(s.names))
    two = len(s.names) == 2
    rates = None
    if "ascent" in q.parts:
        rates = run_study(d, seed, q.fractions, data=s.columns(), parts=())
    paths = [r.path for r in rates.ascent] if rates is not None else []
    grid = heatmap(s, resolution, view(s, start, paths)) if two and "grid" in q.parts else None
    optimizers: tuple[OptimizerRun, ...] = ()
    other = other_start = None
    if "optimizers" in q.parts and has_torch():
        optimizers = tuple(compare_optimizers(s, start))
        if compare is not None:
            c = sample(compare, draw(compare, n, seed), seed)
            other_start = off_axes(c, start)
            runs = tuple(compare_optimizers(c, other_start))
            box = view(c, other_start, [r.path for r in runs])  # an overshooting path stays in view
            other = (c, runs, heatmap(c, resolution, box) if len(c.names) == 2 else None)
    batches = _batches(s, q.batch_sizes, start, seed, resolution) if "batches" in q.parts else None
    truth = None if d.model.observed else dict(d.model.truth)
    missing = "" if has_torch() else TORCH_MISSING
    return ExactStudy(s, truth, start, rates, grid, optimizers, other, batches, other_start, missing)


def off_axes(s: Sample, start: np.ndarray) -> np.ndarray:
    """The start for comparing optimizers: the given one, unless the line from it to the optimum runs along a
    principal axis of an anisotropic curvature. Along an axis the gradient points at the optimum, so every
    method moves on that one line and none shows how it differs; such a start is turned about the optimum, at
    its distance, to halfway between the flattest and the stiffest axis (on each, on the side it was)."""
    evals, vecs = np.linalg.eigh(s.curvature)
    error = np.asarray(start, float) - s.optimum
    distance = float(np.linalg.norm(error))
    if distance == 0 or np.isclose(evals[0], evals[-1], rtol=1e-12):
        return np.asarray(start, float)  # every direction is an axis: no start is off them
    if np.max(np.abs(vecs.T @ error)) < distance * np.cos(np.radians(ON_AXIS_DEGREES)):
        return np.asarray(start, float)
    # each axis signed by its largest entry (eigh's signs are arbitrary), then towards the start's side
    axes = [v * np.sign(v[np.argmax(np.abs(v))]) for v in (vecs[:, 0], vecs[:, -1])]
    sides = [-1.0 if v @ error < -1e-9 * distance else 1.0 for v in axes]
    return s.optimum + distance * (sides[0] * axes[0] + sides[1] * axes[1]) / np.sqrt(2)


def _batches(s: Sample, sizes, start, seed: int, resolution: int) -> Batches:
    ks = sorted({k for k in (sizes or (1, 5, 10, 100, 1000, s.n)) if k <= s.n})
    runs = tuple(
        mb.sgd(s, k, SGD_FRACTION_OF_BOUND * s.bound(k), SGD_STEPS, start, seed=seed, gradient="derived") for k in ks
    )
    floors = []
    for k in ks:
        if k == s.n:
            continue
        lr = SGD_FRACTION_OF_BOUND * s.bound(k)
        run = mb.sgd(s, k, lr, FLOOR_STEPS, start, seed=seed, sampling="independent", gradient="derived")
        measured = float(np.sqrt(np.mean(run.errors[FLOOR_STEPS // 4 :] ** 2)))
        floors.append(Floor(k, mb.noise_floor(s, k, lr), measured))
    evals = np.linalg.eigvalsh(s.curvature)
    running = None
    if np.isclose(evals[0], evals[-1], rtol=1e-12):  # lr_t = 1 / (c t): theta_t is the running mean
        run = mb.sgd(s, 1, 1 / float(evals[0]), s.n, start, schedule="inverse_t", seed=seed, gradient="derived")
        running = float(np.max(np.abs(run.path[-1] - s.optimum)))
    variances = tuple(mb.gradient_variance(s, k, start, seed=seed + 1) for k in ks if k < s.n)
    # a single point's optimum lies about 1/sqrt(c_min) from the full one: the landscapes' box holds most
    spread = 2.5 / float(np.sqrt(evals[0]))
    box = (float(np.min(s.optimum)) - spread, float(np.max(s.optimum)) + spread)
    landscapes = mb.subset_landscapes(s, ks, resolution, box, seed=seed + 2) if len(s.names) == 2 else None
    return Batches(runs, tuple(floors), variances, landscapes, running)
