"""Test kit for the runner: a backend the test drives step by step, a clock the test moves,
and readers of the event log. (Its own few tests check the kit.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from oneie_tui.agents.base import AgentBackend, AgentContext, AgentFailure, AgentResult
from oneie_tui.agents.sim import SimBackend
from oneie_tui.engine.runner import Runner
from oneie_tui.events import Event
from oneie_tui.spec.loader import parse_spec_text
from oneie_tui.spec.model import AgentSpec, Spec

TERMINAL_EVENTS = {"agent_completed", "agent_failed", "agent_cancelled", "agent_blocked"}


class FakeClock:
    """Monotonic and wall clock in one; only `advance` moves it."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Driven(AgentBackend):
    """A backend whose agents do exactly what the test tells them, one command at a time:
    ("emit", name), ("done",), ("fail", message), ("wait", [names], "all"|"any")."""

    name = "driven"

    def __init__(self) -> None:
        self._streams: dict[str, tuple[MemoryObjectSendStream[tuple[Any, ...]],
                                       MemoryObjectReceiveStream[tuple[Any, ...]]]] = {}
        self.runs: list[str] = []

    def _pair(
        self, agent_id: str
    ) -> tuple[MemoryObjectSendStream[tuple[Any, ...]], MemoryObjectReceiveStream[tuple[Any, ...]]]:
        if agent_id not in self._streams:
            self._streams[agent_id] = anyio.create_memory_object_stream[tuple[Any, ...]](100)
        return self._streams[agent_id]

    def send(self, agent_id: str, *command: Any) -> None:
        self._pair(agent_id)[0].send_nowait(tuple(command))

    async def run(self, ctx: AgentContext) -> AgentResult:
        self.runs.append(ctx.agent_id)
        receive = self._pair(ctx.agent_id)[1]
        while True:
            await ctx.checkpoint()
            command = await receive.receive()
            await ctx.checkpoint()  # a paused agent acts only once resumed
            kind = command[0]
            if kind == "emit":
                ctx.emit(command[1])
            elif kind == "done":
                return AgentResult(summary="done")
            elif kind == "fail":
                raise AgentFailure(command[1])
            elif kind == "wait" and len(command) > 3:
                await ctx.wait_for(command[1], command[2], timeout=command[3])
            elif kind == "wait":
                await ctx.wait_for(command[1], command[2] if len(command) > 2 else "all")


def spec_of(agents: str, run: str = "") -> Spec:
    text = f'[feature]\nname = "t"\n[run]\n{run}\n{agents}'
    return parse_spec_text(text, "<test>")


def agent_toml(
    agent_id: str,
    *,
    emits: Iterable[str] = (),
    after: Iterable[str] = (),
    after_any: Iterable[str] = (),
    race: str | None = None,
    extra: str = "",
) -> str:
    def arr(items: Iterable[str]) -> str:
        return "[" + ", ".join(f'"{x}"' for x in items) + "]"

    out = f'[[agents]]\nid = "{agent_id}"\nrole = "r"\nemits = {arr(emits)}\n'
    out += f"after = {arr(after)}\nafter_any = {arr(after_any)}\n"
    if race:
        out += f'race = "{race}"\n'
    return out + extra + "\n"


def driven_runner(spec: Spec, **kwargs: Any) -> tuple[Runner, Driven, FakeClock, list[Event]]:
    backend = Driven()
    clock = FakeClock()
    runner = Runner(spec, lambda _a: backend, monotonic=clock, wall=clock, **kwargs)
    events: list[Event] = []
    runner.bus.subscribe(events.append)
    return runner, backend, clock, events


def sim_runner(spec: Spec, **kwargs: Any) -> tuple[Runner, list[Event]]:
    sim = SimBackend()

    def backend_for(_agent: AgentSpec) -> SimBackend:
        return sim

    runner = Runner(spec, backend_for, **kwargs)
    events: list[Event] = []
    runner.bus.subscribe(events.append)
    return runner, events


async def settle() -> None:
    """Let every task run until all are blocked on something the test controls (like
    anyio's wait_all_tasks_blocked, which polls every 0.1 s; this yields instead)."""
    me = asyncio.current_task()
    quiet = 0
    for _ in range(10_000):
        await anyio.sleep(0)
        busy = any(
            t is not me and (t._fut_waiter is None or t._fut_waiter.done())  # type: ignore[attr-defined]
            for t in asyncio.all_tasks()
        )
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:
            return
    raise AssertionError("tasks never settled")


Script = Callable[[], Awaitable[None]]


def drive(runner: Runner, script: Callable[[], Awaitable[None]]) -> None:
    """Run the runner and, beside it, the test's script; fail if the run outlives it."""

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.run)
            await settle()
            await script()
            with anyio.fail_after(10):
                while runner.live:
                    await anyio.sleep(0.001)

    anyio.run(main)


def statuses(runner: Runner) -> dict[str, str]:
    return {a: s.status for a, s in runner.agents.items()}


def of_type(events: list[Event], kind: str, actor: str | None = None) -> list[Event]:
    return [e for e in events if e.type == kind and (actor is None or e.actor == actor)]


def max_running(events: list[Event]) -> int:
    """Most agents running at once, read from the event log alone."""
    state: dict[str, str] = {}
    best = 0
    for e in events:
        if e.type in ("agent_started",) or (
            e.type == "agent_resumed" and e.metadata.get("status", "running") == "running"
        ):
            state[e.actor] = "running"
        elif e.type in ("agent_paused", "agent_waiting", "agent_queued") or e.type in TERMINAL_EVENTS:
            state[e.actor] = e.type
        best = max(best, sum(1 for s in state.values() if s == "running"))
    return best


# --- the kit's own checks -------------------------------------------------------------


def test_driven_agent_does_what_it_is_told() -> None:
    spec = spec_of(agent_toml("a", emits=["x_ready"]))
    runner, backend, _clock, events = driven_runner(spec)

    async def script() -> None:
        assert statuses(runner) == {"a": "running"}
        backend.send("a", "emit", "x_ready")
        backend.send("a", "done")

    drive(runner, script)
    assert [e.action for e in of_type(events, "task_event")] == ["x_ready"]
    assert statuses(runner) == {"a": "completed"}


def test_max_running_reads_the_log() -> None:
    def ev(seq: int, kind: str, actor: str) -> Event:
        return Event(seq, "r", float(seq), kind, actor)

    log = [ev(1, "agent_started", "a"), ev(2, "agent_started", "b"), ev(3, "agent_completed", "a"),
           ev(4, "agent_started", "c"), ev(5, "agent_paused", "b")]
    assert max_running(log) == 2
