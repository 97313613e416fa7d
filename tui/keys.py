"""Every key the chat answers to, in one table: bindings, the help screen and the palette."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    keys: str  # Textual binding spec
    action: str  # action name without the `action_` prefix
    label: str  # footer
    help: str  # help screen and palette description
    command: str = ""  # palette title (the label when empty)
    footer: bool = True  # shown in the footer (every key is on the help screen)
    # Priority keys work wherever focus is (the prompt included); the others only where
    # the focused widget does not use the key itself (`?` types a ? in the prompt).
    priority: bool = True

    @property
    def title(self) -> str:
        return self.command or self.label

    def binding(self) -> Binding:
        return Binding(self.keys, self.action, self.label, show=self.footer,
                       tooltip=self.help, priority=self.priority)


CHAT_KEYS = (
    Key("escape", "cancel_answer", "Cancel", "Cancel the answer in flight; the prompt comes back",
        "Cancel answer"),
    Key("ctrl+n", "new_session", "New", "Start a new chat session", "New session"),
    Key("ctrl+s", "sessions", "Sessions", "List sessions: resume, rename or delete one"),
    Key("ctrl+e", "export", "Export",
        "Export the session to Markdown with its references and BibTeX entries",
        "Export session"),
    Key("ctrl+y", "copy_answer", "Copy",
        "Copy the selected answer (the focused one, else the latest) via OSC 52 and to a file",
        "Copy answer"),
    Key("ctrl+b", "toggle_sources", "Sources",
        "Show or hide the sources panel (below 100 columns it starts hidden, and shows "
        "under the chat)", "Toggle sources panel"),
    Key("ctrl+l", "focus_prompt", "Prompt",
        "Back to the prompt (typing with an answer or a source focused goes there too)",
        "Focus the prompt", footer=False),
)
APP_KEYS = (
    Key("f1", "help", "Help", "Show the keys"),
    Key("question_mark", "help", "Help", "Show the keys, where the prompt is not focused",
        footer=False, priority=False),
    Key("ctrl+q", "quit", "Quit", "Quit paperchat (an answer in flight is cancelled)"),
)
# Keys the prompt and the panels handle themselves; listed on the help screen only.
OTHER_KEYS = (
    ("enter", "Send the question"),
    ("shift+enter / ctrl+j", "New line in the question"),
    ("↑ / ↓", "Recall earlier questions (on the first / last line)"),
    ("tab / shift+tab", "Move between the prompt, the answers and the sources"),
    ("enter / click a source", "Expand or collapse its abstract"),
    ("click on an answer", "Show its sources"),
    ("ctrl+p", "Command palette: every action above"),
)


def display(keys: str) -> str:
    """`ctrl+n` -> `ctrl+n`, `escape` -> `esc`, `question_mark` -> `?` (as the footer shows)."""
    return keys.replace("escape", "esc").replace("question_mark", "?")
