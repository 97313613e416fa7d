"""QA suites: one JSON object a line, checked strictly so a typo fails with file:line.

{"id", "question", "gold": [paper ids or exact titles], "facts": [strings], "kind"}
kind: single | multi (answerable; gold not empty) | none (not covered; gold empty).
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ParseError

if TYPE_CHECKING:
    from rag.models import Paper

KINDS = ("single", "multi", "none")
BUNDLED_SUITE = "bundled_qa.jsonl"
_EXTRACTED = ExitStack()
atexit.register(_EXTRACTED.close)


@dataclass(frozen=True)
class Question:
    """One suite line; `gold` holds paper ids once resolved against a collection."""

    id: str
    question: str
    gold: tuple[str, ...]
    facts: tuple[str, ...]
    kind: str
    line: int

    @property
    def answerable(self) -> bool:
        return self.kind != "none"


@dataclass
class Suite:
    path: str
    questions: list[Question]

    @property
    def name(self) -> str:
        return Path(self.path).name


def bundled_suite_path() -> Path:
    """The team's suite, package data of `evals` (found the same way when installed)."""
    from importlib.resources import as_file, files

    resource = files("evals") / "suites" / BUNDLED_SUITE
    if isinstance(resource, Path):
        return resource
    return _EXTRACTED.enter_context(as_file(resource))  # installed as a zip


def _strings(obj: dict[str, object], key: str, where: tuple[str, int]) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ParseError(f"'{key}' must be a list of non-empty strings", path=where[0],
                         line=where[1])
    return tuple(v.strip() for v in value)


def _question(obj: object, where: tuple[str, int]) -> Question:
    path, n = where
    if not isinstance(obj, dict):
        raise ParseError(f"expected a JSON object, not {type(obj).__name__}", path=path, line=n)
    missing = [k for k in ("id", "question", "gold", "kind") if k not in obj]
    if missing:
        raise ParseError(f"missing {', '.join(repr(m) for m in missing)}", path=path, line=n)
    qid, text, kind = obj["id"], obj["question"], obj["kind"]
    if isinstance(qid, bool) or not isinstance(qid, str | int) or not str(qid).strip():
        raise ParseError("'id' must be a non-empty string", path=path, line=n)
    if not isinstance(text, str) or not text.strip():
        raise ParseError("'question' must be a non-empty string", path=path, line=n)
    if kind not in KINDS:
        raise ParseError(f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}",
                         path=path, line=n)
    gold = _strings(obj, "gold", where)
    if kind == "none" and gold:
        raise ParseError("a 'none' question has no gold papers (gold must be [])",
                         path=path, line=n)
    if kind != "none" and not gold:
        raise ParseError(f"a '{kind}' question needs at least one gold paper", path=path,
                         line=n)
    if kind == "single" and len(gold) != 1:
        raise ParseError(f"a 'single' question has exactly one gold paper, not {len(gold)}",
                         path=path, line=n)
    return Question(str(qid).strip(), text.strip(), gold, _strings(obj, "facts", where), kind, n)


def load_suite(path: Path) -> Suite:
    """Parse and check a suite file; every problem is a ParseError naming file:line."""
    from evals.beir import read_lines
    from ingest.parsers.jsonl import loads

    questions: list[Question] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        q = _question(loads(line, str(path), n), (str(path), n))
        if q.id in seen:
            raise ParseError(f"duplicate id {q.id!r} (first on line {seen[q.id]})",
                             path=str(path), line=n)
        seen[q.id] = n
        questions.append(q)
    if not questions:
        raise ParseError("no questions", path=str(path))
    return Suite(str(path), questions)


def fold(text: str) -> str:
    """Whitespace collapsed and case folded: how gold titles and facts are matched."""
    return " ".join(text.split()).casefold()


def resolve_gold(suite: Suite, papers: list[Paper], collection: str) -> Suite:
    """Gold entries -> paper ids, matching an id or an exact title, case-insensitively."""
    by_key: dict[str, str] = {}
    for p in papers:
        by_key.setdefault(fold(p.title), p.id)
    for p in papers:  # an id wins over a title that happens to equal it
        by_key[fold(p.id)] = p.id
    resolved = []
    for q in suite.questions:
        ids = []
        for entry in q.gold:
            pid = by_key.get(fold(entry))
            if pid is None:
                raise ParseError(f"gold {entry!r} matches no paper id or title in collection "
                                 f"'{collection}' ({len(papers)} papers)", path=suite.path,
                                 line=q.line)
            ids.append(pid)
        resolved.append(Question(q.id, q.question, tuple(dict.fromkeys(ids)), q.facts,
                                 q.kind, q.line))
    return Suite(suite.path, resolved)
