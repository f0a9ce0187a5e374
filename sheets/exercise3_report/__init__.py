"""Exercise 3's own report: the theory demonstrations, the three tasks with their derivations, the praxis on
the 2-D Gaussian mean, and the appendix (Fisher information, standard errors, bias, prior strength)."""

from __future__ import annotations

import dataclasses
import time

import torch

from numerics.compile import warm_torch_optim
from reports.plan import ReportPlan, Settings
from sheets.exercise3_report import compute, content


class Exercise3Report(ReportPlan):
    sections = compute.SECTIONS
    appendices = ("models",)

    def __init__(self, sheet, settings: Settings):
        chosen = settings.sections or compute.DEFAULT_SECTIONS
        chosen = tuple(dict.fromkeys(chosen + tuple(settings.appendices)))
        super().__init__(sheet, dataclasses.replace(settings, sections=chosen))
        self.results = compute.Results(self.settings, sheet)

    @property
    def subtitle(self) -> str:
        return f"Worked solutions, seed {self.settings.seed}, n = {self.settings.n}"

    def prepare(self) -> None:
        compute.derive_all(self.settings)
        warm_torch_optim()  # torch.optim's first use imports torch._dynamo: once, before the worker forks

    def background(self):
        """Verification, the Fisher appendix and the praxis's optimizer comparison, beside theory and the rest
        of the praxis (two cores). One torch thread: the cores are shared with the parent, and no thread pool
        is inherited through fork."""
        torch.set_num_threads(1)
        start = time.perf_counter()
        results = compute.Results(self.settings)
        compute.run_verification(self.settings, results, self.sheet)
        if "appendix" in self.settings.sections:
            compute.run_extensions(self.settings, results)
        optimizers = compute.run_optimizers(self.settings) if "praxis" in self.settings.sections else {}
        return results.checks, results.answers, results.extensions, optimizers, time.perf_counter() - start

    def foreground(self):
        steps = []
        if "theory" in self.settings.sections:
            steps.append(("theory", lambda: compute.run_theory(self.settings, self.results)))
        if "praxis" in self.settings.sections:
            steps.append(("praxis", lambda: compute.run_praxis(self.settings, self.results, self.sheet)))
        return steps

    def absorb(self, result) -> None:
        self.results.checks, self.results.answers, self.results.extensions, optimizers, self.worker_seconds = result
        self.results.praxis.update(optimizers)

    def document(self):
        return content.document(self.results)

    def questions(self) -> list[tuple[str, str]]:
        """The sheet's own wording, theory and praxis included."""
        study = next(q for q in self.sheet.questions if q.key == "praxis1")
        return [
            *[(k, content.QUESTIONS[k]) for k in ("theory", "task1", "task2", "task3")],
            (study.key, study.text),
            *[(k, content.QUESTIONS[k]) for k in ("praxis2", "praxis3")],
        ]

    def answers(self) -> list[dict]:
        return content.answers_json(self.results)
