"""The plan of the spec in the editor, before a run starts: the figures of `oneie plan`
(sequential, parallel, speedup, critical path, parallelism, utilization, max_parallel,
cycles), a small Gantt of the planned schedule and the lints. Escape goes back."""

from __future__ import annotations

from rich.console import Group
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Static

from oneie_tui.spec.lints import lint_spec
from oneie_tui.spec.loader import LoadedSpec
from oneie_tui.ui.palette import ScreenActions
from oneie_tui.views.plan import build_plan
from oneie_tui.views.plan_render import plan_renderables

# What the table's other columns (agent, estimate, times) leave to the bars.
OTHER_COLUMNS = 60


class PlanScreen(Screen[None]):
    CSS_PATH = "plan.tcss"
    COMMANDS = {ScreenActions}
    BINDINGS = [Binding("escape,L", "back", "Back", id="plan_back")]

    def __init__(self, loaded: LoadedSpec) -> None:
        super().__init__()
        self.loaded = loaded
        self.plan = build_plan(loaded.spec)
        self.lints = lint_spec(loaded.spec)
        self.shown = Group()

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="plan-box"):
            yield Static(id="plan-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#plan-box").border_title = "plan"
        self.app.theme_changed_signal.subscribe(self, lambda _: self.redraw())
        self.redraw()

    def on_resize(self, _: Resize) -> None:
        self.redraw()

    def redraw(self) -> None:
        v = self.app.theme_variables
        styles = {
            "critical": f"bold {v.get('accent', 'dark_orange')}",
            "bar": v.get("primary", "cyan"),
            "lost": v.get("foreground-muted", "grey50"),
            "warning": v.get("warning", "yellow"),
            "ok": v.get("success", "green"),
        }
        width = max(12, (self.size.width or 100) - OTHER_COLUMNS)
        parts = plan_renderables(self.loaded, self.plan, self.lints, width, styles)
        self.shown = Group(*parts)
        self.query_one("#plan-body", Static).update(self.shown)

    def action_back(self) -> None:
        self.app.pop_screen()
