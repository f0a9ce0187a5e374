"""A student's answer read as mathematics, by a small grammar: LaTeX as students write it (\\frac{1}{n}\\sum_{i=1}^n
x_i, \\bar{x}, \\hat\\sigma^2 = ...) and plain text (sum(x_i)/n, xbar, sqrt(5)/5, 0.4472, tuples). The text is never
evaluated: each token becomes a SymPy object by hand, with limits on length, nesting and exponents. A sum over i
becomes SUM(g), g in the data symbols, which the checker evaluates on data or writes in the derivation's
statistics."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

import sympy as sp

from mlemap.derivations.engine import Derivation, n_obs
from mlemap.derivations.model import InputError

MAX_LENGTH = 2000
MAX_DEPTH = 40
MAX_EXPONENT = 64  # |exponent| of a number: 9^(9^9) is refused, not computed
SUM = sp.Function("SUM")  # SUM(g): the sum over i = 1..n of g(x_i, y_i, ...)
TOKEN = re.compile(
    r"\s+|(?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d{1,3}(?![A-Za-z]))?)|(?P<cmd>\\[A-Za-z]+|\\[,;:! {}|])|(?P<name>[A-Za-z]+)"
    r"|(?P<op>\*\*|[-+*/^(){}\[\],=_|'])"
)
GREEK = ("alpha", "beta", "gamma", "delta", "mu", "sigma", "theta", "lambda", "tau", "nu", "kappa", "phi", "rho", "eta")
FUNCTIONS = {"sqrt": sp.sqrt, "log": sp.log, "ln": sp.log, "exp": sp.exp}
SPACING = {"\\,", "\\;", "\\:", "\\!", "\\ ", "\\left", "\\right", "\\displaystyle", "\\big", "\\Big", "\\bigg"}


class Unreadable(InputError):
    """The text is not an answer this grammar reads: says where, in one line."""

    def __init__(self, message: str, position: int | None = None):
        where = "" if position is None else f" (at character {position + 1})"
        super().__init__(message + where)
        self.position = position


class UnknownSymbol(Unreadable):
    """A name that is neither data, a parameter, n nor a function of the sheet."""


@dataclass(frozen=True)
class Notation:
    """The names a sheet's answer may use: its data symbols (summed over i), its parameters, n, and x_bar."""

    data: dict[str, sp.Symbol]
    params: dict[str, sp.Expr]
    names: dict[str, sp.Expr] = field(default_factory=dict)  # the sheet's own names (h: the number of heads)
    decimals: list[str] = field(default_factory=list, compare=False)

    @classmethod
    def of(cls, d: Derivation, names=None) -> Notation:
        params: dict[str, sp.Expr] = {}
        for p in d.model.params:
            name = p.name
            params[name] = p.symbol
            if name.endswith("^2"):  # sigma^2: a student writes \sigma^2, the square of sigma
                params.setdefault(name[:-2], sp.sqrt(p.symbol))
        return cls({s.name: s for s in d.model.data}, params, dict(names or {}))


@dataclass
class Token:
    kind: str
    text: str
    position: int


def tokens(text: str) -> list[Token]:
    if not isinstance(text, str):
        raise Unreadable(f"an answer is text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise Unreadable(f"the answer is {len(text)} characters long; at most {MAX_LENGTH} are read")
    out, pos = [], 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None:
            raise Unreadable(f"cannot read {text[pos]!r}", pos)
        if match.lastgroup is not None:
            kind = match.lastgroup
            piece = match.group(kind)
            if kind == "cmd" and piece in SPACING:
                pos = match.end()
                continue
            out.append(Token(kind, "^" if piece == "**" else piece, pos))
        pos = match.end()
    return out


class Parser:
    """Recursive descent: expr := term (+|- term)*; term := factor ((*|/|implicit) factor)*; factor := -factor |
    power; power := atom (^ factor)?"""

    def __init__(self, text: str, notation: Notation):
        self.text, self.notation = text, notation
        self.toks = tokens(text)
        self.i, self.depth, self.in_sum = 0, 0, 0

    # -- plumbing -------------------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> Token | None:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else None

    def take(self, text: str | None = None) -> Token:
        tok = self.peek()
        if tok is None:
            raise Unreadable(f"the answer ends where {text or 'more'} was expected", len(self.text))
        if text is not None and tok.text != text:
            raise Unreadable(f"expected {text!r}, found {tok.text!r}", tok.position)
        self.i += 1
        return tok

    def at(self, *texts: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.text in texts

    def nested(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            tok = self.peek()
            raise Unreadable(f"the answer nests deeper than {MAX_DEPTH} levels", tok.position if tok else None)

    # -- grammar --------------------------------------------------------------------------------------------
    def answer(self) -> sp.Basic:
        value = self.sequence()
        if self.at("="):  # \hat\sigma^2 = ...: a name for the estimate, then the answer
            self.take("=")
            value = self.sequence()
        tok = self.peek()
        if tok is not None:
            raise Unreadable(f"unexpected {tok.text!r}", tok.position)
        return value

    def line(self) -> tuple[sp.Expr, bool]:
        value = self.expr()
        equation = self.at("=")
        if equation:
            self.take("=")
            value = value - self.expr()
        tok = self.peek()
        if tok is not None:
            raise Unreadable(f"unexpected {tok.text!r}", tok.position)
        return value, equation

    def sequence(self) -> sp.Basic:
        first = self.expr()
        if not self.at(","):
            return first
        items = [first]
        while self.at(","):
            self.take(",")
            items.append(self.expr())
        return sp.Tuple(*items)

    def expr(self) -> sp.Expr:
        self.nested()
        value = self.term()
        while self.at("+", "-"):
            sign = self.take().text
            right = self.term()
            value = value + right if sign == "+" else value - right
        self.depth -= 1
        return value

    def term(self) -> sp.Expr:
        value = self.factor()
        while True:
            if self.at("*", "\\cdot", "\\times"):
                self.take()
                value = value * self.factor()
            elif self.at("/"):
                self.take()
                value = value / self.factor()
            elif self.starts_atom():
                value = value * self.factor()
            else:
                return value

    def starts_atom(self) -> bool:
        tok = self.peek()
        if tok is None:
            return False
        if tok.kind in ("num", "name"):
            return True
        if tok.kind == "cmd":
            return tok.text not in ("\\cdot", "\\times")
        return tok.text in ("(", "{", "[")

    def factor(self) -> sp.Expr:
        if self.at("-"):
            self.take()
            return -self.factor()
        if self.at("+"):
            self.take()
            return self.factor()
        return self.power()

    def power(self) -> sp.Expr:
        base = self.atom()
        while self.at("'"):  # a prime is not an operation here
            raise Unreadable("a prime (') is not read; write the expression itself", self.take().position)
        if self.at("^"):
            tok = self.take("^")
            exponent = self.group_or_atom()
            if exponent.is_number and abs(exponent) > MAX_EXPONENT:
                raise Unreadable(f"an exponent larger than {MAX_EXPONENT} is not read", tok.position)
            return base**exponent
        return base

    def group_or_atom(self) -> sp.Expr:
        if self.at("{"):
            return self.braced()
        if self.at("-"):
            self.take()
            return -self.atom()
        return self.atom()

    def braced(self) -> sp.Expr:
        self.take("{")
        value = self.expr()
        self.take("}")
        return value

    def atom(self) -> sp.Expr:
        tok = self.peek()
        if tok is None:
            raise Unreadable("the answer ends where a number or a name was expected", len(self.text))
        if tok.kind == "num":
            self.take()
            self.notation.decimals.append(tok.text)
            return sp.Rational(str(Decimal(tok.text)))
        if tok.text in ("(", "["):
            close = ")" if tok.text == "(" else "]"
            self.take()
            self.nested()
            value = self.sequence()
            self.take(close)
            self.depth -= 1
            return value
        if tok.text == "{":
            return self.braced()
        if tok.kind == "cmd":
            return self.command()
        if tok.kind == "name":
            return self.name()
        raise Unreadable(f"unexpected {tok.text!r}", tok.position)

    def argument(self) -> sp.Expr:
        """A LaTeX argument: {...}, or one token (\\frac12)."""
        if self.at("{"):
            return self.braced()
        tok = self.peek()
        if tok is not None and tok.kind == "num" and len(tok.text) > 1 and tok.text.isdigit():
            self.take()  # \frac12: the first digit is the argument, the rest the next one
            self.toks.insert(self.i, Token("num", tok.text[1:], tok.position + 1))
            return sp.Integer(tok.text[0])
        return self.atom()

    def command(self) -> sp.Expr:
        tok = self.take()
        name = tok.text[1:]
        if name in ("frac", "dfrac", "tfrac"):
            top = self.argument()
            return top / self.argument()
        if name == "sqrt":
            if self.at("["):
                self.take("[")
                degree = self.expr()
                self.take("]")
                return sp.root(self.argument(), degree)
            return sp.sqrt(self.argument())
        if name == "sum":
            return self.summation(tok)
        if name in ("bar", "overline"):
            braced = self.at("{")
            if braced:
                self.take("{")
            word = self.take()
            if word.text not in self.notation.data:
                raise Unreadable("a bar is read over a data symbol only (the sample mean)", word.position)
            if braced:
                self.take("}")
            return SUM(self.notation.data[word.text]) / n_obs
        if name in ("hat", "widehat", "tilde", "mathrm", "mathit", "operatorname"):
            return self.argument()
        if name in ("log", "ln", "exp"):
            return FUNCTIONS[name](self.function_argument())
        if name == "pi":
            return sp.pi
        if name in GREEK or (name.startswith("var") and name[3:] in GREEK):
            return self.symbol(name.removeprefix("var"), tok)
        raise Unreadable(f"the command {tok.text} is not read in an answer", tok.position)

    def function_argument(self) -> sp.Expr:
        if self.at("(", "{"):
            return self.atom()
        return self.power()  # \log x, \log x^2

    def summation(self, tok: Token) -> sp.Expr:
        if self.at("_"):  # \sum_{i=1}^{n} or \sum_i
            self.take("_")
            self.skip_limits()
        if self.at("^"):
            self.take("^")
            self.skip_limits()
        self.in_sum += 1
        summand = self.term()
        self.in_sum -= 1
        return self.sum_of(summand, tok)

    def skip_limits(self) -> None:
        """The bounds of a sum over i: i, i=1, {i=1}, n, {n}; they are the sheet's 1..n."""
        if self.at("{"):
            depth = 0
            while True:
                t = self.take()
                depth += t.text == "{"
                depth -= t.text == "}"
                if depth == 0:
                    return
        t = self.take()
        if t.kind not in ("name", "num"):
            raise Unreadable(f"cannot read the sum's limit {t.text!r}", t.position)
        if self.at("=") and t.text == "i":
            self.take("=")
            self.take()

    def sum_of(self, summand: sp.Expr, tok: Token) -> sp.Expr:
        data = set(self.notation.data.values())
        if not summand.free_symbols & data:
            return summand * n_obs  # a sum of a constant
        return SUM(summand)

    def name(self) -> sp.Expr:
        tok = self.take()
        word = tok.text
        if word in FUNCTIONS:
            return FUNCTIONS[word](self.function_argument())
        if word == "sum":
            if self.at("_"):
                self.take("_")
                self.skip_limits()
            self.in_sum += 1
            summand = self.atom() if self.at("(") else self.term()
            self.in_sum -= 1
            return self.sum_of(summand, tok)
        if word == "pi":
            return sp.pi
        if word == "e" and "e" not in self.notation.data and "e" not in self.notation.params and not self.at("_"):
            return sp.E  # Euler's number, unless the sheet names something e
        for data_name in self.notation.data:
            if word in (f"{data_name}bar", f"{data_name}mean"):
                return SUM(self.notation.data[data_name]) / n_obs
        return self.symbol(word, tok)

    def symbol(self, word: str, tok: Token) -> sp.Expr:
        subscript = None
        if self.at("_"):
            self.take("_")
            sub = self.take()
            if sub.text == "{":
                parts = []
                while not self.at("}"):
                    parts.append(self.take().text)
                self.take("}")
                subscript = "".join(parts)
            else:
                subscript = sub.text
        if word == "n" and subscript is None:
            return n_obs
        if word in self.notation.data:
            if subscript != "i":
                raise Unreadable(f"write the data as {word}_i inside a sum over i", tok.position)
            if not self.in_sum:
                raise Unreadable(f"{word}_i appears outside a sum over i", tok.position)
            return self.notation.data[word]
        name = word if subscript is None else f"{word}_{subscript}"
        if name in self.notation.names:
            return self.notation.names[name]
        if name in self.notation.params:
            return self.notation.params[name]
        if word in ("lam", "lamda") and "lambda" in self.notation.params:
            return self.notation.params["lambda"]
        raise UnknownSymbol(
            f"unknown symbol {name!r}: the answer may use the data (summed over i), n and the parameters", tok.position
        )


def parse_line(text: str, notation: Notation) -> tuple[sp.Expr, bool]:
    """One line of a derivation: (lhs - rhs, True) for an equation, (the expression, False) otherwise."""
    return Parser(text, notation).line()


def parse_answer(text: str, notation: Notation) -> sp.Basic:
    """The answer as a SymPy expression (or a Tuple for several parameters), sums as SUM(g)."""
    return Parser(text, notation).answer()


def in_statistics(expr: sp.Basic, d: Derivation) -> sp.Basic | None:
    """expr with each SUM(g) written in the derivation's statistics (g expanded into the sums it has); None where a
    sum is not one of them, so no symbolic proof is attempted."""
    by_expr = {s.expr: s.symbol for s in d.statistics if s.reduce == "sum"}
    data = list(d.model.data)

    def written(g: sp.Expr) -> sp.Expr | None:
        total = sp.Integer(0)
        for part in sp.Add.make_args(sp.expand(g)):
            coeff, rest = part.as_independent(*data, as_Add=False)
            if rest == 1:
                total += coeff * n_obs
            elif rest in by_expr:
                total += coeff * by_expr[rest]
            else:
                return None
        return total

    return innermost_first(expr, written)


def innermost_first(expr: sp.Basic, replace) -> sp.Basic | None:
    """expr with each SUM(g) replaced by replace(g), the sums inside a summand (a mean inside a variance) first;
    None when replace gives None for one."""
    while expr.has(SUM):
        inner = [t for t in expr.atoms(SUM) if not t.args[0].has(SUM)]
        done = {}
        for term in inner:
            value = replace(term.args[0])
            if value is None:
                return None
            done[term] = value
        expr = expr.xreplace(done)
    return expr
