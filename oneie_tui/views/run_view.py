"""What a run looks like at some moment, folded from its events.

The dashboard (live), replay and reports all build their picture with `RunView.apply`,
so a replayed run ends exactly where the live run ended. No Textual here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oneie_tui.events import (
    ATTENTION_REASONS,
    LAND_TYPES,
    STATUS_OF,
    AgentStatus,
    Event,
    EventType,
    Usage,
    add_usage,
    awaited,
    status_after,
)
from oneie_tui.events import TERMINAL_STATUSES as TERMINAL
from oneie_tui.spec.model import Spec
from oneie_tui.trust.display import display, display_value, is_safe
from oneie_tui.views.metrics import MetricsBuilder, RunMetrics
from oneie_tui.views.outcome import run_outcome

if TYPE_CHECKING:
    from oneie_tui.store.base import RunRow

OUTPUT_TAIL = 200  # lines kept per agent: bounded memory however long the run
TIMELINE_TAIL = 2000
ATTENTION_TAIL = 50  # attention items kept per agent (the zoom shows them in full)
ATTENTION_TEXT = 20_000  # characters kept of one item's text: whole for any real denial

# Events shown on the timeline: lifecycle and coordination, not the output stream.
TIMELINE_TYPES = frozenset(
    {*STATUS_OF, EventType.TASK_EVENT, EventType.RUN_STARTED, EventType.RUN_FINISHED, EventType.RUN_FAILED, EventType.RETRY,
     EventType.BUDGET_EXCEEDED, EventType.AGENT_TOOL, EventType.AGENT_ATTENTION, *LAND_TYPES,
     EventType.AGENT_MESSAGE}  # what the user said to an agent
)


@dataclass
class Attention:
    """One reason the agent needs the user (an `agent_attention` event), fit to show."""

    reason: str  # an events.AttentionReason; anything else (an imported log) is shown as is
    text: str = ""
    tools: list[str] = field(default_factory=list)
    seq: int = 0

    @property
    def label(self) -> str:
        """A few words for a badge: `2 denied`, `question`, `blocked`, `failed`."""
        if self.reason == "permission_denied":
            return f"{max(1, len(self.tools))} denied"
        return self.reason


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
    conflicts: dict[str, str] = field(default_factory=dict)  # other agent → same_file | same_lines
    outside_scope: list[str] = field(default_factory=list)  # paths changed outside its scope
    # Why it needs the user, oldest first; cleared by a new attempt or a resume.
    attention: deque[Attention] = field(default_factory=lambda: deque(maxlen=ATTENTION_TAIL))

    @property
    def needs_attention(self) -> bool:
        return bool(self.attention)

    def attention_label(self) -> str:
        """The badge: `needs you: 2 denied, question` (denials summed), or ""."""
        if not self.attention:
            return ""
        denied = sum(max(1, len(x.tools)) for x in self.attention if x.reason == "permission_denied")
        words = [f"{denied} denied"] if denied else []
        words += list(dict.fromkeys(x.reason for x in self.attention if x.reason != "permission_denied"))
        return "needs you: " + ", ".join(words)

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
            "attention": [(x.reason, x.text, list(x.tools)) for x in self.attention],
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
    # The runner's own summary of an ended run (its last event): the final figures are
    # shown from it everywhere (header, history, `oneie runs`), so they round alike.
    final: dict[str, Any] = field(default_factory=dict)
    runner_failed: bool = False

    @classmethod
    def for_spec(cls, spec: Spec, run_id: str = "") -> RunView:
        # A spec is shared text too (TOML escapes can write any control character).
        view = cls(run_id=run_id, spec_name=display(spec.feature.name))
        for a in spec.agents:
            view.agents[a.id] = AgentView(a.id, role=display(a.role), task=display(a.task), color=a.color)
        return view

    def outcome(self) -> str:
        """What happened, in words (`completed (1 cancelled)`); see `views.outcome`."""
        if self.final.get("outcome"):
            return str(self.final["outcome"])
        statuses = [a.status for a in self.agents.values() if a.status != "pending"]
        denials = sum(m.denials for m in self.metrics_builder.agents.values())
        return run_outcome(self.status, statuses, runner_failed=self.runner_failed, denials=denials)

    def agent(self, agent_id: str) -> AgentView:
        found = self.agents.get(agent_id)
        if found is None:
            found = self.agents[agent_id] = AgentView(agent_id)
        return found

    def apply(self, e: Event) -> None:
        """Fold one event. Every string taken from it passes `display` on the way in: the
        display boundary for every surface built on this view (panels, zoom, timeline,
        header, replay, Gantt, reports), so no control byte of an agent reaches a terminal."""
        self.last_seq = e.seq
        self.last_ts = e.ts
        self.run_id = self.run_id or e.run_id
        self.metrics_builder.add(e)
        kind = e.type
        if kind in TIMELINE_TYPES:
            self.timeline.append(shown_event(e))
        if kind == EventType.RUN_STARTED:
            self.status = "running"
            self.reason = ""
            self.ended_ts = None
            self.final = {}
            self.runner_failed = False
            if self.started_ts is None:
                self.started_ts = e.ts
            self.spec_name = display(e.metadata.get("spec", self.spec_name))
            for agent_id in e.metadata.get("agents", []):
                self.agent(display(agent_id))
            return
        if kind in (EventType.RUN_FINISHED, EventType.RUN_FAILED):
            self.status = str(e.metadata.get("status", "failed" if kind == EventType.RUN_FAILED else "completed"))
            if kind == EventType.RUN_FAILED:
                self.status = "failed"
            self.final = dict(e.metadata)
            self.runner_failed = kind == EventType.RUN_FAILED
            self.reason = display(e.metadata.get("reason", ""))
            self.ended_ts = e.ts
            return
        if kind in (EventType.CONFLICT_DETECTED, EventType.CONFLICT_CLEARED):
            self._conflict(e)
            return
        if e.actor == "runner":
            return
        a = self.agent(e.actor if is_safe(e.actor) else display(e.actor))
        md = e.metadata
        if kind == EventType.AGENT_OUTPUT:
            text = str(md.get("text", ""))
            for line in text.splitlines() or [""]:
                a.output.append(display(line))
                a.output_lines += 1
        elif kind == EventType.AGENT_PROGRESS:
            a.progress = float(md.get("percent", a.progress))
            if md.get("note"):
                a.note = display(md["note"])
        elif (status := status_after(e)) is not None:
            a.status = status
            if kind == EventType.AGENT_QUEUED:
                before = a.attempt
                a.attempt = int(md.get("attempt", a.attempt or 1))
                if a.attempt > max(1, before):  # a restart: mark where the new attempt's output starts
                    a.output.append(f"── attempt {a.attempt} ──")
                if a.attempt != before:
                    a.attention.clear()  # a new attempt starts with nothing pending
                if md.get("note"):  # why it waits: the open-file or process limit
                    a.note = display(md["note"])
                if not md.get("slot"):
                    a.reason = ""
                    a.progress = 0.0
                    a.ended_ts = None
            elif kind == EventType.AGENT_WAITING:
                a.waiting_for = [display(x) for x in awaited(md)]
            elif kind == EventType.AGENT_STARTED:
                a.started_ts = e.ts
                a.waiting_for = []
            elif kind == EventType.AGENT_RESUMED:
                a.attention.clear()  # the user acted on it
                if a.status == "running":
                    a.waiting_for = []
            if a.status in TERMINAL:
                a.ended_ts = e.ts
                a.reason = display(md.get("reason", ""))
                a.summary = display(md.get("summary", ""))
                a.waiting_for = []
                if a.status == "completed":
                    a.progress = 100.0
        elif kind == EventType.TASK_EVENT:
            if e.action:
                a.events_fired.append(display(e.action))
        elif kind == EventType.USAGE:
            add_usage(a.usage, md)
        elif kind == EventType.AGENT_TOOL:
            a.tool_calls += 1
        elif kind == EventType.AGENT_ATTENTION:
            a.attention.append(attention_of(e))
        elif kind == EventType.AGENT_MESSAGE:
            a.attention.clear()  # the user answered it
        elif kind == EventType.AGENT_INFO:
            a.extra.update(display_value(md))
        elif kind == EventType.SCOPE_EXCEEDED:
            a.outside_scope.extend(display(str(p)) for p in md.get("paths", []))

    def _conflict(self, e: Event) -> None:
        """The radar's findings, on both agents' views: who each one collides with."""
        pair = [display(str(x)) for x in e.metadata.get("agents", [])][:2]
        if len(pair) != 2:
            return
        for me, other in (pair, pair[::-1]):
            if e.type == EventType.CONFLICT_DETECTED:
                self.agent(me).conflicts[other] = display(str(e.metadata.get("kind", "same_file")))
            else:
                self.agent(me).conflicts.pop(other, None)

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


def shown_event(e: Event) -> Event:
    """A copy of `e` fit to show: every string in it through `display` (the raw event stays
    in the store). Only for the timeline's low-rate lifecycle events."""
    return Event(
        e.seq, e.run_id, e.ts, display(e.type), display(e.actor), display(e.target),
        display(e.group), display_value(e.metadata),
    )


def attention_of(e: Event) -> Attention:
    """An `agent_attention` event's reason, text and tools, through `display` (the text
    keeps its lines: the zoom shows the whole denial)."""
    md = e.metadata
    reason = str(md.get("reason", ""))
    tools = md.get("tools")
    text = str(md.get("text", ""))[:ATTENTION_TEXT]
    return Attention(
        reason=reason if reason in ATTENTION_REASONS else display(reason) or "attention",
        text=display(text, keep_newlines=True),
        tools=[display(str(t)) for t in tools[:100]] if isinstance(tools, list) else [],
        seq=e.seq,
    )


def initial_view(run: RunRow) -> RunView:
    """A stored run's view before any event: the agents of its stored spec, if that
    still parses (replay and reports start their folds here)."""
    from oneie_tui.spec.loader import SpecError, parse_spec_text

    try:
        return RunView.for_spec(parse_spec_text(run.spec_text), run.id)
    except SpecError:
        return RunView(run_id=run.id, spec_name=run.spec_name)
