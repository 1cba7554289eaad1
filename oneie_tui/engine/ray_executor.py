"""The Ray executor: the agents' backends run on Ray hosts; everything else stays here.

`session.build_runner` wraps each backend in a `RemoteBackend` when the run's executor is
"ray". Its `run(ctx)` places the attempt on a node's host (`ray_host.AgentHostActor`, one
per node with `agent_slot` capacity), reads the host's stream of context calls and makes
them on the driver's context, in order, so scheduling, named events, cascades, races,
budgets and the store work exactly as for a local run. Pause and resume become host calls
(the node stops and continues the process group); a cancel is a host call too, and the
attempt ends only when the host says the agent has ended there.

A host that dies (its node lost, its process killed) ends its agents `AgentInterrupted`
with the reason; `oneie resume` runs them again on any node (an isolated agent first on
the node its worktree is on). An isolated agent on a node other than the driver's gets
its worktree there and its branch back here (`ray_checkout`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from oneie_tui.agents.base import (
    AgentBackend,
    AgentContext,
    AgentFailure,
    AgentInterrupted,
    AgentResult,
    BackendOptions,
)
from oneie_tui.engine.ray_checkout import CheckoutError, Shipped, Shipper
from oneie_tui.engine.ray_host import (
    AgentHostActor,
    AgentRequest,
    Message,
    apply_message,
    events_of,
)
from oneie_tui.events import EventImpossible, EventType
from oneie_tui.git.worktree import WorktreeError

if TYPE_CHECKING:
    from oneie_tui.engine.runner import Runner
    from oneie_tui.git.worktree import Worktree
    from oneie_tui.spec.model import AgentSpec, Spec

SLOT_RESOURCE = "agent_slot"
HEARTBEAT_SECONDS = 1.0
HOST_START_SECONDS = 60.0
CANCEL_DRAIN_SECONDS = 15.0  # how long a cancelled agent may take to end on its node
# A local Ray instance for one run stays small: the machine runs the agents too.
LOCAL_OBJECT_STORE = 100 * 1024 * 1024
LOCAL_CPUS = 1


class RayExecutorError(Exception):
    """Ray cannot run this run (not installed, no cluster, no agent slots). One line."""


@dataclass(eq=False)
class Host:
    node_id: str
    address: str
    slots: int
    actor: Any
    used: int = 0
    dead: str = ""  # why it is gone, once it is
    has_history: bool = False  # a bundle of the project's history reached its node's clone


@dataclass
class _Trip:
    """What one attempt's stream brought besides its events."""

    branch: tuple[str, bytes | None, str] | None = None  # head, bundle, bookkeeping commit
    branch_error: str = ""


class RayExecutor:
    def __init__(
        self,
        hosts: list[Host],
        started_ray: bool,
        options: BackendOptions,
        shipper: Shipper | None = None,
        previous: dict[str, str] | None = None,
    ) -> None:
        self.hosts = hosts
        self.backend_options = options
        self.shipper = shipper  # isolated agents' worktrees on other nodes
        # agent -> the node its worktree or session is on (resume and restarts go there)
        self.last_node: dict[str, str] = shipper.last_node if shipper else dict(previous or {})
        self._started_ray = started_ray
        self._freed = anyio.Event()
        self.placements: dict[str, str] = {}  # attempt key -> node id, for the user and tests

    # --- setting up ----------------------------------------------------------------

    @classmethod
    def start(
        cls,
        spec: Spec,
        run_id: str,
        address: str | None,
        options: BackendOptions,
        *,
        worktrees: Mapping[str, Worktree] | None = None,
        previous: dict[str, str] | None = None,
    ) -> RayExecutor:
        """Join the cluster at `address` (else $RAY_ADDRESS), else start a local Ray
        instance for this run, and place one host on each node with agent slots.
        `worktrees`: the isolated agents' (shipped to nodes other than this one);
        `previous`: the node each one's worktree was on in an earlier life of the run."""
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ModuleNotFoundError:
            raise RayExecutorError(
                "executor 'ray' needs Ray: pip install 'oneie-tui[ray]'"
            ) from None
        started = False
        if not ray.is_initialized():
            where = address or os.environ.get("RAY_ADDRESS") or None
            try:
                if where:
                    ray.init(address=where, log_to_driver=False, configure_logging=False)
                else:
                    ray.init(
                        # "local": a new instance of our own, never another one that runs
                        # on this machine (ray.init alone would join it)
                        address="local",
                        num_cpus=LOCAL_CPUS,
                        resources={SLOT_RESOURCE: max(1, len(spec.agents))},
                        object_store_memory=LOCAL_OBJECT_STORE,
                        include_dashboard=False,
                        log_to_driver=False,
                        configure_logging=False,
                    )
            except Exception as exc:
                target = f"the Ray cluster at {where}" if where else "a local Ray instance"
                raise RayExecutorError(f"cannot start {target}: {_line(exc)}") from None
            started = True
        try:
            driver_node = str(ray.get_runtime_context().get_node_id() or "")
        except Exception:  # a Ray client driver is on no node: every host is remote
            driver_node = ""
        try:
            shipper = Shipper.for_run(worktrees or {}, spec.run.ray_checkout, driver_node, dict(previous or {}))
        except CheckoutError as exc:
            if started:
                ray.shutdown()
            raise RayExecutorError(str(exc)) from None
        hosts = place_hosts()
        if not hosts:
            if started:
                ray.shutdown()
            raise RayExecutorError(
                f"no Ray node offers {SLOT_RESOURCE!r}: start workers with "
                f"--resources='{{\"{SLOT_RESOURCE}\": N}}' (docs/cluster.md)"
            )
        return cls(hosts, started, options, shipper, previous)

    def wrap(self, backend_for: Callable[[AgentSpec], AgentBackend], spec: Spec) -> Callable[[AgentSpec], AgentBackend]:
        """The runner's backend_for, with each backend's run moved onto a host."""
        remote: dict[str, RemoteBackend] = {}

        def remote_for(agent: AgentSpec) -> AgentBackend:
            local = backend_for(agent)  # configured here too: preflight errors stay exit 2
            name = spec.backend_of(agent)
            if name not in remote:
                remote[name] = RemoteBackend(self, name, local)
            return remote[name]

        return remote_for

    # --- placing -------------------------------------------------------------------

    async def acquire(self, prefer: str = "") -> Host:
        """The live host with the most free slots (the one on node `prefer` when it has
        one: an agent's worktree is there); waits while every slot is taken."""
        while True:
            live = [h for h in self.hosts if not h.dead]
            if not live:
                raise AgentInterrupted("no Ray host is left (every node with agent slots died)")
            free = [h for h in live if h.used < h.slots]
            if free:
                preferred = [h for h in free if h.node_id == prefer]
                host = preferred[0] if preferred else max(free, key=lambda h: h.slots - h.used)
                host.used += 1
                return host
            await self._freed.wait()

    def _wake(self) -> None:
        self._freed.set()
        self._freed = anyio.Event()

    def release(self, host: Host) -> None:
        host.used -= 1
        self._wake()

    def lost(self, host: Host, reason: str) -> None:
        if not host.dead:
            host.dead = reason
        self._wake()  # waiters look again (and learn if nothing is left)

    # --- the run's service ------------------------------------------------------------

    async def serve(self, runner: Runner) -> None:
        """Beside the run: heartbeats (so hosts know the driver lives), then clean-up."""
        try:
            while True:
                for host in self.hosts:
                    if not host.dead:
                        host.actor.heartbeat.remote()
                await anyio.sleep(HEARTBEAT_SECONDS)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.close)

    def close(self) -> None:
        import ray

        for host in self.hosts:
            try:
                ray.kill(host.actor)
            except Exception:
                pass  # already gone
        if self._started_ray and ray.is_initialized():
            ray.shutdown()

    def stats(self) -> list[dict[str, Any]]:
        """Each live host's ping: node, pid, resident memory, agents."""
        import ray

        return [ray.get(h.actor.ping.remote(), timeout=30) for h in self.hosts if not h.dead]


def place_hosts() -> list[Host]:
    """One host actor per alive node that offers agent slots, pinned to that node."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    actor_class = ray.remote(AgentHostActor)
    hosts: list[Host] = []
    for node in ray.nodes():  # type: ignore[no-untyped-call]
        slots = int(node.get("Resources", {}).get(SLOT_RESOURCE, 0))
        if not node.get("Alive") or slots <= 0:
            continue
        node_id = str(node["NodeID"])
        actor = actor_class.options(
            num_cpus=0,
            max_concurrency=10_000,
            max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        ).remote(node_id, slots)
        hosts.append(Host(node_id, str(node.get("NodeManagerAddress", "")), slots, actor))
    started: list[Host] = []
    for host in hosts:  # now, not at the first agent: a node that just died is left out
        try:
            ray.get(host.actor.ping.remote(), timeout=HOST_START_SECONDS)
        except Exception:
            ray.kill(host.actor)
            continue
        started.append(host)
    return started


async def _forward_messages(ctx: AgentContext, host: Host, key: str) -> None:
    """The user's messages to this attempt go on to its context on the host, as they come."""
    while True:
        await ctx.wait_message()
        for text in ctx.take_messages():
            host.actor.message.remote(key, text)


class RemoteBackend(AgentBackend):
    """Stands in for a backend: the same name and budget rule, run(ctx) on a host."""

    def __init__(self, executor: RayExecutor, name: str, local: AgentBackend) -> None:
        self._executor = executor
        self._name = name
        self._local = local
        self.enforces_budgets = local.enforces_budgets  # type: ignore[misc]

    def takes_messages(self, agent: AgentSpec) -> bool:
        return self._local.takes_messages(agent)  # the backend on the host decides, as here

    def why_no_messages(self, agent: AgentSpec) -> str:
        return self._local.why_no_messages(agent)

    async def run(self, ctx: AgentContext) -> AgentResult:
        import ray

        prefer = self._executor.last_node.get(ctx.agent_id, "")
        host = await self._executor.acquire(prefer)
        key = f"{ctx.run_id}/{ctx.agent_id}/{ctx.attempt}"
        self._executor.placements[key] = host.node_id
        try:
            shipped = await self._ship(ctx, host)
        except BaseException:
            self._executor.release(host)
            raise
        request = AgentRequest(
            key, self._name, ctx.spec, ctx.agent_id, ctx.run_id, ctx.speed, ctx.seed,
            ctx.attempt, ctx.shared_context, dict(ctx.env), ctx.workdir,
            self._executor.backend_options, shipped, self._session_lost(ctx, host, prefer, shipped),
            ctx.followup,
        )
        trip = _Trip()
        pause = lambda: host.actor.pause.remote(key)  # noqa: E731 - hooks are plain calls
        resume = lambda: host.actor.resume.remote(key)  # noqa: E731
        ctx.on_pause.append(pause)
        ctx.on_resume.append(resume)
        stream = host.actor.run_agent.options(num_returns="streaming").remote(request)
        end: Message | None = None
        try:
            async with anyio.create_task_group() as waits:
                waits.start_soon(_forward_messages, ctx, host, key)
                try:
                    end = await self._follow(ctx, stream, host, key, waits, trip)
                    await self._bring_back(ctx, shipped, trip)
                except anyio.get_cancelled_exc_class():
                    # Cancelled here (user, cascade, race, timeout): end it on the node and
                    # wait until it has, so no process outlives the attempt's end.
                    with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_DRAIN_SECONDS):
                        host.actor.cancel.remote(key)
                        await self._follow(ctx, stream, host, key, None, trip)
                        await self._bring_back(ctx, shipped, trip)
                    raise
                finally:
                    waits.cancel_scope.cancel()
        except Exception as exc:
            # The wait answers' task group wraps what Ray raised: find it inside.
            found = _ray_error_in(exc, ray.exceptions.RayError)
            if found is None:
                raise
            if isinstance(found, ray.exceptions.RayTaskError):
                raise AgentFailure(f"the host failed: {_line(found)}") from None
            reason = f"its Ray host on node {host.address or host.node_id[:12]} died ({_line(found)})"
            self._executor.lost(host, reason)
            raise AgentInterrupted(reason) from None
        finally:
            ctx.on_pause.remove(pause)
            ctx.on_resume.remove(resume)
            self._executor.release(host)
        return _result_of(end)

    async def _follow(
        self, ctx: AgentContext, stream: Any, host: Host, key: str, waits: Any, trip: _Trip
    ) -> Message | None:
        """Make each relayed call on `ctx` until the host's end message."""
        async for ref in stream:
            batch: list[Message] = await ref
            for msg in batch:
                kind = msg[0]
                if kind == "end":
                    return msg
                if kind == "wait":
                    if waits is not None:
                        waits.start_soon(_answer_wait, ctx, host, key, msg)
                elif kind == "checkout":
                    self._checked_out(ctx, host, dict(msg[1]))
                elif kind == "branch":
                    trip.branch = (str(msg[1]), msg[2] if isinstance(msg[2], bytes) else None, str(msg[3]))
                elif kind == "branch_error":
                    trip.branch_error = str(msg[1])
                else:
                    apply_message(ctx, msg)
        return None

    def _session_lost(self, ctx: AgentContext, host: Host, prefer: str, shipped: Shipped | None) -> str:
        """Why a session this agent would continue cannot be (it is on another node), or
        "". A shipped worktree decides on its node instead (it may be there after all)."""
        if shipped is None and host.node_id != prefer:
            self._executor.last_node[ctx.agent_id] = host.node_id
            if prefer and ctx.agent_id in self._executor.backend_options.resume_sessions:
                return (
                    f"its session of the attempt before is on node {prefer[:12]}, not this one "
                    "(that node is gone or full): a new session"
                )
        return ""

    async def _ship(self, ctx: AgentContext, host: Host) -> Shipped | None:
        """What the host needs to make this isolated agent's worktree on its node (None:
        not isolated, or the host shares the driver's node and its local worktree)."""
        shipper = self._executor.shipper
        if shipper is None or ctx.agent_id not in shipper.worktrees:
            return None
        if not shipper.ships_to(ctx.agent_id, host.node_id):
            ctx.event(EventType.AGENT_INFO, node=host.node_id, checkout="local")
            return None
        had_session = ctx.agent_id in self._executor.backend_options.resume_sessions
        try:
            return await anyio.to_thread.run_sync(
                shipper.prepare, ctx.agent_id, host.node_id, host.has_history, had_session
            )
        except (WorktreeError, CheckoutError) as exc:
            raise AgentFailure(f"cannot ship its worktree to node {host.node_id[:12]}: {exc}") from None

    def _checked_out(self, ctx: AgentContext, host: Host, facts: dict[str, Any]) -> None:
        """The host made the worktree: record where (resume prefers that node)."""
        self._executor.last_node[ctx.agent_id] = host.node_id
        if facts.get("checkout") == "bundle":
            host.has_history = True
        ctx.event(EventType.AGENT_INFO, **facts)

    async def _bring_back(self, ctx: AgentContext, shipped: Shipped | None, trip: _Trip) -> None:
        """The agent's branch from its node onto the driver's repository, before its end
        is recorded (the diff stat and the radar then read it here)."""
        shipper = self._executor.shipper
        if shipped is None or shipper is None:
            return
        if trip.branch is None:
            reason = trip.branch_error or "the host sent no branch back"
            ctx.event(EventType.AGENT_INFO, fetch_error=reason[:300])
            return
        head, data, commit = trip.branch
        try:
            await anyio.to_thread.run_sync(shipper.bring_back, ctx.agent_id, head, data)
        except WorktreeError as exc:
            ctx.event(EventType.AGENT_INFO, fetch_error=str(exc)[:300])
            return
        facts: dict[str, Any] = {"fetched": head[:12], "new_commits": data is not None}
        if commit:
            facts["node_commit"] = commit[:12]
        ctx.event(EventType.AGENT_INFO, **facts)


async def _answer_wait(ctx: AgentContext, host: Host, key: str, msg: Message) -> None:
    """The agent's wait_for, made on the driver (where the events are), answered back."""
    _, call, actions, mode, timeout = msg
    answer: Message
    try:
        timeout_s = float(timeout) if timeout is not None else None
        if timeout_s is not None and not math.isfinite(timeout_s):
            timeout_s = None
        events = await ctx.wait_for(list(actions), mode, timeout_s)
        answer = ("ok", events_of(events))
    except EventImpossible as exc:
        answer = ("impossible", list(exc.actions))
    host.actor.reply.remote(key, call, answer)


def _result_of(end: Message | None) -> AgentResult:
    if end is None:
        raise AgentInterrupted("its Ray host ended the stream without an outcome")
    _, status, detail = end
    if status == "completed":
        return AgentResult(summary=str(detail))
    if status == "impossible":
        raise EventImpossible(detail)
    if status == "timeout":
        raise TimeoutError
    if status == "interrupted":
        raise AgentInterrupted(str(detail))
    if status == "cancelled":  # ended by the host itself (it lost its driver)
        raise AgentInterrupted("cancelled on its Ray host")
    raise AgentFailure(str(detail))


def _ray_error_in(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := _ray_error_in(inner, kind)) is not None:
                return found
    return None


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
