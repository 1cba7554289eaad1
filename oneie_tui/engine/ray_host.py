"""The agent host: one long-lived Ray actor per node that runs any backend there.

The driver calls `run_agent` once per agent attempt as a Ray streaming generator. The
backend runs here against a `RelayContext`: every call it makes on its context (output,
progress, emit, event, usage, wait_for, cancel) becomes a message, in call order, that the
stream carries back to the driver's real context, so the runner's bus and store see the
same events in the same order as a local run. Pause, resume and cancel come in as actor
calls and reach the backend's own pause hooks and cancel scope here, on the node, where
its process group lives. `oneie emit` from the agent's processes talks to a control
channel this host serves on the node. An isolated agent's request may carry a checkout:
the host makes its worktree on this node first and streams its branch back after.

Nothing here is imported by the driver except through Ray (`ray_executor` names the class).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio

from oneie_tui.agents import backend_class
from oneie_tui.agents.base import (
    AgentBackend,
    AgentContext,
    AgentFailure,
    AgentHost,
    AgentInterrupted,
    BackendOptions,
)
from oneie_tui.engine.control_socket import ControlChannel
from oneie_tui.engine.ray_checkout import Shipped, node_dir_for
from oneie_tui.events import Event, EventImpossible, EventType
from oneie_tui.git.remote_checkout import make_on_node, pack_back
from oneie_tui.git.worktree import Worktree, WorktreeError, commit_work
from oneie_tui.spec.model import Spec

# The host ends its agents when the driver has not been heard from for this long: a
# driver that died must not leave agents running on the nodes.
DRIVER_SILENCE = 10.0
BATCH_MAX = 512  # messages per streamed item: fewer Ray objects for chatty agents

Message = tuple[Any, ...]


@dataclass
class AgentRequest:
    """What the driver sends to start one agent attempt (pickled by Ray)."""

    key: str  # run/agent/attempt: unique per attempt
    backend: str
    spec: Spec
    agent_id: str
    run_id: str
    speed: float
    seed: int
    attempt: int
    shared_context: str
    env: dict[str, str]
    workdir: str | None
    options: BackendOptions
    checkout: Shipped | None = None  # an isolated agent's worktree, made on this node
    session_lost: str = ""  # why a session of this agent is not continued here, or ""
    followup: str = ""  # a follow-up attempt's message from the user (AgentContext.followup)


@dataclass(eq=False)
class _Attempt:
    request: AgentRequest
    queue: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    paused: bool = False
    unpaused: asyncio.Event = field(default_factory=asyncio.Event)
    started: float = field(default_factory=time.monotonic)
    paused_since: float | None = None
    paused_total: float = 0.0
    replies: dict[int, asyncio.Future[Message]] = field(default_factory=dict)
    ctx: AgentContext | None = None
    done: bool = False
    early: list[str] = field(default_factory=list)  # messages that came before its context


class RelayHost(AgentHost):
    """The AgentHost a backend sees on the node: it forwards, the driver decides."""

    def __init__(self, attempt: _Attempt, node_id: str) -> None:
        self._a = attempt
        self._node_id = node_id
        self._calls = itertools.count(1)

    def _send(self, *msg: Any) -> None:
        self._a.queue.put_nowait(msg)

    def publish(
        self, type: str, actor: str, *, target: str = "", metadata: dict[str, Any] | None = None
    ) -> Event:
        meta = dict(metadata or {})
        if type == EventType.AGENT_INFO and "session_id" in meta:
            meta["node"] = self._node_id  # a coding CLI's session lives on this node
        self._send("pub", str(type), meta)
        # The real event (its seq) is made by the driver's bus; callers here get a copy
        # without one (seq 0), which only `oneie emit`'s answer shows.
        return Event(0, self._a.request.run_id, time.time(), str(type), actor, target, "", meta)

    def publish_output(self, agent_id: str, text: str, stream: str) -> object:
        self._send("out", text, stream)
        return None

    async def gate(self, agent_id: str) -> None:
        while self._a.paused:
            await self._a.unpaused.wait()
        await anyio.lowlevel.checkpoint()

    def active_elapsed(self, agent_id: str) -> float:
        a = self._a
        paused = a.paused_total + ((time.monotonic() - a.paused_since) if a.paused_since else 0.0)
        return time.monotonic() - a.started - paused

    async def wait_events(
        self, agent_id: str, actions: list[str], mode: Literal["all", "any"], timeout: float | None = None
    ) -> list[Event]:
        call = next(self._calls)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._a.replies[call] = future
        self._send("wait", call, list(actions), mode, timeout)
        try:
            answer = await future
        finally:
            self._a.replies.pop(call, None)
        if answer[0] == "impossible":
            raise EventImpossible(answer[1])
        return [Event.from_dict(e) for e in answer[1]]

    def cancel(self, agent_id: str, reason: str) -> bool:
        self._send("cancel", reason)
        return True

    def cancel_run(self, reason: str) -> bool:
        self._send("cancel_run", reason)
        return True


class _NodeChannel(ControlChannel):
    """The control channel on the node: a token is good while its attempt runs here."""

    def __init__(self, live: dict[str, _Attempt]) -> None:
        super().__init__()
        self._live = live

    def _is_current(self, ctx: AgentContext) -> bool:
        return any(a.ctx is ctx and not a.done for a in self._live.values())


class AgentHostActor:
    """The actor class (decorated by `ray_executor`). Async: one event loop drives all the
    node's agents, as the runner does on one machine."""

    def __init__(self, node_id: str, slots: int) -> None:
        self.node_id = node_id
        self.slots = slots
        self._live: dict[str, _Attempt] = {}
        self._backends: dict[tuple[str, str], AgentBackend] = {}
        self._channel: _NodeChannel | None = None
        self._last_heard = time.monotonic()
        self._watch: asyncio.Task[None] | None = None
        self._serve: asyncio.Task[None] | None = None

    # --- driver calls ------------------------------------------------------------

    async def ping(self) -> dict[str, Any]:
        """Alive; where; how much memory this host process holds (resident, bytes)."""
        self._heard()
        return {"node_id": self.node_id, "pid": os.getpid(), "rss": _rss_bytes(), "agents": len(self._live)}

    async def heartbeat(self) -> None:
        self._heard()

    async def pause(self, key: str) -> None:
        a = self._live.get(key)
        if a is None or a.paused:
            return
        a.paused = True
        a.unpaused = asyncio.Event()
        a.paused_since = time.monotonic()
        for hook in list(a.ctx.on_pause if a.ctx else []):
            hook()

    async def resume(self, key: str) -> None:
        a = self._live.get(key)
        if a is None or not a.paused:
            return
        a.paused = False
        if a.paused_since is not None:
            a.paused_total += time.monotonic() - a.paused_since
            a.paused_since = None
        a.unpaused.set()
        for hook in list(a.ctx.on_resume if a.ctx else []):
            hook()

    async def cancel(self, key: str) -> None:
        a = self._live.get(key)
        if a is None:
            return
        if a.paused:
            await self.resume(key)  # a stopped process must run to act on its TERM
        a.scope.cancel()

    async def message(self, key: str, text: str) -> bool:
        """A message from the user to the attempt `key` (checked by the driver's runner),
        at its next boundary. False: no such attempt here (it has ended)."""
        a = self._live.get(key)
        if a is None or a.done:
            return False
        if a.ctx is None:
            a.early.append(text)
        else:
            a.ctx.deliver(text)
        return True

    async def reply(self, key: str, call: int, answer: Message) -> None:
        a = self._live.get(key)
        future = a.replies.get(call) if a else None
        if future is not None and not future.done():
            future.set_result(answer)

    async def run_agent(self, request: AgentRequest) -> AsyncIterator[list[Message]]:
        """The streaming generator: batches of context calls, then one end message."""
        self._heard()
        self._ensure_tasks()
        attempt = _Attempt(request)
        self._live[request.key] = attempt
        task = asyncio.get_running_loop().create_task(self._drive(attempt))
        try:
            while True:
                first = await attempt.queue.get()
                batch = [first]
                while len(batch) < BATCH_MAX and not attempt.queue.empty():
                    batch.append(attempt.queue.get_nowait())
                yield batch
                if batch[-1][0] == "end":
                    return
        finally:
            attempt.scope.cancel()  # the driver stopped reading: end the agent here too
            await asyncio.shield(task)
            self._live.pop(request.key, None)

    # --- here -----------------------------------------------------------------------

    def _heard(self) -> None:
        self._last_heard = time.monotonic()

    def _ensure_tasks(self) -> None:
        loop = asyncio.get_running_loop()
        if self._watch is None:
            self._watch = loop.create_task(self._watch_driver())

    async def _watch_driver(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self._live and time.monotonic() - self._last_heard > DRIVER_SILENCE:
                for a in list(self._live.values()):
                    a.scope.cancel()  # TERM of each process group, through its backend

    def _backend(self, request: AgentRequest) -> AgentBackend:
        key = (request.run_id, request.backend)
        if key not in self._backends:
            backend = backend_class(request.backend)()
            backend.configure(request.spec, request.options)
            self._backends[key] = backend
        return self._backends[key]

    def _context(self, attempt: _Attempt) -> AgentContext:
        r = attempt.request
        agent = next(a for a in r.spec.agents if a.id == r.agent_id)
        ctx = AgentContext(
            RelayHost(attempt, self.node_id), r.spec, agent, r.run_id, speed=r.speed, seed=r.seed,
            attempt=r.attempt, shared_context=r.shared_context, env=r.env, workdir=r.workdir,
            followup=r.followup,
        )
        for text in attempt.early:
            ctx.deliver(text)
        attempt.early.clear()
        if any(k.startswith("ONEIE_") for k in r.env):
            # The driver's socket is not reachable from here: serve one on this node.
            if self._channel is None:
                self._channel = _NodeChannel(self._live)
                self._serve = asyncio.get_running_loop().create_task(self._serve_channel())
            ctx.env.update(self._channel.env_for(ctx))
        return ctx

    async def _serve_channel(self) -> None:
        assert self._channel is not None
        await self._channel.serve(None)

    async def _drive(self, attempt: _Attempt) -> None:
        end: Message = ("end", "failed", "the host could not start the agent")
        made: Path | None = None
        try:
            with attempt.scope:
                ctx = self._context(attempt)
                attempt.ctx = ctx
                backend = self._backend(attempt.request)
                if attempt.request.checkout is not None:
                    made = await self._check_out(attempt, ctx, backend, attempt.request.checkout)
                elif attempt.request.session_lost:
                    backend.forget_session(attempt.request.agent_id)
                    ctx.event(EventType.AGENT_INFO, started_over=attempt.request.session_lost)
                result = await backend.run(ctx)
                end = ("end", "completed", result.summary)
            if attempt.scope.cancelled_caught:
                end = ("end", "cancelled", "")
        except EventImpossible as exc:
            end = ("end", "impossible", list(exc.actions))
        except AgentFailure as exc:
            end = ("end", "failed", str(exc))
        except AgentInterrupted as exc:
            end = ("end", "interrupted", str(exc))
        except TimeoutError:
            end = ("end", "timeout", "")
        except Exception as exc:
            end = ("end", "error", f"{type(exc).__name__}: {exc}")
        finally:
            attempt.done = True
            if made is not None and attempt.request.checkout is not None:
                with anyio.CancelScope(shield=True):
                    await self._send_back(attempt, made, attempt.request.checkout, end)
            attempt.queue.put_nowait(end)

    async def _check_out(
        self, attempt: _Attempt, ctx: AgentContext, backend: AgentBackend, shipped: Shipped
    ) -> Path:
        """The agent's worktree on this node, before it starts: its earlier attempt's
        when that is here and current (a session continues), else a new one (it starts
        over: a session of it is forgotten, with the reason)."""
        co = shipped.checkout
        history = await shipped.history if shipped.history is not None else None
        try:
            made = await anyio.to_thread.run_sync(
                make_on_node, node_dir_for(self.node_id), co, history, shipped.delta
            )
        except WorktreeError as exc:
            raise AgentFailure(f"no worktree on node {self.node_id[:12]}: {exc}") from None
        ctx.workdir = str(made.path)
        ctx.env["ONEIE_WORKTREE"] = str(made.path)
        facts: dict[str, Any] = {
            "node": self.node_id,
            "node_worktree": str(made.path),
            "checkout": "origin" if co.url else "bundle",
            "worktree_recovered": made.recovered,
        }
        if not made.recovered and (shipped.previous_node or shipped.had_session):
            backend.forget_session(co.agent_id)
            if shipped.previous_node and shipped.previous_node != self.node_id:
                where = f"was on node {shipped.previous_node[:12]}, not this one (that node is gone or full)"
            else:
                where = "is no longer on this node"
            facts["started_over"] = (
                f"its worktree of the attempt before {where}: a new worktree of its branch as the "
                "driver has it, and a new session"
            )
        attempt.queue.put_nowait(("checkout", facts))
        return made.path

    async def _send_back(self, attempt: _Attempt, path: Path, shipped: Shipped, end: Message) -> None:
        """After the agent: what it left uncommitted committed (as the driver does for a
        local worktree), and its branch's new commits streamed back as a bundle."""
        co = shipped.checkout
        status = {"completed": "completed", "cancelled": "cancelled", "interrupted": "cancelled"}.get(
            str(end[1]), "failed"
        )
        summary = str(end[2]) if isinstance(end[2], str) else ""
        wt = Worktree(co.agent_id, co.run_id, path, co.branch, co.base)

        def pack() -> tuple[str, str, bytes | None]:
            commit = commit_work(wt, status, summary)
            head, data = pack_back(path, co.branch, co.tip)
            return commit or "", head, data

        try:
            commit, head, data = await anyio.to_thread.run_sync(pack)
        except WorktreeError as exc:
            attempt.queue.put_nowait(("branch_error", str(exc)))
            return
        attempt.queue.put_nowait(("branch", head, data, commit))


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def apply_message(ctx: AgentContext, msg: Message) -> None:
    """One relayed context call, made on the driver's real context (the hot path)."""
    kind = msg[0]
    if kind == "out":
        ctx.output(str(msg[1]), str(msg[2]))
    elif kind == "pub":
        _publish(ctx, str(msg[1]), dict(msg[2]))
    elif kind == "cancel":
        ctx.cancel(str(msg[1]))
    elif kind == "cancel_run":
        ctx.cancel_run(str(msg[1]))


def _publish(ctx: AgentContext, type: str, meta: dict[str, Any]) -> None:
    if type == EventType.AGENT_PROGRESS:
        ctx.progress(_finite(meta.get("percent")), str(meta.get("note", "")))
    elif type == EventType.TASK_EVENT:
        action = str(meta.pop("action", ""))
        ctx.emit(action, meta)
    elif type == EventType.USAGE:
        from oneie_tui.events import Usage

        fields = {k: meta.pop(k) for k in list(meta) if k in _USAGE_FIELDS}
        usage = Usage(
            input_tokens=int(_finite(fields.get("input_tokens"))),
            output_tokens=int(_finite(fields.get("output_tokens"))),
            cache_write_tokens=int(_finite(fields.get("cache_write_tokens"))),
            cache_read_tokens=int(_finite(fields.get("cache_read_tokens"))),
            cost_usd=_finite(fields.get("cost_usd")),
        )
        ctx.usage(usage, **meta)
    else:
        ctx.event(type, **meta)


_USAGE_FIELDS = frozenset(
    {"input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "cost_usd"}
)


def _finite(value: Any) -> float:
    """A number from the node, checked: finite, else 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and abs(number) != float("inf") else 0.0


def events_of(events: Iterable[Event]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in events]
