"""`max_tokens` and `stop` of the OpenAI chat API, applied to the reply as it streams.

The cut applies to what the client receives (the answer text and the "Sources:" list after
it), whichever engine wrote it: at most `max_tokens` tokens (cl100k_base, as `usage`
counts them) with `finish_reason` "length", or everything before the first stop string
(which is not sent) with `finish_reason` "stop". Text that could be the start of a stop
string is held back until the next piece shows whether it is one.
"""

from __future__ import annotations

from rag.tokens import count_tokens, truncate_to_tokens


class Cutoff:
    """Feed the reply piece by piece; each call returns the text to send now."""

    def __init__(self, max_tokens: int | None = None, stop: list[str] | None = None) -> None:
        self.max_tokens = max_tokens
        self.stop = [s for s in stop or [] if s]
        self.sent = ""  # what the client has been given so far
        self.held = ""  # may be the start of a stop string
        self.finish_reason: str | None = None  # "length" or "stop" once cut

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    def feed(self, text: str) -> str:
        if self.done:
            return ""
        buffer = self.held + text
        found = [i for i in (buffer.find(s) for s in self.stop) if i >= 0]
        if found:
            self.held = ""
            out = self._within_budget(buffer[:min(found)])
            self.finish_reason = self.finish_reason or "stop"
            return out
        keep = self._stop_prefix_length(buffer)
        self.held = buffer[len(buffer) - keep:] if keep else ""
        return self._within_budget(buffer[:len(buffer) - keep])

    def close(self) -> str:
        """The end of the reply: release what was held back."""
        if self.done:
            return ""
        held, self.held = self.held, ""
        return self._within_budget(held)

    def _stop_prefix_length(self, buffer: str) -> int:
        """Length of the longest end of `buffer` that begins some stop string."""
        longest = 0
        for s in self.stop:
            for n in range(min(len(s) - 1, len(buffer)), longest, -1):
                if buffer.endswith(s[:n]):
                    longest = n
                    break
        return longest

    def _within_budget(self, text: str) -> str:
        if not text:
            return ""
        if self.max_tokens is None or count_tokens(self.sent + text) <= self.max_tokens:
            self.sent += text
            return text
        kept = truncate_to_tokens(self.sent + text, self.max_tokens).rstrip("\ufffd")
        out = kept[len(self.sent):] if kept.startswith(self.sent) else ""
        self.sent += out
        self.finish_reason = "length"
        return out


def cut(text: str, max_tokens: int | None = None, stop: list[str] | None = None
        ) -> tuple[str, str]:
    """(the text as sent, finish_reason) for a whole reply."""
    cutoff = Cutoff(max_tokens, stop)
    out = cutoff.feed(text) + cutoff.close()
    return out, cutoff.finish_reason or "stop"
