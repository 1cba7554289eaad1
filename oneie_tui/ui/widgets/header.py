"""The run header: spec name, status, elapsed, overall progress, speedup, utilization,
tokens and cost. Renders from a `RunView` and a clock value only (live or replay).

Live figures say what they are: `parallel now N` (agents running this instant) and the
`speedup so far`. An ended run shows its outcome (`completed (1 cancelled)`) and its final
speedup from the runner's summary, and only when the work completed."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from oneie_tui.ui import format as fmt
from oneie_tui.views.metrics import RunMetrics
from oneie_tui.views.outcome import completed_work
from oneie_tui.views.run_view import RunView

STATUS_CLASSES = {
    "idle": "run-header--idle",
    "running": "run-header--running",
    "paused": "run-header--paused",
    "incomplete": "run-header--failed",
    "completed": "run-header--completed",
    "failed": "run-header--failed",
    "cancelled": "run-header--cancelled",
    "interrupted": "run-header--cancelled",
}


class RunHeader(Widget):
    DEFAULT_CSS = """
    RunHeader {
        height: 1;
        dock: top;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    RunHeader > .run-header--name { color: $primary; text-style: bold; }
    RunHeader > .run-header--idle { color: $foreground-muted; }
    RunHeader > .run-header--running { color: $primary; text-style: bold; }
    RunHeader > .run-header--paused { color: $secondary; text-style: bold reverse; }
    RunHeader > .run-header--completed { color: $success; text-style: bold; }
    RunHeader > .run-header--failed { color: $error; text-style: bold; }
    RunHeader > .run-header--cancelled { color: $warning; text-style: bold; }
    RunHeader > .run-header--bar { color: $primary; }
    RunHeader > .run-header--bar-back { color: $foreground-muted; }
    RunHeader > .run-header--dim { color: $foreground-muted; }
    """
    COMPONENT_CLASSES = {
        "run-header--name", "run-header--bar", "run-header--bar-back", "run-header--dim",
        "run-header--attention", *STATUS_CLASSES.values(),
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._view: RunView | None = None
        self._now: float | None = None
        self._metrics: RunMetrics | None = None

    def refresh_from(self, view: RunView, now: float | None, metrics: RunMetrics | None = None) -> None:
        """Show `view` as of `now` (epoch seconds; the replay clock in replay)."""
        self._view = view
        self._now = now
        self._metrics = metrics
        self.refresh()

    def elapsed(self) -> float | None:
        view = self._view
        if view is None or view.started_ts is None:
            return None
        end = view.ended_ts if view.ended_ts is not None else self._now
        return None if end is None else end - view.started_ts

    @staticmethod
    def status_label(view: RunView) -> str:
        """`running`, `running (1 paused)`, `paused` when every live agent is, or the
        outcome of an ended run."""
        if view.status != "running":
            return view.outcome() if view.status != "idle" else "idle"
        running = sum(1 for a in view.agents.values() if a.status == "running")
        paused = sum(1 for a in view.agents.values() if a.status == "paused")
        if paused and not running:
            return "paused"
        return "running" + (f" ({paused} paused)" if paused else "")

    def render(self) -> Text:
        view = self._view
        if view is None:
            return Text("oneie")
        style = self.get_component_rich_style
        dim = style("run-header--dim")
        label = self.status_label(view)
        status_style = style(STATUS_CLASSES.get(label.split(" ")[0], "run-header--idle"))
        pct = view.overall_progress()
        m = self._metrics or view.metrics(self._now if view.ended_ts is None else view.ended_ts)
        parts: list[tuple[int, Text]] = []  # (priority: lower survives longer, text)
        parts.append((0, Text(view.spec_name or "(no spec)", style=style("run-header--name"))))
        if view.reason and view.status != "running":
            label += f": {view.reason}"
        parts.append((0, Text(f"● {label}", style=status_style)))
        needing = sum(1 for a in view.agents.values() if a.needs_attention)
        if needing:  # styled in app.tcss
            parts.append((0, Text(f"⚑ {needing} need{'s' if needing == 1 else ''} you", style=style("run-header--attention"))))
        elapsed = self.elapsed()
        if elapsed is not None:
            parts.append((1, Text(f"{fmt.duration(elapsed)} elapsed")))
        bar = Text()
        filled = round(pct / 10)
        bar.append("█" * filled, style("run-header--bar"))
        bar.append("░" * (10 - filled), style("run-header--bar-back"))
        bar.append(f" {pct:3.0f}%")
        parts.append((0, bar))
        if view.status == "running":
            running = sum(1 for a in view.agents.values() if a.status == "running")
            parts.append((2, Text(f"parallel now {running}")))
            parts.append((3, Text(f"speedup so far {fmt.speedup(m.speedup)}")))
            parts.append((3, Text(f"util {m.utilization * 100:.0f}%")))
        elif view.started_ts is not None:
            if completed_work(label):  # a failed or cancelled run's times are not a speedup
                final = view.final.get("speedup")
                value = float(final) if isinstance(final, int | float) else m.speedup
                parts.append((2, Text(f"speedup {fmt.speedup(value)}")))
            parts.append((3, Text(f"util {m.utilization * 100:.0f}%")))
        parts.append((2, Text(f"{fmt.tokens(view.tokens())} tok")))
        parts.append((1, Text(fmt.money(view.cost()))))
        width = self.content_size.width or 200
        sep = Text(" │ ", style=dim)
        for cutoff in (3, 2, 1, 0):
            kept = [t for prio, t in parts if prio <= cutoff]
            if sum(t.cell_len for t in kept) + 3 * (len(kept) - 1) <= width or cutoff == 0:
                return sep.join(kept)
        return Text()
