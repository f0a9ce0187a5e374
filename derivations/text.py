"""Text from outside (a sheet's title, its questions' texts and labels, keys, a model's title and notes) is data.
It reaches LaTeX, HTML and file names, so it is checked where it is declared:

- a key is a short name of letters, digits, '_', '.' and '-', with no path in it (it names files);
- the math of a text, between $...$, uses only math macros from a whitelist (Greek letters, fractions, sums,
  accents, matrices...): no macro that reads or writes files or redefines TeX (\\input, \\openout, \\write,
  \\catcode, \\def, \\csname ...), no ^^ character codes, no \\href;
- outside math every TeX special is escaped when it is rendered (reports/render.py), so it needs no check.
"""

from __future__ import annotations

import re

from mlemap.derivations.model import InputError

KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
MATH = re.compile(r"\$([^$]+)\$")
MACRO = re.compile(r"\\([A-Za-z]+|.)", re.DOTALL)
ENVIRONMENT = re.compile(r"\\(?:begin|end)\s*\{([^}]*)\}")

GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi varpi rho "
    "varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi "
    "Psi Omega"
)
MATH_MACROS = frozenset(
    (
        GREEK + " frac dfrac tfrac sqrt sum prod int iint oint lim sup inf max min arg det log ln exp sin cos tan "
        "bar hat widehat tilde widetilde overline underline vec dot ddot check breve acute grave mathring "
        "mathbf mathrm mathit mathsf mathtt mathcal mathbb mathfrak boldsymbol text textrm textit textbf "
        "operatorname displaystyle textstyle scriptstyle left right big Big bigg Bigg bigl bigr Bigl Bigr middle "
        "cdot cdots ldots dots vdots ddots times div pm mp ast star circ bullet le leq ge geq ne neq approx sim "
        "simeq propto equiv cong in notin ni subset subseteq supset supseteq cup cap setminus emptyset varnothing "
        "mid nmid parallel perp to rightarrow leftarrow Rightarrow Leftarrow leftrightarrow Leftrightarrow mapsto "
        "implies iff infty partial nabla ell prime top intercal forall exists neg lnot land lor wedge vee ll gg "
        "langle rangle lbrace rbrace lvert rvert lVert rVert vert Vert lfloor rfloor lceil rceil binom choose "
        "over atop limits nolimits quad qquad hbar overbrace underbrace overset underset stackrel begin end "
        "mathop sim backslash colon dagger"
    ).split()
)
SYMBOLS = frozenset(",;:! {}|\\&%$#_^'")  # \, \; \{ \} \\ \& ...: spacing and escaped specials
ENVIRONMENTS = frozenset(
    [
        "cases",
        "matrix",
        "pmatrix",
        "bmatrix",
        "vmatrix",
        "Vmatrix",
        "smallmatrix",
        "array",
        "aligned",
        "gathered",
        "split",
    ]
)


def check_key(key: object, where: str) -> None:
    """A key names answers and files: letters, digits, '_', '.', '-', no '..' and no path."""
    if not isinstance(key, str) or not KEY.fullmatch(key) or ".." in key:
        raise InputError(
            f"{where}: a key must be 1-80 letters, digits, '_', '.' or '-', starting with a letter or digit and "
            f"without '..', got {key!r}"
        )


def check_text(text: object, where: str) -> None:
    """A text is a string whose math uses only whitelisted math macros; InputError naming the first other."""
    if not isinstance(text, str):
        raise InputError(f"{where}: must be text (a str), got {type(text).__name__}")
    if text.count("$") % 2:
        raise InputError(f"{where}: has an unmatched $ (math is written between two $)")
    for math in MATH.findall(text):
        check_math(math, where)


def check_math(math: str, where: str) -> None:
    """Only whitelisted macros and environments, and no TeX character codes (^^5c is a backslash)."""
    if "^^" in math:
        raise InputError(f"{where}: '^^' (a TeX character code) is not allowed in math")
    for name in MACRO.findall(math):
        allowed = name in SYMBOLS if len(name) == 1 and not name.isalpha() else name in MATH_MACROS
        if not allowed:
            raise InputError(f"{where}: the macro \\{name} is not allowed in math (only math macros are)")
    for environment in ENVIRONMENT.findall(math):
        if environment.strip() not in ENVIRONMENTS:
            raise InputError(f"{where}: the environment {environment!r} is not allowed in math")
