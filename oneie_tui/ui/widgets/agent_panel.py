"""One agent's live panel: id and role in the agent's colour (border title), a status
badge and progress bar, the tail of its output, and a stats line (elapsed and active
time, tokens, cost). It renders from an `AgentView` only; its keys post intents."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget

from oneie_tui.metrics import AgentMetrics
from oneie_tui.runstate import AgentView
from oneie_tui.ui import format as fmt
from oneie_tui.ui.messages import CancelAgent, PauseAgent, RestartAgent, ZoomAgent

STATUSES = ("idle", "queued", "waiting", "running", "paused", "done", "failed", "cancelled", "blocked")


class AgentPanel(Widget, can_focus=True):
    DEFAULT_CSS = """
    AgentPanel {
        height: 100%;
        border: round $foreground 30%;
        background: $surface;
        padding: 0 1;
    }
    AgentPanel:focus { border: heavy $accent; background: $boost; }
    AgentPanel > .agent-panel--idle { color: $foreground-muted; }
    AgentPanel > .agent-panel--queued { color: $foreground-muted; text-style: bold; }
    AgentPanel > .agent-panel--waiting { color: $warning; text-style: bold; }
    AgentPanel > .agent-panel--running { color: $primary; text-style: bold; }
    AgentPanel > .agent-panel--paused { color: $secondary; text-style: bold reverse; }
    AgentPanel > .agent-panel--done { color: $success; text-style: bold; }
    AgentPanel > .agent-panel--failed { color: $error; text-style: bold reverse; }
    AgentPanel > .agent-panel--cancelled { color: $warning; text-style: bold; }
    AgentPanel > .agent-panel--blocked { color: $error; text-style: bold; }
    AgentPanel > .agent-panel--bar { color: $primary; }
    AgentPanel > .agent-panel--bar-done { color: $success; }
    AgentPanel > .agent-panel--bar-back { color: $foreground 20%; }
    AgentPanel > .agent-panel--tail { color: $foreground-muted; }
    AgentPanel > .agent-panel--reason { color: $error; }
    AgentPanel > .agent-panel--stats { color: $foreground-muted; }
    """
    COMPONENT_CLASSES = {
        *(f"agent-panel--{s}" for s in STATUSES),
        "agent-panel--bar", "agent-panel--bar-done", "agent-panel--bar-back",
        "agent-panel--tail", "agent-panel--reason", "agent-panel--stats",
    }
    BINDINGS = [
        Binding("p,space", "pause", "Pause/resume", id="pause"),
        Binding("c", "cancel", "Cancel", id="cancel"),
        Binding("r", "restart", "Restart", id="restart"),
        Binding("enter", "zoom", "Zoom", id="zoom"),
    ]

    def __init__(self, agent: AgentView, color: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.agent_id = agent.id
        self._agent = agent
        self._color = color
        self._now: float | None = None
        self._active: float | None = None
        self._set_title()

    def _set_title(self) -> None:
        title = Text()
        title.append(self._agent.id, style=f"bold {self._color}")
        if self._agent.role:
            title.append(f" · {self._agent.role}", style=self._color)
        self.border_title = title

    def refresh_from(
        self,
        agent: AgentView,
        now: float | None,
        metrics: AgentMetrics | None = None,
        color: str | None = None,
    ) -> None:
        self._agent = agent
        self._now = now
        self._active = metrics.active_s if metrics is not None else None
        if color is not None and color != self._color:
            self._color = color
            self._set_title()
        self.refresh()

    # --- rendering ----------------------------------------------------------------

    def render(self) -> Text:
        a = self._agent
        style = self.get_component_rich_style
        width = max(10, self.content_size.width)
        height = max(1, self.content_size.height)
        badge_name = fmt.BADGE.get(a.status, a.status)
        badge = fmt.badge(a)
        out = Text(no_wrap=True, overflow="ellipsis")
        label = f" {badge} "
        max_label = max(8, width // 2)
        if len(label) > max_label:
            label = label[: max_label - 1] + "… "
        out.append(label, style(f"agent-panel--{badge_name}"))
        bar_width = max(0, width - len(label) - 6)
        filled = round(bar_width * a.progress / 100)
        out.append(" ")
        bar_style = style("agent-panel--bar-done" if a.status == "completed" else "agent-panel--bar")
        out.append("━" * filled, bar_style)
        out.append("━" * (bar_width - filled), style("agent-panel--bar-back"))
        out.append(f"{a.progress:4.0f}%")
        body = height - 2  # badge line and stats line
        tail_style = style("agent-panel--tail")
        extra = [Text(a.reason, style("agent-panel--reason"))] if a.reason and a.terminal else []
        tail_count = max(0, body - len(extra))
        tail = list(a.output)[-tail_count:] if tail_count else []
        lines = [Text(line, tail_style) for line in tail] + extra
        for line in lines[-body:] if body > 0 else []:
            out.append("\n")
            line.truncate(width, overflow="ellipsis")
            out.append_text(line)
        for _ in range(max(0, body - len(lines))):
            out.append("\n")
        if height >= 2:
            out.append("\n")
            out.append_text(Text(self._stats(), style("agent-panel--stats")))
        return out

    def _stats(self) -> str:
        """Elapsed, active, tokens, cost; the least useful go first when narrow."""
        a = self._agent
        parts: list[tuple[int, str]] = []  # (priority: lower survives longer, text)
        if a.started_ts is not None:
            end = a.ended_ts if a.ended_ts is not None else self._now
            if end is not None:
                parts.append((0, fmt.duration(end - a.started_ts)))
            if self._active is not None:
                parts.append((2, f"{fmt.duration(self._active)} active"))
        parts.append((1, f"{fmt.tokens(a.tokens)} tok"))
        parts.append((0, fmt.money(a.cost_usd)))
        if a.attempt > 1:
            parts.append((1, f"try {a.attempt}"))
        width = max(10, self.content_size.width)
        for cutoff in (2, 1, 0):
            text = " · ".join(t for prio, t in parts if prio <= cutoff)
            if len(text) <= width:
                return text
        return text

    # --- intents ------------------------------------------------------------------

    def action_pause(self) -> None:
        self.post_message(PauseAgent(self.agent_id))

    def action_cancel(self) -> None:
        self.post_message(CancelAgent(self.agent_id))

    def action_restart(self) -> None:
        self.post_message(RestartAgent(self.agent_id))

    def action_zoom(self) -> None:
        self.post_message(ZoomAgent(self.agent_id))
