"""Text analysis: the one place where text is split into words, filtered and stemmed.

Two analyses share one Snowball English stemmer (tantivy's, the same algorithm PyStemmer
runs; they agree on all 47,818 distinct words of SciFact):

- Keyword terms (`query_terms`): what the BM25 index (rag/keyword.py) holds for a chunk and
  looks up for a query. tantivy's simple tokenizer (runs of letters and digits), lowercase,
  Lucene's 33 English stopwords (bm25s's "en" list) and one-character ASCII words dropped,
  Snowball English stems. It is registered on every keyword index under `KEYWORD_ANALYZER`,
  so documents and queries go through the same code. This reproduces the earlier bm25s
  tokenisation (`\\w\\w+`, lowercase, the same stopwords, the same stemmer) on 9,133 of the
  9,545 SciFact chunks; the rest differ in non-ASCII one-letter words (kept: "α" in
  "α-helix") and in underscores (split here). tantivy's regex tokenizer would match bm25s's
  pattern exactly but costs ~35x the simple one (151 vs 4 us for a 500-character abstract).
- Content terms (`content_terms`, `question_terms`): the subject words of a question or a
  sentence, for extractive answers, follow-up detection and refusal. Question boilerplate
  ("which papers propose ...") is dropped too (`STOPWORDS`).
"""

from __future__ import annotations

import re
import string
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tantivy

KEYWORD_ANALYZER = "paperchat_en_v1"  # a change of analysis needs a new name (index rebuilt)
# Lucene's English stopwords, which bm25s uses for "en".
LUCENE_STOPWORDS = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
    "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with")
_ONE_CHARACTER = tuple(string.ascii_lowercase + string.digits)  # bm25s keeps words of 2+

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

# A content word: letters with inner digits or hyphens ("self-supervised", "3D-CNN").
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]*|\d+[A-Za-z][A-Za-z0-9\-]*")


def _analyzer(stopwords: tuple[str, ...] | None) -> tantivy.TextAnalyzer:
    import tantivy

    if stopwords is None:  # words are split already: stem each
        builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
    else:
        builder = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
                   .filter(tantivy.Filter.lowercase())
                   .filter(tantivy.Filter.custom_stopword(list(stopwords))))
    return builder.filter(tantivy.Filter.stemmer("english")).build()


def keyword_analyzer() -> tantivy.TextAnalyzer:
    """The keyword analysis, to register on an index as `KEYWORD_ANALYZER`."""
    return _analyzer(LUCENE_STOPWORDS + _ONE_CHARACTER)


@cache
def _keyword() -> tantivy.TextAnalyzer:
    return keyword_analyzer()


@cache
def _question() -> tantivy.TextAnalyzer:
    return _analyzer(tuple(sorted({*LUCENE_STOPWORDS, *_ONE_CHARACTER, *STOPWORDS})))


@cache
def _stemmer() -> tantivy.TextAnalyzer:
    return _analyzer(None)


def query_terms(text: str) -> list[str]:
    """The terms the keyword index holds for `text` (a chunk or a query), in order."""
    return _keyword().analyze(text)


def question_terms(text: str) -> list[str]:
    """Keyword terms of a question's content words (no boilerplate, no numbers), once each."""
    return list(dict.fromkeys(t for t in _question().analyze(text) if not t.isdigit()))


def words(text: str) -> list[str]:
    """Lower-cased content-word tokens (hyphenated words stay whole)."""
    return [w.lower() for w in _WORD.findall(text)]


def stem(tokens: list[str]) -> list[str]:
    """The Snowball English stem of each token (tokens hold no whitespace)."""
    return _stemmer().analyze(" ".join(tokens)) if tokens else []


def content_terms(text: str) -> list[str]:
    """Stemmed content words of a text, stopwords removed, in order, without repeats."""
    return list(dict.fromkeys(stem([w for w in words(text)
                                    if w not in STOPWORDS and len(w) > 1])))
