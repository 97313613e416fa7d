"""Earlier questions for up/down recall in the prompt, shell-style."""

from __future__ import annotations


class PromptHistory:
    """A list of sent questions and a cursor; the unsent draft is kept while browsing."""

    def __init__(self, entries: list[str] | None = None) -> None:
        self.entries: list[str] = []
        for entry in entries or []:
            self.add(entry)
        self._pos = len(self.entries)
        self._draft = ""

    def add(self, text: str) -> None:
        """Remember a sent question as the newest (once: an earlier copy is dropped) and
        stop browsing."""
        text = text.strip()
        if text:
            if text in self.entries:
                self.entries.remove(text)
            self.entries.append(text)
        self._pos = len(self.entries)
        self._draft = ""

    def previous(self, current: str) -> str | None:
        """The question before the one shown, or None at the oldest."""
        if self._pos == 0:
            return None
        if self._pos == len(self.entries):
            self._draft = current
        self._pos -= 1
        return self.entries[self._pos]

    def next(self) -> str | None:
        """The question after the one shown, the draft past the newest, None if not browsing."""
        if self._pos >= len(self.entries):
            return None
        self._pos += 1
        return self.entries[self._pos] if self._pos < len(self.entries) else self._draft
