"""Run history: a table of past runs (started, spec, status, agents, wall, speedup, tokens,
cost). Sort by any column (click its header, or `o` / `O`), filter by text (`/`) and status
(`f`), `enter` (or `r`) replays a run, `G` opens its Gantt picture, `d` deletes one after
a confirmation, `R` resumes an interrupted run (its unfinished agents run again; a replay
screen follows what it writes).
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from oneie_tui.store.base import RunListing, Store
from oneie_tui.ui.history_table import COLUMNS, STATUSES, filter_rows, sort_rows
from oneie_tui.ui.messages import ResumeRequested, ReviewRequested
from oneie_tui.ui.palette import ScreenActions
from oneie_tui.ui.screens import back_or_quit
from oneie_tui.ui.screens.confirm import ConfirmScreen
from oneie_tui.ui.screens.replay import ReplayScreen
from oneie_tui.ui.screens.watch import WatchScreen
from oneie_tui.ui.widgets.key_footer import KeyFooter
from oneie_tui.ui.widgets.run_table import RunHeaderRow, RunTable

FIRST_PAGE = 300  # runs shown before the whole history has loaded


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
        Binding("v", "review", "Review", show=False, id="history_review"),
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
        yield KeyFooter()

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

    def action_review(self) -> None:
        """Review and land the isolated agents' work of a finished run (the app opens it)."""
        row = self.selected()
        if row is not None:
            self.post_message(ReviewRequested(row.id))

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
            why = (
                "a run stopped with C or Ctrl-C is cancelled for good; only an interrupted one "
                "(SIGTERM, a closed terminal, a crash) can be resumed. Run the spec again instead"
                if row.status == "cancelled"
                else "only an interrupted run can be resumed"
            )
            self.notify(f"run {row.id} is {row.status}: {why}", severity="warning", timeout=8)
            return
        # The app runs it (so leaving this screen does not end it) and shows it.
        self.post_message(ResumeRequested(row.id))

    def action_reload(self) -> None:
        self.reload()

    async def action_back(self) -> None:
        box = self.query_one("#history-filter", Input)
        if box.has_focus:
            self._close_filter(keep=False)
            return
        await back_or_quit(self.app)
