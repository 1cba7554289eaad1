"""Save a copy as…: the name to write, confirmed before anything is written (saving a
bundled example writes a copy into the current folder, never over the installed file)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class SaveAsScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="save_as_cancel")]

    def __init__(self, suggested: Path, why: str) -> None:
        super().__init__()
        self.suggested = suggested
        self.why = why

    def compose(self) -> ComposeResult:
        with Vertical(id="save-as-box"):
            yield Label(self.why, id="save-as-why", markup=False)
            yield Input(str(self.suggested), id="save-as-name")
            yield Label("enter saves · esc cancels", id="save-as-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if not name:
            self.notify("a file name, please", severity="warning", timeout=2)
            return
        path = Path(name).expanduser()
        if path.suffix != ".toml":
            path = path.with_name(path.name + ".toml")
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
