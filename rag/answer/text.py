"""Sentence splitting and content terms shared by citations, extractive answers and refusal."""

from __future__ import annotations

import re

# Words, stopwords and stems live in rag.analysis (one analysis for the whole core).
from rag.analysis import STOPWORDS, content_terms, words

__all__ = ["MARKER", "STOPWORDS", "content_terms", "split_sentences", "strip_markers",
           "words"]

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
