"""The history's two widgets: the column titles (a click sorts) and the virtual table of
runs (only the lines on screen are drawn)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from oneie_tui.store.base import RunListing
from oneie_tui.ui.history_table import COLUMNS, cells, column_at, layout, shown_status


class RunHeaderRow(Widget):
    """The table's column titles; a click sorts by that column."""

    DEFAULT_CSS = """
    RunHeaderRow { height: 1; background: $panel; color: $foreground; text-style: bold; }
    """

    class Clicked(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sort_key = "started"
        self.reverse = True

    def render(self) -> Text:
        titles = [c.label + ((" ↓" if self.reverse else " ↑") if c.key == self.sort_key else "") for c in COLUMNS]
        line = Text(no_wrap=True, overflow="crop")
        for x, text in layout(titles, self.size.width):
            line.append(" " * max(0, x - line.cell_len) + text)
        return line

    def on_click(self, event: events.Click) -> None:
        key = column_at(event.x, self.size.width)
        if key is not None:
            self.post_message(self.Clicked(key))


class RunTable(ScrollView, can_focus=True):
    """The runs, one line each. Virtual: only the lines on screen are drawn, so 10,000
    runs open as fast as ten (a DataTable measures every cell of every row up front)."""

    DEFAULT_CSS = """
    RunTable { height: 1fr; background: $surface; }
    RunTable > .run-table--cursor { background: $accent 40%; text-style: bold; }
    RunTable > .run-table--zebra { background: $panel 40%; }
    RunTable > .run-table--completed { color: $success; }
    RunTable > .run-table--failed { color: $error; }
    RunTable > .run-table--cancelled { color: $warning; }
    RunTable > .run-table--interrupted { color: $secondary; }
    RunTable > .run-table--running { color: $primary; }
    """
    COMPONENT_CLASSES = {
        "run-table--cursor", "run-table--zebra", "run-table--completed", "run-table--failed",
        "run-table--cancelled", "run-table--interrupted", "run-table--running",
    }
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False, id="runs_up"),
        Binding("down", "move(1)", "Down", show=False, id="runs_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="runs_page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="runs_page_down"),
        Binding("home", "jump(0)", "First", show=False, id="runs_first"),
        Binding("end", "jump(-1)", "Last", show=False, id="runs_last"),
        Binding("enter", "choose", "Replay", id="runs_choose"),
    ]

    class Chosen(Message):
        """Enter (or a click on the selected line) on a run."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[RunListing] = []
        self.cursor = 0
        self._cache: dict[tuple[int, int, int], Strip] = {}

    def set_rows(self, rows: list[RunListing], keep: str | None = None) -> None:
        self.rows = rows
        ids = [r.id for r in rows]
        self.cursor = ids.index(keep) if keep in ids else 0
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(rows))
        self.call_after_refresh(self._show_cursor)
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def line_text(self, index: int) -> str:
        """The line of a row as shown (for tests and screen readers)."""
        line = ""
        for x, text in layout(cells(self.rows[index], self.size.width), self.size.width):
            line = line.ljust(x) + text
        return line

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.size.width
        key = (index, width, int(index == self.cursor))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        base = self.rich_style
        if index >= len(self.rows):
            return Strip([Segment(" " * width, base)], width)
        row = self.rows[index]
        if index == self.cursor and self.has_focus:
            line_style = base + self.get_component_rich_style("run-table--cursor")
        elif index == self.cursor:
            line_style = base + self.get_component_rich_style("run-table--cursor", partial=True)
        elif index % 2:
            line_style = base + self.get_component_rich_style("run-table--zebra", partial=True)
        else:
            line_style = base
        word = shown_status(row).split(" ")[0]  # `completed (1 cancelled)` reads as completed
        word = "failed" if word == "incomplete" else word
        status_style = self.get_component_rich_style(f"run-table--{word}", partial=True) \
            if f"run-table--{word}" in self.COMPONENT_CLASSES else Style()
        segments: list[Segment] = []
        used = 0
        for i, (x, text) in enumerate(layout(cells(row, width), width)):
            if x > used:
                segments.append(Segment(" " * (x - used), line_style))
                used = x
            style = line_style + status_style if COLUMNS[i].key == "status" else line_style
            segments.append(Segment(text, style))
            used += len(text)
        strip = Strip(segments).adjust_cell_length(width, line_style)
        self._cache[key] = strip
        return strip

    def _show_cursor(self) -> None:
        height = max(1, self.size.height)
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def move_to(self, index: int) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(len(self.rows) - 1, index))
        self._cache.clear()
        self._show_cursor()
        self.refresh()

    def action_move(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, pages: int) -> None:
        self.move_to(self.cursor + pages * max(1, self.size.height - 1))

    def action_jump(self, index: int) -> None:
        self.move_to(index if index >= 0 else len(self.rows) - 1)

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if index == self.cursor:
            self.post_message(self.Chosen())
        self.move_to(index)

    def action_choose(self) -> None:
        if self.rows:
            self.post_message(self.Chosen())

    def on_focus(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self.rows))
