"""The Gantt picture as a widget: draws `oneie_tui.views.gantt_lanes.render_gantt` at the widget's
width, so it reads at 80 columns and uses wider terminals. Self-contained: give it a
model (`show`) or a RunView (`refresh_from`); it never touches a runner. Its colours come
from the app's theme (the plain picture's named colours do not read on every background)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.text import Text
from textual.color import Color, ColorParseError
from textual.widget import Widget

from oneie_tui.events import Event
from oneie_tui.views.gantt_lanes import GanttModel, gantt_from_view, render_gantt
from oneie_tui.views.run_view import RunView


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

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _: self.refresh())

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
        width = max(40, self.content_size.width or 80)
        return render_gantt(self.model, width, styles=theme_styles(self.app.theme_variables))


def theme_styles(variables: Mapping[str, str]) -> dict[str, str]:
    """The picture's styles (see `oneie_tui.views.gantt_lanes.STYLES`) in a theme's colours."""

    def var(name: str, fallback: str) -> str:
        return variables.get(name, fallback)

    foreground = var("foreground", "default")
    try:  # cancelled: the foreground half-way to the background (a solid colour)
        faded = Color.parse(var("background", "black")).blend(Color.parse(foreground), 0.5).hex
    except ColorParseError:  # a colour Textual cannot parse: no fading, still readable
        faded = foreground
    return {
        "waiting": var("warning", "yellow"),
        "running": var("primary", "cyan"),
        "paused": var("secondary", "magenta"),
        "completed": f"bold {var('success', 'green')}",
        "failed": f"bold {var('error', 'red')}",
        "cancelled": faded,
        "blocked": f"bold {var('error', 'red')}",
        "critical": f"bold {var('accent', 'dark_orange')}",
        "marker": f"bold {foreground}",
        "sequential": var("warning", "yellow"),
        "parallel": var("success", "green"),
        "speedup": f"bold {var('success', 'green')}",
    }
