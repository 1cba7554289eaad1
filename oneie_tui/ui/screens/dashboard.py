"""The dashboard: header, spec editor, agent grid, event timeline, footer.

It shows whatever `EventBridge` it is given: an idle view of the editor's spec, or a
live run's bridge (`show_bridge`). Once per frame it flushes the bridge and posts itself
a `RunUpdated` (superseding), and redraws only what changed. Agent intents from the
panels are handled here and passed to the app's live run."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input

from oneie_tui.spec.model import Spec
from oneie_tui.ui.bridge import EventBridge
from oneie_tui.ui.messages import (
    CancelAgent,
    PauseAgent,
    RestartAgent,
    RunStatusChanged,
    RunUpdated,
    SpecEdited,
    ZoomAgent,
)
from oneie_tui.ui.widgets import AgentGrid, RunHeader, SpecEditor, Timeline, agent_colors
from oneie_tui.views.metrics import RunMetrics
from oneie_tui.views.run_view import RunView

if TYPE_CHECKING:
    from oneie_tui.ui.app import OneieApp

FRAME_SECONDS = 1 / 30
# Panels redraw every frame while output is calm. Under a flood of output (thousands of
# events/s) or when frames arrive late (a busy loop), they redraw less often, down to
# 5 Hz, so the runner and the keys keep their share of the loop. The view is still folded
# every frame; header and timeline still redraw every frame.
PANEL_MAX_SECONDS = 0.25
CALM_EVENTS_PER_SECOND = 1500.0
CLOCK_SECONDS = 0.5  # redraw running agents' times even when they are quiet
NARROW_WIDTH = 110
SHORT_HEIGHT = 32


class DashboardScreen(Screen[None]):
    BINDINGS = [
        Binding("P", "pause_all", "Pause all", id="pause_all"),
        Binding("C", "cancel_run", "Cancel run", id="cancel_run"),
        Binding("e", "toggle_editor", "Editor", id="toggle_editor"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("h", "history", "History", id="history"),
        Binding("g", "gantt", "Gantt", id="gantt"),
        Binding("v", "review", "Review", show=False, id="review"),  # in the palette; footer unchanged
        Binding("ctrl+s", "save_spec", "Save", id="save_spec", priority=True),
        Binding("ctrl+r", "run_spec", "Run", id="run_spec", priority=True),
    ]

    def __init__(self, text: str, label: str, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self._text = text
        self._label = label
        self._cursor_blink = cursor_blink
        self.bridge = EventBridge(RunView())
        self._colors: dict[str, str] = {}
        self._idle_spec: Spec | None = None
        self._last_status = ""
        self._clock_due = 0.0
        self.frames = 0
        self.displayed_seq = 0  # the last event the widgets show (benchmarks measure lag)
        self._pending: set[str] = set()
        self._panels_due = 0.0
        self._times_due = 0.0
        self._drawn_at: dict[str, float] = {}
        self._drawn_seq: dict[str, int] = {}
        self._last_tick = 0.0
        self._tick_gap = FRAME_SECONDS
        self._rate = 0.0  # events folded per second (smoothed)
        self._rate_mark = (0.0, 0)
        self._focus_before_filter: Widget | None = None

    @property
    def oneie(self) -> OneieApp:
        from oneie_tui.ui.app import OneieApp

        assert isinstance(self.app, OneieApp)
        return self.app

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        with Horizontal(id="body"):
            yield SpecEditor(self._text, label=self._label, cursor_blink=self._cursor_blink, id="editor")
            with Vertical(id="main"):
                yield AgentGrid(id="grid")
                with Vertical(id="timeline-box"):
                    yield Input(placeholder="filter by agent or action (enter/escape to close)", id="filter")
                    yield Timeline(id="timeline")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#timeline-box").border_title = "events"
        self.set_interval(FRAME_SECONDS, self.tick)
        self._fit(self.size.width, self.size.height)

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        self.set_class(0 < width < NARROW_WIDTH, "-narrow")
        self.set_class(0 < height < SHORT_HEIGHT, "-short")

    @property
    def grid(self) -> AgentGrid:
        return self.query_one(AgentGrid)

    @property
    def editor(self) -> SpecEditor:
        return self.query_one(SpecEditor)

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    @property
    def header(self) -> RunHeader:
        return self.query_one(RunHeader)

    @property
    def view(self) -> RunView:
        return self.bridge.view

    # --- feeding ------------------------------------------------------------------

    async def show_bridge(self, bridge: EventBridge) -> None:
        """Show a (new) run: its panels appear at once, then follow its events."""
        self.bridge = bridge
        self._colors = agent_colors(bridge.view, self.app.theme_variables)
        await self.grid.set_roster(bridge.view, self._colors)
        self.bridge.flush()
        self.bridge.take_dirty()
        self.redraw()
        self.displayed_seq = self.bridge.applied_seq

    def tick(self) -> None:
        """Once per frame: fold buffered events; post one superseding `RunUpdated`."""
        mark = time.perf_counter()
        if self._last_tick:
            self._tick_gap = 0.8 * self._tick_gap + 0.2 * (mark - self._last_tick)
        self._last_tick = mark
        changed = self.bridge.flush()
        now = self.oneie.now()
        if not changed and self.view.status == "running" and now >= self._clock_due:
            changed = True  # elapsed times move even when nothing is said
        if changed:
            self._clock_due = now + CLOCK_SECONDS
            self.post_message(RunUpdated())

    def on_run_updated(self, _: RunUpdated) -> None:
        dirty, timeline, status = self.bridge.take_dirty()
        view = self.view
        now = self.oneie.now()
        metrics = view.metrics(now if view.ended_ts is None else view.ended_ts)
        mark = time.perf_counter()
        if view.status == "running" and mark >= self._times_due:
            self._times_due = mark + CLOCK_SECONDS  # running agents' clocks move
            dirty |= {a.id for a in view.agents.values() if a.started_ts is not None and not a.terminal}
        self._pending |= dirty
        if mark >= self._panels_due:
            self._panels_due = mark + FRAME_SECONDS
            self._draw_panels(view, now, metrics, mark, everything=bool(status))
        self.header.refresh_from(view, now, metrics)
        if timeline:
            self.timeline.refresh_from(view, self._colors)
        if status and view.status != self._last_status:
            self._last_status = view.status
            self.app.post_message(RunStatusChanged(view.status, view.reason))
        self.frames += 1

    def _draw_panels(self, view: RunView, now: float, metrics: RunMetrics, mark: float, everything: bool) -> None:
        """Redraw the longest-waiting dirty panels, spread over the frames of one panel
        interval, so no frame redraws the whole grid at once (no long block of the loop)."""
        pending = self._pending
        if not pending:
            self.displayed_seq = self.bridge.applied_seq
            return
        interval = self._panel_interval(mark)
        if everything:
            batch = list(pending)
        else:
            frame = max(FRAME_SECONDS, self._tick_gap)
            share = max(1, math.ceil(len(pending) * frame / interval))
            drawn = self._drawn_at
            batch = sorted(pending, key=lambda a: drawn.get(a, 0.0))[:share]
        self.grid.refresh_from(view, set(batch), now, metrics, None)
        seq = self.bridge.applied_seq
        for agent_id in batch:
            self._drawn_at[agent_id] = mark
            self._drawn_seq[agent_id] = seq
        pending.difference_update(batch)
        # What the screen shows is as recent as its stalest panel still waiting to redraw.
        self.displayed_seq = min((self._drawn_seq.get(a, 0) for a in pending), default=seq)

    def _panel_interval(self, mark: float) -> float:
        then, applied = self._rate_mark
        if then:
            instant = (self.bridge.events_applied - applied) / max(1e-3, mark - then)
            self._rate = 0.7 * self._rate + 0.3 * instant
        self._rate_mark = (mark, self.bridge.events_applied)
        late = max(0.0, self._tick_gap - FRAME_SECONDS)
        flood = min(1.0, max(0.0, self._rate / CALM_EVENTS_PER_SECOND - 1.0) / 3.0)
        interval = FRAME_SECONDS + 4 * late + flood * PANEL_MAX_SECONDS
        return min(PANEL_MAX_SECONDS, interval)

    def redraw(self) -> None:
        """Redraw everything from the view (after a theme change, a new run...)."""
        view = self.view
        now = self.oneie.now()
        self._colors = agent_colors(view, self.app.theme_variables)
        metrics = view.metrics(now if view.ended_ts is None else view.ended_ts)
        self.grid.refresh_from(view, None, now, metrics, self._colors)
        self.header.refresh_from(view, now, metrics)
        self.timeline.refresh_from(view, self._colors)

    @on(SpecEdited)
    async def _spec_edited(self, event: SpecEdited) -> None:
        """While idle, the grid previews the agents of the spec being edited."""
        spec = self.editor.spec
        if spec is None or self.oneie.live is not None:
            return
        if self._idle_spec is not None and spec == self._idle_spec:
            return
        self._idle_spec = spec
        await self.show_bridge(EventBridge(RunView.for_spec(spec)))

    # --- intents from panels ---------------------------------------------------------

    @on(PauseAgent)
    @on(CancelAgent)
    @on(RestartAgent)
    def _control(self, event: PauseAgent | CancelAgent | RestartAgent) -> None:
        event.stop()
        self.oneie.control(event)

    @on(ZoomAgent)
    def _zoom(self, event: ZoomAgent) -> None:
        event.stop()
        from oneie_tui.ui.screens.agent import AgentScreen, StoredOutput

        bridge, store = self.bridge, self.oneie.store if self.oneie.live is not None else None
        stored = StoredOutput(store, bridge.view.run_id, lambda: bridge.applied_seq) if store else None
        self.app.push_screen(AgentScreen(event.agent_id, bridge, self.oneie.now, stored=stored))

    # --- actions ------------------------------------------------------------------

    def action_pause_all(self) -> None:
        self.oneie.control_pause_all()

    def action_cancel_run(self) -> None:
        self.oneie.control_cancel_run()

    def action_toggle_editor(self) -> None:
        hidden = not self.has_class("-editor-hidden")
        self.set_class(hidden, "-editor-hidden")
        if hidden:
            if self.editor.has_focus_within or self.focused is None:
                self.grid.focus_first()
        else:
            self.editor.text_area.focus()

    def leave_editor(self) -> None:
        """Escape in the editor: back to the panels (hiding the editor where both cannot fit)."""
        if self.has_class("-narrow"):
            self.show_editor(False)
        self.grid.focus_first()

    def show_editor(self, visible: bool) -> None:
        if visible == self.has_class("-editor-hidden"):
            self.action_toggle_editor()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if not box.has_focus:
            self._focus_before_filter = self.focused  # given back when the filter closes
        box.add_class("-visible")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.timeline.filter_text = event.value

    @on(Input.Submitted, "#filter")
    def _filter_done(self, _: Input.Submitted) -> None:
        self._close_filter(keep=True)

    def _close_filter(self, keep: bool) -> None:
        box = self.query_one("#filter", Input)
        if not keep:
            box.value = ""
            self.timeline.filter_text = ""
        box.set_class(bool(box.value), "-visible")
        self.timeline.border_subtitle = f"filter: {box.value}" if box.value else None
        before, self._focus_before_filter = self._focus_before_filter, None
        if before is not None and before.is_attached and before.focusable:
            before.focus()
        else:
            self.grid.focus_first()

    def key_escape(self) -> None:
        if self.query_one("#filter", Input).has_focus:
            self._close_filter(keep=False)

    def action_history(self) -> None:
        self.oneie.open_history()

    def action_gantt(self) -> None:
        """The Gantt picture of the run on screen, redrawn live from the same view."""
        from oneie_tui.ui.screens.replay import GanttScreen

        self.app.push_screen(GanttScreen(lambda: self.bridge.view, self.oneie.now))

    def action_review(self) -> None:
        """Review (and land) the isolated agents' work of the run on screen."""
        self.oneie.open_review()

    def action_save_spec(self) -> None:
        self.oneie.save_spec(self.editor.text)

    def action_run_spec(self) -> None:
        self.oneie.start_run_from_text(self.editor.text)
