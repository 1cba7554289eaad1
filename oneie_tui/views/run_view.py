"""What a run looks like at some moment, folded from its events.

The dashboard (live), replay and reports all build their picture with `RunView.apply`,
so a replayed run ends exactly where the live run ended. No Textual here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oneie_tui.events import STATUS_OF, AgentStatus, Event, Usage, add_usage, awaited, status_after
from oneie_tui.events import TERMINAL_STATUSES as TERMINAL
from oneie_tui.spec.model import Spec
from oneie_tui.views.metrics import MetricsBuilder, RunMetrics

if TYPE_CHECKING:
    from oneie_tui.store.base import RunRow

OUTPUT_TAIL = 200  # lines kept per agent: bounded memory however long the run
TIMELINE_TAIL = 2000

# Events shown on the timeline: lifecycle and coordination, not the output stream.
TIMELINE_TYPES = frozenset(
    {*STATUS_OF, "task_event", "run_started", "run_finished", "run_failed", "retry",
     "budget_exceeded", "agent_tool"}
)


@dataclass
class AgentView:
    id: str
    role: str = ""
    task: str = ""
    color: str | None = None
    status: AgentStatus = "pending"
    reason: str = ""
    waiting_for: list[str] = field(default_factory=list)
    progress: float = 0.0
    note: str = ""
    attempt: int = 0
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_TAIL))
    output_lines: int = 0
    events_fired: list[str] = field(default_factory=list)
    tool_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    started_ts: float | None = None
    ended_ts: float | None = None
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # backend facts (session id, diff stat)

    @property
    def tokens(self) -> int:
        return self.usage.total_tokens

    @property
    def cost_usd(self) -> float:
        return self.usage.cost_usd

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def comparable(self) -> dict[str, Any]:
        """The panel's content, for checking that replay ends where the live run ended."""
        return {
            "status": self.status,
            "reason": self.reason,
            "progress": self.progress,
            "output": list(self.output),
            "output_lines": self.output_lines,
            "events_fired": list(self.events_fired),
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 9),
            "attempt": self.attempt,
        }


@dataclass
class RunView:
    run_id: str = ""
    spec_name: str = ""
    status: str = "idle"
    reason: str = ""
    agents: dict[str, AgentView] = field(default_factory=dict)
    timeline: deque[Event] = field(default_factory=lambda: deque(maxlen=TIMELINE_TAIL))
    started_ts: float | None = None
    ended_ts: float | None = None
    last_seq: int = 0
    last_ts: float | None = None
    metrics_builder: MetricsBuilder = field(default_factory=MetricsBuilder)

    @classmethod
    def for_spec(cls, spec: Spec, run_id: str = "") -> RunView:
        view = cls(run_id=run_id, spec_name=spec.feature.name)
        for a in spec.agents:
            view.agents[a.id] = AgentView(a.id, role=a.role, task=a.task, color=a.color)
        return view

    def agent(self, agent_id: str) -> AgentView:
        found = self.agents.get(agent_id)
        if found is None:
            found = self.agents[agent_id] = AgentView(agent_id)
        return found

    def apply(self, e: Event) -> None:
        self.last_seq = e.seq
        self.last_ts = e.ts
        self.run_id = self.run_id or e.run_id
        self.metrics_builder.add(e)
        kind = e.type
        if kind in TIMELINE_TYPES:
            self.timeline.append(e)
        if kind == "run_started":
            self.status = "running"
            self.reason = ""
            self.ended_ts = None
            if self.started_ts is None:
                self.started_ts = e.ts
            self.spec_name = str(e.metadata.get("spec", self.spec_name))
            for agent_id in e.metadata.get("agents", []):
                self.agent(agent_id)
            return
        if kind in ("run_finished", "run_failed"):
            self.status = str(e.metadata.get("status", "failed" if kind == "run_failed" else "completed"))
            if kind == "run_failed":
                self.status = "failed"
            self.reason = str(e.metadata.get("reason", ""))
            self.ended_ts = e.ts
            return
        if e.actor == "runner":
            return
        a = self.agent(e.actor)
        md = e.metadata
        if kind == "agent_output":
            text = str(md.get("text", ""))
            for line in text.splitlines() or [""]:
                a.output.append(line)
                a.output_lines += 1
        elif kind == "agent_progress":
            a.progress = float(md.get("percent", a.progress))
            if md.get("note"):
                a.note = str(md["note"])
        elif (status := status_after(e)) is not None:
            a.status = status
            if kind == "agent_queued":
                a.attempt = int(md.get("attempt", a.attempt or 1))
                if not md.get("slot"):
                    a.reason = ""
                    a.progress = 0.0
                    a.ended_ts = None
            elif kind == "agent_waiting":
                a.waiting_for = awaited(md)
            elif kind == "agent_started":
                a.started_ts = e.ts
                a.waiting_for = []
            elif kind == "agent_resumed" and a.status == "running":
                a.waiting_for = []
            if a.status in TERMINAL:
                a.ended_ts = e.ts
                a.reason = str(md.get("reason", ""))
                a.summary = str(md.get("summary", ""))
                a.waiting_for = []
                if a.status == "completed":
                    a.progress = 100.0
        elif kind == "task_event":
            if e.action:
                a.events_fired.append(e.action)
        elif kind == "usage":
            add_usage(a.usage, md)
        elif kind == "agent_tool":
            a.tool_calls += 1
        elif kind == "agent_info":
            a.extra.update(md)

    def apply_all(self, events: list[Event] | tuple[Event, ...]) -> None:
        for e in events:
            self.apply(e)

    def overall_progress(self) -> float:
        """The reference's overall progress: the mean of the agents' percents."""
        if not self.agents:
            return 0.0
        return sum(a.progress for a in self.agents.values()) / len(self.agents)

    def metrics(self, now: float | None = None) -> RunMetrics:
        return self.metrics_builder.result(now if now is not None else self.last_ts)

    def tokens(self) -> int:
        return sum(a.tokens for a in self.agents.values())

    def cost(self) -> float:
        return sum(a.cost_usd for a in self.agents.values())


def initial_view(run: RunRow) -> RunView:
    """A stored run's view before any event: the agents of its stored spec, if that
    still parses (replay and reports start their folds here)."""
    from oneie_tui.spec.loader import SpecError, parse_spec_text

    try:
        return RunView.for_spec(parse_spec_text(run.spec_text), run.id)
    except SpecError:
        return RunView(run_id=run.id, spec_name=run.spec_name)
