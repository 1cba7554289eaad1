"""The dashboard: header, spec editor, agent grid, event timeline, footer.

It shows whatever `EventBridge` it is given: an idle view of the editor's spec, or a
live run's bridge (`show_bridge`). Once per frame it flushes the bridge and posts itself
a `RunUpdated` (superseding), and redraws only what changed. Agent intents from the
panels go to the `control` callable its creator gave it; saving and running go up as
messages; the app-wide keys (pause all, cancel run, history) are app actions."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from oneie_tui.spec.model import Spec
from oneie_tui.store.base import Store
from oneie_tui.ui.bridge import EventBridge
from oneie_tui.ui.messages import (
    AgentControl,
    CancelAgent,
    ComposeMessage,
    LeaveEditor,
    PauseAgent,
    RestartAgent,
    ReviewRequested,
    RunSpec,
    RunStatusChanged,
    RunUpdated,
    SaveSpec,
    SpecEdited,
    ZoomAgent,
)
from oneie_tui.ui.widgets import AgentGrid, RunHeader, SpecEditor, Timeline, agent_colors
from oneie_tui.ui.widgets.crowd_list import CrowdView, crowd_fits
from oneie_tui.ui.widgets.key_footer import KeyFooter
from oneie_tui.views.metrics import RunMetrics
from oneie_tui.views.run_view import RunView

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
    # The focus starts on the panels, not in the editor, so the first keys a newcomer
    # tries (q, g, p...) are commands rather than text typed into the spec (`_start_focus`).
    AUTO_FOCUS = "AgentPanel"
    BINDINGS = [
        Binding("P", "app.pause_all", "Pause all", id="pause_all"),
        Binding("C", "app.cancel_run", "Cancel run", id="cancel_run"),
        Binding("e", "toggle_editor", "Editor", id="toggle_editor"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("h", "app.history", "History", id="history"),
        Binding("g", "gantt", "Gantt", id="gantt"),
        Binding("L", "plan", "Plan", id="plan", show=False),  # in the palette; no footer room
        Binding("v", "toggle_crowd", "Grid/list", id="toggle_crowd", show=False),
        Binding("d", "review", "Review", show=False, id="review"),  # in the palette; footer unchanged
        Binding("a", "next_attention", "Next needing you", id="next_attention", show=False),  # in the palette
        Binding("ctrl+s", "save_spec", "Save", id="save_spec", priority=True),
        Binding("ctrl+r", "run_spec", "Run", id="run_spec", priority=True),
        # Only while a run-blocking error shows (see check_action):
        Binding("S", "run_on_sim", "Run on sim instead", id="run_on_sim"),
        Binding("x", "dismiss_error", "Dismiss error", id="dismiss_error"),
    ]
    ERROR_ACTIONS = frozenset({"run_on_sim", "dismiss_error"})

    def __init__(
        self,
        text: str,
        label: str,
        *,
        clock: Callable[[], float],
        control: AgentControl,
        template: bool = False,
        run_store: Store | None = None,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self._template = template
        self.clock = clock  # epoch seconds: the app's clock, fixed in tests
        self._control_intent = control
        # The live run's store, for the zoom; given at once for a resumed run (no preview).
        self._run_store: Store | None = run_store
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
        self._focus_placed = False
        self._sim_helps = False
        self.crowd_choice: bool | None = None  # the list (True) or the grid (False) by key; None: by count

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        yield Static(id="run-error", markup=False)
        with Horizontal(id="body"):
            yield SpecEditor(
                self._text, label=self._label, template=self._template, cursor_blink=self._cursor_blink, id="editor"
            )
            with Vertical(id="main"):
                yield AgentGrid(id="grid")
                yield CrowdView(id="crowd")
                with Vertical(id="timeline-box"):
                    yield Input(placeholder="filter by agent or action (enter/escape to close)", id="filter")
                    yield Timeline(id="timeline")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#timeline-box").border_title = "events"
        self.set_interval(FRAME_SECONDS, self.tick)
        self._fit(self.size.width, self.size.height)

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        self.set_class(0 < width < NARROW_WIDTH, "-narrow")
        self.set_class(0 < height < SHORT_HEIGHT, "-short")
        self.grid.set_min_row_height(7 if 0 < height < SHORT_HEIGHT else 10)

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

    async def show_bridge(self, bridge: EventBridge, *, store: Store | None = None) -> None:
        """Show a (new) run: its panels appear at once, then follow its events. A live
        run comes with its `store` (the zoom reads older output there); from then on the
        editor's edits no longer preview in the grid."""
        if store is not None:
            self._run_store = store
        self.bridge = bridge
        self._colors = agent_colors(bridge.view, self.app.theme_variables)
        await self._show_agents()
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
        now = self.clock()
        if not changed and self.view.status == "running" and now >= self._clock_due:
            changed = True  # elapsed times move even when nothing is said
        if not changed and self._pending and not self.crowd_shown:
            changed = True  # panels still wait for their turn to redraw: give them one
        if changed:
            self._clock_due = now + CLOCK_SECONDS
            self.post_message(RunUpdated())

    def on_run_updated(self, _: RunUpdated) -> None:
        dirty, timeline, status = self.bridge.take_dirty()
        view = self.view
        now = self.clock()
        metrics = view.metrics(now if view.ended_ts is None else view.ended_ts)
        mark = time.perf_counter()
        if view.status == "running" and mark >= self._times_due:
            self._times_due = mark + CLOCK_SECONDS  # running agents' clocks move
            dirty |= {a.id for a in view.agents.values() if a.started_ts is not None and not a.terminal}
        if self.crowd_shown:  # one line per agent: only the visible rows redraw
            self.crowd.list.refresh_from(view, dirty, now, metrics)
            self.displayed_seq = self.bridge.applied_seq
        else:
            self._pending |= dirty
        if mark >= self._panels_due and not self.crowd_shown:
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
        now = self.clock()
        self._colors = agent_colors(view, self.app.theme_variables)
        metrics = view.metrics(now if view.ended_ts is None else view.ended_ts)
        self.grid.refresh_from(view, None, now, metrics, self._colors)
        self.crowd.list.refresh_from(view, None, now, metrics)
        self.header.refresh_from(view, now, metrics)
        self.timeline.refresh_from(view, self._colors)

    @on(SpecEdited)
    async def _spec_edited(self, event: SpecEdited) -> None:
        """While idle, the grid previews the agents of the spec being edited."""
        spec = self.editor.spec
        if spec is None or self._run_store is not None:
            self._start_focus()
            return
        if self._idle_spec is not None and spec == self._idle_spec:
            return
        self._idle_spec = spec
        await self.show_bridge(EventBridge(RunView.for_spec(spec)))
        self._start_focus()

    def _start_focus(self) -> None:
        """Once, when the spec is first shown: on the first panel (the editor hidden where
        both cannot fit), or in the editor when the spec has no agents to show (an error)."""
        if self._focus_placed:
            return
        self._focus_placed = True
        if self.focused is not None:
            return
        if self.grid.panels:
            if self.has_class("-narrow"):
                self.show_editor(False)
            self.grid.focus_first()
        else:
            self.show_editor(True)
            self.editor.text_area.focus()

    # --- intents from panels ---------------------------------------------------------

    @on(PauseAgent)
    @on(CancelAgent)
    @on(RestartAgent)
    def _control(self, event: PauseAgent | CancelAgent | RestartAgent) -> None:
        event.stop()
        self._control_intent(event)

    @on(ComposeMessage)
    def _ask_message(self, event: ComposeMessage) -> None:
        """A panel's `m`: ask what to say; the answer goes up as `MessageAgent`, which the
        app hands to the runner."""
        event.stop()
        from oneie_tui.ui.screens.message_input import ask_message

        agent = self.view.agents.get(event.agent_id)
        ask_message(self, event.agent_id, agent.status if agent else "")

    @on(ZoomAgent)
    def _zoom(self, event: ZoomAgent) -> None:
        event.stop()
        from oneie_tui.ui.screens.agent import AgentScreen, StoredOutput

        bridge, store = self.bridge, self._run_store
        stored = StoredOutput(store, bridge.view.run_id, lambda: bridge.applied_seq) if store else None
        self.app.push_screen(
            AgentScreen(event.agent_id, bridge, self.clock, control=self._control_intent, stored=stored)
        )

    # --- the grid or the crowd list ---------------------------------------------------

    @property
    def crowd(self) -> CrowdView:
        return self.query_one(CrowdView)

    @property
    def crowd_shown(self) -> bool:
        return self.has_class("-crowd")

    async def _show_agents(self) -> None:
        """Panels while they fit (or as chosen with `v`), else one line per agent: the
        panels of a crowd are never even mounted."""
        view = self.bridge.view
        crowd = self.crowd_choice
        if crowd is None:
            crowd = not crowd_fits(len(view.agents), self.grid.size)
        self.set_class(crowd, "-crowd")
        self.crowd.list.set_view(view)
        await self.grid.set_roster(RunView() if crowd else view, self._colors)

    async def action_toggle_crowd(self) -> None:
        self.crowd_choice = not self.crowd_shown
        await self._show_agents()
        self.redraw()
        self.focus_agents()

    def selected_agent(self) -> str | None:
        """The agent the keys act on: the focused panel's, or the list's selected one."""
        if self.crowd_shown:
            return self.crowd.list.selected if self.crowd.list.has_focus else None
        return self.grid.focused_agent()

    def action_next_attention(self) -> None:
        """`a`: focus the next agent that needs the user (after the focused one, round
        the end), in the grid or the list, in the order they are shown."""
        order = list(self.crowd.list.rows) if self.crowd_shown else list(self.grid.panels)
        needing = [i for i in order if (a := self.view.agents.get(i)) is not None and a.needs_attention]
        if not needing:
            self.notify("no agent needs you", timeout=2)
            return
        current = self.selected_agent()
        after = order.index(current) if current in order else -1
        target = next((i for i in needing if order.index(i) > after), needing[0])
        if self.crowd_shown:
            self.crowd.list.select_index(order.index(target))
            self.crowd.list.focus()
        else:
            self.grid.panels[target].focus()

    def focus_agents(self) -> None:
        if self.crowd_shown:
            self.crowd.list.focus()
        else:
            self.grid.focus_first()

    # --- actions ------------------------------------------------------------------

    def action_toggle_editor(self) -> None:
        """`e`: into the editor when it shows but has no focus; else hide or show it."""
        if not self.has_class("-editor-hidden") and not self.editor.has_focus_within:
            self.editor.text_area.focus()
            return
        self._toggle_editor()

    def _toggle_editor(self) -> None:
        hidden = not self.has_class("-editor-hidden")
        self.set_class(hidden, "-editor-hidden")
        if hidden:
            if self.editor.has_focus_within or self.focused is None:
                self.focus_agents()
        else:
            self.editor.text_area.focus()

    @on(LeaveEditor)
    def leave_editor(self, event: LeaveEditor | None = None) -> None:
        """Escape in the editor: back to the panels (hiding the editor where both cannot fit)."""
        if event is not None:
            event.stop()
        if self.has_class("-narrow"):
            self.show_editor(False)
        self.focus_agents()

    def show_editor(self, visible: bool) -> None:
        if visible == self.has_class("-editor-hidden"):
            self._toggle_editor()

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
            self.focus_agents()

    def key_escape(self) -> None:
        if self.query_one("#filter", Input).has_focus:
            self._close_filter(keep=False)
        elif len(self.app.screen_stack) > 2 and self.app.screen is self:
            self.app.pop_screen()  # a resumed run's dashboard, over the history: back there

    def action_gantt(self) -> None:
        """The Gantt picture of the run on screen, redrawn live from the same view."""
        from oneie_tui.ui.screens.gantt import GanttScreen

        self.app.push_screen(GanttScreen(lambda: self.bridge.view, self.clock))

    # --- run-blocking errors: shown until dismissed, with a way round from here -------

    def show_blocking_error(self, text: str, *, sim_helps: bool) -> None:
        """A run that cannot start (a missing key, a bad config) says why in a line that
        stays until dismissed (`x`), and offers to run on the sim backend (`S`)."""
        self._sim_helps = sim_helps
        hint = "S runs it on sim instead · x dismisses" if sim_helps else "x dismisses"
        text = text.replace("or run with --backend sim", "or run on sim")
        box = self.query_one("#run-error", Static)
        box.update(f"✗ {text}\n  {hint}")
        box.add_class("-visible")
        self.refresh_bindings()

    def dismiss_error(self) -> None:
        self.query_one("#run-error", Static).remove_class("-visible")
        self.refresh_bindings()

    @property
    def error_shown(self) -> bool:
        return self.query_one("#run-error", Static).has_class("-visible")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.ERROR_ACTIONS:
            if not self.is_mounted or not self.error_shown:
                return False
            return action != "run_on_sim" or self._sim_helps
        return True

    def action_dismiss_error(self) -> None:
        self.dismiss_error()

    def action_run_on_sim(self) -> None:
        self.dismiss_error()
        self.post_message(RunSpec(self.editor.text, backend="sim"))

    def action_plan(self) -> None:
        """The plan of the spec in the editor: will it be faster, is it set up right?"""
        from pathlib import Path

        from oneie_tui.spec.loader import LoadedSpec
        from oneie_tui.ui.screens.plan import PlanScreen

        spec = self.editor.spec
        if spec is None:
            self.notify("fix the spec first: the plan needs a valid spec", severity="warning")
            return
        self.app.push_screen(PlanScreen(LoadedSpec(spec, Path(self.editor.label), self.editor.text)))

    def action_review(self) -> None:
        """Review (and land) the isolated agents' work of the run on screen."""
        self.post_message(ReviewRequested())

    def action_save_spec(self) -> None:
        self.post_message(SaveSpec(self.editor.text))

    def action_run_spec(self) -> None:
        self.post_message(RunSpec(self.editor.text))
