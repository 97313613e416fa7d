"""Every key the chat answers to, in one table: bindings, the F1 help and the palette."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    keys: str  # Textual binding spec
    action: str  # action name without the `action_` prefix
    label: str  # footer
    help: str  # F1 help and palette description
    command: str = ""  # palette title (the label when empty)

    @property
    def title(self) -> str:
        return self.command or self.label


CHAT_KEYS = (
    Key("escape", "cancel_answer", "Cancel", "Cancel the answer in flight; the prompt comes back",
        "Cancel answer"),
    Key("ctrl+n", "new_session", "New session", "Start a new chat session"),
    Key("ctrl+s", "sessions", "Sessions", "List sessions: resume, rename or delete one"),
    Key("ctrl+e", "export", "Export",
        "Export the session to Markdown with its references and BibTeX entries",
        "Export session"),
    Key("ctrl+y", "copy_answer", "Copy", "Copy the last answer (OSC 52, and saved to a file)",
        "Copy last answer"),
)
APP_KEYS = (
    Key("f1", "help", "Help", "Show the keys"),
    Key("ctrl+q", "quit", "Quit", "Quit paperchat"),
)
# Keys the prompt and the panels handle themselves; listed on F1 help only.
OTHER_KEYS = (
    ("enter", "Send the question"),
    ("shift+enter / ctrl+j", "New line in the question"),
    ("↑ / ↓", "Recall earlier questions (on the first / last line)"),
    ("tab / shift+tab", "Move between the prompt, the answers and the sources"),
    ("enter / click on a source", "Expand or collapse its abstract"),
    ("click on an answer", "Show its sources"),
    ("ctrl+p", "Command palette: every action above"),
)


def display(keys: str) -> str:
    """`ctrl+n` -> `ctrl+n`, `escape` -> `esc` (as the footer shows them)."""
    return keys.replace("escape", "esc")
