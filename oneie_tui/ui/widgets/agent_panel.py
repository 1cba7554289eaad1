"""One agent's live panel: id and role in the agent's colour (border title), a status
badge and progress bar, the tail of its output, and a stats line (elapsed and active
time, tokens, cost). It renders from an `AgentView` only; its keys post intents."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from oneie_tui.ui import format as fmt
from oneie_tui.ui.messages import CancelAgent, ComposeMessage, PauseAgent, RestartAgent, ZoomAgent
from oneie_tui.views.metrics import AgentMetrics
from oneie_tui.views.run_view import AgentView

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
        "agent-panel--tail", "agent-panel--reason", "agent-panel--stats", "agent-panel--attention",
    }
    # priority: a focused panel's keys act on the app's first look at the key, not after
    # a round trip through the focus chain (they only apply while a panel has focus).
    BINDINGS = [
        Binding("p,space", "pause", "Pause/resume", id="pause", priority=True),
        Binding("c", "cancel", "Cancel", id="cancel", priority=True),
        Binding("r", "restart", "Restart", id="restart", priority=True),
        Binding("m", "message", "Message", id="message", priority=True, show=False),  # palette; footer unchanged
        Binding("enter", "zoom", "Zoom", id="zoom", priority=True),
    ]

    def __init__(self, agent: AgentView, color: str, *, controls: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.agent_id = agent.id
        self.controls = controls  # False in a replay: there is no runner to act on
        self._agent = agent
        self._color = color
        self._now: float | None = None
        self._active: float | None = None
        self._strips: list[Strip] | None = None
        self._strips_width = 0
        self._style_cache: dict[str, Style] | None = None
        self._stats_width: int | None = None  # the grid's: the same cut for every panel
        self._set_title()

    def set_stats_width(self, width: int) -> None:
        if width != self._stats_width:
            self._stats_width = width
            self._strips = None
            self.refresh()

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
        self._strips = None
        self.set_class(agent.needs_attention, "-attention")  # the border says so (app.tcss)
        if color is not None and color != self._color:
            self._color = color
            self._set_title()
        self.refresh()

    # --- rendering (line API: strips built once per change, no markup parsing) -----

    def _styles(self) -> dict[str, Style]:
        if self._style_cache is None:
            base = self.rich_style
            self._style_cache = {
                name: self.get_component_rich_style(f"agent-panel--{name}")
                for name in (*STATUSES, "bar", "bar-done", "bar-back", "tail", "reason", "stats", "attention")
            }
            self._style_cache[""] = base
        return self._style_cache

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_cache = None
        self._strips = None

    def on_resize(self) -> None:
        self._strips = None

    def _line(self, parts: list[tuple[str, Style]], width: int) -> Strip:
        segments = [Segment(text, style) for text, style in parts if text]
        return Strip(segments).adjust_cell_length(width, self._styles()[""])

    def _build(self, width: int, height: int) -> list[Strip]:
        a = self._agent
        st = self._styles()
        badge_name = fmt.BADGE.get(a.status, a.status)
        label = f" {fmt.badge(a)} "
        max_label = max(8, width // 2)
        if len(label) > max_label:
            label = label[: max_label - 2] + "… "
        bar_width = max(0, width - cell_len(label) - 6)
        filled = round(bar_width * a.progress / 100)
        bar_style = st["bar-done" if a.status == "completed" else "bar"]
        strips = [
            self._line(
                [
                    (label, st.get(badge_name, st[""])),
                    (" ", st[""]),
                    ("━" * filled, bar_style),
                    ("━" * (bar_width - filled), st["bar-back"]),
                    (f"{a.progress:4.0f}%", st[""]),
                ],
                width,
            )
        ]
        if a.attention and height >= 3:  # why it needs the user, right under its status
            strips.append(self._line([(f"⚑ {a.attention_label()}", st["attention"])], width))
        body = max(0, height - len(strips) - 1)  # between the badge lines and the stats line
        extra = [(a.reason, st["reason"])] if a.reason and a.terminal else []
        tail_count = max(0, body - len(extra))
        output = a.output
        tail = [output[i] for i in range(max(0, len(output) - tail_count), len(output))] if tail_count else []
        lines = [(line, st["tail"]) for line in tail] + extra
        for text, style in lines[-body:] if body else []:
            if cell_len(text) > width:
                text = set_cell_size(text, width - 1) + "…"
            strips.append(self._line([(text, style)], width))
        blank = Strip.blank(width, st[""])
        strips.extend(blank for _ in range(body - min(body, len(lines))))
        if height >= 2:
            strips.append(self._line([(self._stats(), st["stats"])], width))
        return strips[:height]

    def render_line(self, y: int) -> Strip:
        width, height = self.content_size
        if self._strips is None or len(self._strips) != height or self._strips_width != width:
            self._strips = self._build(width, height)
            self._strips_width = width
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, self._styles()[""])

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
        if a.extra.get("diff_stat"):  # worktree isolation: what this agent changed
            parts.append((1, str(a.extra["diff_stat"])))
        if a.conflicts:  # the radar: whom this agent's changes collide with
            lines = any(kind == "same_lines" for kind in a.conflicts.values())
            parts.append((0, f"⚠ {'conflicts' if lines else 'overlaps'} with {', '.join(sorted(a.conflicts))}"))
        if a.outside_scope:
            parts.append((1, f"{len(a.outside_scope)} outside scope"))
        width = max(10, min(self.content_size.width, self._stats_width or self.content_size.width))
        for cutoff in (2, 1, 0):
            text = " · ".join(t for prio, t in parts if prio <= cutoff)
            if len(text) <= width:
                return text
        return text

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A panel of a screen without a runner (replay) is made with `controls=False`.
        if action in ("pause", "cancel", "restart", "message") and not self.controls:
            return False  # hidden, not just dimmed: there is nothing to control
        return True

    # --- intents ------------------------------------------------------------------
    # Posted straight to the screen (one hop, not one per container on the way up):
    # key-to-runner latency matters most when the loop is busiest.

    def _intent(self, message: Message) -> None:
        target = self.screen if self.is_attached else self
        target.post_message(message)

    def action_pause(self) -> None:
        self._intent(PauseAgent(self.agent_id))

    def action_cancel(self) -> None:
        self._intent(CancelAgent(self.agent_id))

    def action_restart(self) -> None:
        self._intent(RestartAgent(self.agent_id))

    def action_message(self) -> None:
        self._intent(ComposeMessage(self.agent_id))

    def action_zoom(self) -> None:
        self._intent(ZoomAgent(self.agent_id))
