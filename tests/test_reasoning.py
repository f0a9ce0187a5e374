"""A derivation checked line by line (reasoning by equivalence): a right chain is correct, the first step that
changes the solutions is named with both solution sets, a discarded root outside the domain is a valid step,
a consistent chain to a wrong answer is judged at its last line with the mistake named."""

import pytest

from mlemap.derivations.sheet import load_sheet
from mlemap.numerics.reasoning import check_lines
from tests.golden_reports import ROOT


@pytest.fixture(scope="module")
def sheet():
    return load_sheet(ROOT / "mlemap" / "sheets" / "exercise3.py")


# (key, lines, verdict, first wrong line)
CASES = [
    (
        "task1.mu_mle",
        [r"\sum_{i=1}^n (x_i - \mu) = 0", r"\sum_i x_i - n\mu = 0", r"\hat\mu = \bar{x}"],
        "correct",
        None,
    ),
    ("task1.mu_mle", [r"\sum_{i=1}^n (x_i - \mu) = 0", r"\sum_i x_i = (n-1)\mu", r"\mu = \bar x"], "incorrect", 2),
    ("task1.mu_mle", ["sum(x_i - mu) = 0", "mu = sum(x_i)/n + 1"], "incorrect", 2),
    (
        "task1.sigma2_mle",
        [
            r"-\frac{n}{2\sigma^2} + \frac{1}{2\sigma^4}\sum_i (x_i-\bar x)^2 = 0",
            r"\sum_i (x_i - \bar x)^2 - n\sigma^2 = 0",
            r"\sigma^2 = \frac1n \sum_i (x_i-\bar x)^2",
        ],
        "correct",
        None,
    ),
    (
        "task3a.theta_map",
        [
            r"5 - 10\theta + \frac{3}{\theta} - \frac{4}{1-\theta} = 0",
            r"(2\theta-3)(5\theta^2-1) = 0",
            r"\theta = \frac{\sqrt{5}}{5}",
        ],
        "correct",
        None,
    ),
    ("task3a.theta_map", [r"(2\theta-3)(5\theta^2-1) = 0", r"\theta = \frac{3}{2}"], "incorrect", 2),
    ("task2.a_mle", [r"\frac{\sum_i (x_i-\bar x)(y_i - \bar y)}{\sum_i (x_i - \bar x)^2}"], "correct", None),
    ("task1.mu_mle", [r"\sum_i x_i - n\mu = 0", r"\mu = \frac{1}{"], "unreadable", 2),
]


@pytest.mark.parametrize("key, lines, verdict, line", CASES)
def test_each_line_follows_from_the_one_before_or_is_named(sheet, key, lines, verdict, line):
    feedback = check_lines(sheet, key, lines)
    assert (feedback.verdict, feedback.line) == (verdict, line), feedback.message
    if line is not None and verdict == "incorrect":
        assert feedback.message.startswith(f"line {line}")


def test_a_wrong_step_shows_both_solutions(sheet):
    feedback = check_lines(sheet, "task1.mu_mle", [r"\sum_i x_i - n\mu = 0", r"\sum_i x_i - (n-1)\mu = 0"])
    assert r"\frac{\Big(\sum_i x_{i}\Big)}{n}" in feedback.message
    assert r"\frac{\Big(\sum_i x_{i}\Big)}{n - 1}" in feedback.message


def test_a_consistent_chain_to_a_typical_mistake_names_it_at_the_last_line(sheet):
    lines = [r"\sum_i (x_i - \bar x)^2 - (n-1)\sigma^2 = 0", r"\sigma^2 = \frac{1}{n-1}\sum_i (x_i-\bar x)^2"]
    feedback = check_lines(sheet, "task1.sigma2_mle", lines)
    assert (feedback.verdict, feedback.mistake, feedback.line) == ("incorrect", "n_minus_1", 2)


def test_an_empty_or_overlong_derivation_is_one_line(sheet):
    assert check_lines(sheet, "task1.mu_mle", ["", "  "]).verdict == "unreadable"
    assert check_lines(sheet, "task1.mu_mle", ["x_i"] * 41).verdict == "unreadable"


def test_the_command_reads_a_derivation_from_a_file(tmp_path, capsys):
    from mlemap.numerics.check import main

    path = tmp_path / "derivation.txt"
    path.write_text("\\sum_i x_i - n\\mu = 0\n\\mu = \\bar x\n")
    assert main(["task1.mu_mle", "--lines", str(path)]) == 0
    path.write_text("\\sum_i x_i - n\\mu = 0\n\\mu = 2\\bar x\n")
    assert main(["task1.mu_mle", "--lines", str(path)]) == 1
    assert "line 2 does not follow from line 1" in capsys.readouterr().out
    path.write_bytes(b"\xff\xfe")
    assert main(["task1.mu_mle", "--lines", str(path)]) == 2
