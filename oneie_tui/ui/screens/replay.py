"""Replay a stored run: the dashboard's header, panels and timeline, driven by the replay
clock (`oneie_tui.views.replay_clock.Replay`) instead of a runner. No agent runs again.

Keys: space play/pause · s speed (1×/4×/16×/instant) · . / , one event forward/back ·
] / [ one second · home/end · t seek to a time · g the Gantt picture · l every event
(a virtual log paged from SQLite) instead of the lifecycle timeline · escape back.
The replay folds events with `RunView.apply` (as live), reads them from SQLite a page at a
time, and indexes the run in a background thread so seeking stays fast on huge runs.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input

from oneie_tui.store.base import Store
from oneie_tui.ui.messages import CancelAgent, PauseAgent, RestartAgent, ZoomAgent
from oneie_tui.ui.palette import ScreenActions
from oneie_tui.ui.screens import back_or_quit
from oneie_tui.ui.screens.gantt import GANTT_SECONDS
from oneie_tui.ui.seek_time import parse_time
from oneie_tui.ui.widgets import AgentGrid, RunHeader, Timeline, agent_colors
from oneie_tui.ui.widgets.event_log import EventLog
from oneie_tui.ui.widgets.gantt import GanttChart
from oneie_tui.ui.widgets.key_footer import KeyFooter
from oneie_tui.ui.widgets.replay_bar import ReplayBar
from oneie_tui.views.replay_clock import SPEEDS, Replay, speed_label

FRAME_SECONDS = 1 / 30
FOLLOW_SECONDS = 0.2  # how often a followed (live, resumed) run is re-read
INDEX_DELAY_S = 1.0  # the background index starts this long after the first paint
# A seek that must fold more events than this (far ahead before the index is built, in
# a huge run) runs in a worker; the screen says "seeking" and keeps answering keys.
FOREGROUND_FOLD = 20_000

class ReplayScreen(Screen[None]):
    CSS_PATH = "replay.tcss"
    AUTO_FOCUS = None
    COMMANDS = {ScreenActions}
    BINDINGS = [
        Binding("space", "toggle_play", "Play/pause", id="replay_toggle", priority=True),
        Binding("s", "cycle_speed", "Speed", id="replay_speed"),
        Binding("full_stop", "step(1)", "Step +1", id="replay_step_forward"),
        Binding("comma", "step(-1)", "Step -1", id="replay_step_back"),
        Binding("right_square_bracket", "jump(1.0)", "+1s", show=False, id="replay_jump_forward"),
        Binding("left_square_bracket", "jump(-1.0)", "-1s", show=False, id="replay_jump_back"),
        Binding("home", "to_start", "Start", show=False, id="replay_start"),
        Binding("end", "to_end", "End", show=False, id="replay_end"),
        Binding("t", "seek", "Seek", id="replay_seek"),
        Binding("g", "toggle_gantt", "Gantt", id="replay_gantt"),
        Binding("l", "toggle_log", "All events", id="replay_log"),
        Binding("escape", "back", "Back", id="replay_back"),
    ]

    FOLLOW_LABEL = "following the resumed run"  # the bar's note while `follow` is on

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        speed: float = 1.0,
        autoplay: bool = True,
        follow: bool = False,
        gantt: bool = False,
        at_end: bool = False,
    ) -> None:
        super().__init__()
        self.store = store
        self.run_id = run_id
        self.replay = Replay(store, run_id)
        self.replay.set_speed(speed if speed in SPEEDS else 1.0)
        self._autoplay = autoplay
        self.follow = follow  # a run resumed from history: keep reading what it writes
        self._show_gantt = gantt
        self._show_log = False
        self._at_end = at_end
        self._colors: dict[str, str] = {}
        self._last_tick = time.monotonic()
        self._gantt_due = 0.0
        self._follow_due = 0.0
        self._stop_index = threading.Event()
        self.busy = False  # a background seek owns the replay
        self.frames = 0

    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        yield ReplayBar(id="replay-bar")
        yield Input(placeholder="seek to a time: 12.5, 1:30, 2m (enter; escape to cancel)", id="seek")
        with Horizontal(id="replay-body"):
            with Vertical(id="replay-main"):
                yield AgentGrid(controls=False, id="grid")  # no runner: no pause/cancel/restart
                with Vertical(id="timeline-box"):
                    yield Timeline(id="timeline")
                    yield EventLog(self.replay, id="event-log")
            with VerticalScroll(id="gantt-box"):
                yield GanttChart(id="gantt")
        yield KeyFooter()

    async def on_mount(self) -> None:
        self.query_one("#timeline-box").border_title = "events"
        self.query_one("#gantt-box").border_title = "gantt"
        self.set_class(self._show_gantt, "-gantt")
        await self._roster()
        self.grid.focus_first()  # not the (hidden) seek box
        if self._at_end:
            self.action_to_end()
        if self._autoplay:
            self.replay.play()
        self.redraw()
        self.set_interval(FRAME_SECONDS, self.tick)
        if self.replay.count > self.replay.checkpoint_every:
            # once the first frame is on screen: the fold holds the GIL while it works
            self.call_after_refresh(lambda: self.set_timer(INDEX_DELAY_S, self._index))

    @work(thread=True, exclusive=True, group="replay-index", exit_on_error=False)
    def _index(self) -> None:
        """Fold the whole run once in the background: later seeks start from a checkpoint."""
        self.replay.build_index(self._stop_index)

    def on_unmount(self) -> None:
        self._stop_index.set()

    @property
    def grid(self) -> AgentGrid:
        return self.query_one(AgentGrid)

    @property
    def view(self) -> Any:
        return self.replay.view

    async def _roster(self) -> None:
        self._colors = agent_colors(self.replay.view, self.app.theme_variables)
        await self.grid.set_roster(self.replay.view, self._colors)

    # --- the clock ------------------------------------------------------------------

    def tick(self) -> None:
        now = time.monotonic()
        dt, self._last_tick = now - self._last_tick, now
        if self.busy:
            return
        replay = self.replay
        if self.follow and now >= self._follow_due:
            self._follow_due = now + FOLLOW_SECONDS
            if replay.refresh_bounds():
                self.go_to(replay.last_seq, replay.duration)
                return
        if replay.playing and math.isinf(replay.speed):
            replay.pause()  # instant: straight to the end (maybe a long fold)
            self.go_to(replay.last_seq, replay.duration)
            return
        if replay.tick(dt) or self.follow:
            self.call_next(self._frame)

    def go_to(self, target: int, t: float | None = None) -> None:
        """Move the replay to event `target` (clock `t`, else that event's time): at once
        when it is cheap, else in a worker thread."""
        if self.busy:
            self.notify("still seeking…", timeout=1)
            return
        if self.replay.fold_cost(target) <= FOREGROUND_FOLD:
            self.replay.seek_seq(target)
            if t is not None:
                self.replay.t = t
            self._moved()
            return
        self.busy = True
        self._bar()
        self._seek_worker(target, t)

    class SeekDone(Message):
        """A background seek finished (or failed; the app reports worker errors)."""

    @work(thread=True, exclusive=True, group="replay-seek", exit_on_error=False)
    def _seek_worker(self, target: int, t: float | None) -> None:
        try:
            self.replay.seek_seq(target)
            if t is not None:
                self.replay.t = t
        finally:
            self.post_message(self.SeekDone())

    def on_replay_screen_seek_done(self, _: SeekDone) -> None:
        self.busy = False
        self._moved()

    async def _frame(self) -> None:
        if self.busy:  # a worker is folding into the view
            return
        if len(self.replay.view.agents) != len(self.grid.panels):
            await self._roster()
            self.redraw()
            return
        frame = self.replay.take_frame()
        view = self.replay.view
        now = self.replay.now
        metrics = view.metrics(now)
        dirty = None if frame.rebuilt else frame.dirty | {
            a.id for a in view.agents.values() if a.status == "running"
        }
        self.grid.refresh_from(view, dirty, now, metrics, None if dirty is not None else self._colors)
        self.query_one(RunHeader).refresh_from(view, now, metrics)
        if frame.timeline or frame.rebuilt:
            self.query_one(Timeline).refresh_from(view, self._colors)
        if self._show_log:
            self.query_one(EventLog).follow_clock()
        if self._show_gantt and (time.monotonic() >= self._gantt_due or not self.replay.playing):
            self._gantt_due = time.monotonic() + GANTT_SECONDS
            self.query_one(GanttChart).show(self.replay.gantt())
        self._bar()
        self.frames += 1

    def redraw(self) -> None:
        """Everything from the view (first frame, seek, theme change)."""
        if self.busy:
            return
        self.replay.take_frame()
        view = self.replay.view
        now = self.replay.now
        metrics = view.metrics(now)
        self.grid.refresh_from(view, None, now, metrics, self._colors)
        self.query_one(RunHeader).refresh_from(view, now, metrics)
        self.query_one(Timeline).refresh_from(view, self._colors)
        if self._show_gantt:
            self.query_one(GanttChart).show(self.replay.gantt())
        self._bar()

    def _bar(self) -> None:
        r = self.replay
        state = "▶ playing" if r.playing else ("■ end" if r.at_end else "❚❚ paused")
        if self.busy:
            state = "… seeking"
        text = Text()
        text.append(f" {state} ", style="bold")
        text.append(f" {speed_label(r.speed):>7} ")
        text.append(f" {r.t:7.2f}s / {r.duration:.2f}s ")
        shown = 0 if r.seq == 0 else r.seq - r.first_seq + 1
        text.append(f" event {shown:,} / {r.count:,} ")
        if self.follow:
            text.append(f" {self.FOLLOW_LABEL} ", style="bold")
        text.append(" replay · no agent runs", style="dim")
        self.query_one(ReplayBar).update(text)

    def _moved(self) -> None:
        self.call_next(self._frame)

    # --- actions ----------------------------------------------------------------------

    def action_toggle_play(self) -> None:
        if self.busy:
            return
        self.replay.toggle()
        self._last_tick = time.monotonic()
        self._moved()

    def action_cycle_speed(self) -> None:
        if self.busy:  # the seek thread owns the replay
            self.notify("still seeking…", timeout=1)
            return
        speed = self.replay.cycle_speed()
        self.notify(f"speed {speed_label(speed)}", timeout=1.5)
        self._moved()

    def set_speed(self, speed: float) -> None:
        self.replay.set_speed(speed)
        self._moved()

    def action_step(self, n: int) -> None:
        self.replay.pause()
        self.go_to(self.replay.step_target(n))

    def action_jump(self, seconds: float) -> None:
        self.go_to(*self.replay.time_target(self.replay.t + seconds))

    def action_to_start(self) -> None:
        self.replay.pause()
        self.go_to(0)

    def action_to_end(self) -> None:
        self.go_to(self.replay.last_seq, self.replay.duration)

    def seek(self, seconds: float) -> None:
        """Show the run as of `seconds` after its first event."""
        self.go_to(*self.replay.time_target(seconds))

    def action_seek(self) -> None:
        box = self.query_one("#seek", Input)
        box.add_class("-visible")
        box.focus()

    @on(Input.Submitted, "#seek")
    def _seek_submitted(self, event: Input.Submitted) -> None:
        seconds = parse_time(event.value)
        if seconds is None:
            self.notify(f"not a time: {event.value!r} (try 12.5, 1:30 or 2m)", severity="warning")
            return
        self.replay.pause()
        self.seek(seconds)
        self._close_seek()

    def _close_seek(self) -> None:
        box = self.query_one("#seek", Input)
        box.value = ""
        box.remove_class("-visible")
        self.grid.focus_first()

    def action_toggle_gantt(self) -> None:
        if self.busy:  # the seek thread is folding into the view the Gantt reads
            self.notify("still seeking…", timeout=1)
            return
        self._show_gantt = not self._show_gantt
        self.set_class(self._show_gantt, "-gantt")
        if self._show_gantt:
            self.query_one(GanttChart).show(self.replay.gantt())

    # --- intents from the panels: a replay runs no agent ---------------------------------

    @on(PauseAgent)
    @on(CancelAgent)
    @on(RestartAgent)
    def _no_runner(self, event: PauseAgent | CancelAgent | RestartAgent) -> None:
        event.stop()
        self.notify("this is a replay: no agent runs here (space plays/pauses the replay)", timeout=2)

    @on(ZoomAgent)
    def _zoom(self, event: ZoomAgent) -> None:
        """The agent's full screen, as of the replay clock."""
        event.stop()
        if self.busy:  # the seek thread is folding into the view the zoom reads
            self.notify("still seeking…", timeout=1)
            return
        from oneie_tui.ui.bridge import EventBridge
        from oneie_tui.ui.screens.agent import AgentScreen, StoredOutput

        self.replay.pause()
        replay = self.replay
        stored = StoredOutput(replay.store, replay.run_id, lambda: replay.seq)
        self.app.push_screen(
            AgentScreen(event.agent_id, EventBridge(replay.view), lambda: replay.now, stored=stored)
        )

    def action_toggle_log(self) -> None:
        """The events panel: lifecycle and coordination (as live) or every event (paged)."""
        self._show_log = not self._show_log
        self.set_class(self._show_log, "-log")
        box = self.query_one("#timeline-box")
        box.border_title = "all events (paged from the store)" if self._show_log else "events"
        if self._show_log:
            self.query_one(EventLog).follow_clock()

    async def action_back(self) -> None:
        if self.query_one("#seek", Input).has_class("-visible"):
            self._close_seek()
            return
        await back_or_quit(self.app)
