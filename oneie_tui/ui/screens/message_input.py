"""What to say to one agent: the message input (the panel's and the zoom's `m`) and the
base it shares with the review's comment box. They only ask; whoever opened them posts
the `MessageAgent` intent with the answer."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label

from oneie_tui.engine.agent_messages import MAX_MESSAGE_CHARS
from oneie_tui.events import FOLLOW_UP_STATUSES
from oneie_tui.ui.messages import MessageAgent


class AskTextScreen(ModalScreen[str | None]):
    """A box with one Input: enter gives its text back (never empty), escape gives None.
    Subclasses compose the box and bind escape to `cancel` under their own id."""

    EMPTY_HINT: ClassVar[str] = "type something first (esc cancels)"

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.notify(self.EMPTY_HINT, severity="warning", timeout=2)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class MessageInputScreen(AskTextScreen):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="message_cancel")]
    EMPTY_HINT = "type a message first (esc cancels)"

    def __init__(self, agent_id: str, status: str = "") -> None:
        super().__init__()
        self.agent_id = agent_id
        self.status = status

    def compose(self) -> ComposeResult:
        how = "it continues with this in a new attempt" if self.status in FOLLOW_UP_STATUSES else "it reads this at its next step"
        with Vertical(id="message-box"):
            # Agent ids come from the spec: shown as text, never as markup.
            yield Label(f"Message to {self.agent_id}: {how}", id="message-to", markup=False)
            yield Input(placeholder="what should it know or do?", max_length=MAX_MESSAGE_CHARS, id="message-text")
            yield Label("enter sends · esc cancels", id="message-hint")


def ask_message(screen: Screen[Any], agent_id: str, status: str) -> None:
    """Open the message input over `screen`; the answer goes up from `screen` as
    `MessageAgent`, which the app hands to the runner."""

    def said(text: str | None) -> None:
        if text:
            screen.post_message(MessageAgent(agent_id, text))

    screen.app.push_screen(MessageInputScreen(agent_id, status), said)
