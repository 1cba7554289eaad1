"""The crowd view: every agent on one line, for runs with more agents than panels fit.

`CrowdView` is a header line, a filter box and `CrowdList`, a virtual list (line API: only
the visible rows are ever rendered, so 1,000 agents cost what 40 do). A row shows the
agent's id, status badge, progress bar, last output line, active time, tokens and cost.
The list sorts by any column (`s` cycles, `S` reverses), filters by status words and id
fragments (`f`), and its keys act on the selected agent as a panel's do in the grid: they
post the same intents (`PauseAgent`, `CancelAgent`, `RestartAgent`, `ZoomAgent`).

It renders from the `RunView` and `RunMetrics` it is handed; agent text is drawn as plain
segments, never parsed as markup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from oneie_tui.ui import format as fmt
from oneie_tui.ui.messages import CancelAgent, ComposeMessage, PauseAgent, RestartAgent, ZoomAgent
from oneie_tui.views.metrics import RunMetrics
from oneie_tui.views.run_view import AgentView, RunView

STATUSES = ("idle", "queued", "waiting", "running", "paused", "done", "failed", "cancelled", "blocked")
# What a filter word may name, as the badge shows it or as the runner calls it.
STATUS_WORDS = {**{b: b for b in STATUSES}, **{k: v for k, v in fmt.BADGE.items()}}
SORT_KEYS = ("id", "status", "progress", "active", "tokens", "cost")
RESORT_SECONDS = 0.5  # a sort by a moving column is redone at most this often
ID_WIDTH_MAX = 24
BAR_WIDTH = 10
# The order statuses sort in: what needs a look first.
STATUS_RANK = {s: i for i, s in enumerate(
    ("failed", "blocked", "paused", "running", "waiting", "queued", "pending", "cancelled", "completed")
)}


CROWD_MIN_AGENTS = 24  # never a list for fewer agents than this, however small the screen
PANEL_ROWS = 10  # a panel's height in the grid (AgentGrid's grid-rows)
SCREENS_OF_PANELS = 3  # more panels than three screenfuls: the list


def crowd_fits(count: int, grid: Size, min_panel_width: int = 36) -> bool:
    """Do `count` panels still fit the grid? Yes up to three screenfuls (scrolling a
    little is fine) and always up to CROWD_MIN_AGENTS; beyond, the list."""
    if grid.height and grid.width:
        capacity = max(1, grid.height // PANEL_ROWS) * max(1, grid.width // min_panel_width)
    else:  # not laid out yet (or hidden): a 160x44 terminal's grid
        capacity = 8
    return count <= max(CROWD_MIN_AGENTS, SCREENS_OF_PANELS * capacity)


def parse_filter(text: str) -> tuple[set[str], list[str]]:
    """(statuses, id fragments) of a filter: words naming a status filter by status (any
    of them), the other words by id (any of them, case-insensitive substrings)."""
    statuses: set[str] = set()
    fragments: list[str] = []
    for word in text.lower().split():
        if word in STATUS_WORDS:
            status = STATUS_WORDS[word]
            statuses.add({"idle": "pending", "done": "completed"}.get(status, status))
        else:
            fragments.append(word)
    return statuses, fragments


class CrowdList(ScrollView, can_focus=True):
    """One line per agent; a cursor selects the agent the keys act on."""

    COMPONENT_CLASSES = {
        *(f"crowd-list--{s}" for s in STATUSES),
        "crowd-list--cursor", "crowd-list--bar", "crowd-list--bar-done", "crowd-list--bar-back",
        "crowd-list--tail", "crowd-list--numbers",
    }
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False, id="crowd_up"),
        Binding("down", "cursor(1)", "Down", show=False, id="crowd_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="crowd_page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="crowd_page_down"),
        Binding("home", "jump(0)", "First", show=False, id="crowd_first"),
        Binding("end", "jump(-1)", "Last", show=False, id="crowd_last"),
        # The same ids as a panel's keys: a keymap that moves one moves both.
        Binding("p,space", "pause", "Pause/resume", id="pause", priority=True),
        Binding("c", "cancel", "Cancel", id="cancel", priority=True),
        Binding("r", "restart", "Restart", id="restart", priority=True),
        Binding("m", "message", "Message", id="message", priority=True, show=False),  # palette; footer unchanged
        Binding("enter", "zoom", "Zoom", id="zoom", priority=True),
        Binding("s", "sort", "Sort", id="crowd_sort"),
        Binding("S", "reverse", "Reverse sort", id="crowd_reverse"),
    ]

    class Reordered(Message):
        """The sort or the filter changed (the header redraws its titles)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock
        self.view = RunView()
        self._now: float | None = None
        self._metrics: RunMetrics | None = None
        self.sort_key = "id"
        self.descending = False
        self.filter_text = ""
        self.rows: list[str] = []  # agent ids in display order (filtered, sorted)
        self.selected: str | None = None
        self._sorted_at = 0.0
        self._style_cache: dict[str, Style] | None = None

    # --- feeding ----------------------------------------------------------------------

    def set_view(self, view: RunView) -> None:
        """A (new) run's agents."""
        self.view = view
        self._reorder()

    def refresh_from(
        self, view: RunView, dirty: set[str] | None, now: float | None, metrics: RunMetrics | None
    ) -> None:
        """Agents of `dirty` changed (all when None). Only visible rows redraw; the order
        is recomputed when it may have moved, at most every RESORT_SECONDS."""
        self._now, self._metrics = now, metrics
        if view is not self.view:
            self.view = view
            self._reorder()
        elif (dirty is None or dirty) and (self.sort_key != "id" or self.filter_text):
            mark = self._clock()
            if dirty is None or mark - self._sorted_at >= RESORT_SECONDS:
                self._reorder()
        if dirty is None or dirty:
            self.refresh()

    def set_sort(self, key: str, descending: bool | None = None) -> None:
        self.sort_key = key
        if descending is not None:
            self.descending = descending
        self._reorder()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._reorder()

    def _value(self, agent: AgentView, key: str) -> Any:
        if key == "status":
            return STATUS_RANK.get(agent.status, 99)
        if key == "progress":
            return agent.progress
        if key == "active":
            m = self._metrics.agents.get(agent.id) if self._metrics is not None else None
            return m.active_s if m is not None else 0.0
        if key == "tokens":
            return agent.tokens
        if key == "cost":
            return agent.cost_usd
        return 0

    def _reorder(self) -> None:
        self._sorted_at = self._clock()
        statuses, fragments = parse_filter(self.filter_text)
        agents = [
            a for a in self.view.agents.values()
            if (not statuses or a.status in statuses)
            and (not fragments or any(f in a.id.lower() for f in fragments))
        ]
        if self.sort_key != "id":
            key = self.sort_key
            # Ties keep id order, whichever way the column sorts.
            agents.sort(key=lambda a: a.id)
            agents.sort(key=lambda a: self._value(a, key), reverse=self.descending)
        elif self.descending:
            agents.reverse()
        self.rows = [a.id for a in agents]
        if self.selected not in self.view.agents or (self.rows and self.selected not in self.rows):
            self.selected = self.rows[0] if self.rows else None
        self.virtual_size = Size(self.size.width, len(self.rows))
        self._keep_cursor_visible()
        self.refresh()
        self.post_message(self.Reordered())

    # --- cursor ------------------------------------------------------------------------

    @property
    def cursor(self) -> int:
        try:
            return self.rows.index(self.selected) if self.selected is not None else 0
        except ValueError:
            return 0

    def select_index(self, index: int) -> None:
        if not self.rows:
            return
        self.selected = self.rows[max(0, min(len(self.rows) - 1, index))]
        self._keep_cursor_visible()
        self.refresh()

    def _keep_cursor_visible(self) -> None:
        height = self.scrollable_content_region.height or self.size.height
        if not height or not self.rows:
            return
        y = self.cursor
        top = round(self.scroll_offset.y)
        if y < top:
            self.scroll_to(y=y, animate=False, immediate=True)
        elif y >= top + height:
            self.scroll_to(y=y - height + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self.select_index(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.select_index(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_jump(self, index: int) -> None:
        self.select_index(index if index >= 0 else len(self.rows) - 1)

    def on_click(self, event: Click) -> None:
        self.focus()
        self.select_index(round(self.scroll_offset.y) + event.y)

    def action_sort(self) -> None:
        nxt = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        # Ids read A to Z; numbers read biggest first.
        self.set_sort(nxt, descending=nxt not in ("id", "status"))

    def action_reverse(self) -> None:
        self.set_sort(self.sort_key, not self.descending)

    # --- intents (posted straight to the screen, like a panel's) ------------------------

    def _intent(self, message: Message) -> None:
        if self.selected is None:
            return
        target = self.screen if self.is_attached else self
        target.post_message(message)

    def action_pause(self) -> None:
        if self.selected is not None:
            self._intent(PauseAgent(self.selected))

    def action_cancel(self) -> None:
        if self.selected is not None:
            self._intent(CancelAgent(self.selected))

    def action_restart(self) -> None:
        if self.selected is not None:
            self._intent(RestartAgent(self.selected))

    def action_message(self) -> None:
        if self.selected is not None:
            self._intent(ComposeMessage(self.selected))

    def action_zoom(self) -> None:
        if self.selected is not None:
            self._intent(ZoomAgent(self.selected))

    # --- rendering --------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_cache = None

    def _styles(self) -> dict[str, Style]:
        if self._style_cache is None:
            names = (*STATUSES, "cursor", "bar", "bar-done", "bar-back", "tail", "numbers")
            self._style_cache = {n: self.get_component_rich_style(f"crowd-list--{n}") for n in names}
            self._style_cache[""] = self.rich_style
        return self._style_cache

    def id_width(self) -> int:
        return min(ID_WIDTH_MAX, max((cell_len(a) for a in self.view.agents), default=2))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        index = round(self.scroll_offset.y) + y
        st = self._styles()
        if index >= len(self.rows):
            return Strip.blank(width, st[""])
        agent = self.view.agents.get(self.rows[index])
        if agent is None:
            return Strip.blank(width, st[""])
        segments = self._row(agent, width, st)
        if agent.id == self.selected:  # the cursor's background over every column
            segments = list(Segment.apply_style(segments, post_style=st["cursor"]))
            return Strip(segments).adjust_cell_length(width, st[""] + st["cursor"])
        return Strip(segments).adjust_cell_length(width, st[""])

    def _row(self, a: AgentView, width: int, st: dict[str, Style]) -> list[Segment]:
        idw = self.id_width()
        badge = fmt.BADGE.get(a.status, a.status)
        filled = round(BAR_WIDTH * max(0.0, min(100.0, a.progress)) / 100)
        m = self._metrics.agents.get(a.id) if self._metrics is not None else None
        numbers = (
            f" {fmt.duration(m.active_s if m is not None else None):>8}"
            f" {fmt.tokens(a.tokens):>7} {fmt.money(a.cost_usd):>8}"
        )
        fixed = idw + 1 + 10 + BAR_WIDTH + 5 + 1 + len(numbers)
        tail_width = max(0, width - fixed)
        last = a.reason if a.terminal and a.reason else (a.output[-1] if a.output else "")
        if a.attention:  # what it needs the user for comes first, as on its panel
            last = f"⚑ {a.attention_label()} · {last}"
        last = last.replace("\t", " ")
        if cell_len(last) > tail_width:
            last = set_cell_size(last, max(0, tail_width - 1)) + ("…" if tail_width else "")
        ident = a.id if cell_len(a.id) <= idw else set_cell_size(a.id, idw - 1) + "…"
        return [
            Segment(set_cell_size(ident, idw) + " ", st[""]),
            Segment(f"{badge:<10}", st.get(badge, st[""])),
            Segment("━" * filled, st["bar-done" if a.status == "completed" else "bar"]),
            Segment("━" * (BAR_WIDTH - filled), st["bar-back"]),
            Segment(f"{a.progress:4.0f}% ", st["numbers"]),
            Segment(set_cell_size(last, tail_width), st["tail"]),
            Segment(numbers, st["numbers"]),
        ]

    def header_text(self) -> Text:
        """Column titles lined up with the rows, the sort column marked."""
        mark = "▼" if self.descending else "▲"

        def title(name: str, text: str) -> str:
            return f"{text}{mark}" if self.sort_key == name else text

        width = self.scrollable_content_region.width or self.size.width
        idw = self.id_width()
        numbers = f" {title('active', 'active'):>8} {title('tokens', 'tokens'):>7} {title('cost', 'cost'):>8}"
        tail_width = max(0, width - (idw + 1 + 10 + BAR_WIDTH + 5 + 1 + len(numbers)))
        line = (
            f"{set_cell_size(title('id', 'id'), idw)} {title('status', 'status'):<10}"
            f"{title('progress', 'progress'):<{BAR_WIDTH + 6}}{set_cell_size('last output', tail_width)}{numbers}"
        )
        shown = f"{len(self.rows)} of {len(self.view.agents)}"
        return Text(set_cell_size(line, max(0, width - len(shown) - 1)) + " " + shown)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows))
        self.post_message(self.Reordered())


class CrowdView(Vertical):
    """The crowd list with its column header and its filter box (`f`)."""

    BINDINGS = [Binding("f", "filter", "Filter agents", id="crowd_filter_agents")]

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock

    def compose(self) -> ComposeResult:
        yield Static("", id="crowd-header", markup=False)
        yield Input(placeholder="filter: status words (running failed …) or id parts; enter/escape closes",
                    id="crowd-filter")
        yield CrowdList(clock=self._clock, id="crowd-list")

    @property
    def list(self) -> CrowdList:
        return self.query_one(CrowdList)

    def on_mount(self) -> None:
        self.border_title = "agents"

    @on(CrowdList.Reordered)
    def _retitle(self, event: CrowdList.Reordered) -> None:
        event.stop()
        self.query_one("#crowd-header", Static).update(self.list.header_text())
        text = self.list.filter_text
        self.border_subtitle = f"filter: {text}" if text else None

    def action_filter(self) -> None:
        box = self.query_one("#crowd-filter", Input)
        box.add_class("-visible")
        box.focus()

    @on(Input.Changed, "#crowd-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.list.set_filter(event.value)

    @on(Input.Submitted, "#crowd-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self._close_filter(keep=True)

    def key_escape(self) -> None:
        box = self.query_one("#crowd-filter", Input)
        if box.has_focus:
            self._close_filter(keep=False)

    def _close_filter(self, keep: bool) -> None:
        box = self.query_one("#crowd-filter", Input)
        if not keep:
            box.value = ""
            self.list.set_filter("")
        box.set_class(bool(box.value), "-visible")
        self.list.focus()
