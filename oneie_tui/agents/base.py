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
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import anyio

from oneie_tui.events import AttentionReason, EventType, Usage

__all__ = ["Usage"]  # the one usage value lives in events; backends import it from here

from oneie_tui.trust import numbers
from oneie_tui.trust.redact import redact, redact_value

if TYPE_CHECKING:
    from oneie_tui.events import Event
    from oneie_tui.spec.model import AgentSpec, Spec


class AgentFailure(Exception):
    """The agent's work failed. The message is shown to the user as one line."""


class AgentInterrupted(Exception):
    """The agent's work was cut short by its surroundings, not by itself (the node or the
    process that ran it died). It ends `cancelled` and interrupted, so `oneie resume`
    runs it again; the message is the reason."""


@dataclass
class AgentResult:
    summary: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


PauseHook = Callable[[], None]


class AgentHost:
    """What the runner offers a context (the runner derives from it), so backends never
    import the runner. The optional capabilities have declared defaults here."""

    def publish(
        self, type: str, actor: str, *, target: str = "", metadata: dict[str, Any] | None = None
    ) -> Event:
        raise NotImplementedError

    def publish_output(self, agent_id: str, text: str, stream: str) -> object:
        """An output line: the hottest call of a run. Hosts may take a faster path."""
        return self.publish(EventType.AGENT_OUTPUT, agent_id, metadata={"text": text, "stream": stream})

    async def gate(self, agent_id: str) -> None:
        return None

    def active_elapsed(self, agent_id: str) -> float:
        return 0.0

    async def wait_events(
        self, agent_id: str, actions: list[str], mode: Literal["all", "any"], timeout: float | None = None
    ) -> list[Event]:
        raise NotImplementedError

    def add_usage(self, agent_id: str, usage: Usage) -> None:
        return None

    def set_progress(self, agent_id: str, percent: float) -> None:
        return None

    def cancel(self, agent_id: str, reason: str) -> bool:
        """End one agent `cancelled` with `reason`. False: this host cannot."""
        return False

    def cancel_run(self, reason: str) -> bool:
        """Stop every agent of the run. False: this host cannot."""
        return False


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
        followup: str = "",
    ) -> None:
        self._host = host
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
        # What the user said to this attempt while it runs (`Runner.send_message`): the
        # backend takes them at its own boundaries (`take_messages`); a hook here is told
        # the moment one arrives (a process backend writes it to the program's stdin).
        self.on_message: list[PauseHook] = []
        self._inbox: list[str] = []
        self._arrived: anyio.Event | None = None
        # A follow-up attempt: the user's message to a finished agent, "continue with
        # this", in the same worktree and session. Empty for a fresh attempt.
        self.followup = followup

    @property
    def agent_id(self) -> str:
        return self.agent.id

    def output(self, text: str, stream: str = "stdout") -> None:
        self._host.publish_output(self.agent.id, text, stream)

    # Every backend and channel (line protocol, `oneie emit`, tools) reports through the
    # methods below, so this is the one gate for what an agent says: notes and metadata are
    # redacted, numbers checked finite, events checked against the agent's `emits`. A
    # refused report is recorded as an `[ignored: ...]` stderr line, like a bad directive.

    def ignored(self, what: str, reason: str) -> Event:
        """Record that a report of this agent was refused, and why."""
        return self._host.publish(
            EventType.AGENT_OUTPUT, self.agent.id,
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
        self._host.publish(EventType.AGENT_PROGRESS, self.agent.id, metadata=meta)

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
        return self._host.publish(EventType.TASK_EVENT, self.agent.id, metadata=meta)

    def attention(
        self, reason: AttentionReason, text: str = "", tools: Iterable[str] = ()
    ) -> Event:
        """Say this agent needs the user: tools the CLI denied, a question it stopped on.
        The text is the agent's own (redacted, kept whole: the zoom shows all of it)."""
        meta: dict[str, Any] = {"reason": reason, "tools": [redact(str(t)) for t in tools]}
        if text:
            meta["text"] = redact(text)
        return self._host.publish(EventType.AGENT_ATTENTION, self.agent.id, metadata=meta)

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
        self._host.publish(EventType.USAGE, self.agent.id, metadata={**usage.to_dict(), **extra})

    def deliver(self, text: str) -> None:
        """The host hands this attempt a message from the user (already checked)."""
        self._inbox.append(text)
        if self._arrived is not None:
            self._arrived.set()
        for hook in list(self.on_message):
            hook()

    def take_messages(self) -> list[str]:
        """The messages that arrived since the last call, oldest first (the backend's
        boundary: a turn, a line on stdin)."""
        taken, self._inbox = self._inbox, []
        return taken

    def put_back(self, texts: list[str]) -> None:
        """Messages taken but not delivered (the process closed its input): first again."""
        self._inbox[:0] = texts

    @property
    def has_messages(self) -> bool:
        return bool(self._inbox)

    async def wait_message(self) -> None:
        """Until a message is waiting (returns at once if one is)."""
        while not self._inbox:
            self._arrived = anyio.Event()
            await self._arrived.wait()

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
        return self._host.cancel(self.agent.id, reason)

    def cancel_run(self, reason: str) -> bool:
        """Stop every agent of the run with `reason` (e.g. a run budget). False when the
        host cannot."""
        return self._host.cancel_run(reason)


@dataclass
class BackendOptions:
    """What the user's run options tell the backends, typed (the CLI, the dashboard and
    `oneie resume` fill it)."""

    base_url: str | None = None  # --base-url: the Anthropic API (else $ANTHROPIC_BASE_URL)
    project_dir: str | None = None  # the run's project folder (resume: the first run's)
    worktree_dir: str | None = None  # where isolated agents' worktrees go
    # agent id -> Claude Code session to continue (a resumed run's unfinished sessions)
    resume_sessions: dict[str, str] = field(default_factory=dict)
    # agent id -> the session its last attempt completed (a resumed run's): a follow-up
    # message continues it even in a new process
    finished_sessions: dict[str, str] = field(default_factory=dict)


class AgentBackend:
    """A way of running agents. One instance serves every agent of a run on this backend.
    `run` returns on success and raises on failure; the rest are declared defaults."""

    name: ClassVar[str] = ""
    # True: the backend checks budgets itself at its own boundaries (the claude backend, at
    # turns); otherwise the runner checks them as usage arrives.
    enforces_budgets: ClassVar[bool] = False

    def takes_messages(self, agent: AgentSpec) -> bool:
        """Whether this backend takes the user's messages for `agent` (`Runner.send_message`):
        at its boundaries while it runs (`AgentContext.take_messages`), and as the start of
        a follow-up attempt (`AgentContext.followup`) once it has finished."""
        return False

    def why_no_messages(self, agent: AgentSpec) -> str:
        """The one line a refused message gets when `takes_messages` is False."""
        return f"the {self.name or 'this'} backend does not take messages"

    @classmethod
    def preflight(cls, spec: Spec, options: BackendOptions) -> None:
        """Refuse a run before any agent starts (a missing key or CLI): raise with one line."""

    def configure(self, spec: Spec, options: BackendOptions) -> None:
        """Load what every agent of the run shares (prices, profiles), before the run starts."""

    async def run(self, ctx: AgentContext) -> AgentResult:
        raise NotImplementedError

    def forget_session(self, agent_id: str) -> None:
        """The agent's next attempt starts a new session (its worktree, where a session
        would continue, was lost). Backends without sessions have nothing to forget."""


def project_dir(options: BackendOptions | None) -> Path:
    """The run's project folder: `options.project_dir`, else the current one."""
    return Path((options.project_dir if options else None) or os.getcwd())
