"""Rewrite the LaTeX leftovers found in abstracts, leaving ordinary text exactly as written.

pylatexenc's LatexNodes2Text is deliberately not used: on the bundled abstracts it reads `%`
as a comment and drops the rest of the abstract, blanks out `&`, turns `--` into an en dash
and deletes `{\\deg}` and `\\texttt{Avg-K}` outright. Here only well-known leftovers are
rewritten; any other command is left visible rather than guessed at.
"""

from __future__ import annotations

import re
import unicodedata

_SYMBOLS = {
    "deg": "°",
    "degree": "°",
    "textdegree": "°",
    "pm": "±",
    "times": "×",
    "approx": "≈",
    "sim": "∼",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "cdot": "·",
    "ldots": "…",
    "dots": "…",
    "infty": "∞",
    "to": "→",
    "rightarrow": "→",
    "textendash": "–",
    "textemdash": "—",
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
}
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    '"': "\u0308",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "c": "\u0327",
    "v": "\u030c",
    "u": "\u0306",
    "H": "\u030b",
    "k": "\u0328",
    "r": "\u030a",
}
_WRAPPERS = (
    "texttt|textbf|textit|textsl|textsc|textrm|textsf|textup|textnormal|emph|underline|"
    "mathrm|mathbf|mathit|mathsf|mathtt|mathcal|text|mbox|url"
)
_BASE = r"(?:\\[ij](?![A-Za-z])|[A-Za-z])"
_ACCENT = re.compile(
    r"\{\\(?P<a1>['`\"^~=.])\s*(?:\{(?P<b1>" + _BASE + r")\}|(?P<c1>" + _BASE + r"))\}"
    r"|\{\\(?P<a2>[cvuHkr])\s*(?:\{(?P<b2>" + _BASE + r")\}|\s(?P<c2>" + _BASE + r"))\}"
    r"|\\(?P<a3>['`\"^~=.])\s*(?:\{(?P<b3>" + _BASE + r")\}|(?P<c3>" + _BASE + r"))"
    r"|\\(?P<a4>[cvuHkr])(?:\{(?P<b4>" + _BASE + r")\}|\s(?P<c4>" + _BASE + r"))"
)
_WRAPPER = re.compile(r"\\(?:" + _WRAPPERS + r")\s*\{([^{}]*)\}")
_HREF = re.compile(r"\\href\s*\{[^{}]*\}\s*\{([^{}]*)\}")
_COMMAND = re.compile(r"\{\\([A-Za-z]+)\s*\}|\\([A-Za-z]+)(?![A-Za-z])(?:\{\})?")
_ESCAPE = re.compile(r"\\([%_&$#])")
_BRACE_ESCAPE = re.compile(r"\\([{}])")
_BRACE = re.compile(r"(?<!\\)[{}]")
# A link printed twice, `URL{URL}`: what is left of \href{URL}{URL} once the command is lost.
_URL_TWICE = re.compile(r"(https?://[^\s{}]{1,2000})\{\1\}")  # bounded: no quadratic scans
# `~` is a tie only between a word or punctuation and a word (e.g.~RoBERTa, Fig.~3); `5 ~ 6` or
# `5~6` (a range) and `/~user` in a URL keep it.
_TIE = re.compile(r"(?<=[A-Za-z.,;:)\]])~(?=[A-Za-z(\\\[])|(?<=[A-Za-z.])~(?=\d)")
_QUOTES = re.compile(r"``([^`']*)''")


def _accent(match: re.Match[str]) -> str:
    groups = match.groupdict()
    for n in "1234":
        if groups[f"a{n}"]:
            base = groups[f"b{n}"] or groups[f"c{n}"] or ""
            base = {"\\i": "i", "\\j": "j"}.get(base, base)
            return unicodedata.normalize("NFC", base + _ACCENTS[groups[f"a{n}"]])
    return match.group(0)


def _symbol(match: re.Match[str]) -> str:
    name = match.group(1) or match.group(2)
    if name in _SYMBOLS:
        return _SYMBOLS[name]
    case = "CAPITAL" if name[0].isupper() else "SMALL"
    try:
        return unicodedata.lookup(f"GREEK {case} LETTER {name.upper()}")
    except KeyError:
        return match.group(0)


def latex_to_text(text: str, *, strip_braces: bool = False) -> str:
    """Replace known LaTeX leftovers (accents, symbols, escapes, formatting, ties) by text."""
    if "\\" not in text and "~" not in text and "``" not in text and not strip_braces:
        return text
    text = _ACCENT.sub(_accent, text)
    text = _HREF.sub(r"\1", text)
    previous = None
    while previous != text:  # innermost wrappers first: \textbf{\emph{x}}
        previous, text = text, _WRAPPER.sub(r"\1", text)
    text = _COMMAND.sub(_symbol, text)
    text = _ESCAPE.sub(r"\1", text)
    text = _URL_TWICE.sub(r"\1", text)
    if strip_braces:  # BibTeX braces only protect case; literal braces are escaped
        text = _BRACE.sub("", text)
    text = _BRACE_ESCAPE.sub(r"\1", text)
    text = _TIE.sub(" ", text)
    return _QUOTES.sub("\u201c\\1\u201d", text)
