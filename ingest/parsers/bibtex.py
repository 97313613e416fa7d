"""BibTeX via bibtexparser v2: entries with an `abstract` field; the citation key is the id."""

from __future__ import annotations

import logging
import re
from typing import Any

from ingest.latex import latex_to_text
from ingest.parsers.fields import Parsed, Record, clean_text, display_name, paper_from_fields
from rag.errors import ParseError

_YEAR = re.compile(r"\d{4}")
_AND = re.compile(r"\s+and\s+")
_KEYWORDS = re.compile(r"\s*[,;]\s*")
_SHOWN = 5


def _author(name: str) -> str:
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}" if comma else name


def _fields(entry: Any) -> dict[str, object]:
    """The entry's fields with LaTeX resolved and names, year and keywords normalised."""
    raw = {f.key.strip().lower(): f.value for f in entry.fields if isinstance(f.value, str)}
    fields: dict[str, object] = {
        k: latex_to_text(v, strip_braces=True)
        for k, v in raw.items()
        if k in ("title", "abstract", "url", "doi")
    }
    fields["id"] = entry.key
    if "author" in raw:
        names = _AND.split(clean_text(latex_to_text(raw["author"], strip_braces=True)))
        fields["authors"] = [_author(n) for n in names if n.strip() not in ("", "others")]
    year = _YEAR.search(raw.get("year", ""))  # "2019a", "in press": keep what is a year
    fields["year"] = year.group(0) if year else None
    if "keywords" in raw:
        fields["categories"] = _KEYWORDS.split(latex_to_text(raw["keywords"], strip_braces=True))
    return fields


def _library(text: str, source: str) -> Any:
    import bibtexparser  # heavy; only BibTeX input needs it

    # bibtexparser logs each failed block; we report them as ParseError instead, so keep
    # its records away from logging's last-resort stderr handler unless the app logs them.
    logger = logging.getLogger("bibtexparser")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    try:
        return bibtexparser.parse_string(text)
    except Exception as e:  # the splitter's failure modes are undocumented; never leak them
        raise ParseError(f"cannot parse BibTeX: {e}", path=source) from e


def parse_bibtex(text: str, source: str) -> Parsed:
    """Parse entries; those without an abstract are skipped with a warning."""
    from bibtexparser import model

    records: list[Record] = []
    skipped: list[tuple[str, int]] = []
    for block in _library(text, source).blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, model.DuplicateBlockKeyBlock):
            block = block.ignore_error_block  # same key twice: merged later like any duplicate
        elif isinstance(block, model.DuplicateFieldKeyBlock):
            keys = ", ".join(sorted(block.duplicate_keys))
            raise ParseError(f"field given twice in one entry: {keys}", path=source, line=line)
        elif isinstance(block, model.ParsingFailedBlock):
            reason = getattr(block.error, "abort_reason", None) or str(block.error)
            raise ParseError(f"cannot parse BibTeX block: {reason}", path=source, line=line)
        if not isinstance(block, model.Entry):
            continue
        fields = _fields(block)
        if not str(fields.get("abstract") or "").strip():
            skipped.append((block.key, line))
            continue
        records.append(Record(paper_from_fields(fields, source=source, line=line), source, line))
    if not records:
        first = skipped[0][1] if skipped else 1
        raise ParseError("no BibTeX entries with an abstract", path=source, line=first)
    warnings = []
    if skipped:
        shown = ", ".join(f"{key} (line {line})" for key, line in skipped[:_SHOWN])
        more = f" and {len(skipped) - _SHOWN} more" if len(skipped) > _SHOWN else ""
        noun = "entry" if len(skipped) == 1 else "entries"
        warnings.append(
            f"{display_name(source)}: {len(skipped)} {noun} without an abstract "
            f"skipped: {shown}{more}"
        )
    return Parsed(records, warnings)
