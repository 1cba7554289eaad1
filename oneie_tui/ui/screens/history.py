"""Run history: a table of past runs (started, spec, status, agents, wall, speedup, tokens,
cost). Sort by any column (click its header, or `o` / `O`), filter by text (`/`) and status
(`f`), `enter` (or `r`) replays a run, `G` opens its Gantt picture, `d` deletes one after
a confirmation, `R` resumes an interrupted run (its unfinished agents run again; a replay
screen follows what it writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from oneie_tui.store.base import RunListing, Store
from oneie_tui.ui import format as fmt
from oneie_tui.ui.screens import back_or_quit
from oneie_tui.ui.screens.confirm import ConfirmScreen
from oneie_tui.ui.screens.replay import ReplayScreen, ScreenActions
from oneie_tui.ui.screens.watch import WatchScreen

STATUSES = ("", "completed", "failed", "cancelled", "interrupted", "running")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # 0: takes the room left
    narrow: int  # the width below WIDE columns
    numeric: bool


COLUMNS = (
    Column("started", "started", 19, 11, False),
    Column("spec", "spec", 0, 0, False),
    Column("status", "status", 11, 11, False),
    Column("agents", "agents", 6, 6, True),
    Column("wall", "wall", 7, 6, True),
    Column("speedup", "speedup", 8, 7, True),
    Column("tokens", "tokens", 7, 6, True),
    Column("cost", "cost", 9, 8, True),
)
WIDE = 100  # narrower screens get short dates and single gaps, so 80 columns show every column
FIRST_PAGE = 300  # runs shown before the whole history has loaded


SORT_FIELD = {
    "started": "started",
    "spec": "spec_name",
    "status": "status",
    "agents": "agents",
    "wall": "wall_s",
    "speedup": "speedup",
    "tokens": "tokens",
    "cost": "cost_usd",
}


def sort_rows(rows: list[RunListing], key: str, reverse: bool) -> list[RunListing]:
    """Sorted by one column; runs without a figure (interrupted ones) sort below every
    figure; ties keep a stable order by id."""
    field = SORT_FIELD[key]
    if key in ("spec", "status"):
        return sorted(rows, key=lambda r: (str(getattr(r, field)).lower(), r.id), reverse=reverse)
    return sorted(
        rows,
        key=lambda r: (0, 0.0, r.id) if (v := getattr(r, field)) is None else (1, float(v), r.id),
        reverse=reverse,
    )


def filter_rows(rows: list[RunListing], text: str, status: str) -> list[RunListing]:
    """Rows whose id, spec or status contains `text` (case-insensitive), with `status`."""
    needle = text.strip().lower()
    return [
        r
        for r in rows
        if (not status or r.status == status)
        and (not needle or needle in r.spec_name.lower() or needle in r.id.lower() or needle in r.status)
    ]


def cells(row: RunListing, total: int) -> list[str]:
    started = "%m-%d %H:%M" if total < WIDE else "%Y-%m-%d %H:%M:%S"
    return [
        datetime.fromtimestamp(row.started).strftime(started),
        row.spec_name,
        row.status,
        "—" if row.agents is None else str(row.agents),
        fmt.duration(row.wall_s),
        "—" if row.speedup is None else f"{row.speedup:.2f}×",
        "—" if row.tokens is None else fmt.tokens(row.tokens),
        "—" if row.cost_usd is None else fmt.money(row.cost_usd),
    ]


def _gap(total: int) -> int:
    return 2 if total >= WIDE else 1


def column_widths(total: int) -> list[int]:
    sizes = [c.width if total >= WIDE else c.narrow for c in COLUMNS]
    fixed = sum(sizes) + _gap(total) * (len(COLUMNS) - 1) + 1
    return [size or max(8, total - fixed) for size in sizes]


def layout(values: list[str], total: int) -> list[tuple[int, str]]:
    """(x, text) of each cell on a screen `total` wide: numbers to the right of their
    column, the rest to the left."""
    out: list[tuple[int, str]] = []
    x = 1
    for col, value, width in zip(COLUMNS, values, column_widths(total), strict=True):
        text = value if len(value) <= width else value[: width - 1] + "…"
        out.append((x, text.rjust(width) if col.numeric else text.ljust(width)))
        x += width + _gap(total)
    return out


def column_at(x: int, total: int) -> str | None:
    """The column under screen column `x` of the header."""
    left = 1
    for col, width in zip(COLUMNS, column_widths(total), strict=True):
        if left <= x < left + width + _gap(total):
            return col.key
        left += width + _gap(total)
    return None


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
        status_style = self.get_component_rich_style(f"run-table--{row.status}", partial=True) \
            if f"run-table--{row.status}" in self.COMPONENT_CLASSES else Style()
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


class HistoryScreen(Screen[None]):
    CSS_PATH = "history.tcss"
    COMMANDS = {ScreenActions}
    BINDINGS = [
        Binding("r", "replay", "Replay", show=False, id="history_replay"),
        Binding("slash", "filter", "Filter", id="history_filter"),
        Binding("f", "cycle_status", "Status", id="history_status"),
        Binding("o", "cycle_sort", "Sort", id="history_sort"),
        Binding("O", "reverse_sort", "Reverse", id="history_reverse"),
        Binding("d", "delete", "Delete", id="history_delete"),
        Binding("R", "resume", "Resume", id="history_resume"),
        Binding("G", "gantt", "Gantt", id="history_gantt"),
        Binding("ctrl+l", "reload", "Reload", show=False, id="history_reload"),
        Binding("escape", "back", "Back", id="history_back"),
    ]

    def __init__(self, store: Store, *, read_only: bool = False) -> None:
        super().__init__()
        self.store = store
        self.read_only = read_only  # `oneie serve`'s tabs: browse and watch, never change
        self.all_rows: list[RunListing] = []
        self.rows: list[RunListing] = []
        self.sort_key = "started"
        self.sort_reverse = True
        self.status = ""
        self.text = ""
        self.complete = False

    def compose(self) -> ComposeResult:
        yield Static(id="history-title")
        yield Input(placeholder="filter by spec, id or status (enter/escape to close)", id="history-filter")
        yield RunHeaderRow(id="runs-header")
        yield RunTable(id="runs")
        yield Footer()

    def on_mount(self) -> None:
        # The newest runs first, at once; the whole history follows from a worker, so a
        # store of 10,000 runs opens as fast as one of ten.
        self.all_rows = self.store.list_listings(limit=FIRST_PAGE)
        self.complete = len(self.all_rows) < FIRST_PAGE
        self.show()
        self.table.focus()
        if not self.complete:
            self.call_after_refresh(self._load_all)  # after the first frame is painted

    # --- data ---------------------------------------------------------------------

    class Loaded(Message):
        def __init__(self, rows: list[RunListing]) -> None:
            super().__init__()
            self.rows = rows

    @work(thread=True, exclusive=True, group="history-load", exit_on_error=False)
    def _load_all(self) -> None:
        self.post_message(self.Loaded(self.store.list_listings()))

    def on_history_screen_loaded(self, event: Loaded) -> None:
        self.all_rows = event.rows
        self.complete = True
        self.show()

    def on_screen_resume(self) -> None:
        # Back from a replay or a resume: statuses may have changed meanwhile.
        if self.complete:
            self.reload()

    def reload(self) -> None:
        self.all_rows = self.store.list_listings()
        self.complete = True
        self.show()

    @property
    def table(self) -> RunTable:
        return self.query_one(RunTable)

    def show(self) -> None:
        keep = self.selected_id()
        self.rows = sort_rows(filter_rows(self.all_rows, self.text, self.status), self.sort_key, self.sort_reverse)
        self.table.set_rows(self.rows, keep)
        header = self.query_one(RunHeaderRow)
        header.sort_key, header.reverse = self.sort_key, self.sort_reverse
        header.refresh()
        self._title()

    def _title(self) -> None:
        arrow = "↓" if self.sort_reverse else "↑"
        total = f"{len(self.all_rows):,}" if self.complete else f"the newest {len(self.all_rows):,} (loading all)"
        parts = [f"{len(self.rows):,} of {total} runs", f"sorted by {self.sort_key} {arrow}"]
        if self.status:
            parts.append(f"status {self.status}")
        if self.text:
            parts.append(f"matching {self.text!r}")
        self.query_one("#history-title", Static).update(Text(" · ".join(parts)))

    def selected(self) -> RunListing | None:
        table = self.table
        if not table.rows or not 0 <= table.cursor < len(table.rows):
            return None
        return table.rows[table.cursor]

    def selected_id(self) -> str | None:
        row = self.selected() if self.is_mounted else None
        return row.id if row else None

    # --- sorting and filtering --------------------------------------------------------

    @on(RunHeaderRow.Clicked)
    def _header(self, event: RunHeaderRow.Clicked) -> None:
        key = event.key
        self.sort_by(key, not self.sort_reverse if key == self.sort_key else key != "spec")

    def sort_by(self, key: str, reverse: bool) -> None:
        self.sort_key = key
        self.sort_reverse = reverse
        self.show()

    def action_cycle_sort(self) -> None:
        keys = [c.key for c in COLUMNS]
        self.sort_by(keys[(keys.index(self.sort_key) + 1) % len(keys)], self.sort_reverse)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_key, not self.sort_reverse)

    def action_cycle_status(self) -> None:
        self.status = STATUSES[(STATUSES.index(self.status) + 1) % len(STATUSES)]
        self.show()

    def set_filter(self, text: str, status: str | None = None) -> None:
        self.text = text
        if status is not None:
            self.status = status
        self.show()

    def action_filter(self) -> None:
        box = self.query_one("#history-filter", Input)
        box.add_class("-visible")
        box.focus()

    @on(Input.Changed, "#history-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#history-filter")
    def _filter_done(self, _: Input.Submitted) -> None:
        self._close_filter(keep=True)

    def _close_filter(self, keep: bool) -> None:
        box = self.query_one("#history-filter", Input)
        if not keep:
            box.value = ""
            self.set_filter("")
        box.set_class(bool(box.value), "-visible")
        self.table.focus()

    # --- actions on a run -------------------------------------------------------------

    @on(RunTable.Chosen)
    def _row_chosen(self, _: RunTable.Chosen) -> None:
        self.action_replay()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.read_only and action in ("delete", "resume"):
            return None  # shown disabled, and the key does nothing
        return True

    def action_replay(self) -> None:
        row = self.selected()
        if row is not None:
            # A run still being written (here or on another machine) is watched live.
            live = row.status == "running"
            self.app.push_screen(WatchScreen(self.store, row.id) if live else ReplayScreen(self.store, row.id))

    def action_gantt(self) -> None:
        row = self.selected()
        if row is not None:
            self.app.push_screen(ReplayScreen(self.store, row.id, autoplay=False, gantt=True, at_end=True))

    def action_delete(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row.status == "running":
            self.notify(f"run {row.id} is running; it cannot be deleted now", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.store.delete_run(row.id)
                self.notify(f"deleted run {row.id}", timeout=2)
                self.reload()

        self.app.push_screen(
            ConfirmScreen(f"Delete run {row.id} ({row.spec_name}) and its events?", yes="Delete", no="Keep"),
            answered,
        )

    def action_resume(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row.status != "interrupted":
            self.notify(f"run {row.id} is {row.status}; only an interrupted run can be resumed", severity="warning")
            return
        self._resume(row.id)

    def _resume(self, run_id: str) -> None:
        """The app runs it (so leaving this screen does not end it); a replay screen
        follows what it writes."""
        from oneie_tui.ui.app import OneieApp

        app = self.app
        if isinstance(app, OneieApp) and app.resume_run(run_id) is not None:
            app.push_screen(ReplayScreen(self.store, run_id, follow=True, speed=float("inf")))

    def action_reload(self) -> None:
        self.reload()

    async def action_back(self) -> None:
        box = self.query_one("#history-filter", Input)
        if box.has_focus:
            self._close_filter(keep=False)
            return
        await back_or_quit(self.app)
