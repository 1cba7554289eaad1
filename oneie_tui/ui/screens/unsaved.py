"""Unsaved edits: save, discard or stay (asked before quitting with a modified spec)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

SAVE, DISCARD, STAY = "save", "discard", "stay"


class UnsavedScreen(ModalScreen[str]):
    BINDINGS = [
        Binding("s", "answer('save')", "Save", id="unsaved_save"),
        Binding("d", "answer('discard')", "Discard", id="unsaved_discard"),
        Binding("escape", "answer('stay')", "Stay", id="unsaved_stay"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.spec_name = name

    def compose(self) -> ComposeResult:
        with Vertical(id="unsaved-box"):
            yield Label(f"{self.spec_name} has unsaved changes.", id="unsaved-question", markup=False)
            yield Button("Save (s)", variant="primary", id=f"unsaved-{SAVE}")
            yield Button("Discard (d)", variant="error", id=f"unsaved-{DISCARD}")
            yield Button("Stay (esc)", id=f"unsaved-{STAY}")

    def on_mount(self) -> None:
        self.query_one(f"#unsaved-{STAY}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or STAY).removeprefix("unsaved-"))

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)
