"""The grid of agent panels: as many columns as fit, scrolls vertically (30+ agents),
arrow keys move focus between panels. `refresh_from(view, dirty)` redraws only the
panels whose agents changed."""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.events import Resize

from oneie_tui.ui.widgets.agent_panel import AgentPanel
from oneie_tui.views.metrics import RunMetrics
from oneie_tui.views.run_view import RunView

MIN_PANEL_WIDTH = 36


def panel_id(agent_id: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in agent_id)
    return f"agent-{safe}"


class AgentGrid(VerticalScroll, can_focus=False):
    DEFAULT_CSS = """
    AgentGrid {
        layout: grid;
        grid-size: 2;
        grid-rows: 10;
        grid-gutter: 0 1;
        height: 1fr;
    }
    """
    BINDINGS = [
        Binding("left", "move(-1, 0)", "Left", show=False, id="focus_left"),
        Binding("right", "move(1, 0)", "Right", show=False, id="focus_right"),
        Binding("up", "move(0, -1)", "Up", show=False, id="focus_up"),
        Binding("down", "move(0, 1)", "Down", show=False, id="focus_down"),
    ]

    def __init__(self, *, controls: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.controls = controls  # False in a replay: its panels hide pause/cancel/restart
        self.min_row_height = 10  # panels grow taller to fill the grid, never shorter
        self._row_height = 0
        self.panels: dict[str, AgentPanel] = {}
        self._roster: tuple[str, ...] = ()
        self.columns = 2

    async def set_roster(self, view: RunView, colors: Mapping[str, str]) -> None:
        """Mount one panel per agent of `view` (only when the roster changes)."""
        roster = tuple(view.agents)
        if roster == self._roster:
            return
        self._roster = roster
        await self.remove_children()
        self.panels = {
            a.id: AgentPanel(a, colors.get(a.id, "default"), controls=self.controls, id=panel_id(a.id))
            for a in view.agents.values()
        }
        await self.mount_all(self.panels.values())
        self._fit_columns(self.size.width)
        self.call_after_refresh(lambda: self._fit_columns(self.size.width))

    def refresh_from(
        self,
        view: RunView,
        dirty: set[str] | None = None,
        now: float | None = None,
        metrics: RunMetrics | None = None,
        colors: Mapping[str, str] | None = None,
    ) -> None:
        """Redraw the panels of `dirty` agents (all when None) from `view` as of `now`."""
        ids = view.agents.keys() if dirty is None else dirty
        for agent_id in ids:
            panel = self.panels.get(agent_id)
            agent = view.agents.get(agent_id)
            if panel is None or agent is None:
                continue
            m = metrics.agents.get(agent_id) if metrics is not None else None
            panel.refresh_from(agent, now, m, colors.get(agent_id) if colors else None)

    def focus_first(self) -> None:
        first = next(iter(self.panels.values()), None)
        if first is not None:
            first.focus()

    def focused_agent(self) -> str | None:
        focused = self.screen.focused if self.is_attached else None
        return focused.agent_id if isinstance(focused, AgentPanel) else None

    def on_resize(self, event: Resize) -> None:
        self._fit_columns(event.size.width)

    def set_min_row_height(self, rows: int) -> None:
        """The screen's choice (shorter on short terminals); the panels fill what is left."""
        if rows != self.min_row_height:
            self.min_row_height = rows
            self._fit_columns(self.size.width)

    def _fit_columns(self, width: int) -> None:
        if not width:
            return
        count = max(1, len(self.panels))
        columns = max(1, min(count, width // MIN_PANEL_WIDTH))
        if columns != self.columns or self.styles.grid_size_columns != columns:
            self.columns = columns
            self.styles.grid_size_columns = columns
        # Fill the height: a few agents on a tall terminal get tall panels (more output).
        rows = -(-count // columns)
        height = max(self.min_row_height, self.size.height // rows if self.size.height else 0)
        if height != self._row_height:
            self._row_height = height
            self.styles.grid_rows = str(height)
        # One stats line for every panel: all are cut for the narrowest one's width.
        inner = max(10, (width - (columns - 1)) // columns - 4)  # gutters, border and padding
        for panel in self.panels.values():
            panel.set_stats_width(inner)

    def action_move(self, dx: int, dy: int) -> None:
        order = list(self.panels)
        current = self.focused_agent()
        if not order:
            return
        if current is None:
            self.focus_first()
            return
        index = order.index(current) + dx + dy * self.columns
        if 0 <= index < len(order):
            self.panels[order[index]].focus()
