"""Runs the resolver agent `oneie land` hands a conflict to: one agent of the run's spec,
on its own backend (sim, command, claude-code, ...), outside any run, in the worktree
land/resolve.py made, with the conflict as its task.

The agent has no runner around it, so a small host stands in: the agent's output is kept
(the last lines, redacted) for the report, its usage is recorded as events of the run it
lands (so the run's cost counts it), and it waits for nothing. Everything else it reports
(progress, its own events) is dropped: the resolver is not one of the run's agents here.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Literal

import anyio

from oneie_tui.agents import UnknownBackend, backend_class
from oneie_tui.agents.base import AgentContext, AgentHost, BackendOptions, Usage
from oneie_tui.engine.session import SetupError
from oneie_tui.events import Event, EventType
from oneie_tui.land.landing import Publish
from oneie_tui.land.resolve import AgentOutcome, ResolverTask, RunAgent
from oneie_tui.spec.model import Spec
from oneie_tui.trust.redact import redact

TAIL_LINES = 20
TAIL_CHARS = 2000


class ResolverHost(AgentHost):
    def __init__(self, run_id: str, record: Publish) -> None:
        self.run_id = run_id
        self.record = record
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)
        self.started = time.monotonic()

    def publish(
        self, type: str, actor: str, *, target: str = "", metadata: dict[str, Any] | None = None
    ) -> Event:
        md = dict(metadata or {})
        if type == EventType.AGENT_OUTPUT:
            self.lines.append(str(md.get("text", ""))[:TAIL_CHARS])
        elif type == EventType.USAGE:
            self.record(EventType.USAGE, actor, {**md, "resolver": True})
        return Event(0, self.run_id, time.time(), str(type), actor, target, "", md)

    async def wait_events(
        self, agent_id: str, actions: list[str], mode: Literal["all", "any"], timeout: float | None = None
    ) -> list[Event]:
        return []  # a resolver starts at once: it waits for no event

    def add_usage(self, agent_id: str, usage: Usage) -> None:
        return None

    def active_elapsed(self, agent_id: str) -> float:
        return time.monotonic() - self.started  # never paused: its whole life is active

    def tail(self) -> str:
        return redact("\n".join(self.lines)[-TAIL_CHARS:])


def agent_runner(
    spec: Spec, resolver_id: str, run_id: str, record: Publish, options: BackendOptions
) -> RunAgent:
    """The resolver's backend, checked and configured now (SetupError, one line, before
    anything lands), and the call that runs it on one conflict."""
    try:
        agent = spec.agent(resolver_id)
    except KeyError:
        known = ", ".join(a.id for a in spec.agents)
        raise SetupError(f"resolver {resolver_id!r} is not an agent of the run's spec (agents: {known})") from None
    name = spec.backend_of(agent)
    try:
        backend = backend_class(name)()
        backend.preflight(spec, options)
        backend.configure(spec, options)
    except UnknownBackend as exc:
        raise SetupError(str(exc)) from None
    except SetupError:
        raise
    except Exception as exc:  # one line for the user, not a traceback
        raise SetupError(f"resolver {resolver_id!r}, backend {name!r}: {exc}") from None

    async def run(task: ResolverTask) -> AgentOutcome:
        # Its own task is the conflict; it emits and waits for nothing here.
        me = agent.model_copy(update={"task": task.prompt, "emits": [], "after": [], "after_any": []})
        host = ResolverHost(run_id, record)
        ctx = AgentContext(host, spec, me, run_id, seed=spec.run.seed, env=task.env, workdir=str(task.workdir))
        try:
            with anyio.fail_after(agent.timeout) if agent.timeout else _forever():
                result = await backend.run(ctx)
        except TimeoutError:
            return AgentOutcome(False, f"timed out after {agent.timeout:g}s", host.tail())
        except Exception as exc:  # AgentFailure and any other: the resolver failed
            return AgentOutcome(False, redact(" ".join(str(exc).split())[:500]), host.tail())
        return AgentOutcome(True, redact(result.summary[:500]), host.tail())

    return run


def _forever() -> anyio.CancelScope:
    return anyio.CancelScope()
