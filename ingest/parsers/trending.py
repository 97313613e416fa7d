"""The "trending papers" page dump: a title line, then an abstract line, amid page boilerplate."""

from __future__ import annotations

import re
import statistics

from ingest.latex import latex_to_text
from ingest.parsers.fields import Parsed, Record, clean_text
from rag.errors import ParseError
from rag.ids import slugify_title
from rag.models import Paper

BOILERPLATE = frozenset(
    line.casefold()
    for line in (
        "Get trending papers in your email inbox once a day!",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "Trending Research",
    )
)
# The page's Subscribe button text glued to the first title after it ("SubscribeEfficient").
_GLUED = re.compile(r"^Subscribe(?=\w)(?!(?:d|r|rs|s)\b)")
MAX_TITLE_CHARS = 400
# A title shifted into an abstract's place is far shorter than a real abstract: in the
# bundled file the shortest abstract is 0.4x the typical (median) one, the longest title 0.12x.
MIN_ABSTRACT_SHARE = 0.25


def content_lines(text: str) -> list[tuple[int, str]]:
    """Non-blank, non-boilerplate lines with their 1-based line numbers, cleaned."""
    lines: list[tuple[int, str]] = []
    after_boilerplate = True
    for number, raw in enumerate(text.split("\n"), 1):
        line = clean_text(raw)
        if line.casefold() in BOILERPLATE:
            after_boilerplate = True
        elif line:
            if after_boilerplate and len(lines) % 2 == 0:
                line = _GLUED.sub("", line, count=1)
            lines.append((number, line))
            after_boilerplate = False
    return lines


def _check_pair(
    title: tuple[int, str], abstract: tuple[int, str], median: float, source: str
) -> None:
    """Reject what signals a shifted dump: a title that reads like an abstract or vice versa."""
    if not title[1]:
        raise ParseError("empty title after cleanup", path=source, line=title[0])
    if len(title[1]) > MAX_TITLE_CHARS:
        raise ParseError(
            f"a {len(title[1])}-character title line (at most {MAX_TITLE_CHARS}) "
            "looks like an abstract; is a title line missing?",
            path=source,
            line=title[0],
        )
    if len(abstract[1]) < len(title[1]) or len(abstract[1]) < MIN_ABSTRACT_SHARE * median:
        raise ParseError(
            f"expected the abstract of the title on line {title[0]}, but this "
            f"line is only {len(abstract[1])} characters long (typical: "
            f"{median:.0f}); is an abstract line missing?",
            path=source,
            line=abstract[0],
        )


def parse_trending(text: str, source: str) -> Parsed:
    """Parse title/abstract line pairs; LaTeX leftovers become plain text."""
    lines = [(n, clean_text(latex_to_text(line))) for n, line in content_lines(text)]
    if not lines:
        raise ParseError("no papers found", path=source)
    titles, abstracts = lines[0::2], lines[1::2]
    # The longer line of each pair is an abstract even where a missing line shifted the pairs.
    pairs = zip(titles, abstracts, strict=False)
    longer = [max(len(t), len(a)) for (_, t), (_, a) in pairs]
    median = statistics.median(longer) if len(longer) >= 3 else 0.0
    records = []
    for title, abstract in zip(titles, abstracts, strict=False):
        _check_pair(title, abstract, median, source)
        paper = Paper(id=slugify_title(title[1]), title=title[1], abstract=abstract[1])
        records.append(Record(paper, source, title[0]))
    if len(titles) > len(abstracts):
        raise ParseError(
            "title line with no abstract line after it", path=source, line=titles[-1][0]
        )
    return Parsed(records)
