"""Engine and model, papers indexed, the last answer's latency and tokens, a spinner."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import ProgressBar, Static

from tui.client import ClientStatus
from tui.records import AnswerRecord

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class StatusBar(Horizontal):
    """One line at the bottom; a progress bar appears during a first-run ingest."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine_text = ""
        self.last_text = ""
        self.activity = ""
        self._frame = 0
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(" ", id="spinner")
        yield Static(self.engine_text, id="engine", markup=False)
        yield ProgressBar(id="ingest", show_eta=False)
        yield Static("", id="activity", markup=False)
        yield Static("", id="last", markup=False)

    def on_mount(self) -> None:
        self.query_one("#ingest").display = False

    @property
    def busy(self) -> bool:
        return self._timer is not None

    def set_busy(self, activity: str | None) -> None:
        """Spin with a label while working; None stops."""
        self.activity = activity or ""
        self.query_one("#activity", Static).update(self.activity)
        if activity and self._timer is None:
            self._timer = self.set_interval(0.1, self._spin)
        elif not activity and self._timer is not None:
            self._timer.stop()
            self._timer = None
            self.query_one("#spinner", Static).update(" ")

    def _spin(self) -> None:
        self._frame = (self._frame + 1) % len(FRAMES)
        self.query_one("#spinner", Static).update(FRAMES[self._frame])

    def set_ready(self, status: ClientStatus) -> None:
        where = "" if status.where == "in-process" else f" @ {status.where}"
        model = f" · {status.model}" if status.model else ""
        self.engine_text = f"{status.engine}{model} · {status.papers} papers{where}"
        self.query_one("#engine", Static).update(self.engine_text)

    def set_unavailable(self, reason: str) -> None:
        self.engine_text = f"not ready: {reason}"
        self.query_one("#engine", Static).update(self.engine_text)

    def set_progress(self, done: int, total: int) -> None:
        """First run: the bundled collection is being indexed."""
        if not self.is_attached:  # a late call from the ingest thread after quitting
            return
        bar = self.query_one("#ingest", ProgressBar)
        if not bar.display:
            bar.display = True
            self.set_busy("first run: indexing the bundled collection…")
        bar.update(total=total or None, progress=done)

    def hide_progress(self) -> None:
        self.query_one("#ingest").display = False

    def set_last(self, record: AnswerRecord, elapsed_ms: float) -> None:
        """The last answer's latency (the engine's own timing when it sent one) and tokens."""
        ms = record.timings.get("total_ms", elapsed_ms)
        tokens = record.tokens
        self.last_text = (f"last answer {ms / 1000:.1f} s"
                          + (f" · {tokens} tokens" if tokens is not None else ""))
        self.query_one("#last", Static).update(self.last_text)
