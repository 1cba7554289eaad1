"""The Gantt picture of a live run, full-screen (the dashboard's `g`)."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen

from oneie_tui.ui.palette import ScreenActions
from oneie_tui.ui.widgets.gantt import GanttChart
from oneie_tui.ui.widgets.key_footer import KeyFooter
from oneie_tui.views.run_view import RunView

GANTT_SECONDS = 0.25  # the Gantt picture is redrawn at most this often while playing


class GanttScreen(Screen[None]):
    """The Gantt picture of a live run, redrawn a few times a second from its view.

    For the dashboard: `GanttScreen(lambda: bridge.view, app.now)`; escape goes back.
    (Replays show the same picture with `g` on the replay screen.)"""

    CSS_PATH = "replay.tcss"
    COMMANDS = {ScreenActions}
    BINDINGS = [Binding("escape,g", "back", "Back", id="gantt_back")]

    def __init__(self, view: Callable[[], RunView], clock: Callable[[], float]) -> None:
        super().__init__()
        self._view = view
        self._clock = clock

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="gantt-live"):
            yield GanttChart(id="gantt")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#gantt-live").border_title = "gantt"
        self.redraw()
        self.set_interval(GANTT_SECONDS, self.redraw)

    def redraw(self) -> None:
        view = self._view()
        now = self._clock() if view.ended_ts is None else view.ended_ts
        self.query_one(GanttChart).refresh_from(view, now)

    def action_back(self) -> None:
        self.app.pop_screen()
