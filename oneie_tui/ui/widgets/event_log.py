"""Every event of a replayed run up to its clock, paged from SQLite (the replay's `l`)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from oneie_tui.events import Event, EventType
from oneie_tui.trust.display import display
from oneie_tui.views.replay_clock import Replay
from oneie_tui.views.report import detail


class EventLog(ScrollView, can_focus=True):
    """Every event of the run up to the replay clock, output lines included: virtual and
    paged from SQLite. Seq is gap-free, so line k is seq first+k: any line is one indexed
    range read away, however long the run (a million events scroll like a hundred)."""

    DEFAULT_CSS = """
    EventLog { height: 1fr; background: $surface; scrollbar-size-vertical: 1; overflow-x: hidden; }
    EventLog > .event-log--time { color: $foreground-muted; }
    EventLog > .event-log--event { color: $accent; text-style: bold; }
    """
    COMPONENT_CLASSES = {"event-log--time", "event-log--event"}
    PAGE = 200
    PAGES_KEPT = 32

    def __init__(self, replay: Replay, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.replay = replay
        self._pages: dict[int, list[Event]] = {}
        self._upto = 0

    def follow_clock(self) -> None:
        """Show events up to the replay's current event; stay at the tail if there."""
        upto = self.replay.seq
        if upto == self._upto:
            return
        at_tail = self.scroll_offset.y >= self.max_scroll_y - 1
        self._upto = upto
        count = 0 if upto == 0 else upto - self.replay.first_seq + 1
        self.virtual_size = Size(self.size.width, count)
        if at_tail:  # after the new virtual size is laid out
            self.call_after_refresh(
                lambda: self.scroll_to(y=max(0, count - self.size.height), animate=False)
            )
        self.refresh()

    def _event(self, index: int) -> Event | None:
        page = index // self.PAGE
        found = self._pages.get(page)
        if found is None:
            first = self.replay.first_seq + page * self.PAGE
            found = self.replay.store.events_range(self.replay.run_id, first, first + self.PAGE - 1)
            if len(found) == self.PAGE:  # a short page is the tail: more may be written
                if len(self._pages) >= self.PAGES_KEPT:
                    self._pages.pop(next(iter(self._pages)))
                self._pages[page] = found
        offset = index - page * self.PAGE
        return found[offset] if offset < len(found) else None

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.size.width
        base = self.rich_style
        e = self._event(index) if self._upto and index <= self._upto - self.replay.first_seq else None
        if e is None:
            return Strip([Segment(" " * width, base)], width)
        time_style = self.get_component_rich_style("event-log--time", partial=True)
        kind_style = self.get_component_rich_style("event-log--event", partial=True) \
            if e.type == EventType.TASK_EVENT else Style()
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{e.ts - self.replay.origin:9.3f}s #{e.seq:<8}", style=time_style)
        text.append(f"{display(e.actor)[:18]:<18} ")
        text.append(f"{display(e.type):<16} ", style=kind_style)
        text.append(" ".join(detail(e).split()))
        text.truncate(width, overflow="ellipsis", pad=True)
        return Strip(text.render(self.app.console), width).apply_style(base)
