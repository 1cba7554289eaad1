"""Pick a spec: the bundled examples and the current folder's `*.toml` specs."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from oneie_tui import paths
from oneie_tui.ui.messages import SpecPicked
from oneie_tui.ui.widgets.key_footer import KeyFooter


def candidate_specs(cwd: Path | None = None) -> list[Path]:
    folder = cwd or Path.cwd()
    found = sorted(folder.glob("*.toml"))
    bundled = paths.bundled_dir("specs")
    seen = {p.resolve() for p in found}
    found += [p for p in sorted(bundled.glob("*.toml")) if p.resolve() not in seen]
    return [p for p in found if p.name != "pyproject.toml"]


class PickerScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.quit", "Quit", id="picker_quit")]

    def __init__(self, specs: list[Path] | None = None) -> None:
        super().__init__()
        self.specs = specs if specs is not None else candidate_specs()

    def compose(self) -> ComposeResult:
        yield Label("Open a spec (enter)", id="picker-title")
        options = [Option(self._label(p), id=str(i)) for i, p in enumerate(self.specs)]
        yield OptionList(*options, id="picker-list")
        yield KeyFooter()

    @staticmethod
    def _label(path: Path) -> str:
        try:
            shown = path.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            shown = path
        return str(shown)

    def on_mount(self) -> None:
        if not self.specs:
            self.query_one("#picker-title", Label).update("No specs found here; try `oneie new NAME`")
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.post_message(SpecPicked(self.specs[int(event.option.id or 0)]))
