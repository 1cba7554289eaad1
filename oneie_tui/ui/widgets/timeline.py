"""The event timeline: lifecycle and coordination events in order, coloured by agent.

Virtual (a `ScrollView` rendering only visible lines) over the `RunView`'s bounded
timeline, so redrawing after a filter change is instant. `filter_text` keeps events
whose agent, action or type contains it. It follows the tail unless scrolled up."""

from __future__ import annotations

from collections.abc import Mapping

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from oneie_tui.events import Event, EventType, awaited
from oneie_tui.ui import format as fmt
from oneie_tui.views.land_view import describe_land
from oneie_tui.views.run_view import RunView


def describe(e: Event) -> str:
    md = e.metadata
    kind = e.type
    reason = str(md.get("reason", ""))
    if kind == EventType.TASK_EVENT:
        return f"⚡ {e.action or 'event'}"
    if (land := describe_land(e)) is not None:  # radar, scope, review, landing, acceptance
        return land
    if kind == EventType.RUN_STARTED:
        agents = md.get("agents", [])
        return f"run started · {len(agents)} agents" + (" (resumed)" if md.get("resumed") else "")
    if kind in (EventType.RUN_FINISHED, EventType.RUN_FAILED):
        status = "failed" if kind == EventType.RUN_FAILED else str(md.get("status", "finished"))
        wall = md.get("wall_s")
        speed = md.get("speedup")
        extra = f" · {fmt.duration(float(wall))}" if isinstance(wall, int | float) else ""
        extra += f" · {float(speed):.2f}×" if isinstance(speed, int | float) else ""
        return f"run {status}{extra}" + (f": {reason}" if reason else "")
    if kind == EventType.AGENT_WAITING:
        return "waiting for " + ", ".join(map(str, awaited(md)))
    if kind == EventType.AGENT_MESSAGE:  # already through `display`: one line, cut short
        said = " ".join(str(md.get("text", "")).split())
        said = said if len(said) <= 120 else said[:119] + "…"
        return ("↪ follow-up: " if md.get("delivery") == "followup" else "✉ message: ") + said
    if kind == EventType.AGENT_QUEUED:
        attempt = int(md.get("attempt", 1))
        return "queued" + (f" (attempt {attempt})" if attempt > 1 else "") + (" for a slot" if md.get("slot") else "")
    if kind == EventType.AGENT_ATTENTION:
        tools = md.get("tools")
        named = f" ({', '.join(map(str, tools[:5]))})" if isinstance(tools, list) and tools else ""
        return f"⚑ needs you: {reason.replace('_', ' ')}{named}"
    if kind.startswith("agent_"):
        word = fmt.BADGE.get(kind[6:], kind[6:].replace("_", " "))
        if kind == EventType.AGENT_RESUMED and md.get("after_wait"):
            word = "running (events arrived)"
        return word + (f": {reason}" if reason else "")
    return kind.replace("_", " ")


def matches(e: Event, needle: str) -> bool:
    if not needle:
        return True
    needle = needle.lower()
    return needle in e.actor.lower() or needle in e.action.lower() or needle in e.type.lower()


class Timeline(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    Timeline {
        height: 1fr;
        background: $surface;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    Timeline > .timeline--time { color: $foreground-muted; }
    Timeline > .timeline--runner { color: $foreground; text-style: bold; }
    Timeline > .timeline--failed { color: $error; }
    Timeline > .timeline--event { color: $accent; text-style: bold; }
    """
    COMPONENT_CLASSES = {"timeline--time", "timeline--runner", "timeline--failed", "timeline--event"}

    filter_text: reactive[str] = reactive("")

    def __init__(self, *, actor: str | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.actor = actor  # show only this agent's events (zoom screen)
        self._events: list[Event] = []
        self._shown: list[Event] = []
        self._origin: float | None = None
        self._colors: Mapping[str, str] = {}
        self._width = 14
        self._cache: dict[tuple[int, int], Strip] = {}

    @property
    def shown(self) -> list[Event]:
        """The events currently listed (after the filter)."""
        return self._shown

    def refresh_from(self, view: RunView, colors: Mapping[str, str] | None = None) -> None:
        self._events = list(view.timeline)
        self._origin = view.started_ts
        if colors is not None:
            self._colors = colors
        self._width = max([len(a) for a in view.agents] + [6])
        self._rebuild()

    def watch_filter_text(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        follow = self.scroll_offset.y >= self.max_scroll_y - 1
        needle = self.filter_text.strip()
        self._shown = [
            e for e in self._events
            if (self.actor is None or e.actor == self.actor) and matches(e, needle)
        ]
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self._shown))
        if follow:
            self.call_after_refresh(self._follow)
        self.refresh()

    def _follow(self) -> None:
        self.scroll_to(y=max(0, len(self._shown) - self.size.height), animate=False)

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.size.width
        key = (index, width)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if index >= len(self._shown):
            strip = Strip([Segment(" " * width, self.rich_style)], width)
        else:
            text = self._line(self._shown[index])
            text.truncate(width, overflow="ellipsis", pad=True)
            segments = list(text.render(self.app.console))
            base = self.rich_style
            strip = Strip(Segment.apply_style(segments, base), width).crop(0, width)
        self._cache[key] = strip
        return strip

    def _line(self, e: Event) -> Text:
        style = self.get_component_rich_style
        t = e.ts - self._origin if self._origin is not None else 0.0
        text = Text(no_wrap=True)
        text.append(f"{t:8.2f}s ", style("timeline--time"))
        if e.actor == "runner":
            text.append(f"{'run':<{self._width}} ", style("timeline--runner"))
        else:
            color = self._colors.get(e.actor)
            text.append(f"{e.actor:<{self._width}} ", Style.parse(f"bold {color}") if color else "")
        desc = describe(e)
        if e.type == EventType.TASK_EVENT:
            text.append(desc, style("timeline--failed" if e.action == "task_failed" else "timeline--event"))
        elif e.type in (EventType.AGENT_FAILED, EventType.AGENT_BLOCKED, EventType.RUN_FAILED, EventType.AGENT_ATTENTION):
            text.append(desc, style("timeline--failed"))
        else:
            text.append(desc)
        return text

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self._shown))
