"""Run history: a table of past runs (started, spec, status, agents, wall, speedup, tokens,
cost). Sort by any column (click its header, or `o` / `O`), filter by text (`/`) and status
(`f`), `enter` replays a run, `d` deletes one after a confirmation, `R` resumes an
interrupted run (its still-unfinished agents run again; the screen follows it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from oneie_tui.store import RunListing, RunStore
from oneie_tui.ui import format as fmt
from oneie_tui.ui.screens.confirm import ConfirmScreen
from oneie_tui.ui.screens.replay import ReplayScreen, ScreenActions

STATUSES = ("", "completed", "failed", "cancelled", "interrupted", "running")
STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "interrupted": "magenta",
    "running": "cyan",
}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool


COLUMNS = (
    Column("started", "started", True),
    Column("spec", "spec", False),
    Column("status", "status", False),
    Column("agents", "agents", True),
    Column("wall", "wall", True),
    Column("speedup", "speedup", True),
    Column("tokens", "tokens", True),
    Column("cost", "cost", True),
)


def sort_value(row: RunListing, key: str) -> Any:
    """Sort key; missing numbers sort below every number."""
    value: Any = {
        "started": row.started,
        "spec": row.spec_name.lower(),
        "status": row.status,
        "agents": row.agents,
        "wall": row.wall_s,
        "speedup": row.speedup,
        "tokens": row.tokens,
        "cost": row.cost_usd,
    }[key]
    if isinstance(value, str):
        return (1, value, row.id)
    return (0, 0.0, row.id) if value is None else (1, float(value), row.id)


def sort_rows(rows: list[RunListing], key: str, reverse: bool) -> list[RunListing]:
    return sorted(rows, key=lambda r: sort_value(r, key), reverse=reverse)


def filter_rows(rows: list[RunListing], text: str, status: str) -> list[RunListing]:
    """Rows whose id, spec or status contains `text` (case-insensitive), with `status`."""
    needle = text.strip().lower()
    return [
        r
        for r in rows
        if (not status or r.status == status)
        and (not needle or needle in r.spec_name.lower() or needle in r.id.lower() or needle in r.status)
    ]


def cells(row: RunListing) -> list[Text | str]:
    started = datetime.fromtimestamp(row.started).strftime("%Y-%m-%d %H:%M:%S")
    return [
        started,
        row.spec_name,
        Text(row.status, style=STATUS_STYLE.get(row.status, "")),
        Text("—" if row.agents is None else str(row.agents), justify="right"),
        Text(fmt.duration(row.wall_s), justify="right"),
        Text("—" if row.speedup is None else f"{row.speedup:.2f}×", justify="right"),
        Text("—" if row.tokens is None else fmt.tokens(row.tokens), justify="right"),
        Text("—" if row.cost_usd is None else fmt.money(row.cost_usd), justify="right"),
    ]


class HistoryScreen(Screen[None]):
    CSS_PATH = "history.tcss"
    COMMANDS = {ScreenActions}
    BINDINGS = [
        Binding("enter", "replay", "Replay", id="history_replay"),
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

    def __init__(self, store: RunStore) -> None:
        super().__init__()
        self.store = store
        self.all_rows: list[RunListing] = []
        self.rows: list[RunListing] = []
        self.sort_key = "started"
        self.sort_reverse = True
        self.status = ""
        self.text = ""

    def compose(self) -> ComposeResult:
        yield Static(id="history-title")
        yield Input(placeholder="filter by spec, id or status (enter/escape to close)", id="history-filter")
        table: DataTable[Any] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        for col in COLUMNS:
            table.add_column(col.label, key=col.key)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one(DataTable).focus()

    # --- data ---------------------------------------------------------------------

    def reload(self) -> None:
        self.all_rows = self.store.list_listings()
        self.show()

    def show(self) -> None:
        table: DataTable[Any] = self.query_one(DataTable)
        keep = self.selected_id()
        self.rows = sort_rows(filter_rows(self.all_rows, self.text, self.status), self.sort_key, self.sort_reverse)
        table.clear()
        table.add_rows([cells(r) for r in self.rows])
        # add_rows gives generated keys; remember ids by row index instead
        if keep is not None:
            for i, r in enumerate(self.rows):
                if r.id == keep:
                    table.move_cursor(row=i)
                    break
        self._title()

    def _title(self) -> None:
        arrow = "↓" if self.sort_reverse else "↑"
        parts = [f"{len(self.rows):,} of {len(self.all_rows):,} runs", f"sorted by {self.sort_key} {arrow}"]
        if self.status:
            parts.append(f"status {self.status}")
        if self.text:
            parts.append(f"matching {self.text!r}")
        self.query_one("#history-title", Static).update(Text(" · ".join(parts)))

    def selected(self) -> RunListing | None:
        table: DataTable[Any] = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def selected_id(self) -> str | None:
        row = self.selected() if self.rows else None
        return row.id if row else None

    # --- sorting and filtering --------------------------------------------------------

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
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
        self.query_one(DataTable).focus()

    # --- actions on a run -------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_replay()

    def action_replay(self) -> None:
        row = self.selected()
        if row is not None:
            self.app.push_screen(ReplayScreen(self.store, row.id))

    def action_gantt(self) -> None:
        row = self.selected()
        if row is not None:
            self.app.push_screen(ReplayScreen(self.store, row.id, autoplay=False, gantt=True, speed=float("inf")))
            self.call_after_refresh(self._to_end)

    def _to_end(self) -> None:
        screen = self.app.screen
        if isinstance(screen, ReplayScreen):
            screen.action_to_end()

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

    @work(exclusive=True, group="resume", exit_on_error=False)
    async def _resume(self, run_id: str) -> None:
        """Resume in this app's event loop; a replay screen follows what it writes.
        Errors end up in the app's one `Worker.StateChanged` handler."""
        from oneie_tui.resume import prepare_resume

        resumed = prepare_resume(self.store, run_id)
        self.notify(
            f"resuming {run_id}: relaunching {', '.join(resumed.relaunch) or 'no agent'}", timeout=4
        )
        self.app.push_screen(ReplayScreen(self.store, run_id, follow=True, speed=float("inf")))
        await resumed.runner.run(resumed.relaunch, resume=True)
        self.notify(f"run {run_id} {resumed.runner.status}", timeout=4)
        self.reload()

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        box = self.query_one("#history-filter", Input)
        if box.has_focus:
            self._close_filter(keep=False)
            return
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.exit(0)
