"""Fit a request into the model's context window (tiktoken cl100k_base counts).

system + sources + history + question + the tokens reserved for the answer must fit
`settings.llm.context_window`. Over budget, the lowest-ranked sources go first (the top
one is kept), then the oldest history, then the top source is truncated; a question that
does not fit on its own is an InputError. Counts follow OpenAI's chat accounting (a few
tokens per message); a server with another tokenizer may count a little differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rag.answer import prompts
from rag.answer.text import strip_markers
from rag.errors import InputError
from rag.models import SearchHit
from rag.tokens import count_tokens, truncate_to_tokens

PER_MESSAGE = 4  # role and separators per chat message
PER_REQUEST = 3  # the reply's priming tokens
MIN_SOURCE_TOKENS = 32  # below this a truncated source is not worth sending

Messages = list[dict[str, str]]


@dataclass
class Prompt:
    """The messages to send and what had to be left out to fit."""

    messages: Messages
    sources: list[SearchHit]  # sent, in rank order, numbered [1]..[n] in the prompt
    prompt_tokens: int
    dropped_sources: int = 0
    dropped_history: int = 0


def messages_tokens(messages: Messages) -> int:
    """Tokens a chat request's messages take."""
    return sum(count_tokens(m["content"]) + PER_MESSAGE for m in messages) + PER_REQUEST


def source_text(hit: SearchHit) -> str:
    return hit.abstract or hit.snippet


def render_sources(sources: list[SearchHit], texts: list[str],
                   fields: tuple[str, ...] = ()) -> str:
    return "\n\n".join(
        prompts.SOURCE_TEMPLATE.format(n=i, title=prompts.quote_source_text(h.title),
                                       text=prompts.quote_source_text(
                                           _field_lines(h, fields) + t))
        for i, (h, t) in enumerate(zip(sources, texts, strict=True), 1))


def _field_lines(hit: SearchHit, fields: tuple[str, ...]) -> str:
    """"Year: 2021\n" etc. for the paper fields the question asks about."""
    lines = []
    for name in fields:
        value = getattr(hit, name, None)
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        lines.append(f"{name.capitalize()}: {value if value else 'not recorded'}\n")
    return "".join(lines)


def history_messages(history: list[dict[str, Any]]) -> Messages:
    """Prior turns as chat messages; old markers are removed (they numbered other sources)."""
    out: Messages = []
    for turn in history:
        role, content = turn.get("role"), str(turn.get("content", ""))
        if role in ("user", "assistant") and content.strip():
            out.append({"role": role, "content": strip_markers(content) if role == "assistant"
                        else content})
    return out


def _answer_messages(question: str, sources: list[SearchHit], texts: list[str],
                     history: Messages, notes: tuple[str, ...] = (),
                     fields: tuple[str, ...] = ()) -> Messages:
    user = prompts.USER_TEMPLATE.format(
        open=prompts.SOURCES_OPEN, close=prompts.SOURCES_CLOSE,
        sources=render_sources(sources, texts, fields) or "(no sources)",
        question=prompts.quote_source_text(question))
    if notes:
        user += "\n" + "\n".join(f"Note: {n}" for n in notes)
    return [{"role": "system", "content": prompts.SYSTEM_PROMPT}, *history,
            {"role": "user", "content": user}]


def build_answer_prompt(question: str, sources: list[SearchHit], history: list[dict[str, Any]],
                        *, max_tokens: int, context_window: int, notes: tuple[str, ...] = (),
                        fields: tuple[str, ...] = ()) -> Prompt:
    """Answer request messages within the window, dropping/truncating as described above."""
    limit = context_window - max_tokens
    bare = messages_tokens(_answer_messages(question, [], [], [], notes))
    if bare > limit:
        raise InputError(f"the question is too long: with the instructions it takes {bare} "
                         f"tokens, and a {context_window}-token context window with "
                         f"{max_tokens} reserved for the answer leaves {limit}")
    srcs = list(sources)
    texts = [source_text(h) for h in srcs]
    hist = history_messages(history)
    dropped_hist = 0
    while True:
        messages = _answer_messages(question, srcs, texts, hist, notes, fields)
        used = messages_tokens(messages)
        if used <= limit:
            return Prompt(messages, srcs, used, len(sources) - len(srcs), dropped_hist)
        if len(srcs) > 1:
            srcs.pop()
            texts.pop()
        elif hist:
            hist.pop(0)
            dropped_hist += 1
        elif srcs:
            keep = count_tokens(texts[0]) - (used - limit) - 8
            if keep >= MIN_SOURCE_TOKENS and keep < count_tokens(texts[0]):
                texts[0] = truncate_to_tokens(texts[0], keep)
            else:
                srcs, texts = [], []
        else:  # pragma: no cover - the bare check above guarantees a fit
            raise InputError("the request does not fit the context window")


def condense_messages(question: str, history: list[dict[str, Any]], *, max_tokens: int,
                      context_window: int) -> Messages:
    """The condense request, keeping as much recent history as fits."""
    turns = [_condense_turn(t) for t in history
             if t.get("role") in ("user", "assistant") and str(t.get("content", "")).strip()]
    limit = context_window - max_tokens
    while True:
        user = prompts.CONDENSE_USER_TEMPLATE.format(history="\n".join(turns) or "(none)",
                                                     question=question)
        messages = [{"role": "system", "content": prompts.CONDENSE_SYSTEM_PROMPT},
                    {"role": "user", "content": user}]
        used = messages_tokens(messages)
        if used <= limit:
            return messages
        if not turns:
            raise InputError(f"the question is too long for the {context_window}-token "
                             "context window")
        turns.pop(0)


def _condense_turn(turn: dict[str, Any]) -> str:
    line = f"{str(turn['role']).capitalize()}: {turn['content']}"
    cited = turn.get("citations") or []
    if turn["role"] == "assistant" and cited:
        # Markers mean nothing without their sources; name them so "the second one" resolves.
        line += "\n(Papers cited, in order: " + "; ".join(
            f"[{c.get('n', i)}] {c.get('title', '')}" for i, c in enumerate(cited, 1)) + ")"
    return line
