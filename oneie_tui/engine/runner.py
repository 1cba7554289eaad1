"""The runner: launches every ready agent at once and keeps the run's rules.

Rules: `after` (all of) and `after_any` (first of) start an agent the moment its events
fire; `max_parallel` queues the excess; a race group's first success cancels the rest;
`on_failure = "cancel"` cascades; an agent waiting for an event that can no longer fire
ends `blocked` at once. Control (pause, resume, cancel, restart) comes in as plain method
calls; everything that happens goes out as events on the bus. The runner knows no backend.

This module is longer than most (~700 lines) on purpose: it is one state machine, and its
rules (slots, waits, pause, races, cascade, blocked detection, timeouts) read and change
the same fields of the same run. Per-agent state lives in `agent_state.py`.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from typing import Any, Literal

import anyio
from anyio.abc import TaskGroup

from oneie_tui.agents.base import (
    AgentBackend,
    AgentContext,
    AgentFailure,
    AgentHost,
    AgentInterrupted,
    Usage,
)
from oneie_tui.agents.budget import BudgetExceeded, check_budget
from oneie_tui.engine import limits
from oneie_tui.engine.agent_messages import clean_message
from oneie_tui.engine.agent_state import AgentState
from oneie_tui.engine.limits import capacity
from oneie_tui.events import (
    FOLLOW_UP_STATUSES,
    TERMINAL_STATUS_OF,
    AgentStatus,
    Event,
    EventBus,
    EventImpossible,
    EventType,
    Subscription,
    add_usage,
)
from oneie_tui.spec.model import AgentSpec, Spec
from oneie_tui.store.base import Store, StoreError, Writer
from oneie_tui.trust.redact import redact
from oneie_tui.views.metrics import MetricsBuilder, RunMetrics
from oneie_tui.views.outcome import run_outcome

CLEANUP_SECONDS = 10.0


def new_run_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class RunnerError(Exception):
    """The runner itself failed (a bug or a store fault). One line for the user."""


BackendFor = Callable[[AgentSpec], AgentBackend]
ContextHook = Callable[[AgentContext], None]
# Continue a run that has ended with these agents (the dashboard launches `run` again);
# returns None, or why it cannot now.
ContinueRun = Callable[[list[str]], "str | None"]
# A service runs beside the agents for the whole run (e.g. the socket `oneie emit` talks
# to) and is cancelled when the run ends. It receives the runner.
Service = Callable[["Runner"], Coroutine[Any, Any, None]]


class Runner(AgentHost):
    def __init__(
        self,
        spec: Spec,
        backend_for: BackendFor,
        *,
        run_id: str | None = None,
        store: Store | None = None,
        spec_text: str = "",
        spec_path: str | None = None,
        speed: float = 1.0,
        seed: int | None = None,
        sequential: bool = False,
        max_parallel: int | None = None,
        shared_context: str = "",
        prepare_context: ContextHook | None = None,
        services: Iterable[Service] = (),
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        first_seq: int = 1,
    ) -> None:
        self.spec = spec
        self.run_id = run_id or new_run_id()
        self.speed = speed if speed > 0 else 1.0
        self.seed = spec.run.seed if seed is None else seed
        self.sequential = sequential
        limit = 1 if sequential else (spec.run.max_parallel if max_parallel is None else max_parallel)
        self.max_parallel = limit
        self._limiter = anyio.CapacityLimiter(limit if limit > 0 else math.inf)
        # Agents that hold pipes, processes or connections also queue for what the
        # process's limits allow (ulimit -n / -u): never an EMFILE, whatever max_parallel.
        self.capacity = capacity(spec.backend_of(a) for a in spec.agents)
        self._resources = anyio.CapacityLimiter(self.capacity.limit or math.inf)
        self._backend_for = backend_for
        self._store = store
        self._spec_text = spec_text
        self._spec_path = spec_path
        self._shared_context = shared_context
        self._prepare_context = prepare_context
        self.services: list[Service] = list(services)
        self._mono = monotonic
        self._mono0 = monotonic()
        self._wall0 = wall()
        self.bus = EventBus(self.run_id, self._now, first_seq=first_seq)
        self.metrics = MetricsBuilder()
        self.bus.subscribe(self.metrics.add)
        self.agents: dict[str, AgentState] = {a.id: AgentState(a) for a in spec.agents}
        self._group_of = {a.id: a.race or "" for a in spec.agents}  # an event's `group`
        self._target_of = {a.id: a.role or a.id for a in spec.agents}  # a task_event's target
        self._emitters = spec.emitters()
        self._tg: TaskGroup | None = None
        self._writer: Writer | None = None
        self._writer_sub: Subscription | None = None
        self.live = False
        self.status = "pending"
        self.reason = ""
        self._run_cancelled = False
        self._interrupted = False
        self._budget_stopped = False  # the run budget has been crossed once already
        self._run_failed_reason = ""
        self._resumed = False
        self.env: dict[str, str] = {}
        # Facts a resume needs to run the same way (project folder, ...): in run_started.
        self.run_info: dict[str, Any] = {}
        # The run timeout counts active run time: not the stretches where the user has
        # paused agents and nothing else runs.
        self._halt_since: float | None = None
        self._halted_total = 0.0
        # While the run closes, the clock stands still: the summary, run_finished and the
        # store's `ended` all describe the same instant.
        self._end_ts: float | None = None
        self._live: dict[str, AgentState] = {}  # launched, not yet ended
        # Set by whoever holds the runner and can call `run` again once it has ended (the
        # dashboard), so a message to a finished agent still starts its follow-up then.
        self.continue_run: ContinueRun | None = None
        # The control socket (`oneie emit`, `oneie send`), served as one of the services
        # for each `run`; a holder that keeps the runner after it ended (the dashboard)
        # serves it itself for as long (`control_held`), so `oneie send` reaches it then.
        self.control: Service | None = None  # the channel's `serve`
        self.control_held = False

    # --- time -------------------------------------------------------------------

    def _now(self) -> float:
        """Epoch seconds that never go backwards within a run."""
        if self._end_ts is not None:
            return self._end_ts
        return self._wall0 + (self._mono() - self._mono0)

    def elapsed(self) -> float:
        return self._mono() - self._mono0

    def run_active_elapsed(self) -> float:
        """Seconds the run has been live, less the time it stood still because of pauses."""
        halted = self._halted_total
        if self._halt_since is not None:
            halted += self._mono() - self._halt_since
        return self.elapsed() - halted

    def _note_halt(self) -> None:
        if not self.spec.run.timeout:
            return  # only the run timeout reads this; skip the O(agents) scan otherwise
        states = self.agents.values()
        halted = any(s.paused for s in states) and not any(
            s.status == "running" and not s.paused for s in states
        )
        if halted and self._halt_since is None:
            self._halt_since = self._mono()
        elif not halted and self._halt_since is not None:
            self._halted_total += self._mono() - self._halt_since
            self._halt_since = None

    # --- AgentHost (what contexts call) ------------------------------------------

    def publish(
        self,
        type: str,
        actor: str = "runner",
        *,
        target: str = "",
        metadata: dict[str, Any] | None = None,
    ) -> Event:
        # The hot path (every output line): two dict lookups, no attribute chains.
        if type == EventType.TASK_EVENT and not target:
            target = self._target_of.get(actor, "")
        return self.bus.publish(
            type, actor, target=target, group=self._group_of.get(actor, ""), metadata=metadata
        )

    def publish_output(self, agent_id: str, text: str, stream: str) -> Event:
        """`publish(EventType.AGENT_OUTPUT, ...)` without the detours, for AgentContext.output."""
        return self.bus.publish(
            EventType.AGENT_OUTPUT, agent_id, group=self._group_of.get(agent_id, ""),
            metadata={"text": text, "stream": stream},
        )

    async def gate(self, agent_id: str) -> None:
        state = self.agents[agent_id]
        while state.paused:
            await state.unpaused.wait()
        await anyio.lowlevel.checkpoint()

    def active_elapsed(self, agent_id: str) -> float:
        state = self.agents[agent_id]
        running = (self._mono() - state.run_since) if state.run_since is not None else 0.0
        return state.attempt_active + running

    def add_usage(self, agent_id: str, usage: Usage) -> None:
        state = self.agents[agent_id]
        state.usage.add(usage)
        self._check_budgets(state)

    def _check_budgets(self, state: AgentState) -> None:
        """Token and cost budgets for backends that do not keep them at their own turn
        boundaries (`enforces_budgets`, as the claude backend does): checked as usage is
        reported. Crossing the agent's budget cancels it; crossing the run's stops all."""
        if self._backend_for(state.spec).enforces_budgets:
            return
        try:
            check_budget(state.spec.budget, "agent", state.usage, 0, starting_turn=False)
        except BudgetExceeded as exc:
            if not state.terminal and not state.cancel_reason:
                self.publish(EventType.BUDGET_EXCEEDED, state.id, metadata={**exc.metadata(), "reason": exc.reason})
                self.cancel(state.id, exc.reason)
        if self._budget_stopped:
            return
        total = Usage()
        for other in self.agents.values():
            total.add(other.usage)
        try:
            check_budget(self.spec.run.budget, "run", total, 0, starting_turn=False)
        except BudgetExceeded as exc:
            self._budget_stopped = True
            self.publish(EventType.BUDGET_EXCEEDED, metadata={**exc.metadata(), "reason": exc.reason})
            self.cancel_run(exc.reason)

    def set_progress(self, agent_id: str, percent: float) -> None:
        self.agents[agent_id].progress = percent

    async def wait_events(
        self, agent_id: str, actions: list[str], mode: Literal["all", "any"], timeout: float | None = None
    ) -> list[Event]:
        """A running agent waits for events without holding its parallel slot. With a
        `timeout` (seconds) it returns the events fired so far when time runs out."""
        state = self.agents[agent_id]
        self._stop_clock(state)
        if state.paused:  # paused but not yet at a checkpoint: resume() returns to waiting
            state.paused_from = "waiting"
        else:
            state.status = "waiting"
        state.wait_all, state.wait_any = (list(actions), []) if mode == "all" else ([], list(actions))
        state.wait_timed = timeout is not None  # it ends by itself: not part of a deadlock
        self.publish(EventType.AGENT_WAITING, agent_id, metadata={"waiting_for": actions, "mode": mode})
        self._release_slot(state)
        self._note_halt()
        self._mark_dead_events()  # if nobody else can act, this wait can never end
        events: list[Event] = []
        try:
            # The timeout's scope ends inside the try, so the slot is re-acquired unhindered.
            with anyio.move_on_after(math.inf if timeout is None else timeout) as limit:
                if mode == "all":
                    events = list((await self.bus.wait_for_all(actions)).values())
                else:
                    events = [await self.bus.race_for_first(actions)]
            if limit.cancelled_caught:
                events = [self.bus.fired[a] for a in actions if a in self.bus.fired]
        finally:
            state.wait_all, state.wait_any = [], []
            state.wait_timed = False
            await self._acquire_slot(state, resumed=True)
        return events

    # --- control (called by the UI or the CLI) -----------------------------------

    def pause(self, agent_id: str, *, by: str = "user") -> bool:
        """Pause an agent at any point of its life: a running one stops at its next
        checkpoint (and stops its active clock and timeout); a queued or waiting one will
        not start until resumed, even when its events fire. `by` says who paused it (the
        user, or the radar when it left its scope)."""
        state = self.agents.get(agent_id)
        if state is None or state.terminal or state.scope is None or state.paused:
            return False
        state.paused = True
        state.paused_from = state.status
        state.unpaused = anyio.Event()
        self._stop_clock(state)
        state.status = "paused"
        for hook in state.ctx.on_pause if state.ctx else []:
            hook()
        self.publish(EventType.AGENT_PAUSED, agent_id, metadata={"from": state.paused_from, "by": by})
        self._note_halt()
        return True

    def resume(self, agent_id: str) -> bool:
        state = self.agents.get(agent_id)
        if state is None or not state.paused:
            return False
        self._unpause(state)
        state.status = state.paused_from
        if state.status == "running":
            self._start_clock(state)
        self.publish(EventType.AGENT_RESUMED, agent_id, metadata={"status": state.status})
        self._note_halt()
        return True

    def toggle_pause(self, agent_id: str) -> bool:
        state = self.agents.get(agent_id)
        if state is None:
            return False
        return self.resume(agent_id) if state.paused else self.pause(agent_id)

    def pause_all(self) -> int:
        return sum(self.pause(a) for a in list(self.agents))

    def resume_all(self) -> int:
        return sum(self.resume(a) for a in list(self.agents))

    def cancel(self, agent_id: str, reason: str = "cancelled by user", *, kind: AgentStatus = "cancelled") -> bool:
        state = self.agents.get(agent_id)
        if state is None or state.terminal or state.scope is None:
            return False
        state.cancel_reason = state.cancel_reason or reason
        state.cancel_type = kind
        if state.paused:
            self._unpause(state)  # so a stopped process can act on the cancel
        state.scope.cancel()
        return True

    def restart(self, agent_id: str) -> bool:
        """Run the agent again: now if it has ended, or right after cancelling it."""
        state = self.agents.get(agent_id)
        if state is None or not self.live or self._tg is None:
            return False
        if state.terminal or state.scope is None:  # ended, or never launched in this run
            self._launch(state)
            return True
        state.relaunch = True
        return self.cancel(agent_id, "restarted by user")

    def send_message(self, agent_id: str, text: str) -> str | None:
        """Say `text` to an agent. None when it is accepted, else the one-line reason it
        was refused. A running (or paused, queued, waiting) attempt gets it at its next
        boundary; a finished one (completed, failed, cancelled) starts a follow-up attempt
        in the same worktree and session that continues with it. Either way it is an
        `agent_message` event (text redacted, attempt, delivery "live" or "followup")."""
        state = self.agents.get(agent_id)
        if state is None:
            return f"no agent {agent_id!r} in run {self.run_id}"
        try:
            text = clean_message(text)
        except ValueError as exc:
            return str(exc)
        backend = self._backend_for(state.spec)
        if not backend.takes_messages(state.spec):
            return f"{agent_id}: {backend.why_no_messages(state.spec)}"
        if state.status in FOLLOW_UP_STATUSES and not state.relaunch:
            return self._follow_up(state, text)
        if state.status == "blocked":
            return f"{agent_id} is blocked (its events can no longer fire): restart it to run it again"
        if state.terminal or state.scope is None or not self.live:
            return f"{agent_id} has not started in this run"
        if state.relaunch:
            return f"{agent_id} is restarting: send the message once it runs again"
        self._record_message(state, text, "live")
        if state.ctx is not None:
            state.ctx.deliver(text)
        else:  # not started yet: its context gets it when the attempt begins
            state.inbox.append(text)
        return None

    def _follow_up(self, state: AgentState, text: str) -> str | None:
        if self.live and self._tg is not None:
            state.pending_followup = text
            self._launch(state)
            return None
        if self.live or self.continue_run is None:
            return f"the run is {'finishing' if self.live else 'over'}: {state.id} cannot be continued now"
        state.pending_followup = text
        refused = self.continue_run([state.id])
        if refused:
            state.pending_followup = ""
        return refused

    def _record_message(self, state: AgentState, text: str, delivery: Literal["live", "followup"]) -> None:
        self.publish(
            EventType.AGENT_MESSAGE, state.id,
            metadata={"text": redact(text), "attempt": state.attempt, "delivery": delivery},
        )

    def cancel_run(self, reason: str = "run cancelled by user", *, interrupted: bool = False) -> bool:
        """Cancel every agent. `interrupted` (SIGTERM/SIGHUP) records the run as
        `interrupted`, so `oneie resume` can pick it up; a user's cancel is `cancelled`."""
        self._run_cancelled = True
        self._interrupted = interrupted
        self.reason = self.reason or reason
        for agent_id in list(self.agents):
            self.cancel(agent_id, reason)
        return True

    # --- the run ----------------------------------------------------------------

    async def run(self, agent_ids: Iterable[str] | None = None, *, resume: bool = False) -> RunMetrics:
        """Run the given agents (default all). Callable again on the same runner to
        continue the run (resume, or restarting agents after it ended)."""
        on_call = self.spec.on_call()  # the resolver waits for `oneie land`
        ids = list(agent_ids) if agent_ids is not None else [a for a in self.agents if a not in on_call]
        self._resumed = resume or self._resumed
        self._run_cancelled = False
        self._run_failed_reason = ""
        self.reason = ""
        self._end_ts = None
        for agent_id in ids:  # resolve backends first: a bad one fails before anything starts
            self._backend_for(self.agents[agent_id].spec)
        try:
            self._open_store()
        except StoreError as exc:  # one line for the user, like every other runner failure
            raise RunnerError(str(exc)) from None
        self.live = True
        self.status = "running"
        self.publish(
            EventType.RUN_STARTED,
            metadata={
                "spec": self.spec.feature.name,
                "agents": [a.id for a in self.spec.agents],
                "launch": ids,
                "backend": self.spec.run.backend,
                "max_parallel": self.max_parallel,
                **({"limit_note": self.capacity.note} if self.capacity.limit is not None else {}),
                "sequential": self.sequential,
                "speed": self.speed,
                "seed": self.seed,
                "pid": os.getpid(),
                **self.run_info,
                **({"resumed": True} if resume else {}),
            },
        )
        try:
            async with anyio.create_task_group() as outer:
                if self.spec.run.timeout:
                    outer.start_soon(self._run_timeout, self.spec.run.timeout / self.speed)
                outer.start_soon(self._watch_store)
                for service in self.services:
                    if self.control_held and self.control is not None and service == self.control:
                        continue  # its holder serves it
                    outer.start_soon(service, self)
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    for agent_id in ids:
                        self._launch(self.agents[agent_id])
                    self._mark_dead_events()  # a resumed run may wait on agents long gone
                self._tg = None
                outer.cancel_scope.cancel()
        except Exception as exc:  # a bug or fault in the runner itself
            self._run_failed_reason = _one_line(exc)
        finally:
            self._tg = None
            with anyio.CancelScope(shield=True):
                await self._finish()
        if self._run_failed_reason:
            raise RunnerError(self._run_failed_reason)
        return self.metrics.result(self._now())

    def restore(self, events: Iterable[Event]) -> list[str]:
        """Load a stored run's events (resume): fired events stay fired, finished agents stay
        finished, and seq continues. Returns the agents to launch again: those with no
        terminal event, or whose only end was an interruption of the whole process."""
        last = 0
        for e in events:
            last = max(last, e.seq)
            self.metrics.add(e)
            if e.type == EventType.TASK_EVENT and e.action and e.actor in self.agents:
                self.bus.remember_fired(e)
            state = self.agents.get(e.actor)
            if state is None:
                continue
            if e.type == EventType.AGENT_QUEUED:
                state.attempt = max(state.attempt, int(e.metadata.get("attempt", 1)))
                state.status = "queued"
            elif (ended := TERMINAL_STATUS_OF.get(e.type)) is not None:
                if e.metadata.get("interrupted"):
                    # Cancelled only because the process was told to stop (SIGTERM/SIGHUP):
                    # its work is unfinished, so resume runs it again.
                    state.status = "queued"
                    continue
                state.status = ended  # type: ignore[assignment]
                state.reason = str(e.metadata.get("reason", ""))
                state.race_lost = bool(e.metadata.get("race_lost", False))
            elif e.type == EventType.AGENT_PROGRESS:
                state.progress = float(e.metadata.get("percent", 0.0))
            elif e.type == EventType.USAGE:  # budgets count what was spent before, too
                add_usage(state.usage, e.metadata)
        self.bus.seek(last + 1)
        self._resumed = True
        on_call = self.spec.on_call()
        return [a for a, s in self.agents.items() if not s.terminal and a not in on_call]

    def _launch(self, state: AgentState) -> None:
        assert self._tg is not None
        state.scope = anyio.CancelScope()
        state.cancel_reason = ""
        state.cancel_type = "cancelled"
        state.relaunch = False
        state.race_lost = False
        state.interrupted = False
        state.attempt += 1
        state.attempt_active = 0.0
        state.run_since = None
        state.progress = 0.0
        state.status = "queued"
        state.reason = ""
        state.inbox = []
        state.followup, state.pending_followup = state.pending_followup, ""
        self._live[state.id] = state
        self.bus.mark_possible(state.spec.emits)
        if state.followup:
            self._record_message(state, state.followup, "followup")
        self.publish(
            EventType.AGENT_QUEUED, state.id,
            metadata={"attempt": state.attempt, **({"followup": True} if state.followup else {})},
        )
        self._tg.start_soon(self._lifecycle, state, state.scope)

    async def _lifecycle(self, state: AgentState, scope: anyio.CancelScope) -> None:
        agent = state.spec
        outcome: tuple[AgentStatus, str] = ("failed", "")
        summary = ""
        with scope:
            try:
                if agent.after or agent.after_any:
                    state.status = "waiting"
                    state.wait_all, state.wait_any = list(agent.after), list(agent.after_any)
                    self.publish(
                        EventType.AGENT_WAITING,
                        agent.id,
                        metadata={"after": agent.after, "after_any": agent.after_any},
                    )
                    if agent.after:
                        await self.bus.wait_for_all(agent.after)
                    if agent.after_any:
                        await self.bus.race_for_first(agent.after_any)
                state.wait_all, state.wait_any = [], []
                await self._acquire_resources(state)
                await self._acquire_slot(state, resumed=False)
                try:
                    summary = await self._run_backend(state)
                    outcome = ("completed", "")
                finally:
                    self._stop_clock(state)
                    self._release_slot(state)
            except EventImpossible as exc:
                outcome = ("blocked", f"waiting for {', '.join(exc.actions)}, which can no longer fire")
            except TimeoutError:
                outcome = ("failed", f"timed out after {agent.timeout or 0.0:g}s of active time")
            except AgentFailure as exc:
                outcome = ("failed", _one_line(exc))
            except AgentInterrupted as exc:
                state.interrupted = True
                outcome = ("cancelled", _one_line(exc))
            except Exception as exc:
                # An exception inside one agent fails that agent, not the run.
                outcome = ("failed", f"{type(exc).__name__}: {_one_line(exc)}")
        if scope.cancelled_caught or (scope.cancel_called and outcome[0] != "completed"):
            outcome = (state.cancel_type, state.cancel_reason or "cancelled")
        state.summary = summary
        self._end(state, outcome[0], outcome[1])

    async def _acquire_slot(self, state: AgentState, *, resumed: bool) -> None:
        # No yield on the way when a slot is free: with 200 agents launched at once, a
        # yield here would let every agent start only after all the others took a step.
        await anyio.lowlevel.checkpoint_if_cancelled()
        while True:
            if state.paused:  # a paused agent neither takes nor queues for a slot
                await self.gate(state.id)
            try:
                self._limiter.acquire_on_behalf_of_nowait(state)
            except anyio.WouldBlock:
                state.status = "queued"
                self.publish(
                    EventType.AGENT_QUEUED, state.id, metadata={"attempt": state.attempt, "slot": True}
                )
                await self._limiter.acquire_on_behalf_of(state)
            state.holds_slot = True
            if not state.paused:
                break
            self._release_slot(state)  # paused while queued: give the slot to someone else
        state.status = "running"
        self._start_clock(state)
        if resumed:
            self.publish(EventType.AGENT_RESUMED, state.id, metadata={"after_wait": True})
        self._note_halt()

    async def _acquire_resources(self, state: AgentState) -> None:
        """Held for the agent's whole attempt (its process keeps its pipes while it waits
        for events), released in `_end`. Taken before the parallel slot, so an agent never
        holds a slot while it queues for a file descriptor."""
        if self.capacity.limit is None or not limits.uses_resources(self.spec.backend_of(state.spec)):
            return
        try:
            self._resources.acquire_on_behalf_of_nowait(state)
        except anyio.WouldBlock:
            state.status = "queued"
            self.publish(
                EventType.AGENT_QUEUED, state.id,
                metadata={"attempt": state.attempt, "slot": True, "note": f"queued: {self.capacity.note}"},
            )
            await self._resources.acquire_on_behalf_of(state)
        state.holds_resources = True

    def _release_slot(self, state: AgentState) -> None:
        if state.holds_slot:
            state.holds_slot = False
            self._limiter.release_on_behalf_of(state)

    async def _run_backend(self, state: AgentState) -> str:
        agent = state.spec
        ctx = AgentContext(
            self,
            self.spec,
            agent,
            self.run_id,
            speed=self.speed,
            seed=self.seed,
            attempt=state.attempt,
            shared_context=self._shared_context,
            env=self.env,
            followup=state.followup,
        )
        if self._prepare_context is not None:
            self._prepare_context(ctx)
        state.ctx = ctx
        for text in state.inbox:  # said while it was queued
            ctx.deliver(text)
        state.inbox = []
        backend = self._backend_for(agent)
        self.publish(
            EventType.AGENT_STARTED,
            agent.id,
            metadata={"attempt": state.attempt, "backend": self.spec.backend_of(agent)},
        )
        # The timeout counts active time: pausing or waiting lifts the deadline (_stop_clock)
        # and running again sets it to what was left (_start_clock).
        if not agent.timeout:  # no scope to enter and leave: agent start-up stays cheap
            return (await backend.run(ctx)).summary
        state.timeout_left = agent.timeout / self.speed
        with anyio.CancelScope(deadline=anyio.current_time() + state.timeout_left) as limit:
            state.timeout_scope = limit
            try:
                result = await backend.run(ctx)
            finally:
                state.timeout_scope = None
        if limit.cancelled_caught:
            raise TimeoutError
        return result.summary

    def _start_clock(self, state: AgentState) -> None:
        state.run_since = self._mono()
        if state.timeout_scope is not None:
            state.timeout_scope.deadline = anyio.current_time() + state.timeout_left

    def _stop_clock(self, state: AgentState) -> None:
        if state.run_since is not None:
            state.attempt_active += self._mono() - state.run_since
            state.run_since = None
        scope = state.timeout_scope
        if scope is not None and scope.deadline != math.inf:
            state.timeout_left = max(0.0, scope.deadline - anyio.current_time())
            scope.deadline = math.inf

    def _unpause(self, state: AgentState) -> None:
        state.paused = False
        state.unpaused.set()
        for hook in state.ctx.on_resume if state.ctx else []:
            hook()

    def _end(self, state: AgentState, status: AgentStatus, reason: str) -> None:
        if state.holds_resources:
            state.holds_resources = False
            self._resources.release_on_behalf_of(state)
        state.status = status  # type: ignore[assignment]
        state.reason = reason
        state.paused = False
        state.ctx = None
        meta: dict[str, Any] = {"attempt": state.attempt}
        if reason:
            meta["reason"] = reason
        if state.summary and status == "completed":
            meta["summary"] = state.summary
        if state.race_lost:
            meta["race_lost"] = True
        if status == "cancelled" and (self._interrupted or state.interrupted):
            meta["interrupted"] = True  # resume relaunches these
        self._live.pop(state.id, None)
        if status in ("blocked", "failed"):  # it stopped for good: the user must look
            # Just before its end: nothing of an attempt follows the attempt's end event.
            self.publish(
                EventType.AGENT_ATTENTION, state.id,
                metadata={"reason": status, "tools": [], "text": reason or status},
            )
        self.publish(f"agent_{status}", state.id, metadata=meta)
        self._note_halt()

        if status == "completed" and state.spec.race:
            for other in self._race_mates(state):
                other.race_lost = True
                self.cancel(other.id, f"race lost to {state.id}")
        if state.interrupted and self.spec.run.on_failure == "cancel":
            # Its node died: the rest follows on_failure, and stays resumable with it.
            for other in self.agents.values():
                if other is not state and not other.terminal and other.scope is not None:
                    other.interrupted = True
                    self.cancel(other.id, f"cascade: {state.id} interrupted ({reason})")
        if status == "failed":
            self.publish(
                EventType.TASK_EVENT,
                state.id,
                metadata={
                    "action": "task_failed",
                    "error": reason,
                    "shouldCancelParallel": self.spec.run.on_failure == "cancel",
                },
            )
            if self.spec.run.on_failure == "cancel" and not self._race_can_still_win(state):
                for other in self.agents.values():
                    if other is not state and not other.terminal and other.scope is not None:
                        self.cancel(other.id, f"cascade: {state.id} failed ({reason})")
        self._mark_dead_events()
        if state.relaunch and self.live and self._tg is not None:
            self._launch(state)

    def _race_mates(self, state: AgentState) -> list[AgentState]:
        return [
            s
            for s in self.agents.values()
            if s is not state and s.spec.race == state.spec.race and not s.terminal
        ]

    def _race_can_still_win(self, state: AgentState) -> bool:
        if not state.spec.race:
            return False
        return any(
            s.status == "completed" or not s.terminal
            for s in self.agents.values()
            if s is not state and s.spec.race == state.spec.race
        )

    def _mark_dead_events(self) -> None:
        dead = [
            action
            for action, emitters in self._emitters.items()
            if action not in self.bus.fired
            and all(self._will_not_run(self.agents[e]) for e in emitters)
        ]
        live = self._live.values()  # launched and not ended; usually the first can act
        if self._tg is not None and not any(s.can_act(self.bus.fired) for s in live):
            # Nobody can fire anything any more (every live agent waits): whatever is still
            # awaited, declared or not, will never come. Blocked beats hanging.
            dead += [a for s in live for a in s.waiting_for]
        self.bus.mark_impossible(dead)

    def _will_not_run(self, state: AgentState) -> bool:
        """Ended for good, or never launched in this run (so its events cannot fire)."""
        if state.relaunch:
            return False
        return state.terminal or (state.scope is None and self._tg is not None)

    async def _run_timeout(self, seconds: float) -> None:
        while (left := seconds - self.run_active_elapsed()) > 0:
            await anyio.sleep(left)
        self._run_failed_reason = ""
        self.reason = f"run timed out after {seconds * self.speed:g}s"
        for agent_id in list(self.agents):
            self.cancel(agent_id, self.reason)

    async def _watch_store(self) -> None:
        if self._writer is None:
            return
        while True:
            await anyio.sleep(0.05)
            if self._writer.error is not None:
                err = self._writer.error
                # A StoreError already says what happened to the store (deleted, ...).
                msg = _one_line(err) if isinstance(err, StoreError) else f"run store write failed: {_one_line(err)}"
                self._run_failed_reason = msg
                for agent_id in list(self.agents):
                    self.cancel(agent_id, msg)
                return

    # --- store ------------------------------------------------------------------

    def _open_store(self) -> None:
        if self._store is None:
            return
        try:
            if self.bus.last_seq == 0 and not self._resumed:
                self._store.create_run(
                    self.run_id, self.spec.feature.name, self._spec_text, self._spec_path, self._now()
                )
            else:
                self._store.mark_running(self.run_id)
        except Exception as exc:
            raise StoreError(f"cannot record the run in {self._store.path}: {_one_line(exc)}") from None
        writer = self._store.writer()
        self._writer = writer
        self._writer_sub = self.bus.subscribe(writer.put, first=True)

    def run_status(self) -> str:
        if self._run_failed_reason:
            return "failed"
        if self._run_cancelled:
            return "interrupted" if self._interrupted else "cancelled"
        if any(s.interrupted and s.status == "cancelled" for s in self.agents.values()):
            return "interrupted"  # an agent's node died: `oneie resume` runs it again
        won = {s.spec.race for s in self.agents.values() if s.spec.race and s.status == "completed"}
        # A race member that lost (cancelled, or failed before a mate won) is not a failure.
        ok = all(
            s.status == "completed" or (s.spec.race is not None and s.spec.race in won)
            for s in self.agents.values()
            if s.status != "pending"
        )
        return "completed" if ok else "failed"

    async def _finish(self) -> None:
        self.live = False
        # Anything still non-terminal (runner crash) ends cancelled with the reason.
        for state in self.agents.values():
            if state.attempt > 0 and not state.terminal:
                self._stop_clock(state)
                state.status = "cancelled"
                state.reason = self._run_failed_reason or "run ended"
                self.publish(EventType.AGENT_CANCELLED, state.id, metadata={"reason": state.reason})
        self._live.clear()  # everything has ended now
        self.status = self.run_status()
        self._end_ts = self._now()
        metrics = self.metrics.result(self._end_ts)
        summary = self.summary(metrics)
        if self._run_failed_reason:
            self.publish(EventType.RUN_FAILED, metadata={"reason": self._run_failed_reason, **summary})
        else:
            self.publish(EventType.RUN_FINISHED, metadata=summary)
        writer, self._writer = self._writer, None
        if writer is not None and self._store is not None:
            if self._writer_sub is not None:
                self.bus.unsubscribe(self._writer_sub)
            await anyio.to_thread.run_sync(writer.close)
            # A last batch that failed (or never finished) means events are missing: the
            # run row must say failed, not what the agents did.
            if writer.error is not None and not self._run_failed_reason:
                self._run_failed_reason = f"run store write failed: {_one_line(writer.error)}"
            elif writer.busy and not self._run_failed_reason:
                self._run_failed_reason = "run store write failed: the writer did not finish in time"
            if self._run_failed_reason:
                self.status = "failed"
                summary = {**summary, "status": "failed", "reason": self._run_failed_reason}
            try:
                self._store.finish_run(self.run_id, self._now(), self.status, summary)
            except Exception as exc:
                if not self._run_failed_reason:
                    self._run_failed_reason = f"run store write failed: {_one_line(exc)}"
        self._end_ts = None

    def summary(self, metrics: RunMetrics | None = None) -> dict[str, Any]:
        m = metrics or self.metrics.result(self._now())
        data = m.to_dict()
        agents = data.pop("agents")
        status = self.status if not self.live else "running"
        statuses = [s.status for s in self.agents.values() if s.status != "pending"]
        return {
            "run_id": self.run_id,
            "status": status,
            "outcome": run_outcome(
                status, statuses, runner_failed=bool(self._run_failed_reason), denials=m.denials()
            ),
            **({"reason": reason} if (reason := self._run_failed_reason or self.reason) else {}),
            **data,
            "agents": agents,
        }


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _one_line(exc.exceptions[0])
    text = str(exc).strip().splitlines()
    return redact((text[0] if text else type(exc).__name__)[:300])  # reasons are stored and shown
