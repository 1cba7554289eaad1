"""Events and the bus that orders them.

Every event of a run passes through one `EventBus`, which stamps a gap-free `seq`.
Subscribers match with glob patterns on the type and on `actor/action`, as in the
reference's `watchFor('task_event', 'backend/*')`. Coordination waits (`wait_for_all`,
`race_for_first`) fail fast with `EventImpossible` once an awaited event can no longer fire.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, get_args

import anyio


class EventType(StrEnum):
    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    RUN_FAILED = "run_failed"
    AGENT_QUEUED = "agent_queued"
    AGENT_WAITING = "agent_waiting"
    AGENT_STARTED = "agent_started"
    AGENT_OUTPUT = "agent_output"
    AGENT_PROGRESS = "agent_progress"
    AGENT_PAUSED = "agent_paused"
    AGENT_RESUMED = "agent_resumed"
    AGENT_COMPLETED = "agent_completed"
    AGENT_FAILED = "agent_failed"
    AGENT_CANCELLED = "agent_cancelled"
    AGENT_BLOCKED = "agent_blocked"
    AGENT_TOOL = "agent_tool"
    TASK_EVENT = "task_event"
    USAGE = "usage"
    RETRY = "retry"
    BUDGET_EXCEEDED = "budget_exceeded"
    AGENT_INFO = "agent_info"  # backend facts: session id, worktree, diff stat
    # Landing the work (oneie_tui/land): the radar while agents run, then `oneie land`.
    CONFLICT_DETECTED = "conflict_detected"  # two agents change the same file (or lines)
    CONFLICT_CLEARED = "conflict_cleared"
    SCOPE_EXCEEDED = "scope_exceeded"  # an agent changed a path outside its `scope`
    AGENT_REVIEWED = "agent_reviewed"  # the user marked an agent accepted or rejected
    LAND_STARTED = "land_started"
    AGENT_LANDED = "agent_landed"
    AGENT_LEFT_OUT = "agent_left_out"
    LAND_FINISHED = "land_finished"
    ACCEPTANCE_VALIDATED = "acceptance_validated"
    ACCEPTANCE_FAILED = "acceptance_failed"
    # Steering (issue 16): what the user said to an agent, and when an agent needs the user.
    AGENT_MESSAGE = "agent_message"  # metadata: text (redacted), attempt, delivery
    AGENT_ATTENTION = "agent_attention"  # metadata: reason (AttentionReason), tools, text


def _make_encoder() -> Callable[[Any], str]:
    """Compact JSON with `default=str`, the C encoder built once: `json.dumps` (or
    `JSONEncoder.encode`) builds it again for every call, half the cost of a small dict."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator
        return json.JSONEncoder(separators=(",", ":"), default=str).encode
    encode_chunks = make(
        {}, str, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )
    return lambda obj: "".join(encode_chunks(obj, 0))


encode_json = _make_encoder()  # for every event written out: the store, `--json`, exports

_TASK_EVENT = EventType.TASK_EVENT

# An agent's status: the one vocabulary of the runner, the store's summaries and every view.
AgentStatus = Literal[
    "pending", "queued", "waiting", "running", "paused", "completed", "failed", "cancelled", "blocked"
]

# Why an agent needs the user (`agent_attention`'s `metadata.reason`).
AttentionReason = Literal["permission_denied", "question", "blocked", "failed"]
ATTENTION_REASONS: frozenset[str] = frozenset(get_args(AttentionReason))

AGENT_STATUSES: dict[str, AgentStatus] = {s: s for s in get_args(AgentStatus)}
# Landing events (radar, scopes, review, merge queue, acceptance): the timeline shows them.
LAND_TYPES = frozenset({
    EventType.CONFLICT_DETECTED, EventType.CONFLICT_CLEARED, EventType.SCOPE_EXCEEDED,
    EventType.AGENT_REVIEWED, EventType.LAND_STARTED, EventType.AGENT_LANDED,
    EventType.AGENT_LEFT_OUT, EventType.LAND_FINISHED, EventType.ACCEPTANCE_VALIDATED,
    EventType.ACCEPTANCE_FAILED,
})

# The agent status each lifecycle event leaves behind: one table for the runner's
# readers (metrics, dashboard view, headless progress, Gantt).
TERMINAL_STATUS_OF: dict[str, AgentStatus] = {
    EventType.AGENT_COMPLETED: "completed",
    EventType.AGENT_FAILED: "failed",
    EventType.AGENT_CANCELLED: "cancelled",
    EventType.AGENT_BLOCKED: "blocked",
}
ACTIVE_STATUS_OF: dict[str, AgentStatus] = {
    EventType.AGENT_QUEUED: "queued",
    EventType.AGENT_WAITING: "waiting",
    EventType.AGENT_STARTED: "running",
    EventType.AGENT_RESUMED: "running",
    EventType.AGENT_PAUSED: "paused",
}
STATUS_OF: dict[str, AgentStatus] = {**ACTIVE_STATUS_OF, **TERMINAL_STATUS_OF}
# The high-rate stream (most of a run's rows): stored apart from the indexes, flushed lazily.
STREAM_TYPES = frozenset({EventType.AGENT_OUTPUT, EventType.AGENT_PROGRESS})
TERMINAL_STATUSES = frozenset(TERMINAL_STATUS_OF.values())
# Ended agents a message continues in a follow-up attempt (a blocked one cannot start).
FOLLOW_UP_STATUSES: frozenset[AgentStatus] = frozenset({"completed", "failed", "cancelled"})

USAGE_TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")


def status_after(e: Event) -> AgentStatus | None:
    """The status an agent has after lifecycle event `e`, or None for other events. A
    resume returns a paused agent to what it was (waiting, queued or running)."""
    status = STATUS_OF.get(e.type)
    if status is not None and e.type == EventType.AGENT_RESUMED:
        back = e.metadata.get("status")
        return AGENT_STATUSES.get(back, status) if isinstance(back, str) else status
    return status


def awaited(metadata: dict[str, Any]) -> list[str]:
    """The events an `agent_waiting` event says the agent waits for: its `after` and
    `after_any` when it waits to start, else what a running agent asked for."""
    return [*metadata.get("after", []), *metadata.get("after_any", [])] or list(metadata.get("waiting_for", []))


def total_tokens(usage: dict[str, Any]) -> int:
    """Input, output, cache-write and cache-read tokens of a usage event's metadata or of
    a stored summary (missing or null fields count 0)."""
    return sum(int(_finite(usage.get(name))) for name in USAGE_TOKEN_FIELDS)


def add_usage(target: Usage, metadata: dict[str, Any]) -> None:
    """Add a `usage` event's tokens and cost to a Usage: the one place that reads a usage
    event (the runner's budgets, metrics, the dashboard's view)."""
    for name in USAGE_TOKEN_FIELDS:
        setattr(target, name, getattr(target, name) + int(_finite(metadata.get(name))))
    target.cost_usd += _finite(metadata.get("cost_usd"))


def _finite(value: Any) -> float:
    """A stored or imported figure as a number; NaN, infinity, text or null count 0 (a
    folded total must stay finite whatever a run file holds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            return 0.0
        if number == number and abs(number) != float("inf"):
            return number
    return 0.0


@dataclass
class Usage:
    """Tokens and cost: of one response, one agent or a whole run."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cost_usd += other.cost_usd

    def growth_since(self, seen: Usage) -> Usage:
        """The tokens this running total has that `seen` (an earlier one) had not: a CLI
        that reports totals is recorded by what grew, never negative."""
        return Usage(
            max(0, self.input_tokens - seen.input_tokens),
            max(0, self.output_tokens - seen.output_tokens),
            max(0, self.cache_write_tokens - seen.cache_write_tokens),
            max(0, self.cache_read_tokens - seen.cache_read_tokens),
        )

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_tokens
            + self.cache_read_tokens
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


@dataclass(slots=True)
class Event:
    seq: int
    run_id: str
    ts: float
    type: str
    actor: str = "runner"
    target: str = ""
    group: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def action(self) -> str:
        return str(self.metadata.get("action", ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "run_id": self.run_id,
            "ts": self.ts,
            "type": self.type,
            "actor": self.actor,
            "target": self.target,
            "group": self.group,
            "metadata": self.metadata,
        }

    def to_json(self) -> str:
        return encode_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            seq=int(data["seq"]),
            run_id=str(data["run_id"]),
            ts=float(data["ts"]),
            type=str(data["type"]),
            actor=str(data.get("actor", "runner")),
            target=str(data.get("target", "")),
            group=str(data.get("group", "")),
            metadata=dict(data.get("metadata") or {}),
        )


class EventImpossible(Exception):
    """An awaited event can no longer fire (its every emitter ended without firing it)."""

    def __init__(self, actions: Iterable[str]) -> None:
        self.actions = sorted(actions)
        super().__init__("can no longer fire: " + ", ".join(self.actions))


Handler = Callable[[Event], None]


log = logging.getLogger("oneie.events")


@dataclass(slots=True)
class Subscription:
    type_glob: str
    path_glob: str
    handler: Handler
    # A display sink's exception is logged and contained; only a `first` subscriber (the
    # store writer) may stop a publish, since an event it cannot record must not go on.
    contained: bool = True
    failures: int = 0
    every: bool = field(init=False)  # matches everything: the hot path skips `matches`

    def __post_init__(self) -> None:
        self.every = self.type_glob == "*" and self.path_glob == "*"

    def matches(self, event: Event) -> bool:
        if self.type_glob != "*" and not fnmatch.fnmatchcase(event.type, self.type_glob):
            return False
        if self.path_glob == "*":
            return True
        # `agent-backend/*` (by actor) and, as in the reference, `backend/*` (by target:
        # a coordination event's target is its agent's role).
        action = event.action
        if fnmatch.fnmatchcase(f"{event.actor}/{action}", self.path_glob):
            return True
        return bool(event.target) and fnmatch.fnmatchcase(f"{event.target}/{action}", self.path_glob)


class EventBus:
    """Orders a run's events and fans them out. Single event loop; handlers are sync."""

    def __init__(self, run_id: str, clock: Callable[[], float], first_seq: int = 1) -> None:
        self.run_id = run_id
        self._clock = clock
        self._next_seq = first_seq
        # A tuple, replaced on (un)subscribe: publishing iterates it without copying.
        self._subs: tuple[Subscription, ...] = ()
        self.fired: dict[str, Event] = {}
        self._impossible: set[str] = set()
        self._changed = anyio.Event()

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    def seek(self, next_seq: int) -> None:
        """Continue numbering at `next_seq` (a resumed run keeps its seq gap-free)."""
        self._next_seq = next_seq

    def subscribe(
        self, handler: Handler, type_glob: str = "*", path_glob: str = "*", *, first: bool = False
    ) -> Subscription:
        """Call `handler` for events whose type matches `type_glob` and whose
        `actor/action` matches `path_glob` (for example `agent-backend/*`). `first`: ahead
        of every other handler (the store, so no failing display can keep an event out)."""
        sub = Subscription(type_glob, path_glob, handler, contained=not first)
        self._subs = (sub, *self._subs) if first else (*self._subs, sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs = tuple(s for s in self._subs if s is not sub)

    def publish(
        self,
        type: str,
        actor: str = "runner",
        *,
        target: str = "",
        group: str = "",
        metadata: dict[str, Any] | None = None,
    ) -> Event:
        # The hot path (about 100,000 events/s): positional construction, no copies.
        event = Event(
            self._next_seq,
            self.run_id,
            self._clock(),
            type if type.__class__ is str else str(type),
            actor,
            target,
            group,
            {} if metadata is None else metadata,
        )
        self._next_seq += 1
        if event.type == _TASK_EVENT:
            action = event.action
            if action:
                self.fired.setdefault(action, event)
                self._impossible.discard(action)
                self._wake()
        for sub in self._subs:
            if sub.every or sub.matches(event):
                try:
                    sub.handler(event)
                except Exception as exc:  # free when nothing is raised (zero-cost try)
                    if not sub.contained:
                        raise
                    self._contain(sub, event, exc)
        return event

    @staticmethod
    def _contain(sub: Subscription, event: Event, exc: Exception) -> None:
        """A display sink failed on `event` (hostile text it could not show, a closed
        stream...): the run, the agents and the other sinks go on. Logged (redacted by
        the log record factory), the traceback once per sink."""
        sub.failures += 1
        name = getattr(sub.handler, "__qualname__", type(sub.handler).__name__)
        if sub.failures == 1:
            log.error("event sink %s failed on %s #%d; contained", name, event.type, event.seq, exc_info=exc)
        else:
            log.debug("event sink %s failed again (%d): %r", name, sub.failures, exc)

    def remember_fired(self, event: Event) -> None:
        """Restore a coordination event that fired before (resume) without republishing."""
        if event.action:
            self.fired.setdefault(event.action, event)
            self._wake()

    def mark_impossible(self, actions: Iterable[str]) -> None:
        new = {a for a in actions if a not in self.fired} - self._impossible
        if new:
            self._impossible |= new
            self._wake()

    def mark_possible(self, actions: Iterable[str]) -> None:
        self._impossible -= set(actions)

    def is_impossible(self, action: str) -> bool:
        return action in self._impossible

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for_all(self, actions: Iterable[str]) -> dict[str, Event]:
        """Return once every action has fired; raise `EventImpossible` if one never can."""
        wanted = list(dict.fromkeys(actions))
        while True:
            if all(a in self.fired for a in wanted):
                return {a: self.fired[a] for a in wanted}
            dead = [a for a in wanted if a in self._impossible]
            if dead:
                raise EventImpossible(dead)
            await self._changed.wait()

    async def race_for_first(self, actions: Iterable[str]) -> Event:
        """Return the first of `actions` to fire (earliest seq if several already have)."""
        wanted = list(dict.fromkeys(actions))
        while True:
            done = [self.fired[a] for a in wanted if a in self.fired]
            if done:
                return min(done, key=lambda e: e.seq)
            if wanted and all(a in self._impossible for a in wanted):
                raise EventImpossible(wanted)
            await self._changed.wait()
