"""Follow-up questions made standalone without a model (the extractive engine's condense).

"what about the second one?" -> the title of the 2nd paper cited in the previous answer;
"which of those used ViTs?" -> the question plus the subject words of the previous question.
The llm engine asks the model instead (prompts.CONDENSE_*).
"""

from __future__ import annotations

import re
from typing import Any

from rag.answer.text import STOPWORDS, content_terms, words

_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
             "4th": 4, "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "former": 1, "last": -1,
             "latter": -1}
_NOUN = r"(?:one|paper|source|study|article|work|result|reference)"
_ORDINAL_REF = re.compile(r"\b(?:the\s+)?(" + "|".join(_ORDINALS) + r")\s+" + _NOUN +
                          r"s?\b|\bthe\s+(former|latter)\b", re.IGNORECASE)
_NUMBER_REF = re.compile(r"(?:\b(?:the\s+)?(?:paper|source|reference|ref|citation)\s*#?\s*"
                         r"(\d+)\b|\[(\d+)\])", re.IGNORECASE)
_DEICTIC = frozenset(("it", "its", "they", "them", "their", "theirs", "those", "these", "this",
                      "that", "such", "above", "same", "ones", "former", "latter", "also",
                      "else", "more"))
_OPENERS = ("and ", "what about", "how about", "and what", "why", "how so", "tell me more")
SUBJECT_WORDS = 8


def _previous(history: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    return [t for t in reversed(history) if t.get("role") == role]


def _resolve_reference(question: str, cited: list[dict[str, Any]]) -> str | None:
    """Replace "the second one" / "paper 2" / "[2]" with the cited paper's title."""
    if not cited:
        return None
    for pattern in (_NUMBER_REF, _ORDINAL_REF):
        m = pattern.search(question)
        if not m:
            continue
        token = next(g for g in m.groups() if g)
        n = int(token) if token.isdigit() else _ORDINALS[token.lower()]
        index = len(cited) - 1 if n == -1 else n - 1
        if 0 <= index < len(cited):
            title = str(cited[index].get("title", "")).strip()
            if title:
                return f"{question[:m.start()]}{title}{question[m.end():]}".strip()
    return None


def refers_back(question: str) -> bool:
    """Does the question point at the conversation ("those", "it", "what about")?"""
    lowered = question.lower().strip()
    return bool(_DEICTIC & set(words(lowered))) or lowered.startswith(_OPENERS)


def is_follow_up(question: str) -> bool:
    """Does the question lean on the conversation (pronouns, "what about", few words)?"""
    return refers_back(question) or len(content_terms(question)) <= 1


def subject_words(history: list[dict[str, Any]], exclude: str) -> list[str]:
    """Content words of the last two user questions, most recent first, not in `exclude`."""
    seen = set(content_terms(exclude))
    out: list[str] = []
    for turn in _previous(history, "user")[:2]:
        for w in words(str(turn.get("content", ""))):
            stem = content_terms(w)
            if w in STOPWORDS or not stem or stem[0] in seen:
                continue
            seen.add(stem[0])
            out.append(w)
    return out[:SUBJECT_WORDS]


def condense(question: str, history: list[dict[str, Any]]) -> str:
    """A standalone version of `question` given the conversation so far."""
    if not history:
        return question
    last_answer = next(iter(_previous(history, "assistant")), None)
    cited = list(last_answer.get("citations") or []) if last_answer else []
    resolved = _resolve_reference(question, cited)
    if resolved:
        return resolved
    if not is_follow_up(question):
        return question
    subject = subject_words(history, question)
    return f"{question} ({' '.join(subject)})" if subject else question
