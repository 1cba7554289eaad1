"""The reference's performance metrics, computed from a run's events alone.

Because metrics come from the event log (not from runner memory), a live run, a stored
run, an imported run and a replay all report the same figures.

- wall: the time the run was live (the sum of its started→finished spans, for resumes)
- sequential: the sum of every agent's active time (running, not paused or waiting)
- speedup = sequential / wall; utilization = busy / (agents × wall)
- critical path: the longest chain through `after`/`after_any`, each event firing at the
  active offset it fired at in this run; ideal speedup = sequential / critical path
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from oneie_tui.events import ACTIVE_STATUS_OF as STATE_OF
from oneie_tui.events import (
    STREAM_TYPES,
    AgentStatus,
    Event,
    EventType,
    Usage,
    add_usage,
    status_after,
)
from oneie_tui.events import TERMINAL_STATUS_OF as TERMINAL

CONFLICT_TYPES = frozenset({EventType.CONFLICT_DETECTED, EventType.CONFLICT_CLEARED})


@dataclass
class Segment:
    start: float
    end: float | None
    state: str


@dataclass
class AgentMetrics:
    id: str
    status: AgentStatus = "pending"
    reason: str = ""
    started_s: float | None = None
    ended_s: float | None = None
    active_s: float = 0.0
    attempts: int = 0
    after: list[str] = field(default_factory=list)
    after_any: list[str] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    emitted: dict[str, float] = field(default_factory=dict)  # action -> active offset
    usage: Usage = field(default_factory=Usage)
    diff_stat: str = ""  # isolated agents: what changed in the worktree (agent_info)
    conflicts: dict[str, str] = field(default_factory=dict)  # the radar: other agent → kind
    denials: int = 0  # tool calls the CLI refused in the current attempt (agent_attention)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "started_s": _r(self.started_s),
            "ended_s": _r(self.ended_s),
            "active_s": _r(self.active_s),
            "attempts": self.attempts,
            **self.usage.to_dict(),
            **({"diff_stat": self.diff_stat} if self.diff_stat else {}),
            **({"conflicts": [f"{a} ({k.removeprefix('same_')})" for a, k in self.conflicts.items()]}
               if self.conflicts else {}),
            **({"denials": self.denials} if self.denials else {}),
        }


@dataclass
class RunMetrics:
    wall_s: float = 0.0
    sequential_s: float = 0.0
    speedup: float = 0.0
    utilization: float = 0.0
    critical_path_s: float = 0.0
    ideal_speedup: float = 0.0
    critical_path: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    agents: dict[str, AgentMetrics] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.usage.total_tokens

    @property
    def cost_usd(self) -> float:
        return self.usage.cost_usd

    def denials(self) -> int:
        """Tool calls refused in the agents' current attempts (the outcome says so)."""
        return sum(a.denials for a in self.agents.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_s": _r(self.wall_s),
            "sequential_s": _r(self.sequential_s),
            "speedup": round(self.speedup, 4),
            "utilization": round(self.utilization, 4),
            "critical_path_s": _r(self.critical_path_s),
            "ideal_speedup": round(self.ideal_speedup, 4),
            "critical_path": self.critical_path,
            **self.usage.to_dict(),
            "agents": [a.to_dict() for a in self.agents.values()],
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class MetricsBuilder:
    """Folds events one by one; `result(now)` gives metrics at any point (live or replay)."""

    def __init__(self) -> None:
        self.origin: float | None = None
        self.agents: dict[str, AgentMetrics] = {}
        self._run_open: float | None = None
        self._wall_closed = 0.0
        self._run_since: dict[str, float] = {}  # agent -> start of its open running segment
        self._last_t = 0.0

    def agent(self, agent_id: str) -> AgentMetrics:
        found = self.agents.get(agent_id)
        if found is None:
            found = self.agents[agent_id] = AgentMetrics(agent_id)
        return found

    def _rel(self, ts: float) -> float:
        assert self.origin is not None
        return ts - self.origin

    def _close_segment(self, m: AgentMetrics, t: float) -> None:
        if m.segments and m.segments[-1].end is None:
            m.segments[-1].end = t
        since = self._run_since.pop(m.id, None)
        if since is not None:
            m.active_s += t - since

    def _open(self, m: AgentMetrics, t: float, state: str) -> None:
        self._close_segment(m, t)
        m.segments.append(Segment(t, None, state))
        if state == "running":
            self._run_since[m.id] = t

    def add(self, e: Event) -> None:
        kind = e.type
        if kind in STREAM_TYPES and self.origin is not None:
            # Output and progress (nearly every event of a chatty run) only move the clock.
            self._last_t = e.ts - self.origin
            if e.actor not in self.agents and e.actor and e.actor != "runner":
                self.agent(e.actor)
            return
        if self.origin is None:
            self.origin = e.ts
        t = self._rel(e.ts)
        if kind == EventType.RUN_STARTED:
            if self._run_open is not None:
                # The previous process died mid-run (resume): its spans end at its last event.
                self._wall_closed += self._last_t - self._run_open
                for m in self.agents.values():
                    self._close_segment(m, self._last_t)
            self._run_open = t
            self._last_t = t
            for agent_id in e.metadata.get("agents", []):
                self.agent(agent_id)
            return
        self._last_t = t
        if kind in (EventType.RUN_FINISHED, EventType.RUN_FAILED):
            if self._run_open is not None:
                self._wall_closed += t - self._run_open
                self._run_open = None
            return
        if kind in CONFLICT_TYPES:
            self._conflict(e)
            return
        if e.actor == "runner" or not e.actor:
            return
        m = self.agent(e.actor)
        if kind in STATE_OF:
            state = status_after(e) or STATE_OF[kind]
            if kind == EventType.AGENT_QUEUED:
                if m.status in TERMINAL.values() or m.attempts == 0:
                    m.attempts += 1
                    m.denials = 0  # a new attempt: the run's outcome is about its denials
                m.reason = ""
            if kind == EventType.AGENT_WAITING:
                m.after = list(e.metadata.get("after", m.after))
                m.after_any = list(e.metadata.get("after_any", m.after_any))
            if kind == EventType.AGENT_STARTED and m.started_s is None:
                m.started_s = t
            m.status = state
            self._open(m, t, state)
        elif kind in TERMINAL:
            self._close_segment(m, t)
            m.status = TERMINAL[kind]
            m.reason = str(e.metadata.get("reason", ""))
            m.ended_s = t
            m.segments.append(Segment(t, t, m.status))
        elif kind == EventType.TASK_EVENT and e.action:
            since = self._run_since.get(m.id)
            offset = m.active_s + (t - since if since is not None else 0.0)
            m.emitted.setdefault(e.action, offset)
        elif kind == EventType.USAGE:
            add_usage(m.usage, e.metadata)
        elif kind == EventType.AGENT_ATTENTION and e.metadata.get("reason") == "permission_denied":
            tools = e.metadata.get("tools")
            m.denials += max(1, len(tools)) if isinstance(tools, list) else 1
        elif kind == EventType.AGENT_INFO:
            if "diff_stat" in e.metadata:
                m.diff_stat = str(e.metadata["diff_stat"])
            self._process_clock(m, t, e.metadata)

    def _process_clock(self, m: AgentMetrics, t: float, meta: dict[str, Any]) -> None:
        """A process agent's active time runs from its process's start (`agent_info` with
        `pid`) to its exit (`process_exited`), not from when the runner asked for it and
        until it finished reading and cleaning up: under load those differ by seconds."""
        open_seg = m.segments[-1] if m.segments and m.segments[-1].end is None else None
        if open_seg is None or open_seg.state != "running" or m.id not in self._run_since:
            return
        if "pid" in meta and meta.get("process_started"):
            ago = meta.get("started_s_ago", 0.0)
            ago = float(ago) if isinstance(ago, (int, float)) and 0 <= ago < 3600 else 0.0
            open_seg.start = self._run_since[m.id] = max(open_seg.start, t - ago)
        elif meta.get("process_exited"):
            self._close_segment(m, t)

    def _conflict(self, e: Event) -> None:
        """The radar's open findings, on both agents (the summary's conflicts column)."""
        pair = e.metadata.get("agents")
        if not isinstance(pair, list) or len(pair) != 2:
            return
        a, b = str(pair[0]), str(pair[1])
        for me, other in ((a, b), (b, a)):
            if e.type == EventType.CONFLICT_DETECTED:
                self.agent(me).conflicts[other] = str(e.metadata.get("kind", "same_file"))
            else:
                self.agent(me).conflicts.pop(other, None)

    def wall(self, now: float | None = None) -> float:
        wall = self._wall_closed
        if self._run_open is not None and now is not None and self.origin is not None:
            wall += max(0.0, now - self.origin - self._run_open)
        return wall

    def result(self, now: float | None = None) -> RunMetrics:
        """Metrics as of `now` (epoch seconds; open segments count up to it)."""
        rel_now = None if now is None or self.origin is None else now - self.origin
        agents: dict[str, AgentMetrics] = {}
        for agent_id, m in self.agents.items():
            copy = AgentMetrics(**{**m.__dict__, "segments": list(m.segments), "usage": replace(m.usage)})
            since = self._run_since.get(agent_id)
            if since is not None and rel_now is not None:
                copy.active_s += max(0.0, rel_now - since)
            agents[agent_id] = copy
        out = RunMetrics(agents=agents)
        out.wall_s = self.wall(now)
        out.sequential_s = sum(a.active_s for a in agents.values())
        out.speedup = out.sequential_s / out.wall_s if out.wall_s > 0 else 0.0
        n = len(agents)
        out.utilization = out.sequential_s / (n * out.wall_s) if n and out.wall_s > 0 else 0.0
        out.critical_path_s, out.critical_path = critical_path(agents)
        out.ideal_speedup = (
            out.sequential_s / out.critical_path_s if out.critical_path_s > 0 else 0.0
        )
        for a in agents.values():
            out.usage.add(a.usage)
        return out


def critical_path(agents: dict[str, AgentMetrics]) -> tuple[float, list[str]]:
    """Longest chain of active time through the events agents waited for."""
    emitters: dict[str, list[str]] = {}
    for a in agents.values():
        for action in a.emitted:
            emitters.setdefault(action, []).append(a.id)
    start: dict[str, float] = {}
    via: dict[str, str | None] = {}
    visiting: set[str] = set()

    def fire_time(action: str) -> tuple[float, str] | None:
        best: tuple[float, str] | None = None
        for x in emitters.get(action, []):
            t = agent_start(x) + agents[x].emitted[action]
            if best is None or t < best[0]:
                best = (t, x)
        return best

    def agent_start(agent_id: str) -> float:
        if agent_id in start:
            return start[agent_id]
        if agent_id in visiting:  # defensive: specs are acyclic, imported logs may not be
            return 0.0
        visiting.add(agent_id)
        a = agents[agent_id]
        t, pred = 0.0, None
        for action in a.after:
            hit = fire_time(action)
            if hit and hit[0] >= t:
                t, pred = hit
        if a.after_any:
            hits = [h for h in (fire_time(x) for x in a.after_any) if h]
            if hits:
                first = min(hits)
                if first[0] >= t:
                    t, pred = first
        visiting.discard(agent_id)
        start[agent_id], via[agent_id] = t, pred
        return t

    best_end, last = 0.0, None
    for agent_id, a in agents.items():
        end = agent_start(agent_id) + a.active_s
        if end > best_end:
            best_end, last = end, agent_id
    path: list[str] = []
    while last is not None and last not in path:
        path.append(last)
        last = via.get(last)
    return best_end, list(reversed(path))


def compute(events: Iterable[Event], now: float | None = None) -> RunMetrics:
    builder = MetricsBuilder()
    last_ts = None
    for e in events:
        builder.add(e)
        last_ts = e.ts
    return builder.result(now if now is not None else last_ts)
