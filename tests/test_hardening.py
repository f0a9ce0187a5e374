"""Hostile and extreme inputs of the second round: each gets its one line or its right answer."""

from __future__ import annotations

import textwrap

import pytest
import sympy as sp

from derivations.engine import derive
from derivations.model import InputError, Model, Parameter
from derivations.sheet import load_sheet_module

x, mu = sp.symbols("x mu", real=True)
TINY = sp.Rational(1, 10**12)


def narrow(scale: int = 1) -> Model:
    density = scale * sp.exp(-((x - mu) ** 2) / (2 * TINY)) / sp.sqrt(2 * sp.pi * TINY)
    return Model(
        f"narrow_{scale}",
        "narrow",
        (x,),
        (Parameter(mu, sp.Reals),),
        density,
        simulate=lambda r, n, t: {"x": r.normal(t["mu"], 1e-6, n)},
        truth={"mu": 0.3},
    )


def test_a_proper_density_with_a_narrow_peak_is_accepted():
    assert derive(narrow()).estimate is not None


def test_a_narrow_density_that_integrates_to_two_is_still_refused():
    with pytest.raises(InputError, match=r"^narrow_2: the density must integrate \(or sum\) to 1"):
        derive(narrow(2))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("import sys\nsys.exit(0)\n", r"the file called sys\.exit\(0\) while loading; a sheet file only declares$"),
        ("class Boom(BaseException):\n    pass\nraise Boom('no')\n", r": Boom: no$"),
        ("raise SystemExit('bye')\n", r"sys\.exit\('bye'\)"),
    ],
)
def test_a_sheet_that_exits_or_raises_anything_is_one_line(tmp_path, body, message):
    path = tmp_path / "sheet.py"
    path.write_text(textwrap.dedent(body))
    with pytest.raises(InputError, match=message):
        load_sheet_module(path)


def test_a_sheet_file_runs_once_per_content(tmp_path):
    path = tmp_path / "sheet.py"
    counter = tmp_path / "runs.txt"
    path.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            p = Path({str(counter)!r})
            p.write_text(p.read_text() + "x" if p.exists() else "x")
            from derivations.sheet import Sheet
            SHEET = Sheet(title="t", questions=())
            """
        )
    )
    load_sheet_module(path)
    load_sheet_module(path)
    assert counter.read_text() == "x"
    path.write_text(path.read_text() + "\n# edited\n")
    load_sheet_module(path)
    assert counter.read_text() == "xx"


def test_a_study_too_large_for_the_machine_is_refused_before_drawing():
    from numerics.kinds import check_memory

    check_memory(10_000, 4)  # fits
    with pytest.raises(
        InputError, match=r"^a study of n = 1,000,000,000,000 draws needs about [\d.]+ GiB, more than half"
    ):
        check_memory(10**12, 4)


def test_chunked_derived_sgd_is_the_same_path(monkeypatch):
    """The derived-gradient ascent gathers its batches a chunk at a time: the path does not depend on the chunk."""
    import numpy as np

    from derivations.designs import gaussian_mean
    from numerics import minibatch as mb
    from numerics import quadratic as qd
    from numerics.exact_study import draw

    d = derive(gaussian_mean("chunks", ((5, 0), (0, 5)), (1, 1)))
    s = qd.sample(d, draw(d, 500, 3), 3)
    whole = mb.sgd(s, 7, 0.01, 90, (0.0, 0.0), seed=2, gradient="derived")
    monkeypatch.setattr(mb, "CHUNK_POINTS", 20)  # 2 steps of 7 points per chunk
    chunked = mb.sgd(s, 7, 0.01, 90, (0.0, 0.0), seed=2, gradient="derived")
    np.testing.assert_array_equal(whole.path, chunked.path)
    auto = mb.sgd(s, 7, 0.01, 90, (0.0, 0.0), seed=2, gradient="autograd")
    np.testing.assert_allclose(auto.path, chunked.path, rtol=0, atol=1e-12)


def test_a_familiar_form_given_as_text_is_refused_not_parsed():
    from derivations.sheet import Estimate
    from sheets.catalogue import GAUSSIAN

    with pytest.raises(InputError, match=r"^question q: the familiar form of mu must be a SymPy expression, got str$"):
        Estimate("q", "?", GAUSSIAN, familiar={"mu": "__import__('os').getcwd()"})


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (3.968e7, 3, r"$3.97 \times 10^{7}$"),
        (5.278e-5, 4, r"$5.278 \times 10^{-5}$"),
        (35720.4, 3, "35720"),
        (0.0315, 4, "0.0315"),
    ],
)
def test_numbers_are_written_as_a_reader_writes_them(value, digits, shown):
    from reports.document import number

    assert number(value, digits) == shown
