"""Render the neutral document to Markdown, LaTeX and HTML through the layout templates."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import jinja2
from latex2mathml.converter import convert as mathml
from markupsafe import Markup, escape

from mlemap.derivations.text import GREEK
from mlemap.reports.document import TEMPLATES

TEX_SPECIALS = {
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}
MATH = re.compile(r"(\$[^$]+\$)")


TEXT_IN_MATH = {"&": r"\&", "%": r"\%", "#": r"\#", "<": r"\textless{}", ">": r"\textgreater{}"}


def tex(text) -> str:
    r"""Escape prose for LaTeX, leaving $...$ math as it is but for the specials of its text groups
    ($\text{R&D}$ is a text, not an alignment)."""
    parts = MATH.split(str(text))
    return "".join(
        _in_text_groups(p, TEXT_IN_MATH) if MATH.fullmatch(p) else "".join(TEX_SPECIALS.get(c, c) for c in p)
        for p in parts
    )


# Table layout. The widths below are estimates in em of the tables' \small font (9 pt): LaTeX's longtable cannot
# measure its columns as tabularx does, so render.py sizes them from their text, with room to spare.
LINE_EM = 53.5  # A4 with 2 cm margins: 481.9 pt of text width
PAD_EM = 1.33  # 2 \tabcolsep (12 pt) around each cell
CHAR_EM = 0.5  # an average character of text or math
FITS = 0.85  # a table whose natural width is under this share of the line keeps it (l columns)
TALL = re.compile(r"\\(frac|dfrac|binom|sqrt|sum|prod|int|begin|displaystyle)\b")
BREAKS = re.compile(r"\s*(?:=|<|>|\+|-|\\approx|\\le|\\ge|\\mid|\\in|,)\s*")  # where inline math may break
SCRIPT = re.compile(r"[\^_]\s*(\{|\\?[A-Za-z0-9])")
COMMAND = re.compile(r"\\([A-Za-z]+|.)")


def _braced(latex: str, start: int) -> int:
    """The index just past the brace group that opens at start."""
    depth, i = 0, start
    while i < len(latex):
        depth += {"{": 1, "}": -1}.get(latex[i], 0)
        i += 1
        if depth == 0:
            break
    return i


def math_width(latex: str) -> float:
    r"""A formula's width in em, roughly: a fraction as wide as its wider part, scripts smaller, a matrix its
    columns side by side, a command one symbol (an operator name its letters)."""
    latex = re.sub(r"\\(displaystyle|textstyle|left|right|[Bb]igg?[lr]?|limits|nolimits)\b", "", latex)
    if r"\begin{" in latex:
        body = re.sub(r"\\(begin|end)\{\w*matrix\}", "", latex)
        cells = [row.split("&") for row in body.split(r"\\")]
        columns = max(len(row) for row in cells)
        widest = [max(math_width(row[k]) for row in cells if k < len(row)) for k in range(columns)]
        return sum(widest) + columns + 1
    width, i = 0.0, 0
    while i < len(latex):
        frac = re.match(r"\\[dt]?frac\s*", latex[i:])
        script = SCRIPT.match(latex, i)
        if frac:
            top = _braced(latex, i + frac.end())
            bottom = _braced(latex, top)
            width += max(math_width(latex[i + frac.end() + 1 : top - 1]), math_width(latex[top + 1 : bottom - 1])) + 0.3
            i = bottom
        elif script:
            end = _braced(latex, script.start(1)) if script.group(1) == "{" else script.end()
            width += 0.7 * math_width(latex[script.start(1) : end].strip("{}"))
            i = end
        elif latex[i] == "\\":
            name = COMMAND.match(latex, i)
            assert name is not None
            width += _command_width(name.group(1))
            i = name.end()
        else:
            width += {" ": 0, "{": 0, "}": 0, "=": 1.3, "+": 1.2, "-": 1.2, "<": 1.3, ">": 1.3}.get(latex[i], 0.55)
            i += 1
    return width


OPERATOR_NAMES = frozenset({"log", "ln", "exp", "sin", "cos", "tan", "max", "min", "arg", "det", "lim", "sup", "inf"})
# no width of their own: a text group's letters are counted, an accent sits on its letter, a space is thin
NO_WIDTH = frozenset({"text", "mathrm", "operatorname", "textrm", "textit", "textbf", "mathbf", "hat", "bar", "tilde"})
NO_WIDTH |= {",", ";", "!", " "}


def _command_width(name: str) -> float:
    if name in NO_WIDTH:
        return 0.0
    return CHAR_EM * len(name) + 0.3 if name in OPERATOR_NAMES else 0.8  # a Greek letter, a symbol


def cell_width(cell: str) -> tuple[float, float]:
    """A cell's natural width and the narrowest it can wrap to (its widest word or unbreakable formula), in em."""
    natural, narrowest = 0.0, 0.0
    for part in MATH.split(cell):
        if MATH.fullmatch(part):
            whole = math_width(part[1:-1])
            pieces = [part[1:-1]] if TALL.search(part) else BREAKS.split(part[1:-1])
            natural += whole
            narrowest = max(narrowest, *(math_width(p) for p in pieces))
        else:
            words = part.split()
            natural += CHAR_EM * len(part)
            narrowest = max(narrowest, *(CHAR_EM * len(w) for w in words), 0)
    return natural, narrowest


def column_shares(block: dict) -> list[float] | None:
    """Each column's share of the line when the table is too wide for its natural width (None): every column
    gets at least its widest unbreakable piece, then the rest of the line in proportion to what it lacks."""
    rows = [block["header"], *block["rows"]]
    widths = [[cell_width(str(row[k])) for row in rows] for k in range(len(block["header"]))]
    natural = [max(w[0] for w in column) for column in widths]
    narrowest = [1.15 * max(w[1] for w in column) + 0.5 for column in widths]
    room = LINE_EM - PAD_EM * len(natural)
    if sum(natural) <= FITS * room:
        return None
    given = list(narrowest)
    for _ in natural:  # columns that reach their natural width hand the rest on to the others
        lacking = [max(n - g, 0.0) for n, g in zip(natural, given)]
        spare = room - sum(given)
        if spare <= 0 or sum(lacking) == 0:
            break
        given = [g + min(lack, spare * lack / sum(lacking)) for g, lack in zip(given, lacking)]
    spare = max(room - sum(given), 0.0)
    given = [g + spare * g / sum(given) for g in given]  # what is left widens every column alike
    return [g / sum(given) for g in given]


def columns(block: dict) -> str:
    r"""The longtable column spec: l columns where the table fits the line, else wrapping p{} columns that fill
    it, each its share of the line less its cells' padding."""
    shares = column_shares(block)
    if shares is None:
        return "l" * len(block["header"])
    n = len(shares)
    return "".join(
        rf">{{\raggedright\arraybackslash}}p{{\dimexpr(\linewidth-{2 * n}\tabcolsep-1pt)*{int(1000 * s)}/1000\relax}}"
        for s in shares
    )


def tex_cell(text) -> str:
    r"""A table cell for LaTeX: its tall math (a fraction, a matrix) in display style, with 3 pt above and below
    so that rows never touch (\tallcell)."""
    parts = MATH.split(tex(text))
    return "".join(
        rf"\tallcell{{$\displaystyle {p[1:-1]}$}}" if MATH.fullmatch(p) and TALL.search(p) else p for p in parts
    )


def tex_paragraph(text) -> str:
    r"""Prose for LaTeX in which a matrix is displayed on its own line: inline, its display-size entries would
    force the lines apart."""
    parts = MATH.split(tex(text))
    return "".join(
        rf"\begin{{dmath*}}{p[1:-1]}\end{{dmath*}}" if MATH.fullmatch(p) and r"\begin{" in p else p for p in parts
    )


def has_matrix(text) -> bool:
    """Whether the text's math holds an environment (a matrix), which LaTeX prose displays on a line of its own."""
    return any(r"\begin{" in p for p in MATH.findall(str(text)))


def plain(text) -> str:
    """A text without its markup, as a PDF bookmark or an image's alternative text shows it: math by the names of
    its letters and operators, other commands and braces dropped, a fraction as (a)/(b)."""
    plain = "".join(_plain_math(p[1:-1]) if MATH.fullmatch(p) else p for p in MATH.split(str(text)))
    return re.sub(r"\s+", " ", plain).strip()


def section_title(title) -> str:
    r"""A section's title for LaTeX, with the plain text its PDF bookmark shows where it holds math (hyperref
    cannot put math in a bookmark)."""
    shown = tex(title)
    return shown if not MATH.search(str(title)) else rf"\texorpdfstring{{{shown}}}{{{tex(plain(title))}}}"


def _plain_math(latex: str) -> str:
    latex = re.sub(r"\\(?:frac|dfrac|tfrac)\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"(\1)/(\2)", latex)
    latex = COMMAND.sub(lambda m: m.group(1) if m.group(1) in GREEK_AND_OPERATORS else " ", latex)
    return re.sub(r"[{}$\\]", "", latex)


GREEK_AND_OPERATORS = frozenset(GREEK.split()) | OPERATOR_NAMES | {"sum", "prod"}  # kept in a bookmark by name


def anchors(sections) -> list[str]:
    """One LaTeX label and HTML id per section, by its place: sec-1, sec-2, ... (a sheet may give two questions
    one key, and a key is a name from the code, which a reader never sees)."""
    return [f"sec-{k}" for k in range(1, len(sections) + 1)]


def numbers(sections) -> list[str]:
    """Each section's number as LaTeX prints it: 3, or 3.1 for a subsection; "" for front or back matter (the
    answers at a glance, the colophon), so that a question has the same number in the solutions and the
    students' sheet."""
    shown, major, minor = [], 0, 0
    for sec in sections:
        if not getattr(sec, "numbered", True):
            shown.append("")
            continue
        major, minor = (major + 1, 0) if sec.level == 1 else (major, minor + 1)
        shown.append(str(major) if sec.level == 1 else f"{major}.{minor}")
    return shown


def answer_links(sections, ids: list[str]) -> dict[tuple[int, int], list[str | None]]:
    """The section each row of a table of answers links to, by (section, block) index. An answer's section is the
    one whose key is the answer's key or its longest prefix at a dot (task1 for task1.mu_mle); of sections
    sharing that key, the first not before the previous answer's, since answers come in question order."""
    links: dict[tuple[int, int], list[str | None]] = {}
    for s, sec in enumerate(sections):
        for b, block in enumerate(sec.blocks):
            if block["kind"] == "table" and block.get("answers"):
                links[(s, b)] = _targets(block["answers"], sections, ids)
    return links


def _targets(keys: list[str], sections, ids: list[str]) -> list[str | None]:
    by_key: dict[str, list[int]] = {}
    for i, sec in enumerate(sections):
        by_key.setdefault(sec.key, []).append(i)
    targets: list[str | None] = []
    last = 0
    for key in keys:
        parts = key.split(".")
        prefixes = (".".join(parts[:k]) for k in range(len(parts), 0, -1))
        found = next((by_key[p] for p in prefixes if p in by_key), [])
        pick = next((i for i in found if i >= last), found[0] if found else None)
        last = last if pick is None else pick
        targets.append(None if pick is None else ids[pick])
    return targets  # None: the answer's section is not in this document (--only)


def md(text) -> str:
    """Prose for GitHub's Markdown, whose renderer eats a backslash before a brace or a backslash."""
    parts = MATH.split(str(text))
    return "".join(_inline(p) if MATH.fullmatch(p) else p for p in parts)


def _inline(math: str) -> str:
    """Inline math GitHub renders: braces as \\lbrace and \\rbrace, a matrix's rows ended by \\cr."""
    return math.replace(r"\{", r"\lbrace ").replace(r"\}", r"\rbrace ").replace("\\\\", r"\cr ")


def mdcell(text) -> str:
    return md(text).replace("|", r"\|")


def _env(**delimiters) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        **delimiters,
    )
    env.filters.update(
        tex=tex,
        md=md,
        mdcell=mdcell,
        columns=columns,
        tex_cell=tex_cell,
        tex_paragraph=tex_paragraph,
        section_title=section_title,
        has_matrix=has_matrix,
    )
    return env


MD = _env()
TEX = _env(
    block_start_string="<%",
    block_end_string="%>",
    variable_start_string="<<",
    variable_end_string=">>",
    comment_start_string="<#",
    comment_end_string="#>",
)


def markdown(sections, title: str, subtitle: str) -> str:
    return MD.get_template("report.md.j2").render(sections=sections, title=title, subtitle=subtitle)


def latex(sections, title: str, subtitle: str) -> str:
    ids, shown = anchors(sections), numbers(sections)
    return TEX.get_template("report.tex.j2").render(
        sections=sections,
        title=title,
        subtitle=subtitle,
        ids=ids,
        numbers=shown,
        number_of=dict(zip(ids, shown)),
        links=answer_links(sections, ids),
    )


TEXT_GROUP = re.compile(r"\\(text|textrm|textit|textbf|mathrm|operatorname|mbox)\s*\{")
MATHML_TAGS = frozenset(
    [
        "math",
        "mrow",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "mfrac",
        "msqrt",
        "mroot",
        "msub",
        "msup",
        "msubsup",
        "munder",
        "mover",
        "munderover",
        "mtable",
        "mtr",
        "mtd",
        "mstyle",
        "mpadded",
        "mphantom",
        "menclose",
        "merror",
        "semantics",
        "annotation",
        "mfenced",
    ]
)
MATHML_ATTRIBUTES = frozenset(
    [
        "xmlns",
        "display",
        "mathvariant",
        "stretchy",
        "fence",
        "separator",
        "columnalign",
        "rowalign",
        "columnspacing",
        "rowspacing",
        "columnlines",
        "rowlines",
        "frame",
        "lspace",
        "rspace",
        "width",
        "height",
        "depth",
        "linethickness",
        "accent",
        "accentunder",
        "movablelimits",
        "form",
        "largeop",
        "symmetric",
        "minsize",
        "maxsize",
        "scriptlevel",
        "displaystyle",
        "notation",
        "open",
        "close",
        "separators",
        "align",
    ]
)


HTML_IN_TEXT = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _in_text_groups(latex: str, replace: dict[str, str]) -> str:
    r"""The characters of replace swapped inside text groups (\text{...}, \mathrm{...}) only; an escaped one
    (\&) is left as it is."""
    out, i = [], 0
    for match in TEXT_GROUP.finditer(latex):
        if match.start() < i:
            continue
        depth, j = 1, match.end()
        while j < len(latex) and depth:
            depth += {"{": 1, "}": -1}.get(latex[j], 0)
            j += 1
        inner = latex[match.end() : j - 1]
        swapped = re.sub(
            r"\\?[&%#<>]", lambda m: m.group() if len(m.group()) == 2 else replace.get(m.group(), m.group()), inner
        )
        out += [latex[i : match.end()], swapped, "}" if depth == 0 else ""]
        i = j
    return "".join(out) + latex[i:]


def _escaped_text_groups(latex: str) -> str:
    """<, > and & inside text groups as entities: latex2mathml copies a group's text into <mtext> as it is."""
    return _in_text_groups(latex, HTML_IN_TEXT)


def safe_mathml(latex: str, display: str = "inline") -> str:
    """MathML of a formula that holds only MathML elements and presentation attributes (no href, no script, no
    event handler), typeset as TeX would (typeset); anything else is shown as its escaped source."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(mathml(_escaped_text_groups(latex), display=display))
    except Exception:  # noqa: BLE001 - latex2mathml's own errors, and output that is not XML: shown as source
        return f"<code>{escape(latex)}</code>"
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
        if element.tag not in MATHML_TAGS or any(a.rsplit("}", 1)[-1] not in MATHML_ATTRIBUTES for a in element.attrib):
            return f"<code>{escape(latex)}</code>"
    typeset(root)
    root.set("xmlns", MATHML_NS)
    return ET.tostring(root, encoding="unicode", short_empty_elements=True)


MATHML_NS = "http://www.w3.org/1998/Math/MathML"
THIN = "0.1667em"  # TeX's thin space, between an operator name and its neighbours
TALL_MATHML = frozenset({"mfrac", "mtable", "munderover", "munder", "msqrt", "mroot"})
LARGE_OPERATORS = frozenset("\u2211\u220f\u222b")  # sum, product, integral
IFF = frozenset("\u21d4\u27fa")  # the double arrows latex2mathml writes for \iff
SCRIPTED = frozenset({"msub", "msup", "msubsup", "munder", "mover", "munderover"})


def typeset(root) -> None:
    """What latex2mathml leaves to TeX's spacing rules, done in the MathML: a matrix's entries at display size
    (an mtable is compact by default, its fractions script-size), an operator name (log, exp, bias) a thin space
    from its neighbours, ~ a relation, := one relation, | an ordinary symbol, and \\left( \\right) around a flat
    formula unstretched (stretched, Latin Modern Math's parentheses stand apart from what they enclose)."""
    for element in root.iter("mtable"):
        element.set("displaystyle", "true")
    for element in root.iter():
        if element.tag == "mo" and element.text == "\u221e":  # infinity is a symbol, not an operator to space
            element.tag = "mi"
        if element.tag in ("mi", "mo") and element.text == "~":
            element.tag, element.text = "mo", "\u223c"
        if element.tag in ("mi", "mo") and element.text in IFF:  # \iff: a relation, a thick space more each side
            element.tag = "mo"
            element.set("lspace", "0.5556em")
            element.set("rspace", "0.5556em")
        if element.tag == "mo" and element.text in ("|", "\u2016"):
            element.set("lspace", "0")
            element.set("rspace", "0")
    for parent in list(root.iter()):
        _join_colon_equals(parent)
        if parent.tag in SCRIPTED:
            continue  # a scripted operator name (max under its limits) is spaced as a whole, by its own parent
        for k in reversed(range(len(parent))):  # from the end: a space put in does not move what is still to do
            if _operator_name(parent[k]) is not None:
                _space_operator(parent, k)
        bracketed = len(parent) >= 2 and _is_fence(parent[0], "prefix") and _is_fence(parent[-1], "postfix")
        if bracketed and not _tall(parent):
            parent[0].set("stretchy", "false")
            parent[-1].set("stretchy", "false")


def _join_colon_equals(parent) -> None:
    """<mo>:</mo><mo>=</mo> as one relation, :=, as TeX sets two adjacent relations without space between."""
    for k in range(len(parent) - 2, -1, -1):
        first, second = parent[k], parent[k + 1]
        if first.tag in ("mi", "mo") and second.tag == "mo" and first.text == ":" and second.text == "=":
            first.tag, first.text = "mo", ":="
            parent.remove(second)


def _operator_name(element):
    """The operator name (log, exp, det, bias) an element is or carries as its base (max under its limits)."""
    if element.tag in SCRIPTED and len(element):
        element = element[0]
    text = element.text or ""
    if element.tag in ("mi", "mo") and len(text) > 1 and text.isalpha() and not len(element):
        return element
    return None


def _space_operator(parent, k: int) -> None:
    """An operator name set upright, a thin space from an ordinary symbol before it and from what follows, but
    not from an operator (its own spacing serves) nor from an opening bracket after it: log(x), n log x."""
    name = _operator_name(parent[k])
    before = parent[k - 1] if k > 0 else None
    after = parent[k + 1] if k + 1 < len(parent) else None
    space = {
        "lspace": THIN if before is not None and before.tag != "mo" else "0",
        "rspace": THIN if after is not None and not _opens(after) and after.tag != "mo" else "0",
    }
    name.tag = "mo"
    if parent[k] is name:
        name.attrib.update(space)
        return
    name.attrib.update(lspace="0", rspace="0")  # a scripted name (max under its limits): the whole is spaced
    for side in ("rspace", "lspace"):  # the right first: the left one's insertion moves the element
        if space[side] != "0":
            _pad(parent, k, side)


def _pad(parent, k: int, side: str) -> None:
    import xml.etree.ElementTree as ET

    space = ET.Element("mspace", {"width": THIN})
    parent.insert(k if side == "lspace" else k + 1, space)


def _opens(element) -> bool:
    return (element.tag == "mo" and element.text in ("(", "[", "{")) or (
        element.tag == "mrow" and len(element) > 0 and _is_fence(element[0], "prefix")
    )


def _is_fence(element, form: str) -> bool:
    return element.tag == "mo" and element.get("fence") == "true" and element.get("form") == form


def _tall(element) -> bool:
    """Whether a formula holds something taller than a line: a fraction, a matrix, a root, limits, a large sum."""
    return any(e.tag in TALL_MATHML or (e.tag == "mo" and (e.text or "") in LARGE_OPERATORS) for e in element.iter())


def prose(text) -> Markup:
    """Prose for HTML: escaped, its $...$ math as inline MathML (no script, no network: the browser draws it)."""
    parts = MATH.split(str(text))
    return Markup("".join(safe_mathml(p[1:-1]) if MATH.fullmatch(p) else str(escape(p)) for p in parts))


def display(latex: str) -> Markup:
    return Markup(safe_mathml(latex, display="block"))


def paragraph(text) -> Markup:
    """Prose for HTML in which a matrix is displayed on a line of its own, as in the PDF (a block that scrolls
    sideways where it is too wide)."""
    parts = MATH.split(str(text))
    return Markup(
        "".join(
            (f'<span class="display">{display(p[1:-1])}</span>' if r"\begin{" in p else safe_mathml(p[1:-1]))
            if MATH.fullmatch(p)
            else str(escape(p))
            for p in parts
        )
    )


def html(sections, title: str, subtitle: str, figures: Path) -> str:
    """One self-contained page: MathML for the math, the figures' PNGs inlined as data URIs."""

    def figure_uri(name: str) -> str:
        return "data:image/png;base64," + base64.b64encode((figures / f"{name}.png").read_bytes()).decode()

    env = _env(autoescape=True)
    env.filters.update(prose=prose, paragraph=paragraph, display=display, figure_uri=figure_uri, plain=plain)
    ids = anchors(sections)
    return env.get_template("report.html.j2").render(
        sections=sections,
        title=title,
        subtitle=subtitle,
        ids=ids,
        numbers=numbers(sections),
        links=answer_links(sections, ids),
    )
