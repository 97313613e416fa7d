"""What the data cannot answer: questions about dates, authors, venues or counts.

Abstracts rarely state when, where or by whom a paper was published, and a collection may
or may not record it (the bundled trending dump has no years or authors; a JSONL or arXiv
import usually has both). Matching such a question's words against the abstracts answers
something else ("which is the most recent?" quoting sentences that contain "recent"), so:
- the question's ask about a paper field is recognised (`asks`) and taken out of the text
  that is searched and quoted (`Limits.query`);
- a field the retrieved papers do not carry (`year`, `authors`) or that no paper record has
  (venues, citation counts, affiliations, counting papers across the collection) becomes a
  note at the top of the answer, in both engines (`Limits.notes`);
- a field they do carry is given to the engine (`Limits.fields`): the model sees it next to
  each source, the extractive answer lists it per paper.
The decision is made from the papers retrieved for the question, so it follows whatever the
collection holds rather than a list of collections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.answer.text import content_terms

if TYPE_CHECKING:
    from rag.models import SearchHit

_PAPER = r"(?:papers?|stud(?:y|ies)|works?|articles?|publications?)"
_RECENCY = r"most\s+recent(?:ly)?|least\s+recent|latest|newest"


@dataclass(frozen=True)
class Facet:
    """A paper field a question can ask about."""

    name: str  # the SearchHit attribute, or a name no record has
    label: str  # as said in the note
    pattern: re.Pattern[str]
    recorded: bool  # some paper records may have it (Paper.year/authors)
    strip: re.Pattern[str] | None = None  # what to take out of the query (default: pattern)


FACETS = (
    Facet("year", "publication dates", re.compile(
        rf"\b(?:{_RECENCY}|oldest|earliest)\s+(?:one|{_PAPER})\b"
        rf"|\b(?:is|was|are|were)\s+(?:the\s+)?(?:{_RECENCY}|oldest|earliest)\b"
        rf"(?=\s*(?:[?.!,]|$|one\b|of\b|among\b|{_PAPER}))"
        rf"|\b(?:{_RECENCY})\b"
        r"|\b(?:what|which|in what|in which)\s+year\b|\bwhen\s+(?:was|were|did|is)\b.{0,80}?"
        r"\b(?:published|released|written|come out|came out|appear(?:ed)?|proposed)\b"
        r"|\bpublication\s+(?:date|year)s?\b|\b(?:chronolog\w*|by\s+(?:date|year))\b"
        rf"|\b{_PAPER}\s+(?:published\s+)?(?:before|after|since|from|in)\s+(?:19|20)\d\d\b",
        re.IGNORECASE), True, re.compile(
        rf"\b(?:is|was|are|were)\s+(?:the\s+)?(?:{_RECENCY}|oldest|earliest)\b"
        rf"(?=\s*(?:[?.!,]|$|one\b|of\b|among\b|{_PAPER}))|\b(?:{_RECENCY})\b"
        r"|\b(?:oldest|earliest)\b(?=\s+(?:one|papers?|stud|works?|articles?|publications?))"
        r"|\b(?:in\s+)?(?:what|which)\s+year\b|\bwhen\s+(?:was|were|did|is)\b|\bpublished\b"
        r"|\b(?:released|come out|came out|appeared)\b|\bpublication\s+(?:date|year)s?\b"
        r"|\b(?:chronolog\w*|by\s+(?:date|year))\b"
        r"|\b(?:before|after|since|from|in)\s+(?:19|20)\d\d\b", re.IGNORECASE)),
    Facet("authors", "authors", re.compile(
        r"\bwho\s+(?:wrote|authored|published|proposed|introduced|developed|created)\b"
        r"|\b(?:who|which|what)\s+(?:are|were|is|was)\s+(?:the\s+)?authors?\b"
        r"|\b(?:which|what|whose)\s+authors?\b|\b(?:list|name)\s+(?:the\s+|its\s+|their\s+)?"
        r"authors\b|\bauthor\s+names?\b|\bwritten\s+by\b|\bby\s+whom\b|\bsame\s+authors?\b",
        re.IGNORECASE), True),
    Facet("venue", "publication venues", re.compile(
        r"\b(?:venues?|conferences?|journals?|proceedings)\b|\bpublished\s+(?:in|at)\s+"
        r"(?:which|what|where)\b|\bwhere\s+(?:was|were|is)\b.{0,80}?\bpublished\b"
        r"|\b(?:at|in|from|to)\s+(?:NeurIPS|NIPS|ICML|ICLR|CVPR|ICCV|ECCV|ACL|EMNLP|NAACL|AAAI|"
        r"IJCAI|KDD|SIGIR|MICCAI)\b", re.IGNORECASE), False, re.compile(
        r"\b(?:(?:which|what)\s+)?(?:venues?|conferences?|journals?|proceedings)\b"
        r"|\bpublished(?:\s+(?:in|at))?\b|\bwhere\s+(?:was|were|is)\b", re.IGNORECASE)),
    Facet("citations", "citation counts", re.compile(
        r"\b(?:most|least|highly|widely|more|less)\s+cited\b|\bcitation\s+counts?\b"
        r"|\b(?:number\s+of|how\s+many)\s+citations\b|\bhow\s+(?:many\s+times|often)\b"
        r".{0,60}?\bcited\b|\b(?:most|more)\s+(?:popular|influential|impactful)\b",
        re.IGNORECASE), False),
    Facet("affiliations", "author affiliations", re.compile(
        r"\b(?:which|what)\s+(?:lab|labs|group|team|institution|university|company|"
        r"companies|organi[sz]ation)s?\b|\baffiliations?\b", re.IGNORECASE), False),
    Facet("count", "a count of papers across the collection", re.compile(
        rf"\bhow\s+many\s+{_PAPER}\b|\bnumber\s+of\s+{_PAPER}\b|\bcount\s+(?:the\s+)?{_PAPER}\b",
        re.IGNORECASE), False),
)

NOTE = ("The papers in this collection do not record {labels}, so I cannot answer that "
        "from them.")
COUNT_NOTE = ("I cannot count papers on a subject across the collection ({total} papers "
              "in all): an answer quotes only the few that match the question best.")
TOTAL = "The collection holds {total} papers."
MODEL_NOTE = ("A note saying the papers do not record {labels} is already shown; do not "
              "guess them, answer the rest of the question from the sources.")


@dataclass(frozen=True)
class Limits:
    """A question's asks about paper fields, decided against the retrieved papers."""

    query: str  # the question without those asks, for searching and quoting
    missing: tuple[Facet, ...] = ()  # asked about and not carried: said in a note
    fields: tuple[str, ...] = ()  # asked about and carried by some retrieved paper
    total: int | None = None  # papers in the collection, when a count is asked for

    @property
    def notes(self) -> list[str]:
        """Answer text to put first: what the papers cannot tell."""
        labels = [f.label for f in self.missing if f.name != "count"]
        out = [NOTE.format(labels=_join(labels))] if labels else []
        if any(f.name == "count" for f in self.missing):
            # "how many papers are there?" is answered; "how many are about X?" is not.
            out.append((COUNT_NOTE if self.answerable else TOTAL).format(total=self.total))
        return out

    @property
    def model_notes(self) -> tuple[str, ...]:
        """What the model is told so it neither repeats the note nor guesses."""
        labels = [f.label for f in self.missing if f.name != "count"]
        return (MODEL_NOTE.format(labels=_join(labels)),) if labels else ()

    @property
    def answerable(self) -> bool:
        """Something is left to search for once the asks are taken out."""
        return bool(content_terms(self.query))


def asks(question: str) -> list[tuple[Facet, re.Match[str]]]:
    """The facets a question asks about, with the first match of each."""
    found = []
    for facet in FACETS:
        m = facet.pattern.search(question)
        if m:
            found.append((facet, m))
    return found


def only_asks(question: str) -> bool:
    """The question is nothing but asks about paper fields ("which is the most recent?")."""
    return bool(asks(question)) and not content_terms(strip_asks(question))


def strip_asks(question: str) -> str:
    """The question without its asks about paper fields ("most recent", "who wrote")."""
    out = question
    for facet, _ in asks(question):
        out = (facet.strip or facet.pattern).sub(" ", out)
    return re.sub(r"\s+", " ", out).strip()


def limits(question: str, hits: list[SearchHit], total: int | None = None) -> Limits:
    """Which asks the retrieved papers cannot answer, and which fields they carry
    (`total`: the collection's size, said when a count of papers is asked for)."""
    found = asks(question)
    query = strip_asks(question) if found else question
    missing: list[Facet] = []
    fields: list[str] = []
    for facet, _ in found:
        if facet.recorded and any(getattr(h, facet.name, None) for h in hits):
            fields.append(facet.name)
        else:
            missing.append(facet)
    return Limits(query, tuple(missing), tuple(fields), total)


def _join(labels: list[str]) -> str:
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " or " + labels[-1]
