"""The message input: what to say to one agent (the panel's and the zoom's `m`). It only
asks; whoever opened it posts the `MessageAgent` intent with the answer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from oneie_tui.engine.agent_messages import MAX_MESSAGE_CHARS


class MessageInputScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="message_cancel")]

    def __init__(self, agent_id: str, status: str = "") -> None:
        super().__init__()
        self.agent_id = agent_id
        self.status = status

    def compose(self) -> ComposeResult:
        finished = self.status in ("completed", "failed", "cancelled")
        how = "it continues with this in a new attempt" if finished else "it reads this at its next step"
        with Vertical(id="message-box"):
            # Agent ids come from the spec: shown as text, never as markup.
            yield Label(f"Message to {self.agent_id}: {how}", id="message-to", markup=False)
            yield Input(placeholder="what should it know or do?", max_length=MAX_MESSAGE_CHARS, id="message-text")
            yield Label("enter sends · esc cancels", id="message-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.notify("type a message first (esc cancels)", severity="warning", timeout=2)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
