"""What a build needs from a sheet's report, and the settings every build takes.

Every sheet gets GenericReport (reports/sheet_document.py), one section per question by its kind.
The build calls, in order: prepare() in the parent, background() in a forked worker while the foreground()
steps run in the parent, absorb() of the worker's result, then document() and answers().
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlemap.derivations.sheet import Question, Sheet


@dataclass
class Settings:
    seed: int = 0
    n: int | None = None  # draws for every simulated study (--n); None: each question's own n, else 10000
    resolution: int = 100  # heatmap grid points per axis
    sections: tuple[str, ...] | None = None  # the questions to build (--only, by key's first part); None: all
    sheet_path: Path | None = None  # the sheet file: the command line chooses a default
    jobs: int = 2  # processes: 1 runs verification and figures in this process (also where fork is unavailable)
    # "solutions"; "questions": the students' sheet, nothing that answers; "companion": appendix and verification
    variant: str = "solutions"
    student: str | None = None  # a student's own sheet and key, where the sheet draws data per student (--student)


class ReportPlan:
    """A sheet's report: what to compute (and where), what to show, what to put in answers.json."""

    sections: tuple[str, ...] = ()  # the names --only accepts; () when the report has no optional parts

    def __init__(self, sheet: Sheet, settings: Settings):
        self.sheet, self.settings = sheet, settings

    @property
    def title(self) -> str:
        return self.sheet.title

    @property
    def subtitle(self) -> str:
        # the seed is in the colophon: a reader needs none of it on the title
        kind = "Companion for the course staff" if self.settings.variant == "companion" else "Worked solutions"
        return kind + (f" for student {self.settings.student}" if self.settings.student is not None else "")

    def prepare(self) -> None:
        """Work every later step shares (derivations), done before the worker forks so it inherits it."""

    def background(self) -> object:
        """The worker's share (verification); its result must pickle. Runs in the parent with --jobs 1."""
        return None

    def foreground(self) -> list[tuple[str, Callable[[], None]]]:
        """Named steps the parent runs while the worker computes."""
        return []

    def absorb(self, result: object) -> None:
        """Take the worker's result."""

    def document(self):
        """(sections, figure plan) of the report."""
        raise NotImplementedError

    def questions(self) -> list[tuple[str, Question]]:
        """The questions variant's sections: (title, question) of every question the sheet asks, in order, under
        the title the solutions give it (its own, else Question k and what it asks), as --only picks."""
        chosen = self.settings.sections
        return [
            (q.heading(k), q)
            for k, q in enumerate(self.sheet.questions, 1)
            if chosen is None or q.key.split(".")[0] in chosen
        ]

    def answers(self) -> list[dict]:
        """The rows of answers.json."""
        raise NotImplementedError

    def glance(self) -> list[dict]:
        """The rows of the front page's table: answers.json's, with each answer's display LaTeX."""
        raise NotImplementedError
