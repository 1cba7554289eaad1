"""The Gantt picture as a widget: draws `oneie_tui.gantt.render_gantt` at the widget's
width, so it reads at 80 columns and uses wider terminals. Self-contained: give it a
model (`show`) or a RunView (`refresh_from`); it never touches a runner."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widget import Widget

from oneie_tui.events import Event
from oneie_tui.gantt import GanttModel, gantt_from_view, render_gantt
from oneie_tui.runstate import RunView


class GanttChart(Widget):
    DEFAULT_CSS = """
    GanttChart {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model: GanttModel | None = None

    def show(self, model: GanttModel | None) -> None:
        self.model = model
        self.refresh(layout=True)

    def refresh_from(
        self, view: RunView, now: float | None = None, coordination: Iterable[Event] | None = None
    ) -> None:
        """The picture of a live or replayed run as of `now`."""
        self.show(gantt_from_view(view, now, coordination) if view.last_seq else None)

    def render(self) -> Text:
        if self.model is None or not self.model.lanes:
            return Text("no agent has started yet", style="dim")
        return render_gantt(self.model, max(40, self.content_size.width or 80))
