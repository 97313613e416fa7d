"""Sentence splitting and content terms shared by citations, extractive answers and refusal."""

from __future__ import annotations

import functools
import re
from typing import Any

# A citation marker: [n], [n, m], [n; m], [n-m], [n–m] (en dash) and mixtures.
MARKER = re.compile(r"\[\s*(\d+(?:\s*(?:[,;]|[-–—])\s*\d+)*)\s*\]")

_END = re.compile(
    r"[.!?]+[\"'”’)]*"                                  # end punctuation, closing quotes
    r"(?:\s*\[\s*\d+(?:\s*(?:[,;]|[-–—])\s*\d+)*\s*\])*"  # markers written after the period
    r"[.!?]*(?=\s|$)"
)
_ENUMERATOR = re.compile(r"\(\w{1,3}")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_ABBREV = {"e.g", "i.e", "al", "fig", "figs", "eq", "eqs", "vs", "cf", "approx", "resp",
           "no", "nos", "sec", "ref", "refs", "dr", "prof", "mr", "ms", "st", "ca"}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]*|\d+[A-Za-z][A-Za-z0-9\-]*")

# Function words plus words that appear in almost any question about a paper collection
# ("which papers propose a method...") and so say nothing about its subject.
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing done down during each either
few for from further had has have having he her here hers him his how i if in into is it
its itself just me more most my no nor not now of off on once only or other our ours out
over own same she should so some such than that the their theirs them then there these
they this those through to too under until up very was we were what when where which while
who whom why will with would you your yours yes
paper papers article articles study studies work works research collection abstract
abstracts source sources author authors propose proposed proposes present presents
presented describe described describes discuss discussed discusses show shows shown use
used uses using approach approaches method methods tell know anything say says said
mention mentions mentioned find found one ones two second first third last previous
""".split())  # noqa: SIM905 - a word list reads better as a block


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph or answer; markers after a period stay with their sentence."""
    out: list[str] = []
    for line in text.splitlines():
        line = _LIST_PREFIX.sub("", line).strip()
        start = 0
        for m in _END.finditer(line):
            before = line[start:m.start()].rsplit(None, 1)
            word = before[-1].lower() if before else ""
            after = line[m.end():].lstrip()[:1]
            # Not sentence ends: "e.g.", "et al.", initials ("J."), enumerators ("(1.)"),
            # and anything followed by a lower-case word ("etc.) that ...").
            if (word in _ABBREV or word.endswith((".g", ".e"))
                    or (len(word) == 1 and word.isalpha()) or _ENUMERATOR.fullmatch(word)
                    or after.islower()):
                continue
            piece = line[start:m.end()].strip()
            if piece:
                out.append(piece)
            start = m.end()
        rest = line[start:].strip()
        if rest:
            out.append(rest)
    return out


def strip_markers(text: str) -> str:
    """The text without citation markers (for embedding a claim)."""
    return re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", text)).strip()


@functools.cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return [w.lower() for w in _WORD.findall(text)]


def content_terms(text: str) -> list[str]:
    """Stemmed content words of a text, stopwords removed, in order, without repeats."""
    kept = [w for w in words(text) if w not in STOPWORDS and len(w) > 1]
    stems = _stemmer().stemWords(kept)
    return list(dict.fromkeys(stems))
