"""Reasoning blocks removed from a model's reply, whole or streamed in pieces.

Reasoning models write their thinking between `<think>` and `</think>` (also `<thinking>`),
in the content itself when the server does not split it out (llama.cpp with
`--reasoning-format none`, vLLM without a reasoning parser, Ollama's raw mode). That text
is not the answer: it is never shown, stored or parsed for citations. Servers that do split
it send it in a separate `reasoning_content` (or `reasoning`) field, which `ChatModel`
never reads.

Some chat templates put the opening `<think>` in the prompt, so the reply starts inside
the block and only the closing tag appears. The filter cannot know that until it sees the
closing tag; it then counts a restart (`restarts`), and the caller discards what it showed
of this reply so far (the pipeline sends a `reset` event).
"""

from __future__ import annotations

import re

_TAGS = ("think", "thinking")
_OPEN = re.compile(r"<(?:" + "|".join(_TAGS) + r")>", re.IGNORECASE)
_CLOSE = re.compile(r"</(?:" + "|".join(_TAGS) + r")>", re.IGNORECASE)
_ANY = re.compile(r"</?(?:" + "|".join(_TAGS) + r")>", re.IGNORECASE)
# Every proper prefix of a tag: what may still become one when the next delta arrives.
_PREFIXES = frozenset(
    tag[:i].lower() for name in _TAGS for tag in (f"<{name}>", f"</{name}>")
    for i in range(1, len(tag)))
_LONGEST = max(len(p) for p in _PREFIXES)


class ReasoningFilter:
    """Feed text deltas, get the text outside reasoning blocks; partial tags are held."""

    def __init__(self) -> None:
        self._buf = ""
        self._inside = False
        self._at_start = True  # nothing shown yet: drop whitespace before the answer
        self.restarts = 0  # closing tags seen without an opening one

    def feed(self, delta: str) -> str:
        """Text that is surely outside a reasoning block, so far."""
        self._buf += delta
        return self._drain(final=False)

    def finish(self) -> str:
        """The rest; an unclosed block is dropped (the model ran out of tokens thinking)."""
        return self._drain(final=True)

    def _drain(self, *, final: bool) -> str:
        out: list[str] = []
        buf = self._buf
        while buf:
            pattern = _CLOSE if self._inside else _ANY
            m = pattern.search(buf)
            if m is None:
                keep = 0 if final else _held(buf)
                if not self._inside:
                    out.append(buf[:len(buf) - keep])
                buf = buf[len(buf) - keep:]
                if final:
                    buf = ""
                break
            before, tag = buf[:m.start()], m.group(0)
            buf = buf[m.end():]
            if self._inside:  # the block ends here
                self._inside = False
            elif tag.startswith("</"):  # closed without opening: all so far was reasoning
                out.clear()
                self.restarts += 1
                self._at_start = True
            else:
                out.append(before)
                self._inside = True
        self._buf = buf
        text = "".join(out)
        if self._at_start:
            text = text.lstrip()
            self._at_start = not text
        return text


def _held(buf: str) -> int:
    """Length of the tail of `buf` that is a proper prefix of a tag (0 if none)."""
    tail = buf[-_LONGEST:].lower()
    for i in range(len(tail)):
        if tail[i:] in _PREFIXES:
            return len(tail) - i
    return 0


def strip_reasoning(text: str) -> str:
    """A whole reply without its reasoning blocks."""
    f = ReasoningFilter()
    return f.feed(text) + f.finish()
