"""A chat session as Markdown: the turns, each answer's sources, references and BibTeX."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.models import Paper
    from rag.sessions import Session

_ARXIV_ID = re.compile(r"^\d{4}\.\d{4,5}(v\d+)?$")
_STOP = {"a", "an", "the", "on", "of", "for", "and", "in", "to", "with", "via", "towards"}


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def bibtex_key(paper_id: str, title: str, paper: Paper | None) -> str:
    """`lastname2024word` when authors and year are known, else the title's first words."""
    words = [w for w in re.findall(r"[a-z0-9]+", _ascii(title).lower())
             if w not in _STOP and len(w) > 2]
    if paper is not None and paper.authors:
        last = re.sub(r"[^a-z]", "", _ascii(paper.authors[0].split()[-1]).lower())
        return f"{last}{paper.year or ''}{words[0] if words else ''}" or paper_id
    return "".join(words[:3]) or re.sub(r"[^A-Za-z0-9]", "", paper_id) or "paper"


def _bib_value(text: str) -> str:
    text = text.replace("\\", "").replace("{", "(").replace("}", ")")
    return re.sub(r"([&%$#_])", r"\\\1", " ".join(text.split()))


def bibtex_entry(key: str, paper_id: str, title: str, paper: Paper | None) -> str:
    """One `@misc` entry; fields the collection lacks are left out."""
    fields: list[tuple[str, str]] = [("title", f"{{{_bib_value(title)}}}")]
    if paper is not None:
        if paper.authors:
            fields.append(("author", " and ".join(_bib_value(a) for a in paper.authors)))
        if paper.year:
            fields.append(("year", str(paper.year)))
        if paper.doi:
            fields.append(("doi", paper.doi))
        if paper.url:
            fields.append(("url", paper.url))
    if _ARXIV_ID.match(paper_id):
        fields += [("eprint", paper_id), ("archiveprefix", "arXiv")]
    fields.append(("note", f"paperchat id {_bib_value(paper_id)}"))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}"


def _reference_line(title: str, paper_id: str, paper: Paper | None) -> str:
    parts = []
    if paper is not None and paper.authors:
        parts.append(", ".join(paper.authors) + (f" ({paper.year})." if paper.year else "."))
    parts.append(f"*{title}*.")
    if paper is not None and (paper.doi or paper.url):
        parts.append(f"https://doi.org/{paper.doi}" if paper.doi else str(paper.url))
    parts.append(f"`{paper_id}`")
    return " ".join(parts)


def session_markdown(session: Session, papers: Mapping[str, Paper | None]) -> str:
    """The whole session; `papers` maps cited paper ids to their records (None = unknown)."""
    title = session.info.title or "paperchat session"
    out = [f"# {title}", "", f"Session `{session.info.id}`, {len(session.messages)} messages.",
           ""]
    keys: dict[str, str] = {}
    cited: dict[str, dict[str, Any]] = {}
    for message in session.messages:
        if message.role == "user":
            out += ["## Question", "", message.content.strip(), ""]
            continue
        out += ["### Answer", "", message.content.strip(), ""]
        if message.citations:
            out += ["Sources:", ""]
        for c in message.citations:
            pid = str(c.get("paper_id", ""))
            if pid not in keys:
                key = bibtex_key(pid, str(c.get("title", "")), papers.get(pid))
                while key in keys.values():
                    key += "x"
                keys[pid] = key
                cited[pid] = c
            out.append(f"- [{c.get('n')}] {c.get('title', '')} [@{keys[pid]}]")
        if message.citations:
            out.append("")
    if cited:
        out += ["## References", ""]
        for pid, c in cited.items():
            out.append(f"- [@{keys[pid]}] "
                       + _reference_line(str(c.get("title", "")), pid, papers.get(pid)))
        out += ["", "## BibTeX", "", "```bibtex"]
        out += ["\n\n".join(bibtex_entry(keys[pid], pid, str(c.get("title", "")),
                                         papers.get(pid)) for pid, c in cited.items())]
        out += ["```", ""]
    return "\n".join(out)


def cited_paper_ids(session: Session) -> list[str]:
    """Every paper cited in the session, in first-cited order."""
    ids = [str(c.get("paper_id")) for m in session.messages for c in m.citations]
    return list(dict.fromkeys(i for i in ids if i))


def export_path(directory: Path, session: Session) -> Path:
    """`<dir>/<title-slug>-<id8>.md`: stable per session, so re-exporting overwrites."""
    slug = re.sub(r"[^a-z0-9]+", "-", _ascii(session.info.title or "session").lower())
    return directory / f"{slug.strip('-')[:40] or 'session'}-{session.info.id[:8]}.md"


def answer_text(text: str, citations: list[dict[str, Any]]) -> str:
    """One answer with its numbered sources, as copied to the clipboard."""
    lines = [text.strip()]
    if citations:
        lines += ["", "Sources:"]
        lines += [f"[{c.get('n')}] {c.get('title', '')} ({c.get('paper_id', '')})"
                  for c in citations]
    return "\n".join(lines) + "\n"
