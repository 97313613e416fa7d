"""Text cleanup and field coercion shared by every parser."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

from ingest.latex import latex_to_text
from rag.errors import ParseError
from rag.ids import slugify_title
from rag.models import Paper

ABSTRACT_KEYS = ("abstract", "text", "summary")
DOI_KEYS = ("doi", "doc")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # lone surrogates from JSON \ud800 cannot be encoded
_AUTHOR_SPLIT = re.compile(r"\s*,\s*|\s+and\s+")
_SEMICOLONS = re.compile(r"\s*;\s*")  # "He, K.; Zhang, X.": the commas are inside names
_CATEGORY_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class Record:
    """One parsed paper and where it starts in its source."""

    paper: Paper
    source: str
    line: int | None


@dataclass
class Parsed:
    """What one parser returns: papers in source order (duplicates included) and warnings."""

    records: list[Record]
    warnings: list[str] = field(default_factory=list)


def display_name(source: str) -> str:
    """The file name of a source, for short warnings."""
    return PurePath(source).name or source


def clean_text(value: str) -> str:
    """Strip, collapse whitespace runs and NFC-normalise; control characters become spaces."""
    value = _CONTROL.sub(" ", _SURROGATE.sub("\ufffd", value))
    return " ".join(unicodedata.normalize("NFC", value).split())


def _string(value: object, key: str, where: tuple[str, int | None], numbers: bool = False) -> str:
    allowed = (str, int, float) if numbers else (str,)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise ParseError(
            f"'{key}' must be a string, not {type(value).__name__}", path=where[0], line=where[1]
        )
    return clean_text(str(value))


def _list(
    value: object, key: str, split: re.Pattern[str], where: tuple[str, int | None]
) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = list(split.split(clean_text(value)))  # no long \s runs left
    elif isinstance(value, list):
        items = value
    else:
        raise ParseError(
            f"'{key}' must be a list or a string, not {type(value).__name__}",
            path=where[0],
            line=where[1],
        )
    cleaned = (_string(item, key, where) for item in items)
    return tuple(item for item in cleaned if item)


def _authors(value: object, where: tuple[str, int | None]) -> tuple[str, ...]:
    split = _SEMICOLONS if isinstance(value, str) and ";" in value else _AUTHOR_SPLIT
    return _list(value, "authors", split, where)


def _year(value: object, where: tuple[str, int | None]) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,4}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 9999:
        shown = repr(value) if len(repr(value)) <= 20 else repr(value)[:20] + "..."
        raise ParseError(
            f"'year' must be a year such as 2021, not {shown}", path=where[0], line=where[1]
        )
    return value


def _optional(
    fields: Mapping[str, object], keys: tuple[str, ...], where: tuple[str, int | None]
) -> str | None:
    for key in keys:
        value = fields.get(key)
        if value is not None and (text := _string(value, key, where, numbers=True)):
            return text
    return None


def paper_from_fields(
    raw: Mapping[str, object],
    *,
    source: str,
    line: int | None,
    id_key: str = "id",
    latex: bool = False,
) -> Paper:
    """Build a Paper from title, abstract/text/summary and optional bibliographic fields."""
    fields = {str(k).strip().lower(): v for k, v in list(raw.items())[::-1]}  # first key wins
    where = (source, line)
    if fields.get("title") is None:
        raise ParseError("missing 'title'", path=source, line=line)
    present = [k for k in ABSTRACT_KEYS if fields.get(k) is not None]
    if not present:
        raise ParseError(
            "missing abstract: expected one of 'abstract', 'text', 'summary'",
            path=source,
            line=line,
        )
    texts = {k: fields[k] for k in ("title", *present)}
    if latex:
        texts = {k: latex_to_text(v) if isinstance(v, str) else v for k, v in texts.items()}
    title = _string(texts["title"], "title", where)
    abstract = next((a for k in present if (a := _string(texts[k], k, where))), "")
    if not title or not abstract:
        raise ParseError(f"empty {'title' if not title else 'abstract'}", path=source, line=line)
    return Paper(
        id=_optional(fields, (id_key,), where) or slugify_title(title),
        title=title,
        abstract=abstract,
        authors=_authors(fields.get("authors", fields.get("author")), where),
        year=_year(fields.get("year"), where),
        url=_optional(fields, ("url",), where),
        doi=_optional(fields, DOI_KEYS, where),
        categories=_list(fields.get("categories"), "categories", _CATEGORY_SPLIT, where),
    )
