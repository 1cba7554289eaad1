"""The spec editor: TOML with highlighting, validated as you type (debounced).

Each validation posts `SpecEdited` (text, error, line). The error shows under the text
with its line, and that line is marked in the text. Saving writes the text as typed
(comments kept); see `DashboardScreen.action_save_spec`."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Label, TextArea

from oneie_tui.spec.lints import lint_spec
from oneie_tui.spec.loader import SpecError, locate_field, parse_spec_text
from oneie_tui.spec.model import Spec
from oneie_tui.ui.messages import SpecEdited

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
        cursor_blink: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.label = label
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
        area.border_title = self.label
        yield area
        yield Label("", id="spec-status")

    def on_mount(self) -> None:
        self.validate_now()

    def key_escape(self) -> None:
        """Leave the editor (its letters are text; outside it they are commands)."""
        leave = getattr(self.screen, "leave_editor", None)
        if leave is not None:
            leave()
        else:
            self.screen.focus_next()

    @property
    def text_area(self) -> SpecTextArea:
        return self.query_one(SpecTextArea)

    @property
    def text(self) -> str:
        return self.text_area.text

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
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
