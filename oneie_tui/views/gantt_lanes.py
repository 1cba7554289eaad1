"""The Gantt picture of a run: one lane per agent, its states over time, coordination
markers, the critical path, and the reference's sequential-vs-parallel comparison.

`build_gantt` makes a plain model from `metrics.MetricsBuilder` segments (so live, replay
and reports agree); `render_gantt` draws it as rich `Text` at any width (readable at 80
columns). The TUI widget, `oneie show --gantt` and the Markdown report all use it.
No Textual here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rich.text import Text

from oneie_tui.events import TERMINAL_STATUSES, AgentStatus, Event, EventType
from oneie_tui.trust.display import display
from oneie_tui.views.metrics import AgentMetrics, RunMetrics
from oneie_tui.views.run_view import RunView

# Lane cells: one glyph per state, so the picture reads without colour (Markdown report).
GLYPH = {
    "queued": "·",
    "waiting": "─",
    "running": "▓",
    "paused": "▒",
    "completed": "✓",
    "failed": "✗",
    "cancelled": "⊘",
    "blocked": "⊗",
}
CRITICAL_GLYPH = "█"
MARKER_GLYPH = "◆"
STYLE = {
    "queued": "dim",
    "waiting": "yellow",
    "running": "cyan",
    "paused": "magenta",
    "completed": "bold green",
    "failed": "bold red",
    "cancelled": "bright_black",
    "blocked": "bold red",
}
CRITICAL_STYLE = "bold dark_orange"
MARKER_STYLE = "bold bright_white"
# Every style the picture uses, by role: the lane states, plus "critical", "marker",
# "sequential", "parallel", "speedup". `render_gantt(styles=...)` overrides any of them
# (the TUI passes its theme's colours; reports keep these).
STYLES: dict[str, str] = {
    **STYLE,
    "critical": CRITICAL_STYLE,
    "marker": MARKER_STYLE,
    "sequential": "yellow",
    "parallel": "green",
    "speedup": "bold green",
}
LABEL = {"completed": "done"}  # the words for the lane states
TERMINAL = TERMINAL_STATUSES


@dataclass(frozen=True)
class Bar:
    start: float  # seconds from the run's first event
    end: float
    state: str


@dataclass(frozen=True)
class Marker:
    t: float
    action: str
    agent: str


@dataclass
class Lane:
    agent: str
    status: AgentStatus
    active_s: float
    bars: list[Bar] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    critical: bool = False
    # On the critical path up to this time (the moment it fired what the next agent
    # awaited); None means the whole lane when `critical`.
    critical_until: float | None = None


@dataclass
class GanttModel:
    lanes: list[Lane]
    span_s: float
    wall_s: float
    sequential_s: float
    speedup: float
    utilization: float
    critical_path: list[str]
    critical_path_s: float
    ideal_speedup: float
    markers: list[Marker]
    cycle_s: float | None = None  # one planning cycle ([run] cycle): a second axis in cycles
    cycle_first: int = 1  # the number of the cycle the run starts in


def build_gantt(
    metrics: RunMetrics,
    coordination: Iterable[Event],
    origin: float | None,
    now: float | None = None,
) -> GanttModel:
    """The lane model. `coordination` are the run's task_events (markers); `origin` is the
    ts of the run's first event; open segments run to `now` (epoch seconds)."""
    rel_now = 0.0 if now is None or origin is None else max(0.0, now - origin)
    markers: list[Marker] = []
    seen: set[tuple[str, str]] = set()
    for e in coordination:
        if e.type != EventType.TASK_EVENT or not e.action or origin is None:
            continue
        key = (e.actor, e.action)
        if key in seen:
            continue
        seen.add(key)
        markers.append(Marker(max(0.0, e.ts - origin), e.action, e.actor))
    markers.sort(key=lambda m: m.t)
    span = rel_now
    lanes: list[Lane] = []
    for agent_id, m in metrics.agents.items():
        lane = Lane(agent_id, m.status, m.active_s)
        for seg in m.segments:
            end = seg.end if seg.end is not None else max(rel_now, seg.start)
            lane.bars.append(Bar(seg.start, end, seg.state))
            span = max(span, end)
        lane.markers = [mk for mk in markers if mk.agent == agent_id]
        lanes.append(lane)
    span = max([span, *(mk.t for mk in markers)])
    _mark_critical(lanes, metrics.agents, metrics.critical_path, markers)
    # The model is what every Gantt (dashboard, replay, `show --gantt`, report) draws:
    # names from events pass the display boundary here, after matching on the raw ones.
    markers = [_shown_marker(mk) for mk in markers]
    for lane in lanes:
        lane.agent = display(lane.agent)
        lane.markers = [_shown_marker(mk) for mk in lane.markers]
    return GanttModel(
        lanes=lanes,
        span_s=span,
        wall_s=metrics.wall_s,
        sequential_s=metrics.sequential_s,
        speedup=metrics.speedup,
        utilization=metrics.utilization,
        critical_path=[display(a) for a in metrics.critical_path],
        critical_path_s=metrics.critical_path_s,
        ideal_speedup=metrics.ideal_speedup,
        markers=markers,
    )


def _shown_marker(mk: Marker) -> Marker:
    return dataclasses.replace(mk, action=display(mk.action), agent=display(mk.agent))


def _mark_critical(
    lanes: list[Lane], agents: dict[str, AgentMetrics], path: list[str], markers: list[Marker]
) -> None:
    by_id = {lane.agent: lane for lane in lanes}
    for i, agent_id in enumerate(path):
        lane = by_id.get(agent_id)
        if lane is None:
            continue
        lane.critical = True
        if i + 1 < len(path):
            nxt = agents.get(path[i + 1])
            awaited = set(nxt.after) | set(nxt.after_any) if nxt else set()
            times = [mk.t for mk in lane.markers if mk.action in awaited]
            lane.critical_until = max(times) if times else None


def gantt_from_view(
    view: RunView, now: float | None = None, coordination: Iterable[Event] | None = None
) -> GanttModel:
    """The model for a RunView (live dashboard or replay). Markers come from the view's
    timeline unless the caller has the full list (a huge run's timeline is a tail)."""
    when = now if now is not None else view.last_ts
    events = coordination if coordination is not None else (
        e for e in view.timeline if e.type == EventType.TASK_EVENT
    )
    return build_gantt(view.metrics(when), events, view.metrics_builder.origin, when)


def gantt_from_events(events: list[Event], now: float | None = None) -> GanttModel:
    view = RunView()
    view.apply_all(events)
    return gantt_from_view(view, now, [e for e in events if e.type == EventType.TASK_EVENT])


# --- drawing ---------------------------------------------------------------------------


def _fmt_s(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 100:
        return f"{seconds / 60:.1f}m" if seconds >= 600 else f"{seconds:.0f}s"
    return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"


def _nice_step(span: float, cells: int, min_gap: int) -> float:
    """A 1/2/5×10^k step whose ticks are at least `min_gap` cells apart."""
    if span <= 0 or cells <= 0:
        return 1.0
    raw = span * min_gap / cells
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if mult * power >= raw:
            return float(mult * power)
    return float(10 * power)


def _cells(lane: Lane, cells: int, dt: float, styles: Mapping[str, str]) -> list[tuple[str, str]]:
    """(glyph, style) per cell: the state covering most of the cell wins."""
    out: list[tuple[str, str]] = [(" ", "")] * cells
    cover: list[dict[str, float]] = [{} for _ in range(cells)]
    for bar in lane.bars:
        if bar.end <= bar.start:
            continue
        first = min(cells - 1, int(bar.start / dt))
        last = min(cells - 1, int(max(bar.start, bar.end - 1e-12) / dt))
        for i in range(first, last + 1):
            lo, hi = max(bar.start, i * dt), min(bar.end, (i + 1) * dt)
            if hi > lo:
                cover[i][bar.state] = cover[i].get(bar.state, 0.0) + (hi - lo)
    for i, states in enumerate(cover):
        if not states:
            continue
        state = max(states.items(), key=lambda kv: kv[1])[0]
        glyph, style = GLYPH.get(state, "?"), styles.get(state, "")
        if state == "running" and lane.critical:
            until = lane.critical_until
            if until is None or i * dt < until:
                glyph, style = CRITICAL_GLYPH, styles["critical"]
        out[i] = (glyph, style)
    for mk in lane.markers:
        out[min(cells - 1, int(mk.t / dt))] = (MARKER_GLYPH, styles["marker"])
    # The end glyph goes just after the lane's last cell, so markers fired at the very
    # end stay visible (the drawing keeps one spare cell at the right for it).
    for bar in lane.bars:
        if bar.state in TERMINAL:
            i = min(cells - 1, int(bar.start / dt))
            if out[i][0] == MARKER_GLYPH:
                if i + 1 < cells:
                    i += 1
                elif i > 0:
                    out[i - 1] = out[i]  # no room to the right: the marker steps left
            out[i] = (GLYPH[bar.state], styles[bar.state])
    return out


def render_gantt(
    model: GanttModel, width: int = 80, *, legend: bool = True, styles: Mapping[str, str] | None = None
) -> Text:
    """The picture as rich Text, `width` columns wide (at least 40). `styles` overrides
    entries of `STYLES` (a theme's colours)."""
    width = max(40, width)
    style = {**STYLES, **(styles or {})}
    right = 17  # " done      12.34s"
    name_w = max((len(lane.agent) for lane in model.lanes), default=5)
    name_w = max(5, min(name_w, max(10, width // 4)))
    label_w = name_w + 2  # "★ " prefix
    cells = max(10, width - label_w - 1 - right)
    span = model.span_s if model.span_s > 0 else 1.0
    dt = span / (cells - 1)  # one spare cell for the end glyph of the longest lane
    text = Text(no_wrap=True, overflow="crop")

    path = " → ".join(model.critical_path) or "—"
    head = Text("critical path ", style="bold")
    head.append(path, style=style["critical"] if model.critical_path else "")
    head.append("  ")
    head.append(_fmt_s(model.critical_path_s), style="bold")
    if model.ideal_speedup:
        head.append(" · ")
        head.append(f"ideal speedup {model.ideal_speedup:.2f}×")
    text.append_text(head)
    text.append("\n")

    for lane in model.lanes:
        name = lane.agent if len(lane.agent) <= name_w else lane.agent[: name_w - 1] + "…"
        text.append("★ " if lane.critical else "  ", style=style["critical"] if lane.critical else "")
        text.append(name.ljust(name_w), style="bold" if lane.critical else "")
        text.append(" ")
        for glyph, cell_style in _cells(lane, cells, dt, style):
            text.append(glyph, style=cell_style)
        status = LABEL.get(lane.status, lane.status)
        text.append(f" {status:<9}", style=style.get(lane.status, ""))
        text.append(f"{_fmt_s(lane.active_s):>7}\n")

    # Time axis: ticks at a 1/2/5 step, labels where they fit.
    axis = [" "] * (cells + 8)
    ticks = [" "] * cells
    step = _nice_step(span, cells, 9)
    t = 0.0
    while t <= span + 1e-9:
        col = min(cells - 1, round(t / dt))
        ticks[col] = "┬" if col else "├"
        label = _fmt_s(t) if t else "0"
        if all(c == " " for c in axis[max(0, col - 1) : col + len(label) + 1]):
            axis[col : col + len(label)] = list(label)
        t += step
    text.append(" " * (label_w + 1) + "".join(ticks) + "\n", style="dim")
    text.append(" " * (label_w + 1) + "".join(axis).rstrip() + "\n", style="dim")
    if model.cycle_s:
        text.append(_cycle_axis(model.cycle_s, model.cycle_first, span, cells, dt, label_w), style="dim")

    # The reference's comparison: the sum of active times against the wall time.
    # Same columns as the lanes, on its own scale (the longer bar fills the lane area).
    longest = max(model.sequential_s, model.wall_s, 1e-9)
    pad = max(label_w + 1, 12)
    bar_cells = width - pad - right
    seq_len = round(bar_cells * model.sequential_s / longest)
    par_len = round(bar_cells * model.wall_s / longest)
    text.append("sequential".ljust(pad), style="bold")
    text.append("█" * seq_len, style=style["sequential"])
    text.append(" " * (bar_cells - seq_len) + f" {'active':<9}{_fmt_s(model.sequential_s):>7}\n")
    text.append("parallel".ljust(pad), style="bold")
    text.append("█" * par_len, style=style["parallel"])
    text.append(" " * (bar_cells - par_len) + f" {'wall':<9}{_fmt_s(model.wall_s):>7}\n")
    text.append(" " * pad)
    text.append(f"speedup {model.speedup:.2f}×", style=style["speedup"])
    text.append(f" · utilization {model.utilization * 100:.0f}%")

    if legend:
        if model.markers:
            text.append("\n")
            line = Text()
            for mk in model.markers:
                item = f"{MARKER_GLYPH} {mk.action} {_fmt_s(mk.t)} ({mk.agent})"
                if line.cell_len and line.cell_len + 3 + len(item) > width:
                    text.append_text(line)
                    text.append("\n")
                    line = Text()
                if line.cell_len:
                    line.append(" · ", style="dim")
                line.append(MARKER_GLYPH, style=style["marker"])
                line.append(item[1:])
            text.append_text(line)
        keys = [
            (CRITICAL_GLYPH, "critical", style["critical"]),
            (GLYPH["running"], "running", style["running"]),
            (GLYPH["waiting"], "waiting", style["waiting"]),
            (GLYPH["queued"], "queued", style["queued"]),
            (GLYPH["paused"], "paused", style["paused"]),
            (GLYPH["completed"], "done", style["completed"]),
            (GLYPH["failed"], "failed", style["failed"]),
            (GLYPH["cancelled"], "cancelled", style["cancelled"]),
        ]
        text.append("\n")
        used = 0
        gap = 2 if width >= 90 else 1
        for glyph, name, key_style in keys:
            item_w = len(name) + 2
            if used and used + gap + item_w > width:
                text.append("\n")
                used = 0
            if used:
                text.append(" " * gap)
                used += gap
            text.append(glyph, style=key_style)
            text.append(f" {name}", style="dim")
            used += item_w
    # Long names or paths never wrap a line of the picture: they end in an ellipsis.
    lines = text.split("\n", allow_blank=True)
    for line in lines:
        line.truncate(width, overflow="ellipsis")
    return Text("\n", no_wrap=True, overflow="crop").join(lines)


def _cycle_axis(cycle_s: float, first: int, span: float, cells: int, dt: float, label_w: int) -> str:
    """The time axis again, in planning cycles: where each labelled cycle starts (the
    reference's "Cycle 11-30")."""
    axis = [" "] * (cells + 8)
    step = max(1.0, _nice_step(span / cycle_s, cells, 9))
    n = 0.0
    while n * cycle_s <= span + 1e-9:
        col = min(cells - 1, round(n * cycle_s / dt))
        label = f"{first + n:g}"
        if all(c == " " for c in axis[max(0, col - 1) : col + len(label) + 1]):
            axis[col : col + len(label)] = list(label)
        n += step
    return "cycles".ljust(label_w + 1)[: label_w + 1] + "".join(axis).rstrip() + "\n"


def gantt_plain(model: GanttModel, width: int = 80) -> str:
    """The picture without colour (Markdown report, pipes)."""
    return "\n".join(line.rstrip() for line in render_gantt(model, width).plain.splitlines())
