"""The one small protocol every backend speaks, and the context it speaks through.

A backend never sees the runner: it reports output, progress, coordination events and
usage through `AgentContext`, waits on events through it, and honours pause and cancel
through `checkpoint()` (plus optional pause hooks for backends that can stop a process).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from oneie_tui import numbers
from oneie_tui.redact import redact, redact_value

if TYPE_CHECKING:
    from oneie_tui.events import Event
    from oneie_tui.spec.model import AgentSpec, Spec


class AgentFailure(Exception):
    """The agent's work failed. The message is shown to the user as one line."""


@dataclass
class AgentResult:
    summary: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Usage:
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


PauseHook = Callable[[], None]


class AgentHost(Protocol):
    """What the runner offers a context. Kept as a protocol so backends never import it."""

    def publish(
        self, type: str, actor: str, *, target: str = "", metadata: dict[str, Any] | None = None
    ) -> Event: ...

    async def gate(self, agent_id: str) -> None: ...

    def active_elapsed(self, agent_id: str) -> float: ...

    async def wait_events(
        self, agent_id: str, actions: list[str], mode: Literal["all", "any"], timeout: float | None = None
    ) -> list[Event]: ...

    def add_usage(self, agent_id: str, usage: Usage) -> None: ...

    def set_progress(self, agent_id: str, percent: float) -> None: ...


class AgentContext:
    """Everything a backend may do. One per agent attempt."""

    def __init__(
        self,
        host: AgentHost,
        spec: Spec,
        agent: AgentSpec,
        run_id: str,
        *,
        speed: float = 1.0,
        seed: int = 0,
        attempt: int = 1,
        shared_context: str = "",
        env: dict[str, str] | None = None,
        workdir: str | None = None,
    ) -> None:
        self._host = host
        self._fast_output: Callable[[str, str, str], Any] | None = getattr(host, "publish_output", None)
        self.spec = spec
        self.agent = agent
        self.run_id = run_id
        self.speed = speed
        self.seed = seed
        self.attempt = attempt
        self.shared_context = shared_context
        # Environment a process backend should pass on (e.g. how `oneie emit` reaches us).
        self.env: dict[str, str] = dict(env or {})
        self.workdir = workdir
        self.on_pause: list[PauseHook] = []
        self.on_resume: list[PauseHook] = []

    @property
    def agent_id(self) -> str:
        return self.agent.id

    def output(self, text: str, stream: str = "stdout") -> None:
        if self._fast_output is not None:  # the runner's direct path: the hottest call there is
            self._fast_output(self.agent.id, text, stream)
            return
        self._host.publish(
            "agent_output", self.agent.id, metadata={"text": text, "stream": stream}
        )

    # Every backend and channel (line protocol, `oneie emit`, tools) reports through the
    # methods below, so this is the one gate for what an agent says: notes and metadata are
    # redacted, numbers checked finite, events checked against the agent's `emits`. A
    # refused report is recorded as an `[ignored: ...]` stderr line, like a bad directive.

    def ignored(self, what: str, reason: str) -> Event:
        """Record that a report of this agent was refused, and why."""
        return self._host.publish(
            "agent_output", self.agent.id,
            metadata={"text": redact(f"{what}  [ignored: {reason}]"), "stream": "stderr"},
        )

    def progress(self, percent: float, note: str = "") -> None:
        try:
            pct = max(0.0, min(100.0, numbers.number(percent, "progress")))
        except ValueError as exc:
            self.ignored(f"progress {percent!r}", str(exc))
            return
        self._host.set_progress(self.agent.id, pct)
        meta: dict[str, Any] = {"percent": round(pct, 2)}
        if note:
            meta["note"] = redact(note)
        self._host.publish("agent_progress", self.agent.id, metadata=meta)

    def undeclared(self, action: str) -> str | None:
        """Why this agent may not fire `action` (it is not in its `emits`), or None."""
        if action in self.agent.emits:
            return None
        declared = ", ".join(self.agent.emits) or "none"
        return f"event {action!r} is not in this agent's emits (declared: {declared})"

    def emit(self, action: str, metadata: dict[str, Any] | None = None) -> Event:
        """Fire a coordination event (`task_event` with `metadata.action`). An event the
        agent does not declare in `emits` is recorded as ignored and starts nobody."""
        reason = self.undeclared(action)
        if reason is not None:
            return self.ignored(f"event {action}", reason)
        meta = redact_value(dict(metadata or {}))
        meta["action"] = action
        return self._host.publish("task_event", self.agent.id, metadata=meta)

    def event(self, type: str, **metadata: Any) -> Event:
        """Record any other event (tool calls, retries, budgets)."""
        return self._host.publish(type, self.agent.id, metadata=metadata)

    def usage(self, usage: Usage, **extra: Any) -> None:
        # Deltas may be negative (a final figure correcting live estimates), never NaN,
        # infinite or absurd: such a figure would switch every later budget check off.
        bound = float(numbers.MAX_TOKENS)
        try:
            for name in ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens"):
                numbers.number(getattr(usage, name), name, low=-bound, high=bound)
            numbers.number(usage.cost_usd, "cost_usd", low=-numbers.MAX_COST_USD, high=numbers.MAX_COST_USD)
        except ValueError as exc:
            self.ignored("usage", str(exc))
            return
        self._host.add_usage(self.agent.id, usage)
        self._host.publish("usage", self.agent.id, metadata={**usage.to_dict(), **extra})

    async def checkpoint(self) -> None:
        """Block while paused; a cancellation point."""
        await self._host.gate(self.agent.id)

    def active_elapsed(self) -> float:
        """Seconds this attempt has been running, not counting pauses."""
        return self._host.active_elapsed(self.agent.id)

    async def wait_for(
        self, actions: Iterable[str], mode: Literal["all", "any"] = "all", timeout: float | None = None
    ) -> list[Event]:
        """Wait for coordination events, giving back the agent's parallel slot meanwhile.
        Raises `EventImpossible` if they can no longer fire. With `timeout` (seconds) it
        returns the events fired so far once time runs out."""
        if timeout is None:
            return await self._host.wait_events(self.agent.id, list(actions), mode)
        return await self._host.wait_events(self.agent.id, list(actions), mode, timeout)

    def cancel(self, reason: str) -> bool:
        """End this agent `cancelled` with `reason` (e.g. `budget_exceeded: ...`); it takes
        effect at the next await. False when the host cannot cancel."""
        cancel = getattr(self._host, "cancel", None)
        return bool(cancel(self.agent.id, reason)) if cancel is not None else False

    def cancel_run(self, reason: str) -> bool:
        """Stop every agent of the run with `reason` (e.g. a run budget). False when the
        host cannot."""
        cancel_run = getattr(self._host, "cancel_run", None)
        if cancel_run is None:
            return False
        cancel_run(reason)
        return True


class AgentBackend(Protocol):
    """A way of running one agent. `run` returns on success and raises on failure."""

    name: str

    async def run(self, ctx: AgentContext) -> AgentResult: ...


def project_dir(options: Any) -> Path:
    """The run's project folder: `project_dir` in `options.extra`, else the current one."""
    extra = getattr(options, "extra", None) or {}
    return Path(extra.get("project_dir") or os.getcwd())
