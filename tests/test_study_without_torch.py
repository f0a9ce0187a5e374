"""An optimizer study's handout says how its numbers were computed, as they were: gradient ascent's gradient by
automatic differentiation where torch ran and the derived score where it did not; -H at the optimum shown in
a display after the sentence that announces it, for one parameter and several, exact where it can be; and a
figure's caption names only what the figure draws, its single panel printed at every figure's scale."""

from __future__ import annotations

import dataclasses
import os
import re
from fractions import Fraction

import matplotlib.pyplot as plt
import numpy as np
import pytest
import scipy.stats

from mlemap.derivations.engine import derive
from mlemap.derivations.model import Model
from mlemap.derivations.sheet import OptimizerStudy
from mlemap.numerics.study import Run, Study, run_study
from mlemap.numerics.torch_optional import TORCH_MISSING
from mlemap.reports import figures
from mlemap.reports import study_layout as layout
from mlemap.reports.document import Section
from mlemap.reports.exact_study import without_torch as torch_notice
from mlemap.reports.study_symbols import StudySymbols
from mlemap.sheets.exercise4 import LOGNORMAL
from tests.test_cli import ROOT, mlemap, without_torch  # noqa: F401 - without_torch: the fixture, an env without torch

EXERCISE4 = ROOT / "mlemap" / "sheets" / "exercise4.py"
AUTOGRAD = re.compile(r"automatic differentiation|autograd", re.IGNORECASE)
CALLS = [2, 4, 3, 0, 5, 1, 3]
WAITS = [1.2, 0.7, 2.5, 3.1, 0.4, 1.9, 2.2, 0.9, 1.5, 4.0, 0.6, 1.1]


def exercise4_study(tmp_path, env) -> str:
    """Exercise 4's optimizer study as its Markdown report prints it, without the reference code (torch code
    for the reader to run, not a claim about what this build ran)."""
    if env is not None:  # the blocker first, then this work tree, whatever is installed
        env = {**env, "PYTHONPATH": os.pathsep.join((env["PYTHONPATH"], str(ROOT)))}
    out = mlemap(
        "report", "--sheet", str(EXERCISE4), "--out", str(tmp_path / "R"), "--format", "md", "--quiet", env=env
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    report = (tmp_path / "R" / "report.md").read_text()
    section = report[report.index("gradient ascent and optimizers") : report.index("## Colophon")]
    return re.sub(r"```.*?```", "", section, flags=re.DOTALL)


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;:])\s+|\n+", text) if s.strip()]


def figure_captions(section: str) -> list[str]:
    return re.findall(r"^\*Figure \d+\. (.*)\*$", section, flags=re.MULTILINE)


def ascent_caption(section: str) -> str:
    (caption,) = re.findall(r"^\*(Gradient ascent from .*)\*$", section, flags=re.MULTILINE)
    return caption


def test_without_torch_no_sentence_says_autograd_and_the_figures_show_what_they_say(tmp_path, without_torch):  # noqa: F811
    section = exercise4_study(tmp_path, without_torch)
    assert [s for s in sentences(section) if AUTOGRAD.search(s)] == []
    assert ", each gradient the derived score (this build ran without torch), until" in ascent_caption(section)
    assert torch_notice(TORCH_MISSING) in section
    assert "| SGD |" not in section  # no optimizer ran
    captions = figure_captions(section)
    assert len(captions) == 2 and not [c for c in captions if "optimizer" in c]
    assert captions[0].startswith("Distance to the optimum against step, log scale: a panel per rate")
    assert captions[1].startswith(
        r"Gradient ascent's path on the log-likelihood from $(0, 1)$ at $0.1 \times$ the bound"
    )


def test_with_torch_gradient_ascent_is_by_automatic_differentiation(tmp_path):
    pytest.importorskip("torch")
    section = exercise4_study(tmp_path, None)
    assert ", each gradient by automatic differentiation, until" in ascent_caption(section)
    assert "derived score" not in section and "without torch" not in section
    assert "| SGD + momentum 0.9 |" in section
    assert figure_captions(section)[1].startswith("The optimizers' paths on the log-likelihood, a panel per optimizer")


def derivation_blocks(model: Model, study=None) -> tuple[list[dict], object, object]:
    """The study's derivation paragraph of the model on its observed data, as blocks."""
    d = derive(model)
    st = study or run_study(d, parts=())
    sec = Section("q", "q")
    layout._derivation(sec, st, d, StudySymbols("\\eta", "\\kappa", "q", "A", "V", "b", "\\theta"))
    return sec.blocks, st, d


def announced_display(blocks: list[dict]) -> str:
    """The display the sentence 'At the optimum ... is' announces: the very next block."""
    (i,) = [i for i, b in enumerate(blocks) if b["kind"] == "text" and "At the optimum" in b["text"]]
    assert blocks[i]["text"].endswith(" is"), blocks[i]["text"][-120:]
    assert not AUTOGRAD.search(blocks[i]["text"])  # -H comes from the derived Hessian, torch or not
    assert blocks[i + 1]["kind"] == "math" and blocks[i + 2]["text"].startswith("Its eigenvalues are")
    return blocks[i + 1]["latex"]


def test_one_parameter_on_observed_data_shows_its_exact_curvature():
    blocks, _, _ = derivation_blocks(Model.from_distribution("poisson", name="calls", observed={"x": CALLS}))
    shown = announced_display(blocks)
    exact = Fraction(len(CALLS)) ** 2 / sum(CALLS)  # -l'' = S / lambda^2 at lambda = S / n
    assert shown.startswith(r"-H(\hat{\lambda}) = ") and rf"\frac{{{exact.numerator}}}{{{exact.denominator}}}" in shown
    assert "exact" in blocks[0]["text"]


def test_two_parameters_without_a_closed_form_show_the_derived_hessian_in_numbers():
    blocks, st, _ = derivation_blocks(Model.from_distribution("gamma", name="waits", observed={"x": WAITS}))
    shown = announced_display(blocks)
    rows = re.search(r"\\begin\{matrix\}(.*)\\end\{matrix\}", shown)[1].split(r" \\ ")
    printed = np.array([[float(x) for x in row.split(" & ")] for row in rows])
    # independently: central differences of scipy's gamma log-density summed over the data, at the optimum
    assert st.names == ("k", "theta")  # scipy's shape a and scale
    theta, h = np.array([st.optimum[k] for k in st.names]), 1e-4

    def loglik(t):
        return scipy.stats.gamma.logpdf(WAITS, t[0], scale=t[1]).sum()

    steps = np.eye(2) * h
    numeric = -np.array(
        [
            [
                (loglik(theta + a + b) - loglik(theta + a - b) - loglik(theta - a + b) + loglik(theta - a - b))
                / (4 * h * h)
                for b in steps
            ]
            for a in steps
        ]
    )
    assert printed.shape == (2, 2) and np.allclose(printed, numeric, rtol=1e-3)
    assert "derived Hessian evaluated at the data" in blocks[0]["text"]


def test_an_exact_curvature_that_disagrees_with_the_study_is_not_shown():
    """The exact form shows only where its numbers are the study's: curvatures off by 2 fall back to numbers."""
    model = Model.from_distribution("poisson", name="calls", observed={"x": CALLS})
    st = run_study(derive(model), parts=())
    wrong = dataclasses.replace(st, curvatures=tuple(2 * c for c in st.curvatures))
    blocks, _, _ = derivation_blocks(model, wrong)
    shown = announced_display(blocks)
    assert r"\frac" not in shown and "derived Hessian evaluated at the data" in blocks[0]["text"]


class Recorder:
    def __init__(self):
        self.captions = []

    def figure(self, name: str, caption: str) -> None:
        self.captions.append(caption)


@pytest.mark.parametrize("optimizers", [0, 2])
def test_the_paths_figure_draws_what_its_caption_says(optimizers):
    m1, m2 = np.meshgrid(np.linspace(-0.3, 1.3, 20), np.linspace(0.05, 1.2, 20))
    path = np.array([[0.0, 1.0], [0.5, 0.6], [1.0, 0.3]])
    run = Run("0.1 of the bound", 0.1, "converged", 2, 2, np.zeros(3), path)
    others = tuple(dataclasses.replace(run, label=f"optimizer {i}") for i in range(optimizers))
    grid = (m1, m2, -((m1 - 1) ** 2) - (m2 - 0.3) ** 2)
    st = Study("lognormal", ("m", "v"), 3, {"m": 1.0, "v": 0.3}, 1.0, 0.9, (1.0, 1.2), (run,), others, (), grid)
    sec, plan = Recorder(), figures.FigurePlan()
    layout._paths(sec, OptimizerStudy("q", "Ascend.", LOGNORMAL), st, plan)
    (caption,) = sec.captions
    drawn = plan.jobs[0].args[3]  # path_panels' paths: a panel each
    assert len(drawn) == optimizers + 1 and list(drawn)[-1].startswith("gradient ascent, ")
    if optimizers:
        assert "a panel per optimizer" in caption
    else:
        assert caption.startswith(r"Gradient ascent's path on the log-likelihood from $(0, 1)$ at $0.1 \times$")
        assert "optimizer" not in caption and "panel" not in caption


def test_a_single_path_panel_is_saved_as_wide_as_a_figure():
    """HTML shows every figure across the page: a lone panel saved narrower would have text several times the
    other figures'. Its saved box is the width a figure has, so it shows and prints at their scale."""
    m1, m2 = np.meshgrid(np.linspace(-0.3, 1.3, 30), np.linspace(0.05, 1.2, 30))
    values = -((m1 - 1) ** 2) - (m2 - 0.3) ** 2
    path = np.array([[0.0, 1.0], [0.5, 0.6], [1.0, 0.3]])
    with plt.rc_context(figures.STYLE):
        one = figures.path_panels(m1, m2, values, {"gradient ascent": path}, (1.0, 0.3), ("$m$", "$v$", r"$\ell$"))
        curves = figures.error_curves({"a": np.geomspace(1, 1e-6, 30), "b": np.geomspace(1, 1e-3, 30)})
    try:
        single, full = figures.saved_box(one), figures.saved_box(curves)
        assert single.width == pytest.approx(figures.WIDTH, abs=0.01)
        assert single.width >= full.width - 0.1  # no narrower than a full-width figure: its text no larger
        axes = one.axes[0].get_window_extent().transformed(one.dpi_scale_trans.inverted())
        assert axes.width > 1.5  # the panel itself fills the height a figure has, not a sliver of it
    finally:
        plt.close(one)
        plt.close(curves)
