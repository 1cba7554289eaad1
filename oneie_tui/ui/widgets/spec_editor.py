"""The spec editor: TOML with highlighting, validated as you type (debounced).

Each validation posts `SpecEdited` (text, error, line). The error shows under the text
with its line, and that line is marked in the text. The title says when the text differs
from what was last saved (`modified`), and when the spec is a bundled example (saving
writes a copy into the current folder). Saving writes the text as typed (comments kept);
see `DashboardScreen.action_save_spec`. `escape` leaves the editor (shown in the footer
while it has focus, since its letters are text and not commands)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Label, TextArea

from oneie_tui.spec.lints import lint_spec
from oneie_tui.spec.loader import SpecError, locate_field, parse_spec_text
from oneie_tui.spec.model import Spec
from oneie_tui.ui.messages import LeaveEditor, SpecEdited

DEBOUNCE_SECONDS = 0.3


class SpecTextArea(TextArea):
    """A TextArea that marks one line (the error's) across its whole width."""

    DEFAULT_CSS = """
    SpecTextArea > .spec-text-area--error-line { background: $error 35%; }
    """
    COMPONENT_CLASSES = TextArea.COMPONENT_CLASSES | {"spec-text-area--error-line"}

    error_line: int | None = None  # 1-based

    def mark_line(self, line: int | None) -> None:
        if line == self.error_line:
            return
        self.error_line = line
        self._line_cache.clear()
        self.refresh()

    def get_line(self, line_index: int) -> Text:
        text = super().get_line(line_index)
        if self.error_line is not None and line_index == self.error_line - 1:
            text.stylize(self.get_component_rich_style("spec-text-area--error-line"))
            text.pad_right(max(0, self.size.width - text.cell_len))
        return text


class SpecEditor(Vertical):
    BINDINGS = [Binding("escape", "leave", "Leave editor", id="leave_editor")]
    DEFAULT_CSS = """
    SpecEditor { width: 1fr; height: 1fr; }
    SpecEditor > SpecTextArea { height: 1fr; border: round $foreground 30%; }
    SpecEditor > SpecTextArea:focus { border: heavy $accent; }
    SpecEditor > #spec-status { height: auto; max-height: 4; width: 1fr; padding: 0 1; }
    SpecEditor > #spec-status.-ok { color: $success; }
    SpecEditor > #spec-status.-warn { color: $warning; }
    SpecEditor > #spec-status.-error { color: $error; background: $error 15%; }
    """

    def __init__(
        self,
        text: str = "",
        *,
        label: str = "<spec>",
        template: bool = False,
        cursor_blink: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.label = label
        self.template = template  # a bundled example: saving writes a copy here
        self.saved_text = text  # what the file holds: `modified` compares with it
        self._initial = text
        self._cursor_blink = cursor_blink
        self._timer: Timer | None = None
        self.spec: Spec | None = None
        self.error: SpecError | None = None

    def compose(self) -> ComposeResult:
        area = SpecTextArea(
            self._initial,
            language="toml",
            show_line_numbers=True,
            soft_wrap=False,
            id="spec-text",
        )
        area.cursor_blink = self._cursor_blink
        area.border_title = self._title()
        yield area
        yield Label("", id="spec-status")

    def on_mount(self) -> None:
        self.validate_now()

    def action_leave(self) -> None:
        """Leave the editor (its letters are text; outside it they are commands)."""
        self.post_message(LeaveEditor())

    @property
    def modified(self) -> bool:
        return self.is_mounted and self.text != self.saved_text

    def _title(self) -> Text:
        title = Text(self.label)
        if self.template:
            title.append(" · example (ctrl+s saves a copy here)", style="italic")
        if self.is_mounted and self.modified:
            title.append(" ● modified", style="bold")
        return title

    def mark_saved(self, text: str, label: str | None = None) -> None:
        """The file now holds `text` (at `label`, after a save-as of an example)."""
        self.saved_text = text
        if label is not None:
            self.label = label
            self.template = False
        self.text_area.border_title = self._title()

    @property
    def text_area(self) -> SpecTextArea:
        return self.query_one(SpecTextArea)

    @property
    def text(self) -> str:
        return self.text_area.text

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self.text_area.border_title = self._title()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_SECONDS, self.validate_now)

    def validate_now(self) -> Spec | None:
        """Validate the text now (also what the debounce timer calls)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        text = self.text
        status = self.query_one("#spec-status", Label)
        try:
            self.spec = parse_spec_text(text, self.label)
            self.error = None
        except SpecError as exc:
            self.spec = None
            self.error = exc
        if self.error is None and self.spec is not None:
            n = len(self.spec.agents)
            lints = lint_spec(self.spec)
            if lints:  # warnings: the spec runs, but the reference advises otherwise
                first = lints[0]
                line = locate_field(text, first.place)
                more = f" (+{len(lints) - 1} more: oneie plan)" if len(lints) > 1 else ""
                where = f"line {line}: " if line else ""
                status.update(Text(f"⚠ valid · {n} agent{'s' if n != 1 else ''} · {where}{first}{more}"))
                status.set_classes("-warn")
            else:
                status.update(f"✓ valid · {n} agent{'s' if n != 1 else ''}")
                status.set_classes("-ok")
            self.text_area.mark_line(None)
            self.post_message(SpecEdited(text, None, None))
        else:
            assert self.error is not None
            where = f"line {self.error.line}: " if self.error.line else ""
            field = f"{self.error.field}: " if self.error.field else ""
            status.update(f"✗ {where}{field}{self.error.message}")
            status.set_classes("-error")
            self.text_area.mark_line(self.error.line)
            self.post_message(SpecEdited(text, str(self.error), self.error.line))
        return self.spec
