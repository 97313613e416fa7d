"""Citation markers: parse, drop out-of-range, renumber by first use; score sentence support.

Renumbering works incrementally (`Renumberer.feed`) so that streamed tokens already carry
the final numbers: the text a client assembles from `token` events equals `Answer.answer`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rag.answer.models import Citation
from rag.answer.text import MARKER, split_sentences, strip_markers

if TYPE_CHECKING:
    from rag.answer.vectors import SentenceVectors
    from rag.models import SearchHit

_RANGE = re.compile(r"(\d+)\s*[-–—]\s*(\d+)")
# A possible marker still being streamed: "[", then only digits, spaces and separators.
# A flat character class keeps the match linear (nested quantifiers backtracked
# exponentially on "[" + many digits + a letter).
_PARTIAL = re.compile(r"\[[\d\s,;\-–—]*$")
# Emitted text ending inside a literal (non-marker) bracket: dropping a marker here would
# splice the text around it into a new, never-validated marker ("[2[9]]" -> "[2]").
_OPEN_LITERAL = re.compile(r"\[[\d\s,;\-–—]*$")
_DROPPED = "[?]"
_MAX_DIGITS = 6  # longer numbers are never a source number (and int() has a size limit)
_MAX_PENDING = 48  # an unclosed "[" longer than this is plain text, not a marker
# Uncited sentences that need no source: a lead-in ending in ":" or a statement that the
# sources do not cover something.
_META = re.compile(
    r":$|\b(?:sources?|papers?|collection|abstracts?)\b.*\b(?:not|no|none|nothing|neither|"
    r"cannot|doesn't|don't)\b|\b(?:not|no|none|nothing|neither|cannot)\b.*"
    r"\b(?:sources?|papers?|collection|abstracts?)\b", re.IGNORECASE)


def _number(digits: str) -> int:
    """int(digits), but anything longer than _MAX_DIGITS is just "too large"."""
    return int(digits) if len(digits) <= _MAX_DIGITS else 10 ** _MAX_DIGITS


def parse_marker(body: str, k: int) -> list[int]:
    """Numbers in a marker body ("1, 3-5"), kept only within 1..k, in order, no repeats."""
    nums: list[int] = []
    for part in re.split(r"\s*[,;]\s*", body.strip()):
        m = _RANGE.fullmatch(part)
        if m:
            lo, hi = sorted((_number(m.group(1)), _number(m.group(2))))
            nums.extend(range(max(lo, 1), min(hi, k) + 1))
        elif part.isdigit() and 1 <= _number(part) <= k:
            nums.append(_number(part))
    return list(dict.fromkeys(nums))


@dataclass
class Renumberer:
    """Rewrites markers in streamed text: source numbers 1..k -> order of first use."""

    k: int
    order: list[int] = field(default_factory=list)  # source numbers by first use
    _buf: str = ""
    _tail: str = ""  # the last characters emitted, to spot an open literal bracket

    def feed(self, delta: str) -> str:
        """Text that is final so far; a possible marker (or space before one) is held back."""
        self._buf += delta
        return self._drain(final=False)

    def finish(self) -> str:
        """Flush what is held back."""
        return self._drain(final=True)

    def _rewrite(self, body: str) -> str:
        new: set[int] = set()
        for n in parse_marker(body, self.k):
            if n not in self.order:
                self.order.append(n)
            new.add(self.order.index(n) + 1)
        return "[" + ", ".join(str(n) for n in sorted(new)) + "]" if new else ""

    def _drain(self, *, final: bool) -> str:
        out: list[str] = []
        buf = self._buf
        while buf:
            i = buf.find("[")
            if i < 0:
                keep = len(buf) if final else len(buf.rstrip(" \t"))
                out.append(buf[:keep])
                buf = buf[keep:]
                break
            pre = buf[:i]
            m = MARKER.match(buf, i)
            if m:
                new = self._rewrite(m.group(1))
                if new:
                    out.append(pre + new)
                else:
                    kept = pre.rstrip(" \t")
                    inside = _OPEN_LITERAL.search(self._tail + "".join(out) + kept)
                    out.append(kept + _DROPPED if inside else kept)
                buf = buf[m.end():]
                continue
            if not final and len(buf) - i < _MAX_PENDING and _PARTIAL.fullmatch(buf, i):
                stripped = pre.rstrip(" \t")
                out.append(stripped)
                buf = buf[len(stripped):]
                break
            out.append(buf[:i + 1])
            buf = buf[i + 1:]
        self._buf = buf
        text = "".join(out)
        self._tail = (self._tail + text)[-_MAX_PENDING:]
        return text


def renumber(text: str, k: int) -> tuple[str, list[int]]:
    """(rewritten text, source numbers in order of first use) for a whole answer."""
    r = Renumberer(k)
    return r.feed(text) + r.finish(), r.order


def sentence_citations(sentence: str) -> list[int]:
    """The (already renumbered) citation numbers in one sentence."""
    nums: list[int] = []
    for m in MARKER.finditer(sentence):
        nums.extend(parse_marker(m.group(1), 10_000))
    return list(dict.fromkeys(nums))


# Support, per answer sentence:
# - llm engine: the best cosine between the sentence and a sentence (or the title) of a
#   paper it cites. Support is cosine similarity, so it catches claims cited to the wrong or
#   an off-topic source, not wrong numbers. Measured with MiniLM on the bundled abstracts: a
#   sentence copied from the abstract scores 1.0; ten hand-written paraphrases 0.49-0.91
#   (median ~0.7); claims on the paper's topic that it does not make 0.22-0.66; off-topic
#   claims 0.08-0.17. The default threshold 0.5 (settings.answer.support_threshold) sits
#   between the last two groups.
# - extractive engine (`engine="extractive"` with the `question`): every sentence is copied
#   from the paper it cites, so the check above says 1.0 by construction. What can be wrong
#   is the paper or the sentence for the question, so support is the larger of the quoted
#   paper's calibrated P(relevant) from the relevance stage (SearchHit.relevance: "more
#   likely than not, this paper answers the question") and the sentence's cosine to the
#   question (the sentence itself addresses it). On the bundled suite's single-paper
#   questions (MiniLM, best sentence of each top-5 paper) that cosine is p5 0.505 / median
#   0.649 for the answering paper, median 0.418 / p75 0.484 for the others, so the same 0.5
#   threshold applies. Either signal alone flags right quotes: the cosine flags 26 % of the
#   quoted sentences (context sentences of the right paper), the paper's relevance 4.6 %
#   (the best paper of a question the model is unsure of).
def score_support(answer: str, cited: list[SearchHit], vectors: SentenceVectors,
                  threshold: float, *, question: str | None = None, engine: str = "llm"
                  ) -> tuple[list[dict[str, Any]], list[Citation]]:
    """Per-sentence support (see above) and citations.

    `cited[i]` is the source that renumbered citation i+1 points to; `engine` is the engine
    that wrote `answer`.
    """
    claims: list[tuple[str, str, list[int]]] = []
    for s in split_sentences(answer):
        clean = strip_markers(s)
        nums = [n for n in sentence_citations(s) if n <= len(cited)]
        if clean:
            claims.append((s, clean, nums))
        elif nums and claims:  # a marker on its own line belongs to the sentence before
            text, prev_clean, prev_nums = claims[-1]
            claims[-1] = (text, prev_clean, list(dict.fromkeys(prev_nums + nums)))
    if engine == "extractive" and question:
        return _quoted_support(claims, cited, vectors, threshold, question)
    source_sents = [[h.title, *split_sentences(h.abstract or h.snippet)] for h in cited]
    # An uncited sentence is judged against every paper the answer cites: models often put
    # one marker at the end of a paragraph about a paper, not on each of its sentences.
    answer_cites = list(dict.fromkeys(n for c in claims for n in c[2]))
    needed = ([c[1] for c in claims if c[2] or (answer_cites and not _META.search(c[1]))]
              + [t for ss in source_sents for t in ss])
    vecs = vectors.lookup(needed)
    best: dict[int, tuple[float, str]] = {}
    sentences: list[dict[str, Any]] = []
    for _text, clean, nums in claims:
        support: float | None = None
        if nums:
            q = vecs[clean]
            for n in nums:
                for cand in source_sents[n - 1]:
                    sim = float(q @ vecs[cand])
                    support = sim if support is None else max(support, sim)
                    if n not in best or sim > best[n][0]:
                        best[n] = (sim, cand)
            supported = support is not None and support >= threshold
        elif _META.search(clean):
            supported = True
        else:
            for n in answer_cites:
                sim = max(float(vecs[clean] @ vecs[cand]) for cand in source_sents[n - 1])
                support = sim if support is None else max(support, sim)
            supported = support is not None and support >= threshold
        sentences.append({"text": clean, "citations": nums, "support": support,
                          "supported": supported})
    return sentences, _citations(cited, best)


def _quoted_support(claims: list[tuple[str, str, list[int]]], cited: list[SearchHit],
                    vectors: SentenceVectors, threshold: float, question: str
                    ) -> tuple[list[dict[str, Any]], list[Citation]]:
    """Support of quoted sentences: the larger of the quoted paper's calibrated relevance and
    the sentence's cosine to the question; a citation's support is its best sentence's."""
    vecs = vectors.lookup([question, *(c[1] for c in claims if c[2])])
    best: dict[int, tuple[float, str]] = {}
    sentences: list[dict[str, Any]] = []
    for _text, clean, nums in claims:
        support: float | None = None
        for n in nums:
            rel = cited[n - 1].relevance
            sim = float(vecs[clean] @ vecs[question])
            sim = max(sim, float(rel)) if rel is not None else sim
            support = sim if support is None else max(support, sim)
            if n not in best or sim > best[n][0]:
                best[n] = (sim, clean)
        supported = (support >= threshold if support is not None
                     else bool(_META.search(clean)))
        sentences.append({"text": clean, "citations": nums, "support": support,
                          "supported": supported})
    return sentences, _citations(cited, best)


def _citations(cited: list[SearchHit], best: dict[int, tuple[float, str]]) -> list[Citation]:
    """One Citation per source, numbered as renumbered; `best[n]` = (support, snippet) of
    the sentence that backs source n best, when one cites it."""
    return [Citation(n=i + 1, paper_id=h.paper_id, title=h.title,
                     snippet=best[i + 1][1] if i + 1 in best else h.snippet,
                     support=best[i + 1][0] if i + 1 in best else None)
            for i, h in enumerate(cited)]
